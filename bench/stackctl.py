"""The bench's own LocalStack: other ports and another home than `make run` and the tests.

Like tests/support/stack.py it uses KAFKA_BOOTSTRAP_SERVERS / MONGODB_URI when set
(and then starts no Kafka / FerretDB of its own), reuses the provisioned jars and
binaries under .local, and starts from a fresh data directory every run.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tests.support import stack as support

local_stack = support.local_stack  # deploy/local/stack.py, imported the way the tests do
REPO = support.REPO
HOME = REPO / ".local" / "bench-stack"
RESULTS = REPO / ".local" / "bench-results.json"
ADMIN_ID = support.ADMIN_ID
ADMIN_SECRET = support.ADMIN_SECRET
DATABASE_PREFIX = "bench_"


def _port(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


class BenchStack:
    def __init__(self, home: Path = HOME, verbose: bool = True) -> None:
        self.home = home
        self.external_kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or None
        self.external_mongo = os.environ.get("MONGODB_URI") or None
        self.stack = local_stack.LocalStack(
            home=home,
            tools=os.environ.get("STACK_TOOLS_HOME") or REPO / ".local",
            kafka_port=_port("BENCH_KAFKA_PORT", 30092),
            kafka_controller_port=_port("BENCH_KAFKA_CONTROLLER_PORT", 30093),
            mongo_port=_port("BENCH_MONGO_PORT", 30017),
            smtp_port=_port("BENCH_MAILPIT_SMTP_PORT", 30025),
            mail_http_port=_port("BENCH_MAILPIT_HTTP_PORT", 30026),
            gateway_port=_port("BENCH_GATEWAY_PORT", 30080),
            service_port_base=_port("BENCH_SERVICE_PORT_BASE", 30100),
            env={
                "PLATFORM_ADMIN_CLIENT_ID": ADMIN_ID,
                "PLATFORM_ADMIN_CLIENT_SECRET": ADMIN_SECRET,
                "MONGODB_DATABASE_PREFIX": DATABASE_PREFIX,
                # Payment runs when the payments part asks for one: it times a run of its own.
                "PAYMENT_RUN_INTERVAL_SECONDS": "0",
                "FAUST_DATADIR": str(home / "data" / "faust"),
            },
            kafka_bootstrap=self.external_kafka,
            mongodb_uri=self.external_mongo,
            verbose=verbose,
        )

    @property
    def base_url(self) -> str:
        return self.stack.gateway_url

    @property
    def bootstrap(self) -> str:
        return self.stack.bootstrap_servers

    @property
    def mongodb_uri(self) -> str:
        return self.stack.mongodb_uri

    def service_url(self, name: str) -> str:
        return self.stack.service_url(name)

    def start(self) -> None:
        self.stack.stop_all()  # leftovers of an interrupted bench run (only processes it recorded)
        shutil.rmtree(self.home / "data", ignore_errors=True)
        self.stack.start_all()

    def stop(self) -> None:
        self.stack.stop_all()

    def pids(self) -> dict[str, int]:
        return {row["name"]: row["pid"] for row in self.stack.status() if row["running"]}

    def log_tail(self, name: str, lines: int = 20) -> str:
        return local_stack._tail(self.stack.log_dir / f"{name}.log", lines)  # noqa: SLF001
