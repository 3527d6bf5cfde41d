"""The notifications service's directory: one document per organisation, holding its
webhook endpoints and its copy of the organisation's contacts.

    {_id: organization_id, name, contact_emails, endpoints: {endpoint_id: {...}}}

One document because every reader needs exactly one organisation's: the fan-out
(which endpoints of the event's organisation subscribe to its type), the dispatcher
(the endpoint's URL, secrets and state), the mailer (the contacts) and the API (a
provider's own endpoints; another organisation's endpoint is simply not in it, so
404 as for one that does not exist). Each is one read by `_id`, the only lookup
FerretDB v1 pushes down. Writers touch their own fields with dotted $set / $unset
(the contacts from organizations.events, an endpoint from the API, an endpoint's
health from the dispatcher), so they never overwrite each other on MongoDB. FerretDB v1
loses one of two concurrent updates of a document whatever their fields, so every write
here takes the organisation's document lock (infra/document_locks.py); locally one
notifications process writes the directory.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError
from pymongo.results import UpdateResult

from contracts.envelope import CloudEvent
from contracts.events.organizations import OrganizationRegistered
from infra.document_locks import document_lock
from services.notifications.domain import endpoint_health
from services.notifications.domain.secrets import new_secret, rotated, signing_secrets

ORGANIZATION_REGISTERED = "organization.registered"


class EndpointExists(Exception):
    """An endpoint with this id is already there (a replay of its creation)."""


class Directory:
    def __init__(self, db: AsyncDatabase) -> None:
        self.orgs = db["organizations"]

    async def _update(self, organization_id: str, query: Mapping[str, Any], change: Mapping[str, Any],
                      *, upsert: bool = False) -> UpdateResult:
        async with document_lock(self.orgs.full_name, organization_id):
            return await self.orgs.update_one({"_id": organization_id, **query}, change, upsert=upsert)

    async def organization(self, organization_id: str) -> dict[str, Any] | None:
        return await self.orgs.find_one({"_id": organization_id})

    async def endpoints(self, organization_id: str) -> dict[str, dict[str, Any]]:
        doc = await self.organization(organization_id)
        return dict((doc or {}).get("endpoints") or {})

    async def endpoint(self, organization_id: str, endpoint_id: str) -> dict[str, Any] | None:
        return (await self.endpoints(organization_id)).get(endpoint_id)

    # ------------------------------------------------------------ organizations.events

    def subscriptions(self) -> dict:
        return {ORGANIZATION_REGISTERED: self.on_registered}

    async def on_registered(self, payload: OrganizationRegistered, event: CloudEvent) -> None:
        # Idempotent as it is: the same values again on a redelivery.
        await self._update(
            payload.organization_id, {},
            {"$set": {"name": payload.name, "contact_emails": list(payload.contact_emails)}},
            upsert=True,
        )

    # ------------------------------------------------------------ endpoints (the API)

    async def create_endpoint(self, organization_id: str, endpoint: Mapping[str, Any]) -> None:
        """Stores a new endpoint; EndpointExists when its id is taken (the replay of an Idempotency-Key)."""
        endpoint_id = endpoint["endpoint_id"]
        try:
            result = await self._update(
                organization_id, {f"endpoints.{endpoint_id}": {"$exists": False}},
                {"$set": {f"endpoints.{endpoint_id}": dict(endpoint)}},
                upsert=True,
            )
        except DuplicateKeyError as exc:
            raise EndpointExists(endpoint_id) from exc
        if result.matched_count == 0 and result.upserted_id is None:
            raise EndpointExists(endpoint_id)

    async def delete_endpoint(self, organization_id: str, endpoint_id: str) -> bool:
        result = await self._update(
            organization_id, {f"endpoints.{endpoint_id}": {"$exists": True}},
            {"$unset": {f"endpoints.{endpoint_id}": ""}},
        )
        return result.modified_count == 1

    async def rotate_secret(
        self, organization_id: str, endpoint: Mapping[str, Any], now: datetime, rotation_key: str | None
    ) -> dict[str, Any] | None:
        """The endpoint after a rotation (None: it changed meanwhile or is gone; the caller retries)."""
        endpoint_id = endpoint["endpoint_id"]
        secrets = rotated(list(endpoint.get("secrets") or []), now, new_secret())
        result = await self._update(
            # Compare-and-set on the secrets' version read: two rotations at once cannot lose one.
            organization_id, {f"endpoints.{endpoint_id}.secret_version": endpoint.get("secret_version", 1)},
            {"$set": {f"endpoints.{endpoint_id}.secrets": secrets,
                      f"endpoints.{endpoint_id}.secret_version": endpoint.get("secret_version", 1) + 1,
                      f"endpoints.{endpoint_id}.rotation_key": rotation_key,
                      f"endpoints.{endpoint_id}.secret_rotated_at": now}},
        )
        if result.matched_count != 1:
            return None
        return {**endpoint, "secrets": secrets, "secret_version": endpoint.get("secret_version", 1) + 1,
                "rotation_key": rotation_key, "secret_rotated_at": now}

    # ------------------------------------------------------------ endpoint health (the dispatcher)

    async def record_success(self, organization_id: str, endpoint: Mapping[str, Any]) -> None:
        if endpoint.get("failing_since") is None:
            return  # the common case costs no write
        await self._update(
            organization_id, {f"endpoints.{endpoint['endpoint_id']}": {"$exists": True}},
            {"$set": {f"endpoints.{endpoint['endpoint_id']}.failing_since": None}},
        )

    async def record_failure(
        self, organization_id: str, endpoint: Mapping[str, Any], now: datetime, disable_after
    ) -> bool:
        """Notes the failure; True when it disabled the endpoint (failing for too long)."""
        change = endpoint_health.after_failure(endpoint.get("failing_since"), now, disable_after)
        if change.disable:
            return await self.disable(organization_id, endpoint["endpoint_id"], "failing", now)
        if endpoint.get("failing_since") is None:
            await self._update(
                organization_id, {f"endpoints.{endpoint['endpoint_id']}.failing_since": None},
                {"$set": {f"endpoints.{endpoint['endpoint_id']}.failing_since": now}},
            )
        return False

    async def disable(self, organization_id: str, endpoint_id: str, reason: str, now: datetime) -> bool:
        """True for the one call that disabled it (so its contacts get one email)."""
        result = await self._update(
            organization_id, {f"endpoints.{endpoint_id}.status": "active"},
            {"$set": {f"endpoints.{endpoint_id}.status": "disabled",
                      f"endpoints.{endpoint_id}.disabled_reason": reason,
                      f"endpoints.{endpoint_id}.disabled_at": now}},
        )
        return result.modified_count == 1


def active_secrets(endpoint: Mapping[str, Any], now: datetime) -> list[str]:
    return [s["secret"] for s in signing_secrets(list(endpoint.get("secrets") or []), now)]
