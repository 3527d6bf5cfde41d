"""Network contracts: the plans a provider organisation is in network for.

An organisation's contract is an event stream of its own; each event carries the
whole contract (contracts/events/network.py), so the state is the latest event.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict

from contracts.events.network import NetworkContractUpdated


class NetworkContract(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    organization_id: str
    plan_ids: tuple[str, ...]
    """Sorted, distinct."""
    updated_at: AwareDatetime
    version: int
    """The stream version this state is at: the expected version of the next change."""


def contract_change(
    current: NetworkContract | None, organization_id: str, plan_ids: Iterable[str], now: datetime
) -> list[NetworkContractUpdated]:
    """The event that makes the contract exactly `plan_ids`; none when it already is.

    A first contract is stated even when empty: it says the organisation is known
    and out of network everywhere, which a consumer need not wait for.
    """
    wanted = sorted(set(plan_ids))
    if current is not None and list(current.plan_ids) == wanted:
        return []
    return [NetworkContractUpdated(organization_id=organization_id, plan_ids=wanted, updated_at=now)]


def apply_contract(event: NetworkContractUpdated, version: int) -> NetworkContract:
    return NetworkContract(
        organization_id=event.organization_id, plan_ids=tuple(sorted(set(event.plan_ids))),
        updated_at=event.updated_at, version=version,
    )
