from infra.settings import PlatformSettings


class AdjudicationSettings(PlatformSettings):
    service_name: str = "adjudication"
    port: int = 8104
    faust_datadir: str = "/tmp/provider-platform-adjudication"
