"""Thin webhook payloads: {type, timestamp, data} with ids and status only.

An allow-list per event type of what `data` may carry. Nothing about the patient
(member id, names, birth dates, diagnoses, procedure codes, dates of service) and
no money of a claim: a receiver that needs more asks the API with its token, where
access is checked and audited. A field not listed here never leaves, so a payload
that grows a field upstream cannot leak it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

# event type -> (status shown to the receiver, fields copied from the event's payload)
_SHAPES: dict[str, tuple[str | None, tuple[str, ...]]] = {
    "claim.received": ("received", ("claim_id",)),
    "claim.processed": ("processed", ("claim_id", "adjudication_id")),
    "claim.denied": ("denied", ("claim_id", "adjudication_id", "reason_codes")),
    "claim.paid": ("paid", ("claim_id", "remittance_id")),
    "claim.info_requested": ("info_requested", ("claim_id", "info_request_id", "due_by")),
    "claim.voided": ("voided", ("claim_id", "voided_by_claim_id")),
    "claim.replaced": ("replaced", ("claim_id", "replaced_by_claim_id")),
    "remittance.issued": (None, ("remittance_id", "amount", "eft_trace_number", "payment_run_id")),
    "authorization.approved": ("approved", ("authorization_id", "approved_units", "start_date", "end_date")),
    "authorization.denied": ("denied", ("authorization_id", "reason_code")),
    "authorization.info_requested": ("info_requested", ("authorization_id",)),
    "authorization.expired": ("expired", ("authorization_id",)),
    "authorization.overdue": ("overdue", ("authorization_id",)),
}


def _first(data: dict[str, Any], *names: str) -> Any:
    for name in names:
        if data.get(name) is not None:
            return data[name]
    return None


def webhook_data(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    """The `data` of the webhook for one platform event (its payload as a dict)."""
    status, fields = _SHAPES[event_type]
    out: dict[str, Any] = {}
    for name in fields:
        value = data.get(name)
        if event_type == "remittance.issued" and value is None:
            # The payment's amount and trace may sit in a nested payment object.
            value = _first(data.get("payment") or {}, name)
        if value is not None and value != []:
            out[name] = value
    if status is not None:
        out["status"] = status
    return out


def webhook_body(event_type: str, timestamp: datetime, data: dict[str, Any]) -> str:
    """The exact body every attempt sends (and signs): compact JSON, stable key order."""
    body = {
        "type": event_type,
        "timestamp": timestamp.isoformat().replace("+00:00", "Z"),
        "data": webhook_data(event_type, data),
    }
    return orjson.dumps(body).decode()
