from infra.settings import PlatformSettings


class ClaimsSettings(PlatformSettings):
    service_name: str = "claims"
    port: int = 8103
    timely_filing_days: int = 365
    page_size_max: int = 100
    info_request_due_days: int = 45
    """Days a provider has to answer an info request (adjudication's or an operator's default)."""
