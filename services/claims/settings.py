from infra.settings import PlatformSettings


class ClaimsSettings(PlatformSettings):
    service_name: str = "claims"
    port: int = 8103
    timely_filing_days: int = 365
    page_size_max: int = 100
    info_request_due_days: int = 45
    """Days a provider has to answer an info request (adjudication's or an operator's default)."""
    info_request_due_seconds: int | None = None
    """When set, adjudication's pends are due in this many seconds instead of days (tests,
    a local try-out of expiry); operators may give `due_in_seconds` per request."""
    info_request_min_due_seconds: int | None = None
    """The shortest `due_in_seconds` an operator may give: default a day in production, 1 s locally."""
    info_request_sweep_interval_seconds: float = 10.0
    """How often the sweeper (one replica, by lease) expires unanswered requests past due."""

    @property
    def min_due_seconds(self) -> int:
        if self.info_request_min_due_seconds is not None:
            return self.info_request_min_due_seconds
        return 1 if self.platform_env == "local" else 86400
