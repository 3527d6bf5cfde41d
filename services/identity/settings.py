from pydantic import SecretStr

from infra.settings import PlatformSettings

# The README's documented local default: public knowledge, so never valid in production.
LOCAL_ADMIN_CLIENT_SECRET = "local-dev-admin-secret"
MIN_PRODUCTION_SECRET_LENGTH = 16


class UnsafeConfiguration(Exception):
    """Identity must not start like this; the message names settings, never their values."""


class IdentitySettings(PlatformSettings):
    service_name: str = "identity"
    port: int = 8101
    platform_admin_client_id: str = "platform-admin"
    # None: not configured. Locally that means the README's default; in production identity refuses to start.
    platform_admin_client_secret: SecretStr | None = None
    token_ttl_seconds: int = 3600

    # POST /oauth/token limits, per identity replica (services/identity/token_rate_limits.py).
    # Attempts: every request. Failures: unknown client id or wrong secret.
    token_client_attempts_burst: int = 10
    token_client_attempts_per_minute: float = 30
    token_client_failures_burst: int = 5
    token_client_failures_per_minute: float = 6
    token_address_attempts_burst: int = 100
    token_address_attempts_per_minute: float = 600
    token_address_failures_burst: int = 20
    token_address_failures_per_minute: float = 30

    # Threads that run scrypt, how many hashes may wait for one before 503, and how
    # many of one client id's token requests may be in the pool at once.
    secret_hashing_workers: int = 2
    secret_hashing_max_pending: int = 64
    secret_hashing_per_client: int = 1

    def admin_client_secret(self) -> str:
        configured = self.platform_admin_client_secret.get_secret_value() if self.platform_admin_client_secret else ""
        if self.platform_env == "local":
            return configured or LOCAL_ADMIN_CLIENT_SECRET
        if not configured or configured == LOCAL_ADMIN_CLIENT_SECRET:
            raise UnsafeConfiguration(
                "refusing to start: PLATFORM_ENV=production needs PLATFORM_ADMIN_CLIENT_SECRET set explicitly "
                "(not the README's local default)"
            )
        if len(configured) < MIN_PRODUCTION_SECRET_LENGTH:
            raise UnsafeConfiguration(
                f"refusing to start: PLATFORM_ADMIN_CLIENT_SECRET is shorter than {MIN_PRODUCTION_SECRET_LENGTH} "
                "characters (PLATFORM_ENV=production)"
            )
        return configured
