"""The claim status read model: one document per claim, folded from claims.events.

Pure: `project(view, event)` returns the next view. The projection consumer, the
rebuild and the read-your-writes fallback (a GET right after a POST, before the
projection caught up) all fold the same function, so they cannot disagree.
"""

from datetime import UTC, date, datetime
from typing import Any

from services.claims.domain import (
    CLAIM_CLOSURE_RESERVED,
    CLAIM_DENIED,
    CLAIM_INFO_REQUEST_ANSWERED,
    CLAIM_INFO_REQUESTED,
    CLAIM_PAID,
    CLAIM_PROCESSED,
    CLAIM_RECEIVED,
    CLAIM_REPLACED,
    CLAIM_VOIDED,
)

_EMPTY_AMOUNTS = {
    "allowed_amount": None, "deductible": None, "copay": None, "coinsurance": None,
    "paid_amount": None, "patient_responsibility": None, "adjustments": [], "explanation": [],
}


def days_between(received_at: str, paid_at: str) -> int:
    """Calendar days (UTC) from receipt to payment, as prompt-pay laws count them."""
    def day(instant: str) -> date:
        return datetime.fromisoformat(instant.replace("Z", "+00:00")).astimezone(UTC).date()
    return (day(paid_at) - day(received_at)).days


def project(view: dict[str, Any] | None, event_type: str, data: dict[str, Any], version: int) -> dict[str, Any] | None:
    """The view after the event at `version`; None when the event is already reflected."""
    if view is not None and view["version"] >= version:
        return None
    if event_type == CLAIM_RECEIVED:
        return _received(data, version)
    if view is None:
        raise ValueError(f"{event_type} before claim.received")
    view = {**view, "version": version, "timeline": list(view["timeline"])}
    if event_type in (CLAIM_PROCESSED, CLAIM_DENIED):
        status = "processed" if event_type == CLAIM_PROCESSED else "denied"
        view["status"] = status
        view["adjudication_id"] = data["adjudication_id"]
        view["lines"] = [_adjudicated_line(line) for line in data["lines"]]
        view["totals"] = dict(data["totals"])
        view["timeline"].append(
            {"status": status, "at": data["adjudicated_at"], "reason_codes": list(data.get("reason_codes", []))}
        )
    elif event_type == CLAIM_PAID:
        view["status"] = "paid"
        view["payment"] = {
            "remittance_id": data["remittance_id"], "eft_trace_number": data["eft_trace_number"],
            "paid_at": data["paid_at"], "amount": data["amount"],
            "days_to_payment": days_between(view["received_at"], data["paid_at"]),
        }
        view["timeline"].append({"status": "paid", "at": data["paid_at"]})
    elif event_type == CLAIM_VOIDED:
        view["status"] = "voided"
        view["timeline"].append({"status": "voided", "at": data["voided_at"], "by_claim_id": data["voided_by_claim_id"]})
    elif event_type == CLAIM_CLOSURE_RESERVED:
        # Internal: the status holds until the correction closes the claim.
        view["reserved_by_claim_id"] = data["by_claim_id"]
    elif event_type == CLAIM_REPLACED:
        view["status"] = "replaced"
        view["timeline"].append(
            {"status": "replaced", "at": data["replaced_at"], "by_claim_id": data["replaced_by_claim_id"]}
        )
    elif event_type == CLAIM_INFO_REQUESTED:
        view["status"] = "info_requested"
        view["info_requests"] = [*view.get("info_requests", []), {
            "info_request_id": data["info_request_id"],
            "requested_at": data["requested_at"],
            "due_by": data["due_by"],
            "carc": data["carc"],
            "rarc": data["rarc"],
            "message": data["message"],
            "requested_by": data["requested_by"],
            "line_numbers": list(data.get("line_numbers", [])),
            "status": "open",
        }]
        view["timeline"].append({
            "status": "info_requested", "at": data["requested_at"],
            "reason_codes": [f"CO-{data['carc']}", data["rarc"]], "info_request_id": data["info_request_id"],
        })
    elif event_type == CLAIM_INFO_REQUEST_ANSWERED:
        view["status"] = "received"  # back to adjudication
        view["info_requests"] = [
            {**request, "status": "answered", "answered_at": data["answered_at"],
             "attachment_ids": list(data.get("attachment_ids", [])),
             **({"message_id": data["message_id"]} if data.get("message_id") else {})}
            if request["info_request_id"] == data["info_request_id"] else request
            for request in view.get("info_requests", [])
        ]
        view["timeline"].append(
            {"status": "received", "at": data["answered_at"], "info_request_id": data["info_request_id"]}
        )
    return view


def _adjudicated_line(line: dict[str, Any]) -> dict[str, Any]:
    shown = {
        "line_number": line["line_number"],
        "procedure_code": line["procedure_code"],
        "charge_amount": line["charge_amount"],
        "allowed_amount": line["allowed_amount"],
        "deductible": line["deductible"],
        "copay": line["copay"],
        "coinsurance": line["coinsurance"],
        "paid_amount": line["paid_amount"],
        "patient_responsibility": line["patient_responsibility"],
        "adjustments": line.get("adjustments", []),
        "explanation": list(line.get("explanation", [])),
    }
    if line.get("authorization_id"):
        shown["authorization_id"] = line["authorization_id"]
    return shown


def _received(data: dict[str, Any], version: int) -> dict[str, Any]:
    return {
        "_id": data["claim_id"],
        "claim_id": data["claim_id"],
        "organization_id": data["organization_id"],
        "member_id": data["member_id"],
        "fingerprint": data["fingerprint"],
        "frequency_code": data["frequency_code"],
        "original_claim_id": data.get("original_claim_id"),
        "billing_provider_npi": data["billing_provider"]["npi"],
        "status": "received",
        "received_at": data["received_at"],
        "lines": [
            {
                "line_number": line["line_number"],
                "procedure_code": line["procedure_code"],
                "charge_amount": line["charge_amount"],
                **_EMPTY_AMOUNTS,
            }
            for line in data["lines"]
        ],
        "totals": {"charge": data["total_charge"], "allowed": None, "paid": None, "patient_responsibility": None},
        "timeline": [{"status": "received", "at": data["received_at"]}],
        "payment": None,
        "info_requests": [],
        "version": version,
    }


def public(view: dict[str, Any], today: date | None = None) -> dict[str, Any]:
    """The API's shape: internal bookkeeping stays inside.

    An open info request past its due date shows as `expired`: nothing records the
    expiry (a sweeper denying the claim comes later), so it is read off the date here
    and never stored, and a rebuilt view stays equal to the live one.
    """
    today = today or datetime.now(UTC).date()
    return {
        "claim_id": view["claim_id"],
        "status": view["status"],
        "received_at": view["received_at"],
        "member_id": view["member_id"],
        "frequency_code": view["frequency_code"],
        "original_claim_id": view.get("original_claim_id"),
        "lines": view["lines"],
        "totals": view["totals"],
        "timeline": view["timeline"],
        "payment": view.get("payment"),
        "info_requests": [_info_request(request, today) for request in view.get("info_requests", [])],
    }


def _info_request(request: dict[str, Any], today: date) -> dict[str, Any]:
    if request["status"] == "open" and today > date.fromisoformat(request["due_by"]):
        return {**request, "status": "expired"}
    return request
