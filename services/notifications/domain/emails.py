"""The short emails to an organisation's contacts: a subject, a reference, a link to sign in.

Built from the same allow-listed webhook data (payloads.webhook_data), never from the
event's payload directly, so an email cannot carry more than a webhook does: no
patient, no codes, no dates of service. The reader signs in to see the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class EmailContent:
    subject: str
    body: str
    reference: str


def _claim(data: dict[str, Any], what: str, extra: str = "") -> tuple[str, str, str]:
    ref = data["claim_id"]
    return f"Claim {ref}: {what}", f"A claim of your organisation: {what}.{extra}", f"claim {ref}"


def _authorization(data: dict[str, Any], what: str) -> tuple[str, str, str]:
    ref = data["authorization_id"]
    return (f"Prior authorization {ref}: {what}", f"A prior authorization request of your organisation: {what}.",
            f"authorization {ref}")


def email_for(event_type: str, data: dict[str, Any], portal_url: str) -> EmailContent:
    """`data` is the webhook data of the event (payloads.webhook_data)."""
    if event_type == "claim.denied":
        subject, lead, ref = _claim(data, "denied")
    elif event_type == "claim.info_requested":
        due = f" Please answer by {data['due_by']}." if data.get("due_by") else ""
        subject, lead, ref = _claim(data, "information requested", due)
    elif event_type == "authorization.approved":
        subject, lead, ref = _authorization(data, "approved")
    elif event_type == "authorization.denied":
        subject, lead, ref = _authorization(data, "denied")
    elif event_type == "authorization.info_requested":
        subject, lead, ref = _authorization(data, "information requested")
    elif event_type == "remittance.issued":
        ref = f"remittance {data['remittance_id']}"
        subject = f"Remittance {data['remittance_id']} issued"
        trace = f" EFT trace number {data['eft_trace_number']}." if data.get("eft_trace_number") else ""
        lead = f"A payment to your organisation was issued.{trace}"
    else:
        raise ValueError(f"no email for {event_type}")
    return EmailContent(subject=subject, body=_body(lead, ref, portal_url), reference=ref)


def endpoint_disabled_email(endpoint_id: str, url: str, reason: str, portal_url: str) -> EmailContent:
    why = {
        "gone": "it answered 410 Gone",
        "failing": "every delivery to it failed for 5 days",
    }.get(reason, reason)
    ref = f"webhook endpoint {endpoint_id}"
    lead = (f"Your webhook endpoint {url} was disabled because {why}. No more events are sent to it; "
            "create a new endpoint once the receiver works again.")
    return EmailContent(subject=f"Webhook endpoint disabled: {url}", body=_body(lead, ref, portal_url), reference=ref)


def _body(lead: str, reference: str, portal_url: str) -> str:
    return (
        f"{lead}\n\n"
        f"Reference: {reference}\n\n"
        f"Sign in to see the details: {portal_url.rstrip('/')}/\n\n"
        "This message carries no patient information. Do not reply to it.\n"
    )
