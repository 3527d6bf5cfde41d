"""Webhooks HTTP routes (API.md "Notifications"): endpoints, their delivery log, redelivery.

A provider manages its own organisation's endpoints; another organisation's endpoint
or delivery is 404, as one that does not exist.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from infra.http.auth import Provider
from infra.http.problems import Problem, problem_responses
from infra.idempotency import IdempotencyKey, mark_replayed
from services.notifications.api_models import (
    DeliveryStatus, DeliveryView, EndpointCreated, EndpointIn, EndpointView, RedeliveryAccepted, SecretRotated,
)
from services.notifications.deliveries import DeliveryStore, InvalidCursor, public_delivery
from services.notifications.dispatcher import Dispatcher
from services.notifications.endpoints import Endpoints, not_found, public_endpoint

router = APIRouter(tags=["webhooks"])


async def get_endpoints(request: Request) -> Endpoints:
    return request.app.state.endpoints


async def get_deliveries(request: Request) -> DeliveryStore:
    return request.app.state.deliveries


async def get_dispatcher(request: Request) -> Dispatcher | None:
    return getattr(request.app.state, "dispatcher", None)


EndpointsDep = Annotated[Endpoints, Depends(get_endpoints)]
DeliveriesDep = Annotated[DeliveryStore, Depends(get_deliveries)]
DispatcherDep = Annotated[Dispatcher | None, Depends(get_dispatcher)]
_AUTH = {401: "No valid bearer token.", 403: "Only a provider organisation manages its webhook endpoints."}
_404 = {404: "No such endpoint (or not your organisation's: the same answer)."}
_422 = ("The body failed validation: the URL is not http(s), needs https, cannot be resolved or resolves to "
        "a private, loopback, link-local, carrier-grade NAT, unique-local or metadata address; or an event "
        "type is unknown (unknown_event_type). `errors` names each problem.")


def _instant(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


@router.post(
    "/v1/webhooks/endpoints", status_code=status.HTTP_201_CREATED, response_model=EndpointCreated,
    responses=problem_responses({**_AUTH, 409: "The Idempotency-Key was used with another body, or the "
                                 "organisation has its maximum of endpoints (too_many_endpoints).", 422: _422}),
)
async def create_endpoint(
    body: EndpointIn, response: Response, principal: Provider, endpoints: EndpointsDep,
    idempotency_key: IdempotencyKey = None,
) -> dict:
    """Subscribe a URL to event types. The answer's `secret` (whsec_...) verifies every delivery's
    signature (Standard Webhooks); it is shown only here and by a rotation."""
    endpoint, replayed = await endpoints.create(principal.organization_id, body, idempotency_key)
    if replayed:
        mark_replayed(response)
    response.headers["Location"] = f"/v1/webhooks/endpoints/{endpoint['endpoint_id']}"
    return {**public_endpoint(endpoint), "secret": endpoint["secrets"][0]["secret"]}


@router.get("/v1/webhooks/endpoints", response_model=list[EndpointView], responses=problem_responses(_AUTH))
async def list_endpoints(principal: Provider, endpoints: EndpointsDep) -> list[dict]:
    return [public_endpoint(e) for e in await endpoints.list(principal.organization_id)]


@router.get("/v1/webhooks/endpoints/{endpoint_id}", response_model=EndpointView,
            responses=problem_responses({**_AUTH, **_404}))
async def get_endpoint(endpoint_id: str, principal: Provider, endpoints: EndpointsDep) -> dict:
    return public_endpoint(await endpoints.get(principal.organization_id, endpoint_id))


@router.delete("/v1/webhooks/endpoints/{endpoint_id}", status_code=status.HTTP_204_NO_CONTENT,
               responses=problem_responses({**_AUTH, **_404}))
async def delete_endpoint(endpoint_id: str, principal: Provider, endpoints: EndpointsDep) -> Response:
    """Nothing more is sent to it; deliveries still pending end as failed (endpoint_deleted)."""
    await endpoints.delete(principal.organization_id, endpoint_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/v1/webhooks/endpoints/{endpoint_id}/secret-rotation", response_model=SecretRotated,
    responses=problem_responses({**_AUTH, **_404, 409: "The endpoint changed concurrently; retry."}),
)
async def rotate_secret(
    endpoint_id: str, response: Response, principal: Provider, endpoints: EndpointsDep,
    idempotency_key: IdempotencyKey = None,
) -> dict:
    """A new whsec_ secret. The previous one keeps signing for 24 hours: meanwhile every delivery
    carries both signatures (space-separated in webhook-signature)."""
    endpoint, secret, previous_until = await endpoints.rotate(principal.organization_id, endpoint_id, idempotency_key)
    return {"endpoint_id": endpoint["endpoint_id"], "secret": secret, "previous_secret_expires_at": _instant(previous_until)}


@router.get(
    "/v1/webhooks/endpoints/{endpoint_id}/deliveries", response_model=list[DeliveryView],
    responses=problem_responses({**_AUTH, **_404, 422: "A query parameter is malformed (e.g. invalid_cursor)."}),
)
async def list_deliveries(
    endpoint_id: str, response: Response, principal: Provider, endpoints: EndpointsDep, deliveries: DeliveriesDep,
    status_: Annotated[DeliveryStatus | None, Query(alias="status")] = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> list[dict]:
    """The endpoint's deliveries, newest first, each with every attempt. More pages: the `Link`
    header (rel="next") and `X-Next-Cursor`."""
    await endpoints.get(principal.organization_id, endpoint_id)
    try:
        page, next_cursor = await deliveries.for_endpoint(endpoint_id, status=status_, cursor=cursor, limit=limit)
    except InvalidCursor:
        raise Problem(422, "The cursor is not one this API issued.", code="invalid_cursor",
                      errors=[{"loc": "query.cursor", "code": "invalid_cursor", "message": "Unknown cursor."}]) from None
    if next_cursor:
        query = f"cursor={next_cursor}&limit={limit}" + (f"&status={status_}" if status_ else "")
        response.headers["Link"] = f'</v1/webhooks/endpoints/{endpoint_id}/deliveries?{query}>; rel="next"'
        response.headers["X-Next-Cursor"] = next_cursor
    return [public_delivery(d) for d in page]


async def _own_delivery(delivery_id: str, principal, deliveries: DeliveryStore) -> dict:
    delivery = await deliveries.get(delivery_id) if len(delivery_id) <= 64 else None
    if delivery is None or delivery["organization_id"] != principal.organization_id:
        raise Problem(404, "No such delivery.", code="not_found")
    return delivery


@router.get("/v1/webhooks/deliveries/{delivery_id}", response_model=DeliveryView,
            responses=problem_responses({**_AUTH, 404: "No such delivery (or not your organisation's)."}))
async def get_delivery(delivery_id: str, principal: Provider, deliveries: DeliveriesDep) -> dict:
    return public_delivery(await _own_delivery(delivery_id, principal, deliveries))


@router.post(
    "/v1/webhooks/deliveries/{delivery_id}/redeliver", status_code=status.HTTP_202_ACCEPTED,
    response_model=RedeliveryAccepted,
    responses=problem_responses({**_AUTH, 404: "No such delivery (or not your organisation's).",
                                 409: "The delivery's endpoint is disabled (endpoint_disabled)."}),
)
async def redeliver(
    delivery_id: str, principal: Provider, deliveries: DeliveriesDep, endpoints: EndpointsDep,
    dispatcher: DispatcherDep,
) -> dict:
    """Send the delivery again, now, with the same webhook-id and body (a new round of retries)."""
    delivery = await _own_delivery(delivery_id, principal, deliveries)
    try:
        endpoint = await endpoints.get(principal.organization_id, delivery["endpoint_id"])
    except Problem:
        raise Problem(404, "The delivery's endpoint was deleted.", code="not_found") from None
    if endpoint["status"] != "active":
        raise Problem(409, "The delivery's endpoint is disabled.", code="endpoint_disabled")
    now = datetime.now(UTC)
    updated = await deliveries.redeliver(delivery, now)
    if updated is None:
        raise not_found()
    if dispatcher is not None:
        dispatcher.offer(delivery_id, delivery["endpoint_id"], now)
    return {"delivery_id": delivery_id, "webhook_id": updated["webhook_id"], "status": updated["status"]}
