"""GET /v1/authorizations/{id}: the authorization as API.md shapes it, from the aggregate.

Read from the stream itself (a few point reads), so a read right after a command sees
it. Free text (decision notes, info-request messages) lives in the thread's message
store and is joined here; `overdue` is read off the clock, as the sweeper records it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.authorizations.domain import Authorization


def _instant(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def message_ids_to_join(authorization: Authorization) -> list[str]:
    ids = [r.message_id for r in authorization.info_requests.values() if r.message_id]
    decision = authorization.decision
    if decision is not None and decision.note_message_id:
        ids.append(decision.note_message_id)
    return ids


def public(authorization: Authorization, texts: dict[str, str], clinical_notes: str | None,
           now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    request = authorization.submitted
    assert request is not None
    decision = authorization.decision
    shown: dict[str, Any] = {
        "authorization_id": authorization.authorization_id,
        "status": authorization.status,
        "member_id": request.member_id,
        "requesting_provider_npi": request.requesting_provider_npi,
        "urgency": request.urgency,
        "procedure_codes": list(request.procedure_codes),
        "diagnosis_codes": list(request.diagnosis_codes),
        "codes_requiring_authorization": list(request.codes_requiring_authorization),
        "requested_units": request.requested_units,
        "approved_units": decision.approved_units if decision and decision.decision == "approved" else None,
        "used_units": authorization.used_units,
        "start_date": request.start_date.isoformat(),
        "end_date": request.end_date.isoformat(),
        "submitted_at": _instant(request.submitted_at),
        "decision_due_at": _instant(request.decision_due_at),
        "decided_at": _instant(decision.at) if decision else None,
        "overdue": authorization.is_overdue(now),
        "decision": None,
        "timeline": [{"status": entry.status, "at": _instant(entry.at)} for entry in authorization.timeline],
        "info_requests": [
            {
                "info_request_id": r.info_request_id, "requested_at": _instant(r.requested_at),
                "message": texts.get(r.message_id or ""), "message_id": r.message_id,
                "status": "answered" if r.answered_at else "open",
                "answered_at": _instant(r.answered_at) if r.answered_at else None,
                "answer_message_id": r.answer_message_id, "attachment_ids": list(r.attachment_ids),
            }
            for r in authorization.info_requests.values()
        ],
        "clinical_notes": clinical_notes,
    }
    if decision is not None:
        shown["decision"] = {
            "decision": decision.decision,
            "reason_code": decision.reason_code,
            "note": decision.system_note or texts.get(decision.note_message_id or ""),
            "decided_by_role": decision.decided_by_role,
            "rule": decision.rule,
        }
        if decision.decision == "approved":
            shown["decision"].update(approved_units=decision.approved_units,
                                     start_date=decision.start_date.isoformat() if decision.start_date else None,
                                     end_date=decision.end_date.isoformat() if decision.end_date else None)
    return shown
