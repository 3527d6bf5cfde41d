from infra.settings import PlatformSettings


class PaymentsSettings(PlatformSettings):
    service_name: str = "payments"
    port: int = 8107
    # A scheduled run every this many seconds (its cutoff the start of the interval);
    # 0 turns the schedule off (runs only on POST /v1/admin/payment-runs). Short by
    # default so that `make run` shows paid claims; production runs daily or so.
    payment_run_interval_seconds: float = 30.0
    # TRN03: the payer's 9-digit identifier (a 1 and the payer's TIN in X12 practice);
    # every EFT trace number starts with it.
    payer_id: str = "999000001"
    # A replica executing a run holds this lease and renews it; a killed one is taken
    # over (by a restart or another replica) this many seconds later at most.
    payment_run_lease_seconds: float = 10.0
    # How long POST /v1/admin/payment-runs waits for its run before answering 202.
    payment_run_request_wait_seconds: float = 300.0
    page_size_max: int = 100
