"""The bench's claim mix: what a day of professional claims looks like to full adjudication.

Out of every 20 claims (spread over the members, not in a block):
- 16 clean, in network: office visits with a lab, lab panels, a preventive visit,
  telehealth and therapy (copays, deductible and coinsurance, all paid);
- 2 pend for documentation (outcome info_requested, claim.info_requested on
  claims.events): an unlisted procedure (27599, RARC N350) and a line over the
  policy's pend threshold of 25,000.00 (RARC M127);
- 2 denied: an organisation that is out of network for the member's HMO plan (its
  contract covers the PPO only; CO-242), and an MRI the plan requires prior
  authorization for, without one (CO-197).

Every claim is final for the throughput measure when its claim.processed,
claim.denied or claim.info_requested is on claims.events; pends are reported apart.
The auto-adjudication rate (decided without a pend / all decided) is the expected
18 / 20 = 0.9 of this mix; the worker's own counters (adjudication_decisions_total)
are what the bench reports.

Charges vary with the claim's number so that no claim duplicates another (CO-18:
same member, billing NPI, code, modifiers, date of service, units and charge).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import httpx

from tests.support.client import Organization, claim_body

PLAN = "silver-hmo-2026"  # HMO: an organisation out of network for it is denied
OUT_OF_NETWORK_PLANS = ["gold-ppo-2026"]  # the other organisation's contract: in network elsewhere only

# Kinds in a cycle of 20; FINAL_KIND maps a kind to what it ends as.
CLEAN = ("office_visit_lab", "lab_panel", "office_visit", "preventive", "telehealth", "therapy")
PEND_UNLISTED, PEND_HIGH_CHARGE = "pend_unlisted", "pend_high_charge"
DENY_OUT_OF_NETWORK, DENY_NO_AUTHORIZATION = "deny_out_of_network", "deny_no_authorization"
CYCLE = (
    *(CLEAN[i % len(CLEAN)] for i in range(16)),
    PEND_UNLISTED, PEND_HIGH_CHARGE, DENY_OUT_OF_NETWORK, DENY_NO_AUTHORIZATION,
)
EXPECTED = {kind: "processed" for kind in CLEAN} | {
    PEND_UNLISTED: "info_requested", PEND_HIGH_CHARGE: "info_requested",
    DENY_OUT_OF_NETWORK: "denied", DENY_NO_AUTHORIZATION: "denied",
}
EXPECTED_AUTO_RATE = sum(1 for k in CYCLE if EXPECTED[k] != "info_requested") / len(CYCLE)


def kind_of(n: int) -> str:
    # 7 is prime to 20: consecutive numbers walk the cycle in a spread-out order.
    return CYCLE[(n * 7) % len(CYCLE)]


def _line(code: str, charge: str, dos: str, units: int = 1, pointers: list[int] | None = None) -> dict:
    return {"procedure_code": code, "modifiers": [], "units": units, "charge_amount": charge,
            "date_of_service": dos, "place_of_service": "11", "diagnosis_pointers": pointers or [1]}


def lines_for(kind: str, n: int) -> list[dict]:
    dos = (date.today() - timedelta(days=7 + n % 30)).isoformat()
    vary = n / 100  # distinct charges: never a duplicate

    def charge(base: float) -> str:
        return f"{base + vary:.2f}"

    return {
        "office_visit_lab": [_line("99213", charge(100), dos, pointers=[1, 2]), _line("83036", "45.00", dos)],
        "lab_panel": [_line("80053", charge(40), dos), _line("85025", "25.00", dos), _line("36415", "10.00", dos)],
        "office_visit": [_line("99214", charge(190), dos, pointers=[1, 2])],
        "preventive": [_line("99396", charge(260), dos)],
        "telehealth": [_line("98000", charge(120), dos)],
        "therapy": [_line("97110", charge(90), dos, units=2), _line("97140", "45.00", dos)],
        PEND_UNLISTED: [_line("27599", charge(1800), dos)],
        PEND_HIGH_CHARGE: [_line("43239", charge(26000), dos)],
        DENY_OUT_OF_NETWORK: [_line("99213", charge(100), dos, pointers=[1, 2])],
        DENY_NO_AUTHORIZATION: [_line("72148", charge(900), dos)],
    }[kind]


@dataclass
class ClaimMix:
    """The organisations that send the mix: one in network for every plan, one for the PPO only."""

    in_network: Organization
    out_of_network: Organization

    def org_for(self, kind: str) -> Organization:
        return self.out_of_network if kind == DENY_OUT_OF_NETWORK else self.in_network

    def claim(self, n: int, member: dict) -> tuple[str, Organization, dict]:
        kind = kind_of(n)
        org = self.org_for(kind)
        return kind, org, claim_body(org, member, lines=lines_for(kind, n))

    async def close(self) -> None:
        await self.in_network.client.aclose()
        await self.out_of_network.client.aclose()


async def create(platform) -> ClaimMix:
    in_network = await platform.new_organization()  # a contract for every plan (tests/support/client.py)
    out_of_network = await platform.new_organization(in_network_for=OUT_OF_NETWORK_PLANS)
    return ClaimMix(in_network, out_of_network)


class MixClients:
    """One keep-alive client per organisation of the mix (the token names the organisation)."""

    def __init__(self, mix: ClaimMix, clients: dict[str, httpx.AsyncClient]) -> None:
        self.mix = mix
        self.clients = clients

    @classmethod
    async def open(cls, mix: ClaimMix, client_for: Callable, connections: int) -> MixClients:
        return cls(mix, {
            mix.in_network.organization_id: await client_for(mix.in_network, connections=connections),
            mix.out_of_network.organization_id: await client_for(mix.out_of_network,
                                                                 connections=max(4, connections // 4)),
        })

    def for_org(self, org: Organization) -> httpx.AsyncClient:
        return self.clients[org.organization_id]

    @property
    def main(self) -> httpx.AsyncClient:
        return self.clients[self.mix.in_network.organization_id]

    async def aclose(self) -> None:
        for client in self.clients.values():
            await client.aclose()


def outcome_counts(kinds_seen: dict[str, str]) -> dict[str, int]:
    """{final status: claims} of what the watcher saw."""
    counts: dict[str, int] = {}
    for status in kinds_seen.values():
        counts[status] = counts.get(status, 0) + 1
    return counts
