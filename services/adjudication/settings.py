from decimal import Decimal

from infra.settings import PlatformSettings


class AdjudicationSettings(PlatformSettings):
    service_name: str = "adjudication"
    port: int = 8104
    faust_datadir: str = "/tmp/provider-platform-adjudication"
    # How long a claim for a member unknown to the coverage copy waits for the copy
    # to catch up (an enrollment seconds old) before its lines are denied CO-31.
    # It holds up that member's claims, so it is short; known members never wait.
    member_copy_lag_allowance_seconds: float = 3.0
    # Claims taken from claims.events at a time (one member's in order, different
    # members' concurrently), and how long to wait for a batch to fill.
    adjudication_batch_size: int = 100
    adjudication_batch_wait_seconds: float = 0.01
    # Network contracts change rarely and every claim asks: a change reaches decisions
    # within this many seconds.
    network_cache_seconds: float = 5.0
    # A line charging more pends for the medical record (CARC 16, RARC M127); None:
    # the threshold of refdata/adjudication_policy.json.
    pend_charge_threshold: Decimal | None = None
