from infra.settings import PlatformSettings


class EligibilitySettings(PlatformSettings):
    service_name: str = "eligibility"
    port: int = 8102
    check_ttl_seconds: int = 24 * 3600
    sweep_interval_seconds: float = 60.0
    # In-memory copies of members and accumulators, kept current from Kafka (feed.py).
    read_copies: bool = True
    # A copy answers only while the feed was caught up this recently...
    feed_stale_after_seconds: float = 2.0
    # ...and reloads an entry this long after loading it, whatever the feed says.
    read_copy_max_age_seconds: float = 30.0
    # Group commit of checks and audit records waits this long for company (batching.py).
    insert_linger_seconds: float = 0.002
