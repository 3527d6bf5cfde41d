"""FastAPI application factory: every service gets the same operational surface."""

from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from infra.http.auth import JwksKeys, TokenVerifier
from infra.http.middleware import PlatformMiddleware
from infra.http.problems import install_problem_handlers
from infra.runtime import ServiceRuntime


def create_service_app(runtime: ServiceRuntime, title: str, routers: list[APIRouter]) -> FastAPI:
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
    app.add_middleware(PlatformMiddleware, service=settings.service_name, max_body_bytes=settings.max_request_bytes)

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
    return app


def serve(app: FastAPI, runtime: ServiceRuntime) -> None:
    import uvicorn

    uvicorn.run(
        app,
        host=runtime.settings.host,
        port=runtime.settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=20,
    )
