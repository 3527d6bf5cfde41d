"""Which servers the integration tests run against.

1. KAFKA_BOOTSTRAP_SERVERS and MONGODB_URI set: those servers (deploy/k8s, a real MongoDB).
2. Otherwise, by default: the local processes of deploy/local/stack.py (real Kafka in
   KRaft mode from Maven Central, FerretDB from the Go module proxy).
3. TEST_STACK=testcontainers and a reachable Docker daemon: Kafka and MongoDB containers.
In every case the services themselves run as processes, as in production.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "deploy" / "local"))

import stack as local_stack  # noqa: E402

TEST_HOME = REPO / ".local" / "test-stack"
ADMIN_ID = "platform-admin"
ADMIN_SECRET = "test-admin-secret"

# Test-only tuning: quick sweeps; everything else as in production.
TEST_SERVICE_ENV = {
    "PLATFORM_ADMIN_CLIENT_ID": ADMIN_ID,
    "PLATFORM_ADMIN_CLIENT_SECRET": ADMIN_SECRET,
    "SWEEP_INTERVAL_SECONDS": "1",
    "INFO_REQUEST_SWEEP_INTERVAL_SECONDS": "1",
    # Payment runs only when a test asks (POST /v1/admin/payment-runs): a schedule would
    # pay claims other tests expect to find processed.
    "PAYMENT_RUN_INTERVAL_SECONDS": "0",
    "MONGODB_DATABASE_PREFIX": "test_",
    "FAUST_DATADIR": str(TEST_HOME / "data" / "faust"),
    "LOG_LEVEL": "INFO",
    # Webhooks: the retry schedule of API.md compressed 5,000 times (5 s -> 1 ms, 10 h -> 7.2 s:
    # all eight attempts within about 20 s), quick sweeps, quick email retries.
    "WEBHOOK_RETRY_SCALE": "0.0002",
    "WEBHOOK_SWEEP_INTERVAL_SECONDS": "0.5",
    "EMAIL_RETRY_SECONDS": "0.5",
}


@dataclass
class RunningStack:
    stack: local_stack.LocalStack
    base_url: str
    kafka_bootstrap: str
    mongodb_uri: str
    containers: list

    def service_url(self, name: str) -> str:
        return self.stack.service_url(name)


def _docker_available() -> bool:
    try:
        import docker

        docker.from_env().ping()
        return True
    except Exception:  # noqa: BLE001 - any failure means no daemon
        return False


def _testcontainers() -> tuple[str, str, list]:
    from testcontainers.kafka import KafkaContainer
    from testcontainers.mongodb import MongoDbContainer

    kafka = KafkaContainer("confluentinc/cp-kafka:7.7.1").with_kraft()
    mongo = MongoDbContainer("mongo:8.0")
    kafka.start()
    mongo.start()
    return kafka.get_bootstrap_server(), mongo.get_connection_url(), [kafka, mongo]


def start(infra_only: bool = False) -> RunningStack:
    """Kafka and the MongoDB-protocol server; with infra_only=False the services and gateway too."""
    external_kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    external_mongo = os.environ.get("MONGODB_URI")
    containers: list = []
    if not (external_kafka and external_mongo) and os.environ.get("TEST_STACK") == "testcontainers":
        if not _docker_available():
            raise RuntimeError("TEST_STACK=testcontainers but no Docker daemon is reachable")
        external_kafka, external_mongo, containers = _testcontainers()
    # A fresh data directory per session: tests never see a previous run's state. Logs too:
    # the fuzz test fails on any "unhandled error" line in them, and one from an earlier
    # session (fixed since) is not this session's finding.
    shutil.rmtree(TEST_HOME / "data", ignore_errors=True)
    shutil.rmtree(TEST_HOME / "logs", ignore_errors=True)
    stack = local_stack.LocalStack(
        home=TEST_HOME,
        tools=os.environ.get("STACK_TOOLS_HOME") or REPO / ".local",
        kafka_port=int(os.environ.get("TEST_KAFKA_PORT", 29092)),
        kafka_controller_port=int(os.environ.get("TEST_KAFKA_CONTROLLER_PORT", 29093)),
        mongo_port=int(os.environ.get("TEST_MONGO_PORT", 28017)),
        smtp_port=int(os.environ.get("TEST_MAILPIT_SMTP_PORT", 28025)),
        mail_http_port=int(os.environ.get("TEST_MAILPIT_HTTP_PORT", 28026)),
        gateway_port=int(os.environ.get("TEST_GATEWAY_PORT", 28080)),
        service_port_base=int(os.environ.get("TEST_SERVICE_PORT_BASE", 28100)),
        env=TEST_SERVICE_ENV,
        kafka_bootstrap=external_kafka,
        mongodb_uri=external_mongo,
    )
    stack.stop_all()  # leftovers of an interrupted session
    stack.start_all(infra_only=infra_only)
    return RunningStack(stack, stack.gateway_url, stack.bootstrap_servers, stack.mongodb_uri, containers)


def start_services(running: RunningStack) -> None:
    """The services and the gateway on top of a running infra-only stack (idempotent)."""
    running.stack.start_all()


def stop(running: RunningStack) -> None:
    running.stack.stop_all()
    for container in running.containers:
        container.stop()
