from infra.settings import PlatformSettings


class IdentitySettings(PlatformSettings):
    service_name: str = "identity"
    port: int = 8101
    platform_admin_client_id: str = "platform-admin"
    platform_admin_client_secret: str = "local-dev-admin-secret"
    token_ttl_seconds: int = 3600
