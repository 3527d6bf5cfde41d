"""ASGI middleware: body size limit, tracing, metrics and PHI-free access logs.

Pure ASGI rather than BaseHTTPMiddleware: it adds no extra task per request, which
matters for the eligibility latency budget.
"""

import logging
import time
from collections.abc import Callable

from opentelemetry import trace
from opentelemetry.trace import SpanKind
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from infra.http.problems import problem_response
from infra.metrics import HTTP_LATENCY, HTTP_REQUESTS
from infra.telemetry import context_from_carrier, tracer

log = logging.getLogger("infra.http.access")


class _TooLarge(Exception):
    pass


def _route_template(scope: Scope) -> str:
    # The route's template (/v1/claims/{claim_id}), never the raw path with its ids.
    route = scope.get("route")
    return getattr(route, "path", None) or "unmatched"


BodyLimits = Callable[[str, str], int | None]
"""(method, path) -> that route's body limit, or None for the service's default."""


class PlatformMiddleware:
    def __init__(self, app: ASGIApp, service: str, max_body_bytes: int, body_limits: BodyLimits | None = None) -> None:
        self.app = app
        self.service = service
        self.max_body_bytes = max_body_bytes
        self.body_limits = body_limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", ())}
        limit = self.max_body_bytes
        if self.body_limits is not None:
            limit = self.body_limits(scope["method"], scope.get("path", "")) or limit
        declared = headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            await problem_response(
                413, f"The body exceeds {limit} bytes.", code="payload_too_large"
            )(scope, receive, send)
            return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge
            return message

        status = 500
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status = message["status"]
                started = True
            await send(message)

        begin = time.perf_counter()
        method = scope["method"]
        ctx = context_from_carrier({k: v for k, v in headers.items() if k in ("traceparent", "tracestate")})
        with tracer("infra.http").start_as_current_span(
            f"HTTP {method}", context=ctx, kind=SpanKind.SERVER, record_exception=False
        ) as span:
            try:
                await self.app(scope, limited_receive, tracking_send)
            except _TooLarge:
                if not started:
                    await problem_response(
                        413, f"The body exceeds {limit} bytes.", code="payload_too_large"
                    )(scope, receive, send)
                    status = 413
            route = _route_template(scope)
            span.update_name(f"{method} {route}")
            span.set_attribute("http.route", route)
            span.set_attribute("http.response.status_code", status)
            if status >= 500:
                span.set_status(trace.Status(trace.StatusCode.ERROR))
        elapsed = time.perf_counter() - begin
        HTTP_REQUESTS.labels(self.service, method, route, str(status)).inc()
        HTTP_LATENCY.labels(self.service, method, route).observe(elapsed)
        if route not in ("/healthz", "/readyz", "/metrics"):
            log.info(
                "request",
                extra={"method": method, "route": route, "status_code": status, "duration_ms": round(elapsed * 1000, 2)},
            )
