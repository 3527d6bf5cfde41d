"""The event types a webhook endpoint may subscribe to: API.md "Notifications", exactly.

The same names as the platform's own events (claim.denied on claims.events is
claim.denied to a subscriber); only these are ever sent out, whatever else travels
on the topics. Some are not published yet by any service (claim.paid and
remittance.issued come with payments, authorization.* with authorizations): a
subscription to them is valid and starts receiving when they exist.
"""

WEBHOOK_EVENT_TYPES: tuple[str, ...] = (
    "claim.received",
    "claim.processed",
    "claim.paid",
    "claim.denied",
    "claim.info_requested",
    "claim.voided",
    "claim.replaced",
    "remittance.issued",
    "authorization.approved",
    "authorization.denied",
    "authorization.info_requested",
    "authorization.expired",
    "authorization.overdue",
)

EMAILED_EVENT_TYPES: frozenset[str] = frozenset(
    {
        "claim.denied",
        "claim.info_requested",
        "authorization.approved",
        "authorization.denied",
        "authorization.info_requested",
        "remittance.issued",
    }
)
"""What the organisation's contacts get an email for (API.md): denials, info requests,
authorization decisions, remittances."""


def unknown_event_types(requested: list[str]) -> list[str]:
    return [t for t in requested if t not in WEBHOOK_EVENT_TYPES]
