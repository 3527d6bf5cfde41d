from infra.settings import PlatformSettings


class AuthorizationsSettings(PlatformSettings):
    service_name: str = "authorizations"
    port: int = 8105
    authorization_sweep_interval_seconds: float = 30.0
    """How often the sweeper (one replica, by lease) marks overdue requests and expires approvals."""
    decision_clock_expedited_seconds: int | None = None
    decision_clock_standard_seconds: int | None = None
    """When set, every line of business's clock is this many seconds instead of 72 h / 7 days
    (tests, a local try-out of overdue); refused in production."""
