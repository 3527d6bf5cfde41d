"""A small API client for the tests: tokens, organisations, members, claims."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
import uuid
from dataclasses import dataclass
from datetime import date, timedelta

import httpx

from refdata.plans import load_catalogue
from tests.support.waiting import eventually

_npi_counter = itertools.count(random.randrange(10_000_000, 90_000_000))


def luhn_npi() -> str:
    """A fresh NPI with a valid check digit (Luhn over 80840 + first nine digits)."""
    first_nine = f"1{next(_npi_counter):08d}"
    digits = [int(c) for c in "80840" + first_nine]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return first_nine + str((10 - total % 10) % 10)


def fresh_tin() -> str:
    return f"{random.randrange(10, 99)}{random.randrange(1_000_000, 9_999_999)}"


@dataclass
class Organization:
    organization_id: str
    client_id: str
    client_secret: str
    npis: list[str]
    tin: str
    client: httpx.AsyncClient


class Platform:
    def __init__(self, base_url: str, admin_id: str, admin_secret: str) -> None:
        self.base_url = base_url
        self.http = httpx.AsyncClient(base_url=base_url, timeout=30.0)
        self.admin_id = admin_id
        self.admin_secret = admin_secret
        self._operator: httpx.AsyncClient | None = None
        self._probe: Organization | None = None

    async def close(self) -> None:
        await self.http.aclose()
        if self._operator:
            await self._operator.aclose()
        if self._probe:
            await self._probe.client.aclose()

    async def token(self, client_id: str, client_secret: str) -> str:
        response = await self.http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret},
        )
        response.raise_for_status()
        return response.json()["access_token"]

    async def as_client(self, client_id: str, client_secret: str) -> httpx.AsyncClient:
        token = await self.token(client_id, client_secret)
        return httpx.AsyncClient(base_url=self.base_url, timeout=30.0, headers={"Authorization": f"Bearer {token}"})

    async def operator(self) -> httpx.AsyncClient:
        if self._operator is None:
            self._operator = await self.as_client(self.admin_id, self.admin_secret)
        return self._operator

    async def new_organization(self, npis: int = 2, in_network_for: list[str] | None = None) -> Organization:
        """A registered organisation, in network for every plan unless `in_network_for` says otherwise."""
        operator = await self.operator()
        numbers = [luhn_npi() for _ in range(npis)]
        tin = fresh_tin()
        response = await operator.post(
            "/v1/admin/provider-organizations",
            json={"name": f"Clinic {uuid.uuid4().hex[:6]}", "tin": tin, "npis": numbers,
                  "contact_emails": ["billing@clinic.example"]},
        )
        assert response.status_code == 201, response.text
        body = response.json()
        client = await self.as_client(body["client_id"], body["client_secret"])
        plans = sorted(load_catalogue().plans) if in_network_for is None else in_network_for
        if plans:
            contract = await operator.post("/v1/admin/network-contracts",
                                           json={"organization_id": body["organization_id"], "plan_ids": plans})
            assert contract.status_code == 200, contract.text
        return Organization(body["organization_id"], body["client_id"], body["client_secret"], numbers, tin, client)

    async def new_member(self, plan_id: str = "silver-hmo-2026", dob: str = "1980-02-03",
                         coverage_start: str = "2026-01-01", coverage_end: str | None = None,
                         wait_for_claims: bool = True) -> dict:
        operator = await self.operator()
        body = {"first_name": "Test", "last_name": "Patient", "date_of_birth": dob, "gender": "female",
                "plan_id": plan_id, "coverage_start": coverage_start}
        if coverage_end:
            body["coverage_end"] = coverage_end
        response = await operator.post("/v1/admin/members", json=body)
        assert response.status_code == 201, response.text
        member = response.json()
        if wait_for_claims:
            await self.wait_until_claims_know(member)
        return member

    async def wait_until_claims_know(self, member: dict, timeout: float = 30.0) -> None:
        """Claims edits read the claims service's own copy of enrollment, fed from
        membership.events: wait until it has the member (validate stops answering
        member_not_found) rather than race the copy with a claim."""
        if self._probe is None:
            self._probe = await self.new_organization()
        body = claim_body(self._probe, member, dos=max(date.fromisoformat(member["coverage_start"]),
                                                        date.today() - timedelta(days=7)).isoformat())

        async def known() -> bool:
            response = await self._probe.client.post("/v1/claims/validate", json=body)
            if response.status_code == 200:
                return True
            errors = response.json().get("errors") or []
            return response.status_code == 422 and all(e["code"] != "member_not_found" for e in errors)

        await eventually(known, timeout=timeout, what="the claims service to know the new member")


def claim_body(org: Organization, member: dict, *, lines: list[dict] | None = None, dos: str | None = None) -> dict:
    dos = dos or (date.today() - timedelta(days=7)).isoformat()
    return {
        "frequency_code": "1",
        "member_id": member["member_id"],
        "patient_date_of_birth": member["date_of_birth"],
        "billing_provider": {"npi": org.npis[0], "tin": org.tin},
        "rendering_provider_npi": org.npis[-1],
        "diagnosis_codes": ["E11.9", "I10"],
        "lines": lines or [
            {"procedure_code": "99213", "modifiers": [], "units": 1, "charge_amount": "150.00",
             "date_of_service": dos, "place_of_service": "11", "diagnosis_pointers": [1, 2]},
            {"procedure_code": "83036", "modifiers": [], "units": 1, "charge_amount": "45.00",
             "date_of_service": dos, "place_of_service": "11", "diagnosis_pointers": [1]},
        ],
    }


async def wait_for_status(client: httpx.AsyncClient, claim_id: str, status: str, timeout: float = 60.0) -> dict:
    async def probe():
        response = await client.get(f"/v1/claims/{claim_id}")
        if response.status_code == 200 and response.json()["status"] == status:
            return response.json()
        return None

    return await eventually(probe, timeout=timeout, what=f"claim {claim_id} to be {status}")


async def submit_until_accepted(client: httpx.AsyncClient, body: dict, *, timeout: float = 60.0,
                                during: str = "") -> str:
    """POST /v1/claims until it is accepted (through outages and restarts); the claim id.

    A retried POST keeps its Idempotency-Key, so retries never make two claims of one submission.
    """
    key = str(uuid.uuid4())
    deadline = time.monotonic() + timeout
    while True:
        try:
            response = await client.post("/v1/claims", json=body, headers={"Idempotency-Key": key})
            if response.status_code == 201:
                return response.json()["claim_id"]
            failure = f"{response.status_code} {response.text[:200]}"
        except httpx.HTTPError as exc:
            failure = type(exc).__name__
        if time.monotonic() > deadline:
            raise AssertionError(f"claim submission kept failing{during}: {failure}")
        await asyncio.sleep(0.2)
