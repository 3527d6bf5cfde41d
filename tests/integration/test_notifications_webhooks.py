"""Webhooks end to end: real claims through real Kafka and FerretDB, delivered to receivers on
loopback that verify every request with the standardwebhooks library (none of our code).

- subscribed types only, signed, thin payloads, one webhook-id per event;
- a receiver failing half of its requests while notifications is killed -9 twice:
  every event delivered, none twice in the log, the failed attempts logged, and a
  redelivery sent again under the same webhook-id;
- 410 disables the endpoint (and its contacts get an email); Retry-After is honoured;
  a receiver that never answers does not hold up another's deliveries;
- a payment run arrives as claim.paid and remittance.issued (and a remittance email);
- emails in Mailpit carry no patient data.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from datetime import UTC, datetime, timedelta

from tests.support.client import claim_body, submit_until_accepted, wait_for_status
from tests.support.payments import run_payments
from tests.support.waiting import eventually
from tests.support.webhooks import Mailpit, Receiver, create_endpoint, deliveries, until

CLAIM_TYPES = ["claim.received", "claim.processed", "claim.denied", "claim.info_requested"]
PATIENT = {"first_name": "Test", "last_name": "Patient"}


def _dos(days: int = 8) -> str:
    return (datetime.now(UTC).date() - timedelta(days=days)).isoformat()


def _line(code: str, charge: str, dos: str) -> dict:
    return {"procedure_code": code, "modifiers": [], "units": 1, "charge_amount": charge,
            "date_of_service": dos, "place_of_service": "11", "diagnosis_pointers": [1]}


def _at(instant: str) -> datetime:
    return datetime.fromisoformat(instant.replace("Z", "+00:00"))


def clean_claim(org, member, n: int = 0) -> dict:
    dos = _dos(8 + n % 20)
    return claim_body(org, member, lines=[_line("99213", f"{120 + n}.{n % 100:02d}", dos)])


def denied_claim(org, member) -> dict:
    return claim_body(org, member, lines=[_line("72148", "900.00", _dos())])  # MRI without prior authorization


def pended_claim(org, member) -> dict:
    return claim_body(org, member, lines=[_line("27599", "1800.00", _dos())])  # unlisted: CO-16 N350


async def test_subscribed_events_arrive_signed_thin_and_once_per_webhook_id(platform, running_stack, org):
    member = await platform.new_member(dob="1971-04-05")
    everything = await Receiver().start()
    denials = await Receiver().start()
    try:
        all_endpoint = await create_endpoint(org.client, everything.url, CLAIM_TYPES, description="all claim types")
        denied_endpoint = await create_endpoint(org.client, denials.url, ["claim.denied"])
        everything.secret, denials.secret = all_endpoint["secret"], denied_endpoint["secret"]
        assert all_endpoint["secret"].startswith("whsec_") and all_endpoint["status"] == "active"

        clean = await submit_until_accepted(org.client, clean_claim(org, member))
        denied = await submit_until_accepted(org.client, denied_claim(org, member))
        pended = await submit_until_accepted(org.client, pended_claim(org, member))
        await wait_for_status(org.client, clean, "processed")
        await wait_for_status(org.client, denied, "denied")
        await wait_for_status(org.client, pended, "info_requested")
        expected = {("claim.received", c) for c in (clean, denied, pended)} | {
            ("claim.processed", clean), ("claim.denied", denied), ("claim.info_requested", pended)}
        await until(lambda: expected <= everything.delivered_events(), 30, "every claim event at the first receiver")
        await until(lambda: {("claim.denied", denied)} <= denials.delivered_events(), 30, "the denial at the second")

        assert not everything.unverified() and not denials.unverified(), "a request failed signature verification"
        assert everything.delivered_events() == expected
        assert denials.delivered_events() == {("claim.denied", denied)}, "a type it did not subscribe to arrived"
        # One webhook-id per event; the same event at two endpoints is the same message.
        ids = {(r.payload["type"], r.payload["data"]["claim_id"]): r.webhook_id for r in everything.verified()}
        assert len(set(ids.values())) == len(expected)
        assert denials.verified()[0].webhook_id == ids[("claim.denied", denied)]
        for r in everything.verified():
            assert set(r.payload) == {"type", "timestamp", "data"}
            assert r.payload["data"]["status"] == r.payload["type"].split(".", 1)[1]
            assert r.headers["webhook-id"].startswith("msg_") and r.headers["webhook-timestamp"].isdigit()
            text = r.body.decode()
            for phi in (member["member_id"], member["date_of_birth"], "E11.9", "I10", "99213", PATIENT["last_name"]):
                assert phi not in text, f"{phi!r} in a webhook body"
        pend = next(r for r in everything.verified() if r.payload["type"] == "claim.info_requested")
        assert pend.payload["data"]["info_request_id"] and pend.payload["data"]["due_by"]

        log = await deliveries(org.client, all_endpoint["endpoint_id"])
        assert len(log) == len(expected) and {d["status"] for d in log} == {"succeeded"}
        assert all(len(d["attempts"]) == 1 and d["attempts"][0]["response_status"] == 200 for d in log)
        succeeded = await deliveries(org.client, all_endpoint["endpoint_id"], status="succeeded")
        assert len(succeeded) == len(expected)
        assert await deliveries(org.client, all_endpoint["endpoint_id"], status="pending") == []

        # Another organisation sees none of it.
        stranger = await platform.new_organization()
        try:
            assert (await stranger.client.get(f"/v1/webhooks/endpoints/{all_endpoint['endpoint_id']}")).status_code == 404
            assert (await stranger.client.get(
                f"/v1/webhooks/endpoints/{all_endpoint['endpoint_id']}/deliveries")).status_code == 404
            assert (await stranger.client.post(f"/v1/webhooks/deliveries/{log[0]['delivery_id']}/redeliver")).status_code == 404
            assert (await stranger.client.delete(f"/v1/webhooks/endpoints/{all_endpoint['endpoint_id']}")).status_code == 404
            assert (await stranger.client.get("/v1/webhooks/endpoints")).json() == []
        finally:
            await stranger.client.aclose()
        listed = (await org.client.get("/v1/webhooks/endpoints")).json()
        assert {e["endpoint_id"] for e in listed} == {all_endpoint["endpoint_id"], denied_endpoint["endpoint_id"]}
        assert all("secret" not in e for e in listed)
    finally:
        await everything.stop()
        await denials.stop()


async def test_a_payment_run_arrives_as_claim_paid_and_remittance_issued(platform, running_stack, org):
    member = await platform.new_member(dob="1977-07-17")
    receiver = await Receiver().start()
    mailpit = Mailpit(running_stack.stack.mail_url)
    try:
        endpoint = await create_endpoint(org.client, receiver.url, ["claim.paid", "remittance.issued"])
        receiver.secret = endpoint["secret"]
        claim = await submit_until_accepted(org.client, clean_claim(org, member, 7))
        await wait_for_status(org.client, claim, "processed")
        await run_payments(await platform.operator())
        paid = await wait_for_status(org.client, claim, "paid")
        remittance_id = paid["payment"]["remittance_id"]
        expected = {("claim.paid", claim), ("remittance.issued", remittance_id)}
        await until(lambda: expected <= receiver.delivered_events(), 30, "claim.paid and remittance.issued")
        assert not receiver.unverified()
        issued = next(r.payload["data"] for r in receiver.verified() if r.payload["type"] == "remittance.issued")
        assert issued["eft_trace_number"] == paid["payment"]["eft_trace_number"] and issued["amount"]
        assert {r.payload["type"] for r in receiver.verified()} == {"claim.paid", "remittance.issued"}
        (mail,) = await eventually(lambda: mailpit.find(remittance_id), timeout=30, what="the remittance email")
        raw = await mailpit.raw(mail["ID"])
        for phi in (member["member_id"], member["date_of_birth"], "Test", "Patient", "E11.9", "99213"):
            assert phi not in raw, f"{phi!r} in the remittance email"
    finally:
        await receiver.stop()
        await mailpit.close()


async def test_secret_rotation_signs_with_both_secrets_for_a_while(platform, running_stack, org):
    member = await platform.new_member(dob="1969-09-09")
    old_receiver, new_receiver = await Receiver().start(), await Receiver().start()
    try:
        endpoint = await create_endpoint(org.client, old_receiver.url, ["claim.received"])
        rotated = await org.client.post(f"/v1/webhooks/endpoints/{endpoint['endpoint_id']}/secret-rotation")
        assert rotated.status_code == 200, rotated.text
        body = rotated.json()
        assert body["secret"].startswith("whsec_") and body["secret"] != endpoint["secret"]
        assert body["previous_secret_expires_at"]
        claim = await submit_until_accepted(org.client, clean_claim(org, member, 3))
        await until(lambda: len(old_receiver.received) >= 1, 30, "the delivery")
        request = old_receiver.received[0]
        assert len(request.headers["webhook-signature"].split(" ")) == 2
        from standardwebhooks.webhooks import Webhook

        for secret in (endpoint["secret"], body["secret"]):  # either secret verifies it
            assert Webhook(secret).verify(request.body, request.headers)["data"]["claim_id"] == claim
    finally:
        await old_receiver.stop()
        await new_receiver.stop()


async def test_half_the_requests_fail_and_notifications_is_killed_twice_yet_every_event_arrives(
    platform, running_stack, org
):
    stack = running_stack.stack
    rng = random.Random(11)

    async def flaky(_webhook_id: str, seen: int) -> tuple[int, dict[str, str]]:
        # Half of the requests fail at random; never an eighth time for one id, since eight
        # failures in a row exhaust the schedule by design (not what this test is about).
        if seen < 7 and rng.random() < 0.5:
            return 500, {}
        return 204, {}

    receiver = await Receiver(answer=flaky).start()
    members = [await platform.new_member(dob=f"1985-0{m + 1}-1{m}") for m in range(3)]
    claims_count = 24
    try:
        endpoint = await create_endpoint(org.client, receiver.url, ["claim.received", "claim.processed"])
        receiver.secret = endpoint["secret"]
        claim_ids: list[str] = []

        async def submit(n: int) -> None:
            claim_ids.append(await submit_until_accepted(org.client, clean_claim(org, members[n % 3], n), timeout=90))

        async def kill_and_restart() -> None:
            await asyncio.to_thread(stack.stop_service, "notifications", kill=True)
            await asyncio.to_thread(stack.start_service, "notifications")

        for n in range(8):
            await submit(n)
        await kill_and_restart()
        for n in range(8, 16):
            await submit(n)
        await until(lambda: len(receiver.received) >= 10, 60, "some requests before the second kill")
        await kill_and_restart()
        for n in range(16, claims_count):
            await submit(n)

        expected = {(t, c) for c in claim_ids for t in ("claim.received", "claim.processed")}
        await until(lambda: expected <= receiver.delivered_events(), 120, "every event delivered")
        assert receiver.delivered_events() == expected
        assert not receiver.unverified()
        assert len(receiver.delivered()) == len(expected), "one webhook-id per event"
        failed_requests = [r for r in receiver.received if r.answered == 500]
        assert failed_requests, "the receiver failed nothing"

        async def settled():
            log = await deliveries(org.client, endpoint["endpoint_id"])
            return log if len(log) == len(expected) and all(d["status"] == "succeeded" for d in log) else None

        log = await eventually(settled, timeout=60, what="every delivery succeeded in the log")
        # The log has one delivery per event (kills and redelivered Kafka records added none),
        # and every failed attempt the receiver saw that the process lived to record.
        assert len({d["webhook_id"] for d in log}) == len(expected)
        failed_attempts = [a for d in log for a in d["attempts"] if a.get("response_status") == 500]
        assert failed_attempts and all(a["duration_ms"] >= 0 and a["at"] for a in failed_attempts)

        # A redelivery sends the same webhook-id again.
        chosen = log[0]
        before = receiver.requests_per_id()[chosen["webhook_id"]]
        response = await org.client.post(f"/v1/webhooks/deliveries/{chosen['delivery_id']}/redeliver")
        assert response.status_code == 202, response.text
        await until(lambda: any(r.webhook_id == chosen["webhook_id"] and r.answered == 204
                                for r in receiver.received[-50:]) and
                    receiver.requests_per_id()[chosen["webhook_id"]] > before, 30, "the redelivery")
        again = [r for r in receiver.received if r.webhook_id == chosen["webhook_id"]][-1]
        assert again.payload is not None and again.headers["webhook-id"] == chosen["webhook_id"]
        print(f"\nflaky receiver: {len(receiver.received)} requests for {len(expected)} events, "
              f"{len(failed_requests)} answered 500; {len(failed_attempts)} failed attempts in the log")
    finally:
        await receiver.stop()


async def test_gone_disables_retry_after_is_honoured_and_a_dead_receiver_delays_no_one(
    platform, running_stack, org
):
    member = await platform.new_member(dob="1990-12-01")
    mailpit = Mailpit(running_stack.stack.mail_url)
    release = asyncio.Event()

    async def gone(_id: str, _seen: int):
        return 410, {}

    async def busy_once(_id: str, seen: int):
        return (429, {"Retry-After": "2"}) if seen == 0 else (200, {})

    async def never(_id: str, _seen: int):
        await release.wait()
        return 200, {}

    gone_receiver = await Receiver(answer=gone).start()
    busy_receiver = await Receiver(answer=busy_once).start()
    dead_receiver = await Receiver(answer=never).start()
    fast_receiver = await Receiver().start()
    try:
        gone_endpoint = await create_endpoint(org.client, gone_receiver.url, ["claim.received"])
        busy_endpoint = await create_endpoint(org.client, busy_receiver.url, ["claim.received"])
        dead_endpoint = await create_endpoint(org.client, dead_receiver.url, ["claim.received"])
        fast_endpoint = await create_endpoint(org.client, fast_receiver.url, ["claim.received"])
        fast_receiver.secret = fast_endpoint["secret"]

        first = await submit_until_accepted(org.client, clean_claim(org, member, 40))

        # 410: disabled after its first answer, the delivery failed, the contacts told.
        async def disabled():
            view = (await org.client.get(f"/v1/webhooks/endpoints/{gone_endpoint['endpoint_id']}")).json()
            return view if view["status"] == "disabled" else None

        view = await eventually(disabled, timeout=30, what="the 410 endpoint disabled")
        assert view["disabled_reason"] == "gone"
        (gone_delivery,) = await deliveries(org.client, gone_endpoint["endpoint_id"])
        assert gone_delivery["status"] == "failed" and gone_delivery["ended_reason"] == "endpoint_gone"
        assert [a["response_status"] for a in gone_delivery["attempts"]] == [410]
        mails = await eventually(lambda: mailpit.find(gone_endpoint["endpoint_id"]), timeout=30,
                                 what="the endpoint-disabled email")
        assert "billing@clinic.example" in [t["Address"] for t in mails[0]["To"]]
        refused = await org.client.post(f"/v1/webhooks/deliveries/{gone_delivery['delivery_id']}/redeliver")
        assert refused.status_code == 409, refused.text

        # Retry-After: 2 s, where the (compressed) schedule alone would retry within milliseconds.
        await until(lambda: len(busy_receiver.received) >= 2, 30, "the retry after 429")
        waited = busy_receiver.received[1].at - busy_receiver.received[0].at
        assert 2.0 - 0.05 <= waited < 10, f"retried {waited:.2f}s after a 429 with Retry-After: 2"
        (busy_delivery,) = await deliveries(org.client, busy_endpoint["endpoint_id"])
        assert [a["response_status"] for a in busy_delivery["attempts"]] == [429, 200]

        # A receiver that never answers: its lane fills, the fast receiver's events keep arriving.
        claims = [await submit_until_accepted(org.client, clean_claim(org, member, 41 + n)) for n in range(12)]
        await until(lambda: {("claim.received", c) for c in [first, *claims]} <= fast_receiver.delivered_events(),
                    30, "every event at the fast receiver")
        assert len(dead_receiver.received) >= 4, "the dead receiver was not even tried"
        # What a slow receiver could delay is the dispatching: from the delivery being recorded
        # to its attempt starting (the rest of event -> arrival is Kafka and the fan-out).
        fast_log = await deliveries(org.client, fast_endpoint["endpoint_id"])
        waits = [(_at(d["attempts"][0]["at"]) - _at(d["created_at"])).total_seconds() for d in fast_log]
        lags = [r.at - _at(r.payload["timestamp"]).timestamp() for r in fast_receiver.verified()]
        print(f"\nwhile another receiver never answers ({len(dead_receiver.received)} requests hanging): fast "
              f"receiver's delivery recorded -> attempt max {max(waits) * 1000:.0f} ms; event -> arrival max "
              f"{max(lags) * 1000:.0f} ms, mean {sum(lags) / len(lags) * 1000:.0f} ms over {len(lags)}")
        assert max(waits) < 1.0, f"the fast receiver's attempts waited up to {max(waits):.2f}s"

        # A disabled endpoint gets no new deliveries.
        assert len(await deliveries(org.client, gone_endpoint["endpoint_id"])) == 1
    finally:
        release.set()
        for receiver in (gone_receiver, busy_receiver, dead_receiver, fast_receiver):
            await receiver.stop()
        await mailpit.close()


async def test_emails_reach_mailpit_without_patient_data(platform, running_stack, org):
    member = await platform.new_member(dob="1966-06-16")
    mailpit = Mailpit(running_stack.stack.mail_url)
    try:
        denied = await submit_until_accepted(org.client, denied_claim(org, member))
        pended = await submit_until_accepted(org.client, pended_claim(org, member))
        for claim_id, what in ((denied, "denied"), (pended, "information requested")):
            (mail,) = await eventually(lambda c=claim_id: mailpit.find(c), timeout=30, what=f"the email for {claim_id}")
            assert what in mail["Subject"]
            assert [t["Address"] for t in mail["To"]] == ["billing@clinic.example"]
            raw = await mailpit.raw(mail["ID"])
            assert claim_id in mail["Text"] and "Sign in" in mail["Text"]
            for phi in (member["member_id"], member["date_of_birth"], "1966", "Test", "Patient", "E11.9", "I10",
                        "72148", "27599"):
                assert phi not in raw, f"{phi!r} in an email"
    finally:
        await mailpit.close()


async def test_bad_endpoints_are_refused_with_problems(org):
    cases = [
        ({"url": "ftp://example.com/hook", "event_types": ["claim.denied"]}, "url", "unsupported_scheme"),
        ({"url": "http://169.254.169.254/latest", "event_types": ["claim.denied"]}, "url", "metadata_address"),
        ({"url": "not a url", "event_types": ["claim.denied"]}, "url", None),
        ({"url": "http://127.0.0.1:9/hook", "event_types": ["claim.denied", "claim.exploded"]},
         "event_types[1]", "unknown_event_type"),
    ]
    for body, loc, code in cases:
        response = await org.client.post("/v1/webhooks/endpoints", json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        errors = response.json()["errors"]
        assert any(e["loc"] == loc and (code is None or e["code"] == code) for e in errors), errors
    missing = await org.client.get(f"/v1/webhooks/endpoints/{uuid.uuid4()}")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("application/problem+json")
    key = str(uuid.uuid4())
    body = {"url": "http://127.0.0.1:9/hook", "event_types": ["claim.paid"]}
    first = await org.client.post("/v1/webhooks/endpoints", json=body, headers={"Idempotency-Key": key})
    again = await org.client.post("/v1/webhooks/endpoints", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    assert again.headers.get("idempotent-replayed") == "true"
    other = await org.client.post("/v1/webhooks/endpoints", json={**body, "event_types": ["claim.denied"]},
                                  headers={"Idempotency-Key": key})
    assert other.status_code == 409
    deleted = await org.client.delete(f"/v1/webhooks/endpoints/{first.json()['endpoint_id']}")
    assert deleted.status_code == 204
    assert (await org.client.get(f"/v1/webhooks/endpoints/{first.json()['endpoint_id']}")).status_code == 404
    _ = time
