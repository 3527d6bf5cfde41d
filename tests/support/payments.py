"""Helpers for the payment tests: runs, remittances and the sums they must satisfy."""

from __future__ import annotations

import uuid
from decimal import Decimal

import httpx

from tests.support.client import claim_body, wait_for_status


def money(value) -> Decimal:
    return Decimal(str(value))


async def run_payments(operator: httpx.AsyncClient, key: str | None = None, **body) -> dict:
    response = await operator.post("/v1/admin/payment-runs", json=body,
                                   headers={"Idempotency-Key": key or str(uuid.uuid4())}, timeout=300.0)
    assert response.status_code == 201, response.text
    return response.json()


async def remittances_of(client: httpx.AsyncClient, **params) -> list[dict]:
    """Every remittance the caller may list (all pages), newest first, without their claims."""
    found, cursor = [], None
    while True:
        query = {**params, "limit": 100, **({"cursor": cursor} if cursor else {})}
        response = await client.get("/v1/remittances", params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        found.extend(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            return found


async def remittance(client: httpx.AsyncClient, remittance_id: str) -> dict:
    response = await client.get(f"/v1/remittances/{remittance_id}")
    assert response.status_code == 200, response.text
    return response.json()


def assert_balances(remittance_doc: dict) -> None:
    """API.md: the payment equals the claims' paid amounts plus the provider adjustments."""
    claims = sum((money(c["paid"]) for c in remittance_doc["claims"]), Decimal("0"))
    adjustments = sum((money(a["amount"]) for a in remittance_doc["provider_adjustments"]), Decimal("0"))
    assert money(remittance_doc["payment"]["amount"]) == claims + adjustments, remittance_doc["remittance_id"]
    assert money(remittance_doc["payment"]["amount"]) >= 0
    for claim in remittance_doc["claims"]:
        assert money(claim["paid"]) == sum((money(line["paid"]) for line in claim["lines"]), Decimal("0"))


async def submit(org, member: dict, *, lines: list[dict] | None = None, **fields) -> str:
    body = {**claim_body(org, member, lines=lines), **fields}
    response = await org.client.post("/v1/claims", json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert response.status_code == 201, response.text
    return response.json()["claim_id"]


async def processed(org, claim_id: str) -> dict:
    return await wait_for_status(org.client, claim_id, "processed")
