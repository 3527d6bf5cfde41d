"""audit.events: every access to patient data, published by the service that served it."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from contracts import topics
from contracts.contract import EventContract

PATIENT_DATA_ACCESSED = "patient_data.accessed"


class PatientDataAccessed(BaseModel):
    model_config = ConfigDict(extra="forbid")

    access_id: str
    action: str
    """What was done, e.g. eligibility.check, eligibility.check.read, claim.read, claim.search."""
    resource: str
    member_id: str | None
    client_id: str
    role: Literal["operator", "reviewer", "provider"]
    organization_id: str | None
    """The caller's organisation (None for payer staff)."""
    outcome: str
    """The answer's status, a result count, or "denied" when the caller was refused."""
    accessed_at: datetime


CONTRACTS = (
    EventContract(PATIENT_DATA_ACCESSED, topics.AUDIT, PatientDataAccessed,
                  "Someone read or searched patient data (or was refused)."),
)
