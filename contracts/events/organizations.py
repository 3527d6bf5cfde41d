"""organizations.events: published by identity."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from contracts import topics
from contracts.contract import EventContract


class OrganizationRegistered(BaseModel):
    model_config = ConfigDict(extra="forbid")

    organization_id: str
    name: str
    tin: str
    npis: list[str]
    contact_emails: list[str]
    registered_at: datetime


CONTRACTS = (
    EventContract("organization.registered", topics.ORGANIZATIONS, OrganizationRegistered,
                  "A provider organisation was registered with its NPIs and contacts."),
)
