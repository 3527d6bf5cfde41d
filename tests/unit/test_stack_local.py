"""deploy/local/stack.py without Kafka or FerretDB: configuration, wire encodings, process ownership."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "deploy" / "local"))

import stack  # noqa: E402


def make_stack(tmp_path: Path, **kwargs) -> stack.LocalStack:
    defaults = dict(kafka_port=39092, mongo_port=39017, gateway_port=38080, service_port_base=38100, verbose=False)
    return stack.LocalStack(tmp_path / "home", **{**defaults, **kwargs})


def properties(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line)


def test_default_ports_follow_the_documented_layout(tmp_path):
    s = make_stack(tmp_path, kafka_port=9092, service_port_base=8100)
    assert s.kafka_ports(1) == [(9092, 9093)]
    assert [s.service_port(n) for n in stack.SERVICES] == [8101, 8102, 8103, 8104, 8107, 8105, 8106]
    assert s.service_url("identity") == "http://127.0.0.1:8101"
    assert s.bootstrap_servers == "127.0.0.1:9092"
    assert s.mongodb_uri == "mongodb://127.0.0.1:39017/"
    assert s.gateway_url == s.base_url == "http://127.0.0.1:38080"


def test_cluster_controller_ports_never_collide_with_client_ports(tmp_path):
    s = make_stack(tmp_path, kafka_port=9092, kafka_controller_port=9093)
    assert s.kafka_ports(1) == [(9092, 9093)]
    assert s.kafka_ports(3) == [(9092, 9095), (9093, 9096), (9094, 9097)]
    apart = make_stack(tmp_path, kafka_port=9092, kafka_controller_port=19093)
    assert apart.kafka_ports(3) == [(9092, 19093), (9093, 19094), (9094, 19095)]


def test_three_node_properties_replicate_everything(tmp_path):
    s = make_stack(tmp_path, kafka_port=9092)
    props = properties(s._kafka_properties(2, 3, tmp_path / "log"))
    assert props["node.id"] == "2"
    assert props["process.roles"] == "broker,controller"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:9095,2@127.0.0.1:9096,3@127.0.0.1:9097"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:9093,CONTROLLER://127.0.0.1:9096"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:9093"
    for key in ("default.replication.factor", "offsets.topic.replication.factor", "transaction.state.log.replication.factor"):
        assert props[key] == "3"
    assert props["min.insync.replicas"] == props["transaction.state.log.min.isr"] == "2"

    single = properties(s._kafka_properties(1, 1, tmp_path / "log"))
    assert single["offsets.topic.replication.factor"] == single["min.insync.replicas"] == "1"
    assert single["auto.create.topics.enable"] == "true"


def test_from_env_reads_the_documented_variables(tmp_path):
    s = stack.LocalStack.from_env(
        {
            "STACK_HOME": str(tmp_path),
            "KAFKA_PORT": "19092",
            "KAFKA_CONTROLLER_PORT": "19093",
            "MONGO_PORT": "17017",
            "PORTAL_BASE_URL": "http://127.0.0.1:18080",
            "STACK_SERVICE_PORT_BASE": "18100",
        }
    )
    assert (s.home, s.tools) == (tmp_path.resolve(), tmp_path.resolve())
    assert s.bootstrap_servers == "127.0.0.1:19092"
    assert s.kafka_ports(1) == [(19092, 19093)]
    assert s.mongodb_uri == "mongodb://127.0.0.1:17017/"
    assert s.gateway_url == "http://127.0.0.1:18080"
    assert s.service_url("claims") == "http://127.0.0.1:18103"

    external = stack.LocalStack.from_env({"KAFKA_BOOTSTRAP_SERVERS": "k:9092", "MONGODB_URI": "mongodb://m/"})
    assert external.bootstrap_servers == "k:9092"
    assert external.mongodb_uri == "mongodb://m/"
    assert external.home == REPO / ".local"


def test_service_env_layers_stack_settings_then_stack_env_then_extra(tmp_path):
    s = make_stack(tmp_path, env={"LOG_LEVEL": "DEBUG", "PLATFORM_ADMIN_CLIENT_SECRET": "s3cret"})
    env = s.service_env("claims", {"LOG_LEVEL": "WARNING"})
    assert env["PORT"] == "38103"
    assert env["IDENTITY_URL"] == "http://127.0.0.1:38101"
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == "127.0.0.1:39092"
    assert env["MONGODB_URI"] == "mongodb://127.0.0.1:39017/"
    assert env["KAFKA_TOPIC_REPLICATION_FACTOR"] == "1"
    assert env["LOG_LEVEL"] == "WARNING"
    assert env["PLATFORM_ADMIN_CLIENT_SECRET"] == "s3cret"
    assert s.admin_credentials[1] == "s3cret"


def test_mongo_ping_encoding_round_trips():
    doc = stack._bson_encode({"ok": 1, "$db": "admin"})
    assert doc[:4] == len(doc).to_bytes(4, "little") and doc[-1] == 0
    assert stack._bson_ok(doc)
    # What servers reply: other fields first, then ok as a double.
    elements = stack._bson_encode({"ismaster": 1, "msg": "x"})[4:-1] + b"\x01ok\x00" + struct.pack("<d", 1.0)
    assert stack._bson_ok(struct.pack("<i", len(elements) + 5) + elements + b"\x00")
    assert not stack._bson_ok(stack._bson_encode({"ok": 0}))


def test_cluster_ids_look_like_kafka_uuids():
    ids = {stack.kafka_cluster_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)


def test_only_processes_it_started_are_signalled(tmp_path):
    s = make_stack(tmp_path)
    rec = s._spawn("sleeper", ["sleep", "30"], None, os.environ, tmp_path)
    assert s.is_running("sleeper")
    assert [r["name"] for r in s.status()] == ["run", "gateway", *stack.SERVICES, "ferretdb", "mailpit", "kafka"]

    # A record whose pid now belongs to another process (same argv, other start time,
    # as after pid reuse) is stale: it is dropped and that process is never signalled.
    time.sleep(0.05)  # start times count in clock ticks (10 ms)
    stranger = subprocess.Popen(["sleep", "30"])
    try:
        forged = stack.ProcRecord("forged", stranger.pid, rec.start_time, rec.argv, None, rec.log)
        s._pid_file("forged").write_text(json.dumps(stack.asdict(forged)))
        s._stop(["forged"])
        assert not s._pid_file("forged").exists()
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()

    s._stop(["sleeper"], timeout=5)
    assert not s.is_running("sleeper")
    assert not s._pid_file("sleeper").exists()


def test_stop_escalates_to_sigkill_after_the_deadline(tmp_path):
    s = make_stack(tmp_path)
    script = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); time.sleep(60)"
    s._spawn("stubborn", [sys.executable, "-c", script], None, os.environ, tmp_path)
    deadline = time.monotonic() + 10
    while b"up" not in Path(s.log_dir / "stubborn.log").read_bytes() and time.monotonic() < deadline:
        time.sleep(0.05)
    started = time.monotonic()
    s._stop(["stubborn"], timeout=0.5)
    assert not s.is_running("stubborn")
    assert time.monotonic() - started < 5


def test_a_process_that_dies_during_startup_fails_fast_with_its_log(tmp_path):
    s = make_stack(tmp_path)
    rec = s._spawn("crasher", [sys.executable, "-c", "raise SystemExit('boom: missing setting')"], None, os.environ, tmp_path)
    with pytest.raises(stack.StackError, match="boom: missing setting"):
        s._wait([rec], lambda r: False, "never", timeout=30)


def test_available_services_are_those_with_a_main_module(tmp_path):
    repo = tmp_path / "repo"
    for name, has_main in (("identity", True), ("claims", True), ("notifications", False)):
        (repo / "services" / name).mkdir(parents=True)
        if has_main:
            (repo / "services" / name / "__main__.py").write_text("")
    s = make_stack(tmp_path, repo=repo)
    assert s.available_services() == ["identity", "claims"]
    with pytest.raises(stack.StackError):
        s.start_service("notifications")


def test_stale_kafka_mode_is_forgotten_when_kafka_is_stopped(tmp_path):
    s = make_stack(tmp_path)
    s.run_dir.mkdir(parents=True)
    s._kafka_mode_file.write_text("3\n")
    assert make_stack(tmp_path).kafka_node_count == 3
    assert make_stack(tmp_path).bootstrap_servers == "127.0.0.1:39092,127.0.0.1:39093,127.0.0.1:39094"
    s.stop_kafka()
    assert make_stack(tmp_path).kafka_node_count == 1


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_signal_goes_to_the_whole_process_group(tmp_path):
    s = make_stack(tmp_path)
    # A parent that forks a worker, like a server with worker processes.
    script = "import subprocess, time; subprocess.Popen(['sleep', '60']); time.sleep(60)"
    rec = s._spawn("parent", [sys.executable, "-c", script], None, os.environ, tmp_path)
    deadline = time.monotonic() + 10
    children: list[int] = []
    while not children and time.monotonic() < deadline:
        children = [int(p) for p in Path(f"/proc/{rec.pid}/task/{rec.pid}/children").read_text().split()]
        time.sleep(0.05)
    assert children
    s._stop(["parent"], timeout=5)
    time.sleep(0.2)
    for pid in children:
        state = stack._proc_stat(pid)
        assert state is None or state[0] in ("Z", "X")
