"""A claim's identity for duplicate detection, independent of how it was keyed in."""

from __future__ import annotations

import hashlib
import json

from contracts.money import money_text
from .submission import ClaimLine, ClaimSubmission


def _line_key(line: ClaimLine) -> list[str]:
    return [
        line.date_of_service.isoformat(),
        line.procedure_code,
        ",".join(sorted(line.modifiers)),
        str(line.units),
        money_text(line.charge_amount),
    ]


def claim_fingerprint(claim: ClaimSubmission) -> str:
    """sha256 hex of member, billing and rendering provider, and the sorted
    (date of service, procedure, modifiers, units, charge) of every line.

    Line order, diagnosis codes and frequency code are left out on purpose: a
    resubmission that only reorders lines or recodes diagnoses is still the same
    bill for the same services.
    """
    key = {
        "member_id": claim.member_id,
        "billing_npi": claim.billing_provider.npi,
        "rendering_npi": claim.rendering_provider_npi,
        "lines": sorted(_line_key(line) for line in claim.lines),
    }
    canonical = json.dumps(key, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
