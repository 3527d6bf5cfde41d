"""Helpers for the eligibility acceptance tests: plan data, checks, accumulator events.

The expected plan data is read from refdata/plans.json itself, never through the
service's catalogue code, so a loader bug cannot hide behind its own output.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
from aiokafka import AIOKafkaProducer

REPO = Path(__file__).resolve().parents[2]
PLANS_DOC = json.loads((REPO / "refdata" / "plans.json").read_text(encoding="utf-8"))
PLANS: dict[str, dict] = {plan["id"]: plan for plan in PLANS_DOC["plans"]}

# The visits the issue names, and the service category each one bills under.
VISITS = {"99213": "primary_care", "99243": "specialist", "99284": "emergency_room"}

DOB = "1980-02-03"


def today() -> date:
    """The service's notion of today (UTC), which bounds the inquiry window."""
    return datetime.now(UTC).date()


def days(n: int) -> timedelta:
    return timedelta(days=n)


async def check(client: httpx.AsyncClient, member_id: str, dos: date | str, *, dob: str = DOB,
                codes: list[str] | None = None, **extra) -> dict:
    """POST an eligibility check that is expected to be answered (200)."""
    body = {"member_id": member_id, "date_of_birth": dob,
            "date_of_service": dos.isoformat() if isinstance(dos, date) else dos, **extra}
    if codes is not None:
        body["procedure_codes"] = codes
    response = await client.post("/v1/eligibility/checks", json=body)
    assert response.status_code == 200, response.text
    return response.json()


async def set_contract(operator: httpx.AsyncClient, organization_id: str, plan_ids: list[str]) -> None:
    response = await operator.post("/v1/admin/network-contracts",
                                   json={"organization_id": organization_id, "plan_ids": plan_ids})
    assert response.status_code == 200, response.text
    assert sorted(response.json()["plan_ids"]) == sorted(set(plan_ids))


def service(answer: dict, code: str) -> dict:
    matches = [s for s in answer["services"] if s["procedure_code"] == code]
    assert len(matches) == 1, f"expected one service entry for {code}: {answer['services']}"
    return matches[0]


def accumulators_event(member_id: str, plan_id: str, plan_year: int, deductible: str, out_of_pocket: str,
                       *, adjudication_id: str | None = None, claim_id: str | None = None,
                       family_id: str | None = None) -> dict:
    """An accumulators.applied CloudEvent in the published contract format (family_id: on a family policy)."""
    event = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "/services/adjudication",
        "type": "accumulators.applied",
        "subject": member_id,
        "time": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "datacontenttype": "application/json",
        "partitionkey": member_id,
        "data": {
            "member_id": member_id,
            "plan_id": plan_id,
            "plan_year": plan_year,
            "deductible_applied": deductible,
            "out_of_pocket_applied": out_of_pocket,
            "claim_id": claim_id or str(uuid.uuid4()),
            "adjudication_id": adjudication_id or str(uuid.uuid4()),
        },
    }
    if family_id is not None:
        event["data"]["family_id"] = family_id
    return event


async def publish(bootstrap: str, topic: str, events: list[dict]) -> None:
    """Publishes the events in order, keyed by their partition key (the member id)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(topic, json.dumps(event).encode(), key=event["partitionkey"].encode())
    finally:
        await producer.stop()
