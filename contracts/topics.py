"""Topic names: the one place they are spelled."""

MEMBERSHIP = "membership.events"
CLAIMS = "claims.events"
AUTHORIZATIONS = "authorizations.events"
ADJUDICATION = "adjudication.events"
NOTIFICATIONS = "notifications.events"
ORGANIZATIONS = "organizations.events"
NETWORK = "network.events"
AUDIT = "audit.events"

ALL = (MEMBERSHIP, CLAIMS, AUTHORIZATIONS, ADJUDICATION, NOTIFICATIONS, ORGANIZATIONS, NETWORK, AUDIT)


def dead_letter_topic(source_topic: str) -> str:
    return f"{source_topic}.dlq"
