"""Webhook endpoints of an organisation: create (validated), list, delete, rotate the secret.

A URL is checked when the endpoint is created (422 naming the problem) and again at
every attempt (webhook_sender.py): a name can resolve elsewhere later.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from infra.http.problems import Problem
from infra.idempotency import IdempotentRequest
from services.notifications.api_models import EndpointIn
from services.notifications.directory import Directory, EndpointExists
from services.notifications.domain.event_types import unknown_event_types
from services.notifications.domain.secrets import ROTATION_OVERLAP, new_secret, signing_secrets
from services.notifications.domain.target_policy import TargetRefused
from services.notifications.webhook_sender import checked_target

NAMESPACE = uuid.UUID("8f5a3c1e-6b2d-4e7f-9a10-3c4d5e6f7a8b")
ROTATION_RETRIES = 5


def not_found() -> Problem:
    return Problem(404, "No such webhook endpoint.", code="not_found")


class Endpoints:
    def __init__(self, directory: Directory, *, allow_private: bool, require_https: bool, max_per_organization: int) -> None:
        self.directory = directory
        self.allow_private = allow_private
        self.require_https = require_https
        self.max_per_organization = max_per_organization

    async def validate(self, body: EndpointIn) -> None:
        errors = [
            {"loc": f"event_types[{i}]", "code": "unknown_event_type", "message": f"{t!r} is not a webhook event type."}
            for i, t in enumerate(body.event_types) if t in unknown_event_types([t])
        ]
        try:
            await checked_target(body.url, allow_private=self.allow_private, require_https=self.require_https)
        except TargetRefused as exc:
            errors.insert(0, {"loc": "url", "code": exc.code, "message": exc.message})
        if errors:
            raise Problem(422, f"The endpoint has {len(errors)} problem(s).", errors=errors, code="validation")

    async def create(self, organization_id: str, body: EndpointIn, key: str | None) -> tuple[dict[str, Any], bool]:
        """(the stored endpoint, whether this was a replay of an Idempotency-Key)."""
        normalized = {"url": body.url.strip(), "event_types": sorted(set(body.event_types)), "description": body.description}
        request = IdempotentRequest.of(NAMESPACE, organization_id, key, normalized, scope="webhook-endpoint")
        existing = await self.directory.endpoints(organization_id)
        if request.resource_id in existing:
            return self._replay(existing[request.resource_id], request), True
        await self.validate(body)
        if len(existing) >= self.max_per_organization:
            raise Problem(409, f"An organisation has at most {self.max_per_organization} webhook endpoints.",
                          code="too_many_endpoints")
        now = _millis(datetime.now(UTC))  # what MongoDB keeps: the replay's answer is the first one
        endpoint = {
            "endpoint_id": request.resource_id, **normalized, "status": "active", "created_at": now,
            "secrets": [{"secret": new_secret(), "created_at": now, "expires_at": None}], "secret_version": 1,
            "failing_since": None, "idempotency": request.meta,
        }
        try:
            await self.directory.create_endpoint(organization_id, endpoint)
        except EndpointExists:
            stored = await self.directory.endpoint(organization_id, request.resource_id)
            if stored is None:
                raise Problem(409, "The endpoint changed concurrently; retry the request.", code="concurrent_update")
            return self._replay(stored, request), True
        return endpoint, False

    @staticmethod
    def _replay(stored: dict[str, Any], request: IdempotentRequest) -> dict[str, Any]:
        request.check((stored.get("idempotency") or {}).get("body_sha256"))
        return stored

    async def list(self, organization_id: str) -> list[dict[str, Any]]:
        endpoints = await self.directory.endpoints(organization_id)
        return sorted(endpoints.values(), key=lambda e: (e["created_at"], e["endpoint_id"]))

    async def get(self, organization_id: str, endpoint_id: str) -> dict[str, Any]:
        endpoint = await self.directory.endpoint(organization_id, endpoint_id) if len(endpoint_id) <= 64 else None
        if endpoint is None:
            raise not_found()
        return endpoint

    async def delete(self, organization_id: str, endpoint_id: str) -> None:
        if len(endpoint_id) > 64 or not await self.directory.delete_endpoint(organization_id, endpoint_id):
            raise not_found()

    async def rotate(self, organization_id: str, endpoint_id: str, key: str | None) -> tuple[dict[str, Any], str, datetime | None]:
        """(endpoint, its new secret, when the previous one stops signing)."""
        for _ in range(ROTATION_RETRIES):
            endpoint = await self.get(organization_id, endpoint_id)
            now = datetime.now(UTC)
            if key and endpoint.get("rotation_key") == key:
                return endpoint, endpoint["secrets"][0]["secret"], _previous_expiry(endpoint, now)
            rotated = await self.directory.rotate_secret(organization_id, endpoint, now, key)
            if rotated is not None:
                return rotated, rotated["secrets"][0]["secret"], now + ROTATION_OVERLAP
        raise Problem(409, "The endpoint changed concurrently; retry the request.", code="concurrent_update")


def _millis(value: datetime) -> datetime:
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def _previous_expiry(endpoint: dict[str, Any], now: datetime) -> datetime | None:
    older = signing_secrets(list(endpoint.get("secrets") or [])[1:], now)
    return max((s["expires_at"] for s in older if s.get("expires_at")), default=None)


def public_endpoint(endpoint: dict[str, Any]) -> dict[str, Any]:
    def instant(value: datetime | None) -> str | None:
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None

    return {
        "endpoint_id": endpoint["endpoint_id"], "url": endpoint["url"], "event_types": endpoint["event_types"],
        "description": endpoint.get("description"), "status": endpoint["status"],
        "disabled_reason": endpoint.get("disabled_reason"), "disabled_at": instant(endpoint.get("disabled_at")),
        "failing_since": instant(endpoint.get("failing_since")), "created_at": instant(endpoint["created_at"]),
        "secret_rotated_at": instant(endpoint.get("secret_rotated_at")),
    }  # fmt: skip
