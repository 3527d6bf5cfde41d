"""Helpers for prior-authorization tests: request bodies, a reviewer client, waiting for the member copy."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import httpx

from tests.support.waiting import eventually


def authorization_body(org, member: dict, *, codes=("73721",), diagnoses=("M17.11",), units: int = 4,
                       urgency: str = "standard", start: date | None = None, end: date | None = None,
                       notes: str = "Right knee pain for 6 months; failed conservative therapy.") -> dict:
    start = start or date.today()
    return {
        "member_id": member["member_id"], "date_of_birth": member["date_of_birth"],
        "requesting_provider_npi": org.npis[0], "urgency": urgency, "procedure_codes": list(codes),
        "diagnosis_codes": list(diagnoses), "units": units, "start_date": start.isoformat(),
        "end_date": (end or start + timedelta(days=60)).isoformat(), "clinical_notes": notes,
    }


async def submit(org, body: dict) -> dict:
    response = await org.client.post("/v1/authorizations", json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert response.status_code == 201, response.text
    return response.json()


async def wait_until_known(org, member: dict, timeout: float = 30.0) -> None:
    """The service checks members against its own copy of membership.events: wait until it has this one
    (a request that fails on dates only stops answering member_not_found)."""
    probe = authorization_body(org, member, start=date.today(), end=date.today() - timedelta(days=1))

    async def known() -> bool:
        response = await org.client.post("/v1/authorizations", json=probe)
        errors = response.json().get("errors") or []
        return response.status_code == 422 and all(e["code"] != "member_not_found" for e in errors)

    await eventually(known, timeout=timeout, what="the authorizations service to know the member")


async def reviewer(platform) -> httpx.AsyncClient:
    operator = await platform.operator()
    created = await operator.post("/v1/admin/clients", json={"role": "reviewer", "name": f"UM desk {uuid.uuid4().hex[:6]}"})
    assert created.status_code == 201, created.text
    body = created.json()
    return await platform.as_client(body["client_id"], body["client_secret"])


async def wait_for(client: httpx.AsyncClient, authorization_id: str, status: str, timeout: float = 30.0) -> dict:
    async def probe():
        response = await client.get(f"/v1/authorizations/{authorization_id}")
        return response.json() if response.status_code == 200 and response.json()["status"] == status else None

    return await eventually(probe, timeout=timeout, what=f"authorization {authorization_id} to be {status}")
