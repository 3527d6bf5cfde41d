"""FastAPI application factory: every service gets the same operational surface."""

from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Response, routing
from fastapi.dependencies.models import Dependant
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from infra.http.auth import JwksKeys, TokenVerifier, authenticated
from infra.http.middleware import BodyLimits, PlatformMiddleware
from infra.http.problems import document_problems, install_problem_handlers
from infra.runtime import ServiceRuntime

BEARER = "bearerAuth"


def create_service_app(
    runtime: ServiceRuntime, title: str, routers: list[APIRouter], body_limits: BodyLimits | None = None
) -> FastAPI:
    """`body_limits`: routes whose bodies may exceed the service's max_request_bytes (uploads, batches)."""
    settings = runtime.settings

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    # FastAPI's native telemetry is off: PlatformMiddleware already makes the one server
    # span per request (continuing the caller's traceparent), metrics are Prometheus,
    # and its exception logs would carry exception messages, which can quote PHI.
    app = FastAPI(
        title=title, version="1.0.0", lifespan=lifespan,
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.runtime = runtime
    app.state.token_verifier = TokenVerifier(
        JwksKeys(settings.jwks_url), issuer=settings.jwt_issuer, audience=settings.jwt_audience
    )
    install_problem_handlers(app)
    app.add_middleware(PlatformMiddleware, service=settings.service_name, max_body_bytes=settings.max_request_bytes,
                       body_limits=body_limits)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        checks = await runtime.readiness()
        required = [name for name in checks if name != "kafka" or settings.readiness_requires_kafka]
        ready = all(checks[name] == "ok" for name in required)
        return JSONResponse({"status": "ready" if ready else "not_ready", "checks": checks}, status_code=200 if ready else 503)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    for router in routers:
        app.include_router(router)
    _document_errors_and_auth(app)
    return app


def _api_routes(app: FastAPI):
    """(path, methods, route) of every documented route, also those of included routers."""
    # FastAPI >= 0.16x keeps included routers as branches; iter_route_contexts is
    # what its own OpenAPI generation walks.
    contexts = getattr(routing, "iter_route_contexts", None)
    for ctx in contexts(app.routes) if contexts else app.routes:
        route = getattr(ctx, "original_route", ctx)
        if isinstance(route, APIRoute) and getattr(ctx, "include_in_schema", route.include_in_schema):
            yield ctx.path_format, ctx.methods or route.methods, route


def _walk(dependant: Dependant):
    yield dependant
    for sub in dependant.dependencies:
        yield from _walk(sub)


def problem_statuses(route: APIRoute) -> set[int]:
    """The problem+json statuses a route can answer with, read from what it depends on.

    401 when it needs a token; 403 when a role check sits on top of that; 404 when a
    path parameter names a resource; 409 when it takes an Idempotency-Key; 400 and
    413 when it reads a body (400: a body that cannot be parsed at all, such as JSON
    that is not UTF-8 or a broken multipart body); 422 when it has any input; 500
    always. A route that raises something else documents it itself (FastAPI's
    `responses=`), which this keeps.
    """
    statuses = {500}
    nodes = list(_walk(route.dependant))
    needs_token = any(d.call is authenticated for d in nodes)
    if needs_token:
        statuses.add(401)
    if any(d.call is not authenticated and any(s.call is authenticated for s in _walk(d)) for d in nodes[1:]):
        statuses.add(403)
    if route.dependant.path_params:
        statuses.add(404)
    headers = [f.alias.lower() for d in nodes for f in d.header_params]
    if "idempotency-key" in headers or "idempotency_key" in headers:
        statuses.add(409)
    if any(d.body_params for d in nodes):
        statuses |= {400, 413}
    if any(d.path_params or d.query_params or d.header_params or d.cookie_params or d.body_params for d in nodes):
        statuses.add(422)
    return statuses


def _document_errors_and_auth(app: FastAPI) -> None:
    """Every operation of every service documents its problem+json errors and its bearer auth."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = FastAPI.openapi(app)
        by_operation: dict[tuple[str, str], set[int]] = {}
        secured: set[tuple[str, str]] = set()
        for path, methods, route in _api_routes(app):
            statuses = problem_statuses(route)
            for method in methods:
                key = (path, method.lower())
                by_operation[key] = statuses
                if 401 in statuses:
                    secured.add(key)
        document_problems(schema, by_operation)
        if secured:
            schema["components"].setdefault("securitySchemes", {})[BEARER] = {
                "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                "description": "A token from POST /oauth/token (client credentials).",
            }  # fmt: skip
            for path, method in secured:
                operation = schema["paths"].get(path, {}).get(method)
                if operation is not None:
                    operation.setdefault("security", [{BEARER: []}])
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def serve(app: FastAPI, runtime: ServiceRuntime) -> None:
    import uvicorn

    uvicorn.run(
        app,
        host=runtime.settings.host,
        port=runtime.settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=20,
        # Longer than any proxy's idle-connection timeout in front of us (the local
        # gateway keeps idle upstream connections 90 s; ingress controllers 60-75 s), so
        # the proxy always closes first. With uvicorn's default of 5 s, a proxy could send
        # a request on a connection we were just closing: "connection reset by peer", a 502.
        timeout_keep_alive=100,
    )
