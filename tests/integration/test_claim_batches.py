"""A batch of 1,000 claims, 50 of them bad, through intake on the real stack; then again.

Each claim is edited on its own: 950 are received, 50 rejected with their own errors.
The same batch with the same Idempotency-Key returns the same ids and stores nothing new
(the claims' event streams are counted in the store before and after).
"""

import time
import uuid
from datetime import UTC, datetime, timedelta

from pymongo import AsyncMongoClient

from services.claims.settings import ClaimsSettings
from tests.support.client import claim_body
from tests.support.stack import TEST_SERVICE_ENV

BAD_EVERY = 20  # 1,000 / 20 = 50 bad claims


def batch_of(org, members, n=1000):
    dos = (datetime.now(UTC).date() - timedelta(days=3)).isoformat()
    claims = []
    for i in range(n):
        member = members[i % len(members)]
        # Distinct charges keep the claims from being duplicates of one another.
        lines = [{"procedure_code": "99213", "modifiers": [], "units": 1, "charge_amount": f"{100 + i}.00",
                  "date_of_service": dos, "place_of_service": "11", "diagnosis_pointers": [1]}]
        claim = claim_body(org, member, lines=lines)
        if i % BAD_EVERY == 7:
            claim["lines"][0]["procedure_code"] = "ZZZZZ" if i % 2 else "99213"
            claim["lines"][0]["units"] = 0 if not i % 2 else 1
        claims.append(claim)
    return claims


async def _stored_first_events(running_stack, claim_ids) -> int:
    settings = ClaimsSettings(mongodb_uri=running_stack.mongodb_uri,
                              mongodb_database_prefix=TEST_SERVICE_ENV["MONGODB_DATABASE_PREFIX"])
    client = AsyncMongoClient(running_stack.mongodb_uri, tz_aware=True)
    try:
        events = client[settings.database_name]["events"]
        found = 0
        for claim_id in claim_ids:
            found += await events.count_documents({"_id": f"claim-{claim_id}:{1:010d}"})
            found += await events.count_documents({"_id": f"claim-{claim_id}:{2:010d}", "type": "claim.received"})
        return found
    finally:
        await client.close()


async def test_a_batch_of_1000_with_50_bad_claims_and_its_replay(platform, running_stack, org):
    members = [await platform.new_member(wait_for_claims=False) for _ in range(4)]
    for member in members:
        await platform.wait_until_claims_know(member)
    body = {"claims": batch_of(org, members)}
    key = str(uuid.uuid4())
    started = time.perf_counter()
    response = await org.client.post("/v1/claims/batches", json=body, headers={"Idempotency-Key": key}, timeout=300)
    elapsed = time.perf_counter() - started
    print(f"\n1,000-claim batch: {elapsed:.1f} s ({1000 / elapsed:.0f} claims/s)")
    assert response.status_code == 201, response.text[:2000]
    answer = response.json()
    assert (answer["accepted"], answer["rejected"]) == (950, 50)
    assert [r["index"] for r in answer["results"]] == list(range(1000))
    bad = [r for r in answer["results"] if r["status"] == "rejected"]
    assert [r["index"] for r in bad] == [i for i in range(1000) if i % BAD_EVERY == 7]
    for result in bad:
        codes = {e["code"] for e in result["errors"]}
        assert codes, result
        assert all(e["loc"].startswith("lines[0].") for e in result["errors"]), result
        assert "claim_id" not in result
    ids = [r["claim_id"] for r in answer["results"] if r["status"] == "received"]
    assert len(set(ids)) == 950

    again = await org.client.post("/v1/claims/batches", json=body, headers={"Idempotency-Key": key}, timeout=300)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == answer
    assert await _stored_first_events(running_stack, ids) == 950  # one claim.received each, none twice

    got = await org.client.get(f"/v1/claims/batches/{answer['batch_id']}")
    assert got.status_code == 200 and got.json() == answer
    one = await org.client.get(f"/v1/claims/{ids[0]}")
    assert one.status_code == 200

    stranger = await platform.new_organization()
    try:
        assert (await stranger.client.get(f"/v1/claims/batches/{answer['batch_id']}")).status_code == 404
    finally:
        await stranger.client.aclose()
    conflict = await org.client.post("/v1/claims/batches", json={"claims": body["claims"][:3]},
                                     headers={"Idempotency-Key": key})
    assert conflict.status_code == 409 and conflict.json()["code"] == "idempotency_conflict"


async def test_a_batch_over_1000_claims_or_malformed_is_a_clear_4xx(platform, org):
    member = await platform.new_member()
    claims = [claim_body(org, member)] * 1001
    too_many = await org.client.post("/v1/claims/batches", json={"claims": claims})
    assert too_many.status_code == 413, too_many.text[:500]
    assert too_many.headers["content-type"] == "application/problem+json"
    assert too_many.json()["errors"][0]["code"] == "too_many_claims"
    for bad in ({}, {"claims": []}, {"claims": "x"}, [1, 2]):
        response = await org.client.post("/v1/claims/batches", json=bad)
        assert response.status_code == 422, (bad, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    weird = await org.client.post("/v1/claims/batches", json={"claims": [42, {"frequency_code": "1"}]})
    assert weird.status_code == 201, weird.text
    assert [r["status"] for r in weird.json()["results"]] == ["rejected", "rejected"]
