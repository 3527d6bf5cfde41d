"""network.events: published by eligibility (which owns network contracts); keyed by organisation id.

An organisation is in network for exactly the plans of its latest contract event.
Adjudication keeps its own copy from these events (never an HTTP call), so the
network rule of a decision reads the same facts eligibility answers checks with.
"""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict

from contracts import topics
from contracts.contract import EventContract

NETWORK_CONTRACT_UPDATED = "network_contract.updated"


class NetworkContractUpdated(BaseModel):
    """The organisation's whole contract after the change (not a delta), so the latest event is the state."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    organization_id: str
    plan_ids: list[str]
    """Sorted, distinct; empty means no contract (out of network for every plan)."""
    updated_at: AwareDatetime


CONTRACTS = (
    EventContract(NETWORK_CONTRACT_UPDATED, topics.NETWORK, NetworkContractUpdated,
                  "An organisation's network contract now covers exactly these plans."),
)
