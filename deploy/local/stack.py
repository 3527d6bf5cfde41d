#!/usr/bin/env python3
"""The local stack: real Kafka (KRaft), FerretDB, Mailpit, the services and a gateway as plain processes.

No container engine runs on the development machines, so this module provisions
the servers from package registries (Kafka from Maven Central, FerretDB and Mailpit
from the Go module proxy) and supervises them as detached processes under one directory,
STACK_HOME:

    <STACK_HOME>/kafka/libs/      Kafka jars (mvn dependency:copy-dependencies)
    <STACK_HOME>/bin/             ferretdb, gateway and mailpit binaries (go build)
    <STACK_HOME>/data/<name>/     Kafka log dirs, FerretDB SQLite files
    <STACK_HOME>/logs/<name>.log  stdout+stderr of every process
    <STACK_HOME>/run/<name>.pid   JSON record of every process we started

Which services exist, their modules, ports and routes come from deploy/services.toml
(deploy/service_registry.py). `run` supervises what it started: it restarts a
process that dies, with backoff, and gives up on one that keeps dying; `stop` from
another shell ends a `run` too.

Standard library only: `make` calls it with whatever python3 is on the PATH and
pytest fixtures import it (tests put deploy/local on sys.path).

    python deploy/local/stack.py provision | start [--infra-only] | stop | status | run | reset
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE.parent))

import service_registry  # noqa: E402  (deploy/service_registry.py, standard library only)

# Every registered service, built or planned, in registry order (deploy/services.toml):
# the order puts identity first (the others verify tokens against it) and each
# service's port is base + its port_offset.
REGISTRY = {s.name: s for s in service_registry.load()}
SERVICES = tuple(REGISTRY)
GO_PROGRAMS = ("ferretdb", "gateway", "mailpit")

# Mailpit (deploy/local/mailpit/go.mod pins github.com/axllent/mailpit): the local SMTP
# server with a web inbox and the HTTP API the tests read mail through.
MAILPIT_MAX_MESSAGES = 20000

FERRETDB_MODULE = "github.com/FerretDB/FerretDB"
FERRETDB_VERSION = "v1.24.2"
# FerretDB v1.24.2's SQLite backend creates expression indexes as sjson->"field" but
# looks documents up by sjson->'$._id'. SQLite uses an expression index only for the
# identical expression, so every _id lookup scanned its table: the cost of each read
# grew with the collection (measured: 2.2 ms at 5,000 documents, growing ~9 us per
# document). Writing the index expression the way the queries read it makes _id
# lookups index searches (0.66 ms, flat).
# It also pushes an `_id` equality down only when it is the filter's sole key, so a
# compare-and-set such as {_id, version} scanned the table; every handler re-applies
# the whole filter to what the query returns, so narrowing by `_id` first is safe.
# (file, exact old text, new text)
FERRETDB_PATCHES = (
    (
        "internal/backends/sqlite/metadata/registry.go",
        'columns[i] = fmt.Sprintf("%s->%s", DefaultColumn, strings.Join(fields, "->"))',
        'columns[i] = fmt.Sprintf("%s->\'$.%s\'", DefaultColumn, key.Field)',
    ),
    (
        "internal/backends/sqlite/collection.go",
        "\tif params.Filter.Len() == 1 {\n\t\tv, _ := params.Filter.Get(\"_id\")\n\t\tswitch v.(type) {\n"
        "\t\tcase string, types.ObjectID:\n\t\t\twhereClause",
        "\tif params.Filter.Len() >= 1 {\n\t\tv, _ := params.Filter.Get(\"_id\")\n\t\tswitch v.(type) {\n"
        "\t\tcase string, types.ObjectID:\n\t\t\twhereClause",
    ),
)

DEFAULT_ADMIN_CLIENT_ID = "platform-admin"
DEFAULT_ADMIN_CLIENT_SECRET = "local-dev-admin-secret"
DEFAULT_READY_TIMEOUT = 120.0
DEFAULT_STOP_TIMEOUT = 30.0


class StackError(RuntimeError):
    """A component could not be provisioned, started or stopped."""


# --------------------------------------------------------------------------------------
# Process records
#
# A pid alone is not proof of ownership: pids are reused. The record keeps the
# kernel start time and the exact argv, and a process only counts as ours when all
# three still match, so `stop` can never signal a stranger.
# --------------------------------------------------------------------------------------


@dataclass
class ProcRecord:
    name: str
    pid: int
    start_time: int | None
    argv: list[str]
    port: int | None
    log: str


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, start time in clock ticks) from /proc, or None if there is no such pid."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name in parentheses may contain spaces; fields resume after the last ')'.
    fields = raw[raw.rindex(")") + 2 :].split()
    return fields[0], int(fields[19])


def _proc_cmdline(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [part.decode(errors="replace") for part in raw.split(b"\0")[:-1]]


def _is_alive(rec: ProcRecord) -> bool:
    if not Path("/proc/self/stat").exists():  # not Linux: best effort
        try:
            os.kill(rec.pid, 0)
        except OSError:
            return False
        return True
    stat = _proc_stat(rec.pid)
    if stat is None or stat[0] in ("Z", "X"):  # an unreaped zombie has already exited
        return False
    if rec.start_time is not None and stat[1] != rec.start_time:
        return False
    cmdline = _proc_cmdline(rec.pid)
    # For a moment after exec the kernel reports an empty cmdline; the matching
    # start time already identifies the process then.
    return cmdline == rec.argv or (cmdline == [] and rec.start_time is not None)


# --------------------------------------------------------------------------------------
# Wire-level readiness probes
#
# TCP accept is not readiness: a KRaft broker accepts connections before it is
# unfenced, and a half-started server can accept and then fail. These speak just
# enough of each protocol to get a real answer, without third-party clients.
# --------------------------------------------------------------------------------------


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed")
        buf += chunk
    return bytes(buf)


def kafka_broker_ids(host: str, port: int, timeout: float = 2.0) -> set[int]:
    """Node ids of the live (unfenced) brokers, as one broker's Metadata response lists them.

    Metadata v4 is the lowest version Kafka 4.x still serves and the highest without
    the flexible (tagged-field) encoding, so it works against 3.x and 4.x alike.
    """
    client_id = b"local-stack"
    header = struct.pack(">hhih", 3, 4, 1, len(client_id)) + client_id
    body = struct.pack(">i?", 0, False)  # no topics, do not auto-create
    request = header + body
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        sock.sendall(struct.pack(">i", len(request)) + request)
        (size,) = struct.unpack(">i", _recv_exact(sock, 4))
        resp = _recv_exact(sock, size)
    offset = 8  # correlation id, throttle time
    (count,) = struct.unpack_from(">i", resp, offset)
    offset += 4
    ids = set()
    for _ in range(count):
        node_id, host_len = struct.unpack_from(">ih", resp, offset)
        offset += 6 + host_len + 4  # host, port
        (rack_len,) = struct.unpack_from(">h", resp, offset)
        offset += 2 + max(rack_len, 0)
        ids.add(node_id)
    return ids


def _bson_encode(doc: Mapping[str, int | str]) -> bytes:
    out = bytearray()
    for key, value in doc.items():
        k = key.encode() + b"\0"
        if isinstance(value, int):
            out += b"\x10" + k + struct.pack("<i", value)
        else:
            v = value.encode() + b"\0"
            out += b"\x02" + k + struct.pack("<i", len(v)) + v
    return struct.pack("<i", len(out) + 5) + bytes(out) + b"\0"


def _bson_ok(doc: bytes) -> bool:
    """Whether a reply document has ok == 1 (only the scalar types a reply starts with)."""
    sizes = {0x01: 8, 0x07: 12, 0x08: 1, 0x09: 8, 0x0A: 0, 0x10: 4, 0x11: 8, 0x12: 8}
    i = 4
    while i < len(doc) - 1:
        kind = doc[i]
        end = doc.index(b"\0", i + 1)
        key = doc[i + 1 : end].decode()
        i = end + 1
        if key == "ok":
            if kind == 0x01:
                return struct.unpack_from("<d", doc, i)[0] == 1.0
            if kind in (0x10, 0x12):
                return struct.unpack_from("<q" if kind == 0x12 else "<i", doc, i)[0] == 1
            return kind == 0x08 and doc[i] == 1
        if kind in sizes:
            i += sizes[kind]
        elif kind in (0x02, 0x0D, 0x0E):
            i += 4 + struct.unpack_from("<i", doc, i)[0]
        elif kind in (0x03, 0x04):
            i += struct.unpack_from("<i", doc, i)[0]
        elif kind == 0x05:
            i += 5 + struct.unpack_from("<i", doc, i)[0]
        else:
            return False
    return False


def mongo_ping(host: str, port: int, timeout: float = 2.0) -> bool:
    """Send {ping: 1} as an OP_MSG and check the reply says ok."""
    section = b"\x00" + _bson_encode({"ping": 1, "$db": "admin"})
    body = struct.pack("<I", 0) + section  # flag bits
    msg = struct.pack("<iiii", 16 + len(body), 1, 0, 2013) + body
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        sock.sendall(msg)
        (length,) = struct.unpack("<i", _recv_exact(sock, 4))
        reply = _recv_exact(sock, length - 4)
    _, _, opcode = struct.unpack_from("<iii", reply, 0)
    if opcode != 2013 or reply[16] != 0:  # header rest (12) + flag bits (4), then section kind 0
        return False
    return _bson_ok(reply[17:])


# No proxy: every URL we probe is on loopback, and an HTTP(S)_PROXY in the
# environment must not swallow those requests.
_http = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_status(url: str, timeout: float = 2.0) -> int | None:
    try:
        with _http.open(url, timeout=timeout) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError, http.client.HTTPException):
        # HTTPException covers a TCP self-connect: probing a port nobody listens on
        # yet can, inside the ephemeral range, connect the socket to itself and read
        # back its own request ("BadStatusLine: GET /readyz").
        return None


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def kafka_cluster_id() -> str:
    """A cluster id the way Kafka's Uuid.randomUuid makes one, without starting a JVM for it."""
    while True:
        raw = uuid.uuid4().bytes
        text = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
        # Kafka rejects ids that look like command-line flags and its two reserved ids.
        if not text.startswith("-") and raw not in (bytes(16), bytes(15) + b"\x01"):
            return text


# --------------------------------------------------------------------------------------
# The stack
# --------------------------------------------------------------------------------------


def _default_python(repo: Path) -> str:
    if sys.prefix != sys.base_prefix:  # already running inside a virtualenv
        return sys.executable
    venv = repo / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def _tail(path: Path | str, lines: int = 40) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 64 * 1024))
            data = f.read().decode(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(data.splitlines()[-lines:])


def _hash_files(paths: Iterable[Path]) -> str:
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


class LocalStack:
    """Provision, start and stop the local stack; every method is idempotent.

    `home` holds data, logs and pid files; `tools` holds what provision() fetches and
    builds (defaults to `home`, so one STACK_HOME is self-contained; tests that use a
    throwaway home can point `tools` at a shared one to skip provisioning).
    `kafka_bootstrap` / `mongodb_uri` name external servers: start_all() then skips
    that server and hands the given address to the services.
    """

    def __init__(
        self,
        home: Path | str,
        kafka_port: int = 9092,
        mongo_port: int = 27017,
        gateway_port: int = 8080,
        service_port_base: int = 8100,
        env: Mapping[str, str] | None = None,
        *,
        kafka_controller_port: int | None = None,
        smtp_port: int = 1025,
        mail_http_port: int = 8025,
        gateway_host: str = "127.0.0.1",
        tools: Path | str | None = None,
        kafka_bootstrap: str | None = None,
        mongodb_uri: str | None = None,
        ready_timeout: float = DEFAULT_READY_TIMEOUT,
        repo: Path | str = REPO,
        python: str | None = None,
        verbose: bool = True,
    ) -> None:
        self.home = Path(home).resolve()
        self.tools = Path(tools).resolve() if tools else self.home
        self.kafka_port = kafka_port
        self.kafka_controller_port = kafka_controller_port
        self.mongo_port = mongo_port
        self.smtp_port = smtp_port
        self.mail_http_port = mail_http_port
        self.gateway_host = gateway_host
        self.gateway_port = gateway_port
        self.service_port_base = service_port_base
        self.env = dict(env or {})
        self.external_kafka = kafka_bootstrap
        self.external_mongo = mongodb_uri
        self.ready_timeout = ready_timeout
        self.repo = Path(repo).resolve()
        self.python = python or _default_python(self.repo)
        self.verbose = verbose
        self.run_dir = self.home / "run"
        self.log_dir = self.home / "logs"
        self.data_dir = self.home / "data"
        self._kafka_nodes: int | None = None
        self._children: dict[str, subprocess.Popen] = {}
        # How each process was launched, so the supervisor of `run` can launch it again.
        self._launches: dict[str, tuple[list[str], int | None, dict[str, str], Path]] = {}
        self.started: list[str] = []  # what this object started, in order (for `run`)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ, **overrides) -> LocalStack:
        """The configuration `make run` and the CLI use (see README for the variables)."""
        portal = urllib.parse.urlsplit(environ.get("PORTAL_BASE_URL", "http://127.0.0.1:8080"))
        ctrl = environ.get("KAFKA_CONTROLLER_PORT")
        kwargs = dict(
            home=environ.get("STACK_HOME") or REPO / ".local",
            kafka_port=int(environ.get("KAFKA_PORT", 9092)),
            kafka_controller_port=int(ctrl) if ctrl else 9093,
            mongo_port=int(environ.get("MONGO_PORT", 27017)),
            smtp_port=int(environ.get("MAILPIT_SMTP_PORT", 1025)),
            mail_http_port=int(environ.get("MAILPIT_HTTP_PORT", 8025)),
            gateway_host=portal.hostname or "127.0.0.1",
            gateway_port=portal.port or 8080,
            service_port_base=int(environ.get("STACK_SERVICE_PORT_BASE", 8100)),
            tools=environ.get("STACK_TOOLS_HOME") or None,
            kafka_bootstrap=environ.get("KAFKA_BOOTSTRAP_SERVERS") or None,
            mongodb_uri=environ.get("MONGODB_URI") or None,
            ready_timeout=float(environ.get("STACK_READY_TIMEOUT", DEFAULT_READY_TIMEOUT)),
        )
        kwargs.update(overrides)
        return cls(**kwargs)

    # ---------------------------------------------------------------- addresses

    @property
    def kafka_node_count(self) -> int:
        """Nodes of the current Kafka cluster: 1, or what start_kafka(nodes=...) last started.

        Kept in a file because the CLI that stops a cluster is not the process that started it.
        """
        if self._kafka_nodes is not None:
            return self._kafka_nodes
        with contextlib.suppress(OSError, ValueError):
            return int(self._kafka_mode_file.read_text())
        return 1

    @property
    def _kafka_mode_file(self) -> Path:
        return self.run_dir / "kafka.nodes"

    def kafka_ports(self, nodes: int | None = None) -> list[tuple[int, int]]:
        """(client port, controller port) per node.

        Clients use KAFKA_PORT.. consecutively; controllers use KAFKA_CONTROLLER_PORT..
        unless that range collides with the client ports (the 9092/9093 defaults do in
        3-node mode), in which case they follow right after the client ports.
        """
        n = nodes or self.kafka_node_count
        k = self.kafka_port
        c = self.kafka_controller_port or k + n
        if c < k + n and k < c + n:
            c = k + n
        return [(k + i, c + i) for i in range(n)]

    @property
    def bootstrap_servers(self) -> str:
        if self.external_kafka:
            return self.external_kafka
        return ",".join(f"127.0.0.1:{p}" for p, _ in self.kafka_ports())

    @property
    def mongodb_uri(self) -> str:
        return self.external_mongo or f"mongodb://127.0.0.1:{self.mongo_port}/"

    @property
    def gateway_url(self) -> str:
        return f"http://{self.gateway_host}:{self.gateway_port}"

    @property
    def mail_url(self) -> str:
        """Mailpit's web inbox and HTTP API (/api/v1/messages)."""
        return f"http://127.0.0.1:{self.mail_http_port}"

    base_url = gateway_url

    def service_port(self, name: str) -> int:
        return self.service_port_base + REGISTRY[name].port_offset

    def service_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.service_port(name)}"

    @property
    def service_urls(self) -> dict[str, str]:
        return {name: self.service_url(name) for name in SERVICES}

    def available_services(self) -> list[str]:
        """Services the registry lists as built and whose __main__ module is there."""
        return [s for s in SERVICES if REGISTRY[s].exists and self._main_module(s).exists()]

    def _main_module(self, name: str) -> Path:
        return self.repo.joinpath(*REGISTRY[name].module.split("."), "__main__.py")

    @property
    def admin_credentials(self) -> tuple[str, str]:
        env = {**os.environ, **self.env}
        return (
            env.get("PLATFORM_ADMIN_CLIENT_ID", DEFAULT_ADMIN_CLIENT_ID),
            env.get("PLATFORM_ADMIN_CLIENT_SECRET", DEFAULT_ADMIN_CLIENT_SECRET),
        )

    # ---------------------------------------------------------------- provisioning

    def _say(self, msg: str) -> None:
        if self.verbose:
            print(f"[stack] {msg}", file=sys.stderr, flush=True)

    @contextlib.contextmanager
    def _lock(self, name: str) -> Iterator[None]:
        # Parallel test sessions may provision the same tools dir at once.
        self.tools.mkdir(parents=True, exist_ok=True)
        with open(self.tools / f".{name}.lock", "w") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    @property
    def kafka_libs(self) -> Path:
        return self.tools / "kafka" / "libs"

    def binary(self, program: str) -> Path:
        return self.tools / "bin" / program

    def provision(self) -> dict[str, float]:
        """Fetch/build whatever is missing; returns seconds spent per item (0 = already there)."""
        timings = {}
        with self._lock("provision"):
            timings["kafka"] = self._provision_kafka()
            for program in GO_PROGRAMS:
                timings[program] = self._build_go(program)
        return timings

    def is_provisioned(self) -> bool:
        return self._kafka_libs_current() and all(self._go_binary_current(p) for p in GO_PROGRAMS)

    def _kafka_libs_current(self) -> bool:
        marker = self.kafka_libs / ".provisioned"
        return marker.exists() and marker.read_text().strip() == _hash_files([HERE / "kafka" / "pom.xml"])

    def _provision_kafka(self) -> float:
        if self._kafka_libs_current():
            return 0.0
        mvn = shutil.which("mvn")
        if not mvn:
            raise StackError("Maven (mvn) is needed to fetch Kafka from Maven Central; it is not on PATH")
        self._say("fetching Kafka jars from Maven Central (mvn dependency:copy-dependencies)")
        started = time.monotonic()
        # Copy into a scratch dir and swap it in, so an interrupted fetch never
        # leaves a half-filled libs dir that looks provisioned.
        staging = self.kafka_libs.with_name(f"libs.{os.getpid()}.tmp")
        shutil.rmtree(staging, ignore_errors=True)
        cmd = [
            mvn, "-q", "-B", "-f", str(HERE / "kafka" / "pom.xml"),
            "dependency:copy-dependencies", f"-DoutputDirectory={staging}", "-DincludeScope=runtime",
        ]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            raise StackError(f"mvn failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
        (staging / ".provisioned").write_text(_hash_files([HERE / "kafka" / "pom.xml"]) + "\n")
        shutil.rmtree(self.kafka_libs, ignore_errors=True)
        staging.replace(self.kafka_libs)
        return time.monotonic() - started

    def _go_sources(self, program: str) -> list[Path]:
        src = HERE / program
        return [p for p in src.iterdir() if p.suffix == ".go" and not p.name.endswith("_test.go")] + [
            p for p in (src / "go.mod", src / "go.sum") if p.exists()
        ]

    def _build_fingerprint(self, program: str) -> str:
        # A content hash, not mtimes: git checkouts touch files without changing them.
        digest = _hash_files(self._go_sources(program))
        if program == "ferretdb":
            digest = hashlib.sha256((digest + repr(FERRETDB_PATCHES)).encode()).hexdigest()
        return digest

    def _go_binary_current(self, program: str) -> bool:
        marker = self.binary(program).with_name(f".{program}.sha256")
        return (
            self.binary(program).exists()
            and marker.exists()
            and marker.read_text().strip() == self._build_fingerprint(program)
        )

    def _patched_ferretdb_modfile(self, go: str) -> Path:
        """A go.mod that builds FerretDB from a patched copy of its module (see FERRETDB_PATCHES)."""
        module_dir = HERE / "ferretdb"
        listed = subprocess.run(
            [go, "mod", "download", "-json", f"{FERRETDB_MODULE}@{FERRETDB_VERSION}"],
            cwd=module_dir, capture_output=True, text=True,
        )
        if listed.returncode != 0:
            raise StackError(f"go mod download {FERRETDB_MODULE} failed:\n{listed.stderr[-4000:]}")
        pristine = Path(json.loads(listed.stdout)["Dir"])
        work = self.tools / "src"
        source = work / f"FerretDB-{FERRETDB_VERSION}-patched"
        shutil.rmtree(source, ignore_errors=True)
        shutil.copytree(pristine, source)
        for relative, old, new in FERRETDB_PATCHES:
            target = source / relative
            target.chmod(0o644)
            text = target.read_text()
            if text.count(old) != 1:
                raise StackError(f"FerretDB patch no longer applies to {relative}; review FERRETDB_PATCHES")
            target.write_text(text.replace(old, new))
        modfile = work / "ferretdb.go.mod"
        modfile.write_text((module_dir / "go.mod").read_text() + f"\nreplace {FERRETDB_MODULE} => {source}\n")
        shutil.copyfile(module_dir / "go.sum", work / "ferretdb.go.sum")
        return modfile

    def _build_go(self, program: str) -> float:
        if self._go_binary_current(program):
            return 0.0
        go = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None)
        if not go:
            raise StackError(f"Go is needed to build {program}; `go` is not on PATH")
        self._say(f"building {program} (go build; the first build downloads modules from the Go proxy)")
        started = time.monotonic()
        out = self.binary(program)
        out.parent.mkdir(parents=True, exist_ok=True)
        # Build beside the target and rename: a running binary is never overwritten in place.
        tmp = out.with_name(f".{program}.{os.getpid()}.tmp")
        extra = ["-modfile", str(self._patched_ferretdb_modfile(go))] if program == "ferretdb" else []
        proc = subprocess.run(
            [go, "build", "-trimpath", *extra, "-o", str(tmp), "."], cwd=HERE / program, capture_output=True, text=True
        )
        if proc.returncode != 0:
            tmp.unlink(missing_ok=True)
            raise StackError(f"go build {program} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
        tmp.replace(out)
        out.with_name(f".{program}.sha256").write_text(self._build_fingerprint(program) + "\n")
        return time.monotonic() - started

    def _ensure_provisioned(self) -> None:
        if not self.is_provisioned():
            self.provision()

    # ---------------------------------------------------------------- processes

    def _pid_file(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"

    def _record(self, name: str) -> ProcRecord | None:
        """The record of a live process we started, or None (stale records are removed)."""
        path = self._pid_file(name)
        try:
            rec = ProcRecord(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            return None
        child = self._children.get(name)
        if child is not None and child.pid == rec.pid:
            child.poll()  # reap it if it exited, so it does not linger as a zombie
        if _is_alive(rec):
            return rec
        path.unlink(missing_ok=True)
        return None

    def is_running(self, name: str) -> bool:
        return self._record(name) is not None

    def _spawn(self, name: str, argv: list[str], port: int | None, env: Mapping[str, str], cwd: Path) -> ProcRecord:
        for d in (self.run_dir, self.log_dir):
            d.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"{name}.log"
        with open(log, "ab") as out:
            out.write(f"\n===== {time.strftime('%Y-%m-%d %H:%M:%S')} start {name}: {' '.join(argv)}\n".encode())
            out.flush()
            # A session of its own: Ctrl-C in the terminal that ran `start` must not
            # reach the servers, and stop() can signal the whole process group.
            try:
                proc = subprocess.Popen(
                    argv, cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                    start_new_session=True,
                )  # fmt: skip
            except OSError as exc:
                raise StackError(f"cannot start {name} ({argv[0]}): {exc}") from exc
        stat = _proc_stat(proc.pid)
        rec = ProcRecord(name, proc.pid, stat[1] if stat else None, argv, port, str(log))
        _write_atomic(self._pid_file(name), json.dumps(asdict(rec)) + "\n")
        self._children[name] = proc
        self._launches[name] = (list(argv), port, dict(env), Path(cwd))
        self.started.append(name)
        return rec

    def respawn(self, name: str) -> ProcRecord:
        """Launch a process that died again, exactly as it was launched (same argv, env, port)."""
        argv, port, env, cwd = self._launches[name]
        return self._spawn(name, argv, port, env, cwd)

    def exit_code(self, name: str) -> int | None:
        """Exit status of a child of this object that has exited (negative: killed by that signal).

        Reaps it: /proc shows a multi-threaded process (a JVM) as a zombie while its
        other threads are still exiting, before waitpid() can collect it; waiting here
        also makes sure its ports are released before it is launched again.
        """
        child = self._children.get(name)
        if child is None:
            return None
        with contextlib.suppress(subprocess.TimeoutExpired):
            return child.wait(timeout=10)
        return child.poll()

    def probe(self, name: str) -> bool:
        """One readiness probe of a running component, the same one start_all() waits for."""
        rec = self._record(name)
        if rec is None:
            return False
        with contextlib.suppress(OSError, ValueError, struct.error):
            if name in SERVICES:
                return self._service_ready(rec)
            if name == "gateway":
                return http_status(f"{self.gateway_url}/healthz") == 200
            if name == "ferretdb":
                return mongo_ping("127.0.0.1", self.mongo_port)
            if name == "mailpit":
                return http_status(f"{self.mail_url}/readyz") == 200
            if name in self._kafka_names():
                return bool(kafka_broker_ids("127.0.0.1", rec.port))
        return False

    def _signal(self, rec: ProcRecord, sig: int) -> None:
        try:
            if os.getpgid(rec.pid) == rec.pid:
                os.killpg(rec.pid, sig)  # includes any workers the process forked
            else:
                os.kill(rec.pid, sig)
        except ProcessLookupError:
            pass

    def _stop(self, names: Iterable[str], kill: bool = False, timeout: float = DEFAULT_STOP_TIMEOUT) -> None:
        """Signal all of `names` at once, then wait; SIGKILL whatever outlives the deadline."""
        recs = [r for r in (self._record(n) for n in names) if r is not None]
        if not recs:
            return
        for rec in recs:
            self._say(f"{'killing' if kill else 'stopping'} {rec.name} (pid {rec.pid})")
            self._signal(rec, signal.SIGKILL if kill else signal.SIGTERM)
        deadline = time.monotonic() + timeout
        killed = kill
        while pending := [r for r in recs if self._record(r.name) is not None]:
            if time.monotonic() > deadline:
                if killed:
                    raise StackError(f"still alive after SIGKILL: {', '.join(f'{r.name} (pid {r.pid})' for r in pending)}")
                for rec in pending:
                    self._say(f"{rec.name} (pid {rec.pid}) still running {timeout:.0f}s after SIGTERM; sending SIGKILL")
                    self._signal(rec, signal.SIGKILL)
                killed, deadline = True, time.monotonic() + 10
            time.sleep(0.05)
        for rec in recs:
            self._pid_file(rec.name).unlink(missing_ok=True)
            child = self._children.pop(rec.name, None)
            if child is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    child.wait(timeout=1)

    def _check_port_free(self, name: str, host: str, port: int) -> None:
        if port_open(host, port):
            raise StackError(
                f"cannot start {name}: {host}:{port} is already in use by a process this stack did not start "
                f"(stop it or choose other ports, see deploy/local/README.md)"
            )

    def _failed(self, rec: ProcRecord, why: str) -> StackError:
        msg = f"{rec.name} {why}; last lines of {rec.log}:\n{_tail(rec.log)}"
        self._say(msg)
        return StackError(msg)

    def _wait(self, recs: list[ProcRecord], ready, what: str, timeout: float | None = None) -> None:
        """Poll `ready(rec)` for every record until all pass; fail fast if a process dies."""
        timeout = timeout or self.ready_timeout
        started = time.monotonic()
        pending = list(recs)
        while pending:
            for rec in list(pending):
                if self._record(rec.name) is None:
                    raise self._failed(rec, "exited during startup")
                with contextlib.suppress(OSError, ValueError, struct.error):
                    if ready(rec):
                        pending.remove(rec)
                        self._say(f"{rec.name} ready ({what}) after {time.monotonic() - started:.1f}s")
            if pending and time.monotonic() - started > timeout:
                raise self._failed(pending[0], f"not ready ({what}) after {timeout:.0f}s")
            if pending:
                time.sleep(0.2)

    def _base_env(self) -> dict[str, str]:
        return {**os.environ, **self.env}

    # ---------------------------------------------------------------- Kafka

    def _kafka_name(self, node: int, nodes: int) -> str:
        return "kafka" if nodes == 1 else f"kafka-{node}"

    def _kafka_names(self, nodes: int | None = None) -> list[str]:
        n = nodes or self.kafka_node_count
        return [self._kafka_name(i, n) for i in range(1, n + 1)]

    def _java(self) -> str:
        java_home = os.environ.get("JAVA_HOME")
        if java_home and (Path(java_home) / "bin" / "java").exists():
            return str(Path(java_home) / "bin" / "java")
        java = shutil.which("java")
        if not java:
            raise StackError("Java 17+ is needed to run Kafka; `java` is not on PATH")
        return java

    def _kafka_properties(self, node: int, nodes: int, log_dir: Path) -> str:
        ports = self.kafka_ports(nodes)
        client, controller = ports[node - 1]
        voters = ",".join(f"{i}@127.0.0.1:{c}" for i, (_, c) in enumerate(ports, start=1))
        rf = min(nodes, 3)
        isr = 2 if nodes >= 3 else 1
        props = {
            "process.roles": "broker,controller",
            "node.id": node,
            "controller.quorum.voters": voters,
            "listeners": f"PLAINTEXT://127.0.0.1:{client},CONTROLLER://127.0.0.1:{controller}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{client}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": "PLAINTEXT",
            "log.dirs": log_dir,
            "num.partitions": 3,
            "default.replication.factor": rf,
            "min.insync.replicas": isr,
            "offsets.topic.replication.factor": rf,
            # 50 partitions (the default) for these internal topics make the first
            # consumer group or transactional producer wait for 50 (x3) partition
            # leaders; 10 is plenty on one machine.
            "offsets.topic.num.partitions": 10,
            "transaction.state.log.num.partitions": 10,
            "transaction.state.log.replication.factor": rf,
            "transaction.state.log.min.isr": isr,
            "group.initial.rebalance.delay.ms": 0,
            "auto.create.topics.enable": "true",
        }
        if nodes > 1:
            # Fault tests stop nodes: fence a dead node (and drop it from ISRs, which
            # unblocks acks=all) in ~5 s instead of the production default of 9 s.
            props.update({"broker.heartbeat.interval.ms": 1000, "broker.session.timeout.ms": 5000})
        return "".join(f"{k}={v}\n" for k, v in props.items())

    def _prepare_kafka_node(self, node: int, nodes: int, cluster_id: str) -> tuple[Path, subprocess.Popen | None]:
        """Write server.properties and start `StorageTool format` if the node's log dir is new."""
        name = self._kafka_name(node, nodes)
        data = self.data_dir / name
        log_dir = data / "log"
        log_dir.mkdir(parents=True, exist_ok=True)
        config = data / "server.properties"
        # Rewritten on every start, so port changes take effect on existing data.
        _write_atomic(config, self._kafka_properties(node, nodes, log_dir))
        if (log_dir / "meta.properties").exists():
            return config, None
        (data / "cluster.id").write_text(cluster_id + "\n")
        cmd = [self._java(), "-cp", str(self.kafka_libs / "*"), f"-Dlog4j.configuration=file:{HERE / 'kafka' / 'log4j.properties'}",
               "kafka.tools.StorageTool", "format", "--ignore-formatted", "-t", cluster_id, "-c", str(config)]  # fmt: skip
        fmt = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        return config, fmt

    def _cluster_id(self, nodes: int) -> str:
        # All nodes of a cluster must be formatted with the same id; a node whose data
        # was wiped rejoins with the id its peers kept.
        for name in self._kafka_names(nodes):
            path = self.data_dir / name / "cluster.id"
            if path.exists():
                return path.read_text().strip()
        return kafka_cluster_id()

    def _kafka_argv(self, config: Path) -> list[str]:
        heap = os.environ.get("KAFKA_HEAP_OPTS", "-Xms256m -Xmx512m").split()
        return [
            self._java(), *heap, "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-Djava.awt.headless=true",
            f"-Dlog4j.configuration=file:{HERE / 'kafka' / 'log4j.properties'}",
            "-cp", str(self.kafka_libs / "*"), "kafka.Kafka", str(config),
        ]  # fmt: skip

    def start_kafka(self, nodes: int = 1) -> str:
        """Start a KRaft cluster of `nodes` combined broker+controller nodes; returns the bootstrap string."""
        if nodes < 1:
            raise ValueError("nodes must be >= 1")
        other = [n for n in self._kafka_running() if n not in self._kafka_names(nodes)]
        if other:
            raise StackError(f"Kafka is already running in another mode ({', '.join(other)}); stop it first")
        self._ensure_provisioned()
        self._kafka_nodes = nodes
        self.run_dir.mkdir(parents=True, exist_ok=True)
        _write_atomic(self._kafka_mode_file, f"{nodes}\n")
        self._start_kafka_nodes(range(1, nodes + 1), nodes)
        return self.bootstrap_servers

    def start_kafka_node(self, node: int) -> str:
        """(Re)start one node of the running cluster and wait until it is back in the metadata."""
        nodes = self.kafka_node_count
        if not 1 <= node <= nodes:
            raise ValueError(f"node must be in 1..{nodes}")
        self._ensure_provisioned()
        self._start_kafka_nodes([node], nodes)
        return self.bootstrap_servers

    def _start_kafka_nodes(self, wanted: Iterable[int], nodes: int) -> None:
        todo = [n for n in wanted if not self.is_running(self._kafka_name(n, nodes))]
        ports = self.kafka_ports(nodes)
        # Check every port before starting anything, so a conflict leaves nothing half-started.
        for n in todo:
            for port in ports[n - 1]:
                self._check_port_free(self._kafka_name(n, nodes), "127.0.0.1", port)
        cluster_id = self._cluster_id(nodes)
        prepared = {n: self._prepare_kafka_node(n, nodes, cluster_id) for n in todo}  # formats run in parallel
        for n, (config, fmt) in prepared.items():
            name = self._kafka_name(n, nodes)
            if fmt is not None:
                out, _ = fmt.communicate()
                if fmt.returncode != 0:
                    raise StackError(f"kafka StorageTool format failed for {name}:\n{out[-4000:]}")
                self._say(f"formatted {name} storage (cluster id {cluster_id})")
        for n, (config, _) in prepared.items():
            name = self._kafka_name(n, nodes)
            self._say(f"starting {name} on 127.0.0.1:{ports[n - 1][0]} (controller {ports[n - 1][1]})")
            self._spawn(name, self._kafka_argv(config), ports[n - 1][0], self._base_env(), self.data_dir / name)
        self._wait_kafka()

    def _wait_kafka(self) -> None:
        """Every running node must list every running node as a live broker."""
        nodes = self.kafka_node_count
        ports = dict(zip(self._kafka_names(nodes), (p for p, _ in self.kafka_ports(nodes))))
        recs = [r for r in (self._record(n) for n in ports) if r is not None]
        expected = {self._kafka_names(nodes).index(r.name) + 1 for r in recs}

        def ready(rec: ProcRecord) -> bool:
            return expected <= kafka_broker_ids("127.0.0.1", ports[rec.name])

        self._wait(recs, ready, "broker registered and unfenced")

    def stop_kafka(self, kill: bool = False, node: int | None = None, timeout: float = DEFAULT_STOP_TIMEOUT) -> None:
        """Stop all Kafka nodes, or one node of a cluster; kill=True sends SIGKILL (a crash)."""
        if node is None:
            names = self._kafka_running()
            if 0 < len(names) <= self.kafka_node_count // 2:
                # Without a controller quorum a broker's controlled shutdown cannot
                # complete and SIGTERM would only wait out the whole timeout.
                timeout = min(timeout, 5.0)
            self._stop(names, kill=kill, timeout=timeout)
            self._kafka_mode_file.unlink(missing_ok=True)
            self._kafka_nodes = None
        else:
            self._stop([self._kafka_name(node, self.kafka_node_count)], kill=kill, timeout=timeout)

    def _kafka_pid_names(self) -> list[str]:
        return ["kafka", *sorted(p.stem for p in self.run_dir.glob("kafka-*.pid"))]

    def _kafka_running(self) -> list[str]:
        return [n for n in self._kafka_pid_names() if self.is_running(n)]

    # ---------------------------------------------------------------- FerretDB

    def start_ferretdb(self) -> str:
        """Start FerretDB (SQLite backend) and wait for a successful ping; returns the MongoDB URI."""
        name = "ferretdb"
        uri = f"mongodb://127.0.0.1:{self.mongo_port}/"
        if self.is_running(name):
            return uri
        self._ensure_provisioned()
        self._check_port_free(name, "127.0.0.1", self.mongo_port)
        data = self.data_dir / name
        data.mkdir(parents=True, exist_ok=True)
        argv = [
            str(self.binary(name)), "-listen-addr", f"127.0.0.1:{self.mongo_port}", "-sqlite-dir", str(data),
            "-log-level", self._base_env().get("FERRETDB_LOG_LEVEL", "warn"),
            "-sqlite-synchronous", self._base_env().get("FERRETDB_SQLITE_SYNCHRONOUS", "normal"),
        ]  # fmt: skip
        self._say(f"starting ferretdb on 127.0.0.1:{self.mongo_port}")
        rec = self._spawn(name, argv, self.mongo_port, self._base_env(), data)
        self._wait([rec], lambda r: mongo_ping("127.0.0.1", self.mongo_port), "ping ok")
        return uri

    def stop_ferretdb(self, kill: bool = False) -> None:
        self._stop(["ferretdb"], kill=kill)

    # ---------------------------------------------------------------- Mailpit

    def start_mailpit(self) -> str:
        """Start Mailpit (SMTP + web inbox) and wait for its /readyz; returns the inbox URL."""
        name = "mailpit"
        if self.is_running(name):
            return self.mail_url
        self._ensure_provisioned()
        self._check_port_free(name, "127.0.0.1", self.smtp_port)
        self._check_port_free(name, "127.0.0.1", self.mail_http_port)
        data = self.data_dir / name
        data.mkdir(parents=True, exist_ok=True)
        argv = [
            str(self.binary(name)), "--smtp", f"127.0.0.1:{self.smtp_port}", "--listen", f"127.0.0.1:{self.mail_http_port}",
            "--database", str(data / "mailpit.db"), "--max", str(MAILPIT_MAX_MESSAGES),
            # Nothing leaves the machine: no update check, no reverse DNS of SMTP clients.
            "--disable-version-check", "--smtp-disable-rdns", "--quiet",
        ]  # fmt: skip
        self._say(f"starting mailpit (SMTP 127.0.0.1:{self.smtp_port}, inbox {self.mail_url})")
        rec = self._spawn(name, argv, self.mail_http_port, self._base_env(), data)
        self._wait([rec], lambda r: http_status(f"{self.mail_url}/readyz") == 200, "GET /readyz 200")
        return self.mail_url

    def stop_mailpit(self, kill: bool = False) -> None:
        self._stop(["mailpit"], kill=kill)

    # ---------------------------------------------------------------- services

    def service_env(self, name: str, extra_env: Mapping[str, str] | None = None) -> dict[str, str]:
        client_id, secret = self.admin_credentials
        env = {
            **os.environ,
            # Set the operator credentials explicitly so identity seeds exactly what `run` prints.
            "PLATFORM_ADMIN_CLIENT_ID": client_id,
            "PLATFORM_ADMIN_CLIENT_SECRET": secret,
            "PORT": str(self.service_port(name)),
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            "MONGODB_URI": self.mongodb_uri,
            "PORTAL_BASE_URL": self.gateway_url,
            "PYTHONUNBUFFERED": "1",
            # The local stack's mail server, and webhooks to loopback receivers (local runs only).
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(self.smtp_port),
            "NOTIFICATIONS_ALLOW_PRIVATE_TARGETS": "true",
            **{f"{s.upper()}_URL": self.service_url(s) for s in SERVICES},
        }
        if not self.external_kafka:
            # Topics the services create must match the cluster: RF 3 on the fault-test cluster.
            env["KAFKA_TOPIC_REPLICATION_FACTOR"] = str(min(self.kafka_node_count, 3))
        env.update(self.env)
        env.update(extra_env or {})
        return env

    def start_service(self, name: str, extra_env: Mapping[str, str] | None = None) -> str:
        """Start one service and wait for GET /readyz == 200; returns its base URL."""
        rec = self._launch_service(name, extra_env)
        self._wait([rec], self._service_ready, "GET /readyz 200")
        self._refresh_gateway()
        return self.service_url(name)

    def start_services(self, names: Iterable[str] | None = None) -> dict[str, str]:
        """Identity first (the others verify tokens against it), then the rest concurrently."""
        names = list(self.available_services() if names is None else names)
        if "identity" in names:
            self.start_service("identity")
        recs = [self._launch_service(n) for n in names if n != "identity"]
        self._wait(recs, self._service_ready, "GET /readyz 200")
        self._refresh_gateway()
        return {n: self.service_url(n) for n in names}

    def _launch_service(self, name: str, extra_env: Mapping[str, str] | None = None) -> ProcRecord:
        if name not in SERVICES:
            raise ValueError(f"unknown service {name!r}; known: {', '.join(SERVICES)}")
        if name not in self.available_services():
            raise StackError(f"{name} does not exist yet (deploy/services.toml, {self._main_module(name).relative_to(self.repo)})")
        rec = self._record(name)
        if rec is not None:
            return rec
        port = self.service_port(name)
        self._check_port_free(name, "127.0.0.1", port)
        self._say(f"starting {name} on 127.0.0.1:{port}")
        argv = [self.python, "-m", REGISTRY[name].module]
        return self._spawn(name, argv, port, self.service_env(name, extra_env), self.repo)

    def _service_ready(self, rec: ProcRecord) -> bool:
        return http_status(f"http://127.0.0.1:{rec.port}/readyz") == 200

    def stop_service(self, name: str, kill: bool = False, timeout: float = DEFAULT_STOP_TIMEOUT) -> None:
        """Stop a service; kill=True sends SIGKILL (what the crash-recovery tests do)."""
        self._stop([name], kill=kill, timeout=timeout)

    # ---------------------------------------------------------------- gateway

    def _running_services(self) -> list[str]:
        return [s for s in SERVICES if self.is_running(s)]

    def _refresh_gateway(self) -> None:
        if self.is_running("gateway"):
            self.start_gateway()

    def start_gateway(self) -> str:
        """Start the gateway in front of the running services; returns the public base URL.

        The gateway reads its upstreams once at startup, so a running gateway that does
        not route to a service started since is restarted (it takes milliseconds;
        start_service() does this). A service that stopped stays an upstream, so the
        gateway's /readyz reports it as failing.
        """
        name = "gateway"
        self.run_dir.mkdir(parents=True, exist_ok=True)
        upstreams = self.run_dir / "gateway-upstreams.json"
        running = set(self._running_services())
        if self.is_running(name):
            with contextlib.suppress(OSError, ValueError):
                current = set(json.loads(upstreams.read_text()))
                if running <= current:
                    return self.gateway_url
                running |= current
            self._stop([name])
        wanted = json.dumps({s: self.service_url(s) for s in SERVICES if s in running}, indent=2) + "\n"
        self._ensure_provisioned()
        self._check_port_free(name, self.gateway_host, self.gateway_port)
        _write_atomic(upstreams, wanted)
        # The route table is the registry's (deploy/services.toml), like the Ingress's.
        routes = self.run_dir / "gateway-routes.json"
        _write_atomic(routes, json.dumps(service_registry.gateway_routes(), indent=2) + "\n")
        argv = [
            str(self.binary(name)), "-listen", f"{self.gateway_host}:{self.gateway_port}",
            "-routes", str(routes), "-upstreams", str(upstreams),
        ]  # fmt: skip
        self._say(f"starting gateway on {self.gateway_url}")
        rec = self._spawn(name, argv, self.gateway_port, self._base_env(), self.home)
        self._wait([rec], lambda r: http_status(f"{self.gateway_url}/healthz") == 200, "GET /healthz 200")
        return self.gateway_url

    def stop_gateway(self, kill: bool = False) -> None:
        self._stop(["gateway"], kill=kill)

    # ---------------------------------------------------------------- whole stack

    def start_all(
        self, infra_only: bool = False, services: Iterable[str] | None = None, kafka_nodes: int | None = None
    ) -> None:
        """Kafka, then FerretDB, then the services, then the gateway (external servers are skipped)."""
        self._ensure_provisioned()
        if self.external_kafka:
            self._say(f"using external Kafka at {self.external_kafka}")
        else:
            # A cluster that is already up keeps its size unless a size is asked for.
            self.start_kafka(nodes=kafka_nodes or (self.kafka_node_count if self._kafka_running() else 1))
        if self.external_mongo:
            self._say(f"using external MongoDB at {self.external_mongo}")
        else:
            self.start_ferretdb()
        self.start_mailpit()
        if infra_only:
            return
        self.start_services(services)
        self.start_gateway()

    # `run` records itself like the processes it starts, so that `stop` from another
    # shell can end it: otherwise its supervisor would restart what `stop` stops, and
    # the terminal that ran it would never get its prompt back.

    def claim_run(self) -> None:
        """Record this process as the stack's `run`; refuse if another `run` is alive."""
        other = self._record("run")
        if other is not None and other.pid != os.getpid():
            raise StackError(f"`stack.py run` is already running (pid {other.pid}); `stop` ends it")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._stop_marker.unlink(missing_ok=True)
        stat = _proc_stat(os.getpid())
        argv = _proc_cmdline(os.getpid()) or sys.argv
        rec = ProcRecord("run", os.getpid(), stat[1] if stat else None, argv, None, "")
        _write_atomic(self._pid_file("run"), json.dumps(asdict(rec)) + "\n")

    def release_run(self) -> None:
        rec = self._record("run")
        if rec is not None and rec.pid == os.getpid():
            self._pid_file("run").unlink(missing_ok=True)
        self._stop_marker.unlink(missing_ok=True)

    def stop_requested(self) -> bool:
        return self._stop_marker.exists()

    @property
    def _stop_marker(self) -> Path:
        return self.run_dir / "stop-requested"

    def _end_run(self, timeout: float) -> None:
        """Ask a `run` of this home to stop what it started and exit; wait for it to be gone."""
        rec = self._record("run")
        if rec is None or rec.pid == os.getpid():
            return
        self._say(f"ending `run` (pid {rec.pid})")
        # The marker first: from then on its supervisor restarts nothing, even before
        # the signal lands. Only the pid itself is signalled, never its process group
        # (that is the terminal's job, `make` included).
        _write_atomic(self._stop_marker, f"{os.getpid()}\n")
        with contextlib.suppress(ProcessLookupError):
            os.kill(rec.pid, signal.SIGTERM)
        deadline = time.monotonic() + 2 * timeout + 15  # its own stop_all() may need a SIGKILL round
        while _is_alive(rec):
            if time.monotonic() > deadline:
                self._say(f"`run` (pid {rec.pid}) did not end; killing it and stopping its processes here")
                with contextlib.suppress(ProcessLookupError):
                    os.kill(rec.pid, signal.SIGKILL)
                break
            time.sleep(0.05)
        self._pid_file("run").unlink(missing_ok=True)

    def stop_all(self, timeout: float = DEFAULT_STOP_TIMEOUT, only: Iterable[str] | None = None) -> None:
        """Gateway and services first (they flush to Kafka/MongoDB on shutdown), then FerretDB, then Kafka.

        Without `only` (the CLI's `stop`), a `run` of this home is ended first: it stops
        what it started and exits; whatever is left (e.g. from `start`) is stopped here.
        """
        if only is None:
            self._end_run(timeout)
        only = None if only is None else set(only)
        for group in (["gateway"], list(reversed(SERVICES)), ["ferretdb", "mailpit"]):
            self._stop([n for n in group if only is None or n in only], timeout=timeout)
        if only is None:
            self.stop_kafka(timeout=timeout)
        else:
            self._stop([n for n in self._kafka_pid_names() if n in only], timeout=timeout)
            if not self._kafka_running():
                self._kafka_mode_file.unlink(missing_ok=True)

    def status(self) -> list[dict]:
        names = ["run", "gateway", *SERVICES, "ferretdb", "mailpit", *self._kafka_pid_names()]
        rows = []
        for name in names:
            rec = self._record(name)
            port = rec.port if rec else self._default_port(name)
            rows.append({"name": name, "running": rec is not None, "pid": rec.pid if rec else None, "port": port})
        return rows

    def _default_port(self, name: str) -> int | None:
        if name in SERVICES:
            return self.service_port(name)
        return {"gateway": self.gateway_port, "ferretdb": self.mongo_port, "mailpit": self.mail_http_port,
                "kafka": self.kafka_port}.get(name)

    def reset(self) -> None:
        """Stop everything and delete its data; provisioned jars and binaries stay."""
        self.stop_all()
        shutil.rmtree(self.data_dir, ignore_errors=True)
        self._say(f"deleted {self.data_dir}")

    def env_lines(self, infra_only: bool = False) -> list[str]:
        lines = [f"KAFKA_BOOTSTRAP_SERVERS={self.bootstrap_servers}", f"MONGODB_URI={self.mongodb_uri}",
                 f"MAILPIT_URL={self.mail_url}"]
        if not infra_only:
            lines.insert(0, f"PORTAL_BASE_URL={self.gateway_url}")
        return lines


# --------------------------------------------------------------------------------------
# Supervision (`run`)
# --------------------------------------------------------------------------------------


class Supervisor:
    """Restarts what `run` started when it dies, with exponential backoff.

    A process that keeps dying is given up on: `max_crashes` exits within `window`
    seconds mean something is broken (a bad setting, a port taken, a bug at start-up)
    and restarting faster only hides that. Restarts do not wait for readiness: the
    services reconnect to Kafka and FerretDB by themselves, so waiting would only
    delay noticing other crashes; readiness is reported when it comes.
    """

    def __init__(
        self,
        stack: LocalStack,
        names: Iterable[str],
        *,
        max_crashes: int = 5,
        window: float = 60.0,
        base_delay: float = 0.5,
        max_delay: float = 30.0,
        clock=time.monotonic,
        out=sys.stderr,
    ) -> None:
        self.stack = stack
        self.names = list(dict.fromkeys(names))
        self.max_crashes = max_crashes
        self.window = window
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.clock = clock
        self.out = out
        self.crashes: dict[str, list[float]] = {n: [] for n in self.names}
        self.restart_at: dict[str, float] = {}  # name -> when to launch it again
        self.coming_up: dict[str, float] = {}  # name -> when it was relaunched, until it probes ready
        self.given_up: set[str] = set()
        self.restarts: dict[str, int] = {n: 0 for n in self.names}

    def _say(self, msg: str) -> None:
        print(f"[stack] {msg}", file=self.out, flush=True)

    def delay(self, crashes_in_window: int) -> float:
        return min(self.max_delay, self.base_delay * 2 ** max(0, crashes_in_window - 1))

    def poll(self) -> None:
        """One round: notice exits (reaping them), relaunch what is due, report readiness."""
        now = self.clock()
        for name in self.names:
            if name in self.given_up:
                continue
            if name in self.restart_at:
                if now >= self.restart_at[name]:
                    del self.restart_at[name]
                    self._relaunch(name, now)
                continue
            if self.stack.is_running(name):  # is_running() reaps an exited child
                if name in self.coming_up and self.stack.probe(name):
                    self._say(f"{name} is ready again {now - self.coming_up.pop(name):.1f}s after its restart")
                continue
            self._crashed(name, now)

    def _crashed(self, name: str, now: float) -> None:
        self.coming_up.pop(name, None)
        code = self.stack.exit_code(name)
        how = "was killed by signal " + str(-code) if code is not None and code < 0 else f"exited with status {code}"
        recent = [t for t in self.crashes[name] if now - t < self.window] + [now]
        self.crashes[name] = recent
        log = self.stack.log_dir / f"{name}.log"
        if len(recent) >= self.max_crashes:
            self.given_up.add(name)
            self._say(
                f"GIVING UP on {name}: it {how}, its {len(recent)}th exit within {self.window:.0f}s; it stays down "
                f"(the rest of the stack keeps running). Fix it, then `make start` starts it again. "
                f"Last lines of {log}:\n{_tail(log, 20)}"
            )
            return
        wait = self.delay(len(recent))
        self.restart_at[name] = now + wait
        self._say(f"{name} {how}; restarting it in {wait:.1f}s (exit {len(recent)} of {self.max_crashes} "
                  f"within {self.window:.0f}s before giving up). Last lines of {log}:\n{_tail(log, 10)}")  # fmt: skip

    def _relaunch(self, name: str, now: float) -> None:
        try:
            rec = self.stack.respawn(name)
        except StackError as exc:
            self._say(f"cannot restart {name}: {exc}")
            self._crashed(name, now)
            return
        self.restarts[name] += 1
        self.coming_up[name] = now
        self._say(f"restarted {name} (pid {rec.pid})")


def _run_forever(
    stack: LocalStack, infra_only: bool, kafka_nodes: int | None, services: list[str] | None = None
) -> int:
    def on_signal(signum, _frame):
        raise KeyboardInterrupt

    # SIGTERM (`stop` from another shell, a process manager) and SIGHUP (the terminal
    # went away) end `run` the way Ctrl-C does, also in the middle of startup.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    code = 0
    try:
        stack.claim_run()
        stack.start_all(infra_only=infra_only, services=services, kafka_nodes=kafka_nodes)
        client_id, secret = stack.admin_credentials
        print("\n".join(stack.env_lines(infra_only)))
        if not infra_only:
            print(f"\nPortal: {stack.gateway_url}")
            print(f"API docs: {stack.gateway_url}/docs (OpenAPI: {stack.gateway_url}/openapi.json)")
            print(f"Operator credentials: client_id={client_id} client_secret={secret}")
        print(f"Mail inbox (Mailpit, SMTP 127.0.0.1:{stack.smtp_port}): {stack.mail_url}")
        print("Press Ctrl-C to stop (or run `make stop` in another shell).", flush=True)
        supervisor = Supervisor(stack, stack.started)
        while not stack.stop_requested():
            supervisor.poll()
            time.sleep(0.2)
        print("\n[stack] `stop` asked this run to end", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        print("\n[stack] stopping", file=sys.stderr, flush=True)
    except StackError as exc:
        print(f"[stack] error: {exc}", file=sys.stderr, flush=True)
        code = 1
    finally:
        # A second Ctrl-C must not abandon half-stopped processes.
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        # Stop only what this invocation started: a stack started earlier by `start` stays up.
        try:
            stack.stop_all(only=stack.started)
        finally:
            stack.release_run()
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("provision", help="fetch/build Kafka jars, ferretdb and gateway binaries if missing")
    for cmd, text in (
        ("start", "start the stack in the background"),
        ("run", "start, restart what crashes, block until Ctrl-C or `stop`, stop"),
    ):
        p = sub.add_parser(cmd, help=text)
        p.add_argument("--infra-only", action="store_true", help="only Kafka and FerretDB")
        p.add_argument("--kafka-nodes", type=int, default=None, help="KRaft nodes (1, or 3 for fault testing)")
        p.add_argument("--services", default=None, help="comma-separated subset of the services (default: all that exist)")
    sub.add_parser("stop", help="stop every process the stack started")
    sub.add_parser("status", help="one line per component")
    sub.add_parser("reset", help="stop and delete data (keeps provisioned binaries)")
    args = parser.parse_args(argv)

    stack = LocalStack.from_env()
    services = None
    if getattr(args, "services", None):
        services = [n.strip() for n in args.services.split(",") if n.strip()]
        unknown = [n for n in services if n not in SERVICES]
        if unknown:
            parser.error(f"unknown service(s) {', '.join(unknown)}; known: {', '.join(SERVICES)}")
    try:
        if args.command == "provision":
            started = time.monotonic()
            timings = stack.provision()
            done = ", ".join(f"{k} {v:.1f}s" if v else f"{k} up to date" for k, v in timings.items())
            print(f"provisioned in {time.monotonic() - started:.1f}s ({done}) under {stack.tools}")
        elif args.command == "start":
            started = time.monotonic()
            stack.start_all(infra_only=args.infra_only, services=services, kafka_nodes=args.kafka_nodes)
            stack._say(f"started in {time.monotonic() - started:.1f}s")
            print("\n".join(stack.env_lines(args.infra_only)))
        elif args.command == "run":
            return _run_forever(stack, args.infra_only, args.kafka_nodes, services)
        elif args.command == "stop":
            stack.stop_all()
        elif args.command == "status":
            for row in stack.status():
                state = f"running  pid {row['pid']}" if row["running"] else "stopped"
                print(f"{row['name']:<15} {state:<20} port {row['port']}")
        elif args.command == "reset":
            stack.reset()
    except StackError as exc:
        print(f"[stack] error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
