"""How long each part runs: the full run (~8 min on 2 cores) and the --quick smoke run (~2 min).

Every phase is bounded in time as well as in count: on a slow stack the bench reports
what it got (and what did not finish) instead of running for ever.
"""

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Profile:
    name: str
    settle_seconds: float = 15.0  # before each part, wait (at most this) for the stack to go idle
    # claims
    # Members the claims parts spread their claims over: with 64, a member gets ~20 claims
    # in the claims part, about a year's professional claims. Every decision rewrites its
    # policy's whole ledger (accumulators and every claim's effect), so the ledger's size,
    # and a decision's cost, grows with the policy's claims: 8 members got ~150 claims
    # each and FerretDB's CPU per claim doubled (bench end_to_end.ledgers_* shows sizes).
    members: int = 64
    warmup_claims: int = 30
    levels: tuple[int, ...] = (1, 4, 16, 32)
    level_claims: int = 200  # a level ends after this many claims or level_seconds, whichever is first
    level_seconds: float = 6.0
    drain_timeout: float = 12.0  # wait for the pipeline to catch up after a level (reported, never fatal)
    e2e_claims: int = 500
    e2e_submit_seconds: float = 15.0  # stop submitting after this even if fewer than e2e_claims went in
    e2e_wait: float = 45.0  # after the last submission, wait this long for claim.processed
    # claims at an offered rate, and the cost per claim as the stores grow
    claims_open_rate: float = 100.0
    claims_open_seconds: float = 20.0
    claims_open_max_in_flight: int = 128
    growth_rate: float = 40.0
    growth_seconds: float = 10.0
    growth_sizes: tuple[int, ...] = (1_000, 100_000)
    # baselines
    kafka_messages: int = 20_000
    kafka_sequential_messages: int = 300
    mongo_seconds: float = 5.0
    # eligibility
    eligibility_rate: float = 300.0
    eligibility_seconds: float = 20.0  # per target, run as two interleaved halves (ABBA)
    eligibility_max_in_flight: int = 64
    eligibility_drain: float = 5.0
    eligibility_quiet_timeout: float = 8.0  # wait for the service to finish abandoned requests between slices
    eligibility_closed_concurrency: int = 16
    eligibility_closed_seconds: float = 10.0  # per target, two interleaved halves
    eligibility_warmup: int = 60
    mongo_micro_iterations: int = 200
    mongo_micro_step_seconds: float = 3.0
    # payments: this many clean claims submitted, processed, then paid by one run
    payment_claims: int = 10_000
    payment_members: int = 200
    payment_wait: float = 600.0  # for the claims to be processed, and again to be paid
    scan_probe_sizes: tuple[int, ...] = (1_000, 4_000)
    # analytics: adjudicated lines seeded into the denial read model, then queries through the gateway
    analytics_lines: int = 100_000
    analytics_live_lines: int = 4_000
    analytics_queries: int = 600
    # notifications: webhooks to receivers on loopback
    webhook_rate: float = 100.0
    webhook_seconds: float = 30.0
    webhook_burst_events: int = 2_000
    webhook_burst_endpoints: int = 2
    webhook_wait: float = 60.0

    def as_dict(self) -> dict:
        return asdict(self)


FULL = Profile("full")

QUICK = Profile(
    "quick",
    settle_seconds=4.0,
    members=16,
    warmup_claims=8,
    level_claims=60,
    level_seconds=1.5,
    drain_timeout=2.0,
    e2e_claims=60,
    e2e_submit_seconds=4.0,
    e2e_wait=6.0,
    payment_claims=300,
    payment_members=20,
    payment_wait=120.0,
    analytics_lines=5_000,
    analytics_live_lines=1_000,
    analytics_queries=120,
    claims_open_rate=50.0,
    claims_open_seconds=3.0,
    growth_rate=20.0,
    growth_seconds=2.0,
    growth_sizes=(300, 3_000),
    kafka_messages=5_000,
    kafka_sequential_messages=100,
    mongo_seconds=0.8,
    eligibility_seconds=2.0,
    eligibility_drain=1.5,
    eligibility_quiet_timeout=2.0,
    eligibility_closed_seconds=2.0,
    eligibility_warmup=16,
    mongo_micro_iterations=30,
    mongo_micro_step_seconds=0.4,
    scan_probe_sizes=(300, 1_200),
    webhook_seconds=5.0,
    webhook_burst_events=300,
    webhook_wait=20.0,
)
