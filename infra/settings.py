"""Settings every process shares; each service extends them with its own."""

from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict


class PlatformSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    service_name: str = "platform"
    # local: `make run`, tests (documented defaults allowed). production: deploy/k8s sets
    # it; processes refuse to start on settings that are only safe locally.
    platform_env: Literal["local", "production"] = "local"
    host: str = "127.0.0.1"
    port: int = 8000

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    # Topic layout is created by the services themselves so that a fresh cluster works.
    kafka_topic_partitions: int = 3
    kafka_topic_replication_factor: int = 1

    # How fast clients notice a broker that died and get going again once it is back.
    # Every Kafka client of the platform (aiokafka producers and consumers, the faust
    # worker) takes these through infra/kafka.py; the trade-offs are in ADR 9.
    kafka_session_timeout_seconds: float = 10.0
    kafka_heartbeat_interval_seconds: float = 1.0
    kafka_request_timeout_seconds: float = 15.0
    kafka_metadata_max_age_seconds: float = 30.0
    kafka_retry_backoff_seconds: float = 0.1
    kafka_reconnect_max_seconds: float = 1.0
    faust_producer_request_timeout_seconds: float = 30.0
    # How often consumers commit offsets (faust's broker_commit_interval likewise): fewer
    # commits cost the broker less; a crash redelivers at most this much (idempotently).
    consumer_commit_interval_seconds: float = 0.5

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
    # before it aborts it with a tombstone (ADR 10). Bounds the stall a writer killed
    # between intent and commit causes; a live writer slower than this gets a
    # ConcurrencyError instead of a commit. Correctness does not depend on it.
    relay_commit_grace_seconds: float = 0.5

    @property
    def database_name(self) -> str:
        return f"{self.mongodb_database_prefix}{self.service_name}"

    @property
    def jwks_url(self) -> str:
        return self.jwt_jwks_url or f"{self.identity_url.rstrip('/')}/.well-known/jwks.json"
