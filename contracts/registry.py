"""Every event type the platform publishes, with its topic and payload model.

The single list the schema generator, the AsyncAPI document, the drift test and the
consumers' payload validation all read.
"""

from pydantic import BaseModel

from contracts.contract import EventContract
from contracts.events import adjudication, audit, authorizations, claims, membership, network, organizations


CONTRACTS: tuple[EventContract, ...] = (
    *organizations.CONTRACTS,
    *membership.CONTRACTS,
    *network.CONTRACTS,
    *authorizations.CONTRACTS,
    *claims.CONTRACTS,
    *adjudication.CONTRACTS,
    *audit.CONTRACTS,
)

BY_TYPE: dict[str, EventContract] = {c.type: c for c in CONTRACTS}


def payload_model(event_type: str) -> type[BaseModel] | None:
    contract = BY_TYPE.get(event_type)
    return contract.payload if contract else None
