"""Request and response models of the webhooks API (API.md "Notifications")."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.notifications.deliveries import STATUSES

EventType = Annotated[str, Field(min_length=1, max_length=64)]
DeliveryStatus = Literal["pending", "succeeded", "failed", "exhausted"]
assert set(STATUSES) == set(DeliveryStatus.__args__)  # type: ignore[attr-defined]


class EndpointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=2048, description="http(s) URL of the receiver (https outside local runs)")
    event_types: list[EventType] = Field(min_length=1, max_length=20, description="Event types to receive (API.md)")
    description: str | None = Field(default=None, max_length=500)


class EndpointView(BaseModel):
    endpoint_id: str
    url: str
    event_types: list[str]
    description: str | None = None
    status: Literal["active", "disabled"]
    disabled_reason: str | None = Field(default=None, description="gone (it answered 410) or failing (5 days)")
    disabled_at: str | None = None
    failing_since: str | None = None
    created_at: str
    secret_rotated_at: str | None = None


class EndpointCreated(EndpointView):
    secret: str = Field(description="whsec_...: verifies the webhook-signature of every delivery")


class SecretRotated(BaseModel):
    endpoint_id: str
    secret: str = Field(description="The new whsec_ secret; it signs from now on")
    previous_secret_expires_at: str | None = Field(description="Until then the previous secret signs too")


class Attempt(BaseModel):
    at: str
    response_status: int | None = None
    error: str | None = Field(default=None, description="timeout, connect_error, target_refused:<reason>, ...")
    duration_ms: float


class DeliveryView(BaseModel):
    delivery_id: str
    webhook_id: str
    endpoint_id: str
    event_type: str
    status: DeliveryStatus
    created_at: str
    attempts: list[Attempt]
    next_attempt_at: str | None = None
    ended_reason: str | None = Field(default=None, description="Why a failed delivery stopped early")


class RedeliveryAccepted(BaseModel):
    delivery_id: str
    webhook_id: str
    status: DeliveryStatus
