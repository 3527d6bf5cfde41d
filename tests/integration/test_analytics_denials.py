"""Denial analytics end to end: claims adjudicated by the real engine, figures by hand.

Fresh organisations; Silver HMO excludes 15823 (CO-204, golden case covered-01) and
pays 99213. A replacement (frequency 7) takes the original's lines out of the figures.
A provider sees its own organisation only; an operator sees one with organization_id=.
A rebuild from offset zero (into collections of its own) gives the same figures.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from pymongo import AsyncMongoClient

from infra.settings import PlatformSettings
from services.claims.denial_analytics import DenialAnalytics
from tests.support.client import wait_for_status
from tests.support.payments import submit
from tests.support.waiting import eventually

PLAN = "silver-hmo-2026"


def _lines(*codes: tuple[str, str]) -> list[dict]:
    dos = (date.today() - timedelta(days=7)).isoformat()
    return [{"procedure_code": code, "modifiers": [], "units": 1, "charge_amount": charge, "date_of_service": dos,
             "place_of_service": "11", "diagnosis_pointers": [1]} for code, charge in codes]


def _range() -> dict:
    today = datetime.now(UTC).date()  # adjudication days are UTC days
    return {"from": (today - timedelta(days=1)).isoformat(), "to": (today + timedelta(days=1)).isoformat()}


async def _figures(client, **params) -> dict:
    response = await client.get("/v1/analytics/denials", params={**_range(), **params})
    assert response.status_code == 200, response.text
    return response.json()


async def test_denial_figures_by_hand_for_provider_and_operator(platform, running_stack):
    operator = await platform.operator()
    first, second = await platform.new_organization(), await platform.new_organization()
    try:
        member = await platform.new_member(plan_id=PLAN)
        await platform.wait_until_claims_know(member)
        mixed = await submit(first, member, lines=_lines(("15823", "1200.00"), ("99213", "150.00")))
        clean = await submit(first, member, lines=_lines(("99213", "150.00"), ("83036", "45.00")))
        theirs = await submit(second, member, lines=_lines(("15823", "1000.00")))
        await wait_for_status(first.client, mixed, "processed")
        await wait_for_status(first.client, clean, "processed")
        await wait_for_status(second.client, theirs, "denied")
        replacement = await submit(first, member, lines=_lines(("99214", "220.00")),
                                   frequency_code="7", original_claim_id=clean)
        await wait_for_status(first.client, replacement, "processed")
        await wait_for_status(first.client, clean, "replaced")

        # First: the mixed claim (2 lines, 15823 denied CO-204 1,200.00) and the replacement
        # (1 line, paid); the replaced claim's two lines are gone.
        expected_totals = {"adjudicated_lines": 3, "denied_lines": 1, "denied_amount": "1200.00", "denial_rate": 0.3333}

        async def settled():
            body = await _figures(first.client)
            return body if body["totals"] == expected_totals else None

        by_carc = await eventually(settled, timeout=60, what="the first organisation's denial figures")
        assert by_carc["organization_id"] == first.organization_id
        (group,) = by_carc["groups"]
        assert group["carc"] == "204" and group["denied_lines"] == 1 and group["denied_amount"] == "1200.00"
        assert group["denial_rate"] == 0.3333 and "exclusions" in group["hint"] and group["description"]
        by_code = {g["procedure_code"]: g for g in (await _figures(first.client, group_by="procedure_code"))["groups"]}
        assert set(by_code) == {"15823", "99213", "99214"}
        assert by_code["15823"] == {"procedure_code": "15823", "adjudicated_lines": 1, "denied_lines": 1,
                                    "denied_amount": "1200.00", "denial_rate": 1.0}
        assert by_code["99213"]["denied_lines"] == 0 and by_code["99213"]["adjudicated_lines"] == 1
        (provider,) = (await _figures(first.client, group_by="provider"))["groups"]
        assert provider["provider_npi"] == first.npis[0] and provider["adjudicated_lines"] == 3
        month = (await _figures(first.client, group_by="month"))["groups"]
        assert sum(m["adjudicated_lines"] for m in month) == 3

        # The second organisation sees only its own denial, and never the first's.
        second_figures = await _figures(second.client)
        assert second_figures["totals"] == {"adjudicated_lines": 1, "denied_lines": 1, "denied_amount": "1000.00",
                                            "denial_rate": 1.0}
        refused = await second.client.get("/v1/analytics/denials",
                                          params={**_range(), "organization_id": first.organization_id})
        assert refused.status_code == 403

        # An operator: one organisation as its provider sees it; all of them include both.
        assert (await _figures(operator, organization_id=first.organization_id))["totals"] == expected_totals
        everyone = (await _figures(operator))["totals"]
        assert everyone["adjudicated_lines"] >= 4 and everyone["denied_lines"] >= 2

        # Rebuilt from offset zero, the same figures.
        settings = PlatformSettings(kafka_bootstrap_servers=running_stack.kafka_bootstrap,
                                    mongodb_uri=running_stack.mongodb_uri)
        client = AsyncMongoClient(running_stack.mongodb_uri, tz_aware=True, retryWrites=False)
        rebuilt = DenialAnalytics(client["test_claims"], prefix="rebuilt_")
        try:
            await rebuilt.rebuild(settings)
            start, end = (date.fromisoformat(v) for v in _range().values())
            for org in (first, second):
                for group_by in ("carc", "procedure_code", "provider", "month"):
                    live = await _figures(org.client, group_by=group_by)
                    again = await rebuilt.figures(org.organization_id, start, end, group_by)
                    assert {"totals": live["totals"], "groups": live["groups"]} == again
        finally:
            await rebuilt.store.clear()
            await client.close()
    finally:
        for org in (first, second):
            await org.client.aclose()


async def test_bad_parameters_are_422_problems(platform, org):
    for params in ({"from": "2025-02-01", "to": "2025-01-01"}, {"from": "2024-01-01", "to": "2025-03-01"},
                   {"from": "2025-01-01", "to": "2025-01-31", "group_by": "member"}, {"from": "nope", "to": "2025-01-01"},
                   {"to": "2025-01-01"}):
        for path in ("/v1/analytics/denials",):
            response = await org.client.get(path, params=params)
            assert response.status_code == 422, (params, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
