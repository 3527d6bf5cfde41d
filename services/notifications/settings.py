from pydantic import model_validator

from infra.settings import PlatformSettings


class NotificationsSettings(PlatformSettings):
    service_name: str = "notifications"
    port: int = 8106

    notifications_allow_private_targets: bool = False
    """Local runs and tests only (make run and the tests set it): webhooks may reach
    loopback and private receivers. Refused at start in production."""

    webhook_timeout_seconds: float = 15.0
    """One attempt, from resolving the host to the last byte of the answer."""
    webhook_retry_scale: float = 1.0
    """Multiplies the retry schedule of API.md (tests compress it, e.g. 0.0002)."""
    webhook_retry_jitter: float = 0.2
    webhook_disable_after_failing_seconds: float = 5 * 24 * 3600.0
    webhook_concurrency_per_endpoint: int = 16
    """Attempts in flight per endpoint per replica: one slow receiver holds at most this many."""
    webhook_concurrency: int = 128
    """Attempts in flight per replica, all endpoints together."""
    webhook_lease_seconds: float = 30.0
    """How long a claimed delivery is this replica's; longer than one attempt."""
    webhook_sweep_interval_seconds: float = 2.0
    """How often the queue is read for due deliveries this replica does not know of
    (retries of another replica's deliveries, a crashed replica's, redeliveries)."""
    webhook_max_endpoints_per_organization: int = 20

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_use_tls: bool = False
    smtp_start_tls: bool = False
    smtp_timeout_seconds: float = 10.0
    mail_from: str = "Provider platform <no-reply@provider-platform.example>"
    email_retry_seconds: float = 30.0
    """Wait after a failed send (SMTP down, contacts not known yet), doubling, 10 tries."""

    portal_base_url: str = "http://127.0.0.1:8080"
    """Where the emails' sign-in link points."""

    @model_validator(mode="after")
    def _safe_outside_local(self) -> "NotificationsSettings":
        if self.platform_env == "production" and self.notifications_allow_private_targets:
            raise ValueError("NOTIFICATIONS_ALLOW_PRIVATE_TARGETS=true is for local runs only")
        return self

    @property
    def require_https(self) -> bool:
        return self.platform_env != "local"
