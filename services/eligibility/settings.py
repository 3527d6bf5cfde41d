from infra.settings import PlatformSettings


class EligibilitySettings(PlatformSettings):
    service_name: str = "eligibility"
    port: int = 8102
    check_ttl_seconds: int = 24 * 3600
    sweep_interval_seconds: float = 60.0
