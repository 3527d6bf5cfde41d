"""Payment runs end to end: claims adjudicated, a run, remittances per organisation, claims paid.

Through the gateway and Kafka, as a provider system and a payer operator see it:
- two organisations' claims paid by one run: each remittance lists exactly its
  organisation's claims, its payment is the claims' paid amounts plus provider
  adjustments, each claim is `paid` with the remittance id and EFT trace, and
  claim.paid / remittance.issued are on Kafka; a replayed request is the same run;
- another organisation's remittance answers 404 and is audited as a refused read;
- corrections: a paid claim replaced (7) and another voided (8) are reversed in the
  next remittance (status 22, negative), the replacement is paid, and the member's
  accumulators end as if only the replacement had been adjudicated;
- reversals exceeding an organisation's new payments: payment 0 with a WO adjustment,
  recovered (FB) by the following run.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from tests.support.client import claim_body, wait_for_status
from tests.support.eligibility import check
from tests.support.kafka import read_topic
from tests.support.payments import (
    assert_balances,
    money,
    processed,
    remittance,
    remittances_of,
    run_payments,
    submit,
)
from tests.support.waiting import eventually

GOLD = "gold-hmo-2026"


def _lines(dos: str, *codes: tuple[str, str]) -> list[dict]:
    return [{"procedure_code": code, "modifiers": [], "units": 1, "charge_amount": charge, "date_of_service": dos,
             "place_of_service": "11", "diagnosis_pointers": [1]} for code, charge in codes]


def _dos(days_ago: int = 7) -> str:
    return (date.today() - timedelta(days=days_ago)).isoformat()


async def _remittance_of_run(client, run: dict, organization_id: str) -> dict:
    (summary,) = [r for r in await remittances_of(client) if r["payment_run_id"] == run["payment_run_id"]
                  and r["organization_id"] == organization_id]
    return await remittance(client, summary["remittance_id"])


async def test_a_run_pays_each_organisation_its_claims(platform, running_stack):
    operator = await platform.operator()
    first, second = await platform.new_organization(), await platform.new_organization()
    try:
        member = await platform.new_member(plan_id=GOLD)
        visit = ("99213", "150.00"), ("83036", "45.00")
        claims = {
            first.organization_id: [await submit(first, member, lines=_lines(_dos(3 + i), *visit)) for i in range(3)],
            second.organization_id: [await submit(second, member, lines=_lines(_dos(3 + i), *visit)) for i in range(2)],
        }
        views = {cid: await processed(org, cid) for org in (first, second) for cid in claims[org.organization_id]}

        key = str(uuid.uuid4())
        run = await run_payments(operator, key)
        assert run["status"] == "completed" and run["payments"] >= 2 and run["claims"] >= 5

        # A replay of the request is the same run, answered the same way; it pays nothing twice.
        replay = await operator.post("/v1/admin/payment-runs", json={}, headers={"Idempotency-Key": key})
        assert replay.status_code == 201 and replay.json() == run
        assert replay.headers.get("Idempotent-Replayed") == "true"
        conflict = await operator.post("/v1/admin/payment-runs", json={"cutoff": "2026-01-01T00:00:00Z"},
                                       headers={"Idempotency-Key": key})
        assert conflict.status_code == 409 and conflict.json()["code"] == "idempotency_conflict"

        traces = set()
        for org in (first, second):
            doc = await _remittance_of_run(org.client, run, org.organization_id)
            assert doc["remittance_id"] in run["remittance_ids"]
            assert sorted(c["claim_id"] for c in doc["claims"]) == sorted(claims[org.organization_id])
            assert doc["payee"] == {"tin": org.tin, "npi": org.npis[0]}
            assert doc["payment"]["method"] == "ACH" and doc["provider_adjustments"] == []
            assert_balances(doc)
            for claim in doc["claims"]:
                view = views[claim["claim_id"]]
                assert claim["status_code"] == "1"
                assert (claim["charge"], claim["allowed"], claim["paid"], claim["patient_responsibility"]) == (
                    view["totals"]["charge"], view["totals"]["allowed"], view["totals"]["paid"],
                    view["totals"]["patient_responsibility"])
                assert [(line["line_number"], line["paid"], line["adjustments"]) for line in claim["lines"]] == [
                    (line["line_number"], line["paid_amount"], line["adjustments"]) for line in view["lines"]]
            assert money(doc["payment"]["amount"]) == sum(money(views[c]["totals"]["paid"]) for c in claims[org.organization_id])
            traces.add(doc["payment"]["eft_trace_number"])

            # Each claim is paid with that remittance and trace, and says how long it took.
            for claim_id in claims[org.organization_id]:
                paid = await wait_for_status(org.client, claim_id, "paid")
                assert paid["payment"]["remittance_id"] == doc["remittance_id"]
                assert paid["payment"]["eft_trace_number"] == doc["payment"]["eft_trace_number"]
                assert paid["payment"]["amount"] == views[claim_id]["totals"]["paid"]
                assert paid["payment"]["days_to_payment"] == 0
                assert paid["timeline"][-1]["status"] == "paid"
        assert len(traces) == 2 and all(len(t) == 20 and t.isdigit() for t in traces)

        # Kafka: remittance.issued per remittance, claim.paid per claim.
        bootstrap = running_stack.kafka_bootstrap
        issued = [v for v, _ in await read_topic(bootstrap, "adjudication.events")
                  if isinstance(v, dict) and v.get("type") == "remittance.issued"
                  and v["data"]["payment_run_id"] == run["payment_run_id"]]
        assert {e["data"]["organization_id"] for e in issued} >= {first.organization_id, second.organization_id}
        everything = set(claims[first.organization_id] + claims[second.organization_id])
        paid_events = {v["subject"] for v, _ in await read_topic(bootstrap, "claims.events")
                       if isinstance(v, dict) and v.get("type") == "claim.paid"}
        assert everything <= paid_events

        # Nothing is left to pay for these organisations: a second run does not pay them again.
        again = await run_payments(operator)
        for org in (first, second):
            assert not [r for r in await remittances_of(org.client) if r["payment_run_id"] == again["payment_run_id"]]
    finally:
        await first.client.aclose()
        await second.client.aclose()


async def test_another_organisations_remittance_is_404_and_audited(platform, running_stack):
    operator = await platform.operator()
    owner, stranger = await platform.new_organization(), await platform.new_organization()
    try:
        member = await platform.new_member(plan_id=GOLD)
        await processed(owner, await submit(owner, member))
        run = await run_payments(operator)
        doc = await _remittance_of_run(owner.client, run, owner.organization_id)
        remittance_id = doc["remittance_id"]

        refused = await stranger.client.get(f"/v1/remittances/{remittance_id}")
        missing = await stranger.client.get(f"/v1/remittances/{uuid.uuid4()}")
        assert refused.status_code == missing.status_code == 404
        assert refused.json()["detail"] == missing.json()["detail"]
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert all(r["organization_id"] == stranger.organization_id for r in await remittances_of(stranger.client))
        # The operator sees it, and one organisation's with organization_id=.
        assert (await operator.get(f"/v1/remittances/{remittance_id}")).status_code == 200
        scoped = await remittances_of(operator, organization_id=owner.organization_id)
        assert {r["organization_id"] for r in scoped} == {owner.organization_id}
        # Date filters: paid today (UTC), nothing paid before yesterday.
        today = datetime.now(UTC).date()
        assert remittance_id in {r["remittance_id"] for r in await remittances_of(owner.client, **{"from": today.isoformat()})}
        assert not await remittances_of(owner.client, to=(today - timedelta(days=2)).isoformat())
        bad = await owner.client.get("/v1/remittances", params={"cursor": "nonsense"})
        assert bad.status_code == 422

        async def audited():
            records = [v["data"] for v, _ in await read_topic(running_stack.kafka_bootstrap, "audit.events")
                       if isinstance(v, dict) and v["data"].get("resource") == f"remittances/{remittance_id}"]
            outcomes = {(r["organization_id"], r["outcome"]) for r in records}
            return outcomes if (stranger.organization_id, "denied") in outcomes and any(
                o != "denied" for org_id, o in outcomes if org_id == owner.organization_id) else None

        await eventually(audited, timeout=30, what="the refused and the allowed remittance reads on the audit trail")
    finally:
        await owner.client.aclose()
        await stranger.client.aclose()


async def test_a_replaced_and_a_voided_paid_claim_are_reversed_in_the_next_remittance(platform, running_stack):
    operator = await platform.operator()
    org = await platform.new_organization()
    try:
        member = await platform.new_member(plan_id=GOLD)
        dos = _dos()
        original = await submit(org, member, lines=_lines(dos, ("99213", "150.00"), ("83036", "45.00")))
        voided = await submit(org, member, lines=_lines(_dos(8), ("99214", "220.00")))
        original_view, voided_view = await processed(org, original), await processed(org, voided)
        first_run = await run_payments(operator)
        paid_by = (await wait_for_status(org.client, original, "paid"))["payment"]["remittance_id"]
        await wait_for_status(org.client, voided, "paid")

        # The replacement bills another visit level; the void cancels the other claim.
        replacement = await submit(org, member, lines=_lines(dos, ("99214", "220.00"), ("83036", "45.00")),
                                   frequency_code="7", original_claim_id=original)
        void = await submit(org, member, lines=_lines(_dos(8), ("99214", "220.00")),
                            frequency_code="8", original_claim_id=voided)
        replacement_view = await processed(org, replacement)
        await wait_for_status(org.client, original, "replaced")
        await wait_for_status(org.client, voided, "voided")

        # The reversals become payable once the payments process has seen the closures: run
        # until the three are paid, whichever runs they land in (normally the first).
        docs: list[dict] = []

        async def reversed_runs():
            run = await run_payments(operator)
            docs.extend([await remittance(org.client, r["remittance_id"]) for r in await remittances_of(org.client)
                         if r["payment_run_id"] == run["payment_run_id"]])
            codes = {(c["claim_id"], c["status_code"]) for d in docs for c in d["claims"]}
            return codes if len(codes) >= 3 else None

        await eventually(reversed_runs, timeout=60, what="runs with the reversals and the replacement")
        by_claim = {(c["claim_id"], c["status_code"]): c for d in docs for c in d["claims"]}
        assert set(by_claim) == {(original, "22"), (voided, "22"), (replacement, "1")}, by_claim.keys()
        assert sum(len(d["claims"]) for d in docs) == 3
        for claim_id, view in ((original, original_view), (voided, voided_view)):
            reversal = by_claim[(claim_id, "22")]
            assert reversal["original_remittance_id"] == paid_by
            assert money(reversal["paid"]) == -money(view["totals"]["paid"])
            assert money(reversal["charge"]) == -money(view["totals"]["charge"])
            assert all(money(line["paid"]) == -money(orig["paid_amount"])
                       for line, orig in zip(reversal["lines"], view["lines"], strict=True))
        assert by_claim[(replacement, "1")]["paid"] == replacement_view["totals"]["paid"]
        for doc in docs:
            assert_balances(doc)
        await wait_for_status(org.client, replacement, "paid")
        assert first_run["payment_run_id"] not in {d["payment_run_id"] for d in docs}

        # Accumulators as if only the replacement had been adjudicated: the original's and
        # the voided claim's deductible given back, the replacement's counted once.
        expected = (sum(money(line["deductible"]) for line in replacement_view["lines"]),
                    money(replacement_view["totals"]["patient_responsibility"]))
        assert expected[1] > 0

        async def accumulators():
            answer = await check(org.client, member["member_id"], dos, dob=member["date_of_birth"])
            met = (money(answer["benefits"]["deductible"]["met"]), money(answer["benefits"]["out_of_pocket_max"]["met"]))
            return ("as expected", met) if met == expected else None

        await eventually(accumulators, timeout=30,
                         what=f"the member's (deductible, out-of-pocket) met to be {expected}")
        # A void's own claim is not paid: it has nothing to pay.
        assert (await org.client.get(f"/v1/claims/{void}")).json()["status"] != "paid"
    finally:
        await org.client.aclose()


async def test_reversals_beyond_new_payments_pay_zero_and_are_recovered_later(platform, running_stack):
    operator = await platform.operator()
    org = await platform.new_organization()
    try:
        member = await platform.new_member(plan_id=GOLD)
        big = await submit(org, member, lines=_lines(_dos(9), ("99215", "300.00")))
        big_paid = money((await processed(org, big))["totals"]["paid"])
        assert big_paid > 0
        await run_payments(operator)
        await wait_for_status(org.client, big, "paid")
        await submit(org, member, lines=_lines(_dos(9), ("99215", "300.00")), frequency_code="8", original_claim_id=big)
        await wait_for_status(org.client, big, "voided")

        async def withheld():
            run = await run_payments(operator)
            mine = [r for r in await remittances_of(org.client) if r["payment_run_id"] == run["payment_run_id"]]
            return await remittance(org.client, mine[0]["remittance_id"]) if mine else None

        doc = await eventually(withheld, timeout=60, what="the run with the reversal")
        assert [(c["claim_id"], c["status_code"]) for c in doc["claims"]] == [(big, "22")]
        assert doc["payment"]["amount"] == "0.00"
        assert [(a["reason"], a["amount"]) for a in doc["provider_adjustments"]] == [("WO", f"{big_paid:.2f}")]
        assert_balances(doc)

        # The next claim's payment recovers the carried balance (FB), as far as it goes.
        small = await submit(org, member, lines=_lines(_dos(5), ("99213", "150.00")))
        small_paid = money((await processed(org, small))["totals"]["paid"])
        run = await run_payments(operator)
        recovered = await _remittance_of_run(org.client, run, org.organization_id)
        fb = min(small_paid, big_paid)
        assert [(a["reason"], a["amount"]) for a in recovered["provider_adjustments"]] == [("FB", f"{-fb:.2f}")]
        assert money(recovered["payment"]["amount"]) == small_paid - fb
        assert_balances(recovered)
        assert (await wait_for_status(org.client, small, "paid"))["payment"]["amount"] == f"{small_paid:.2f}"
    finally:
        await org.client.aclose()
