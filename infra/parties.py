"""Who speaks in a thread or uploads a document: the provider organisation, or the payer.

Operators and reviewers work for the health plan, so they write (and upload) as the
payer; a provider client writes as its organisation.
"""

from typing import Literal

from infra.http.auth import Principal

Party = Literal["provider", "payer"]


def party_of(principal: Principal) -> Party:
    return "provider" if principal.role == "provider" else "payer"


def author_of(principal: Principal) -> dict[str, str]:
    """As stored: the party, the role and the client (the API shows party and role)."""
    return {"party": party_of(principal), "role": principal.role, "client_id": principal.client_id}
