"""Settings every process shares; each service extends them with its own."""

from pydantic_settings import BaseSettings, SettingsConfigDict


class PlatformSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    service_name: str = "platform"
    host: str = "127.0.0.1"
    port: int = 8000

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    # Topic layout is created by the services themselves so that a fresh cluster works.
    kafka_topic_partitions: int = 3
    kafka_topic_replication_factor: int = 1

    mongodb_uri: str = "mongodb://127.0.0.1:27017/"
    # One database per service: services own their data and never read each other's.
    mongodb_database_prefix: str = "provider_"

    identity_url: str = "http://127.0.0.1:8101"
    jwt_issuer: str = "provider-platform-local"
    jwt_audience: str = "provider-platform"
    # When set, tokens are verified against this JWKS (any OIDC issuer) instead of identity's.
    jwt_jwks_url: str | None = None

    log_level: str = "INFO"
    # none | otlp (OTEL_EXPORTER_OTLP_* variables) | console | memory (tests)
    otel_traces_exporter: str = "none"

    # Whether /readyz fails while Kafka is unreachable. Locally (make run, tests) it
    # does; behind an Ingress it should not, since the outbox rides out the outage.
    readiness_requires_kafka: bool = True

    max_request_bytes: int = 1_048_576
    relay_poll_interval_seconds: float = 0.2
    # How long the relay holds the outbox behind an intent whose commit is not there
    # before it aborts it with a tombstone (ADR 7). Bounds the stall a writer killed
    # between intent and commit causes; a live writer slower than this gets a
    # ConcurrencyError instead of a commit. Correctness does not depend on it.
    relay_commit_grace_seconds: float = 0.5

    @property
    def database_name(self) -> str:
        return f"{self.mongodb_database_prefix}{self.service_name}"

    @property
    def jwks_url(self) -> str:
        return self.jwt_jwks_url or f"{self.identity_url.rstrip('/')}/.well-known/jwks.json"
