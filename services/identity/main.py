"""Identity service: the local development token issuer and the registry of clients."""

from fastapi import FastAPI

from infra.http.app import create_service_app
from infra.http.auth import StaticKeys
from infra.runtime import ServiceRuntime
from services.identity import api
from services.identity.application import Identity
from services.identity.hashing_pool import HashingPool
from services.identity.settings import IdentitySettings
from services.identity.signing_keys import load_or_create


def build_app(settings: IdentitySettings | None = None) -> tuple[FastAPI, ServiceRuntime]:
    """Raises UnsafeConfiguration (before anything is started) on settings unfit for PLATFORM_ENV."""
    settings = settings or IdentitySettings()
    admin_secret = settings.admin_client_secret()
    runtime = ServiceRuntime(settings)
    app = create_service_app(runtime, "Identity", [api.router])
    hashing = HashingPool(
        settings.secret_hashing_workers, settings.secret_hashing_max_pending, settings.secret_hashing_per_client
    )

    async def wire() -> None:
        key = await load_or_create(runtime.db)
        app.state.identity = Identity(runtime.db, runtime.store, settings, key, admin_secret, hashing)
        await app.state.identity.ensure_indexes()
        app.state.token_verifier.keys = StaticKeys([key.public_jwk])

    runtime.on_start.append(wire)
    return app, runtime
