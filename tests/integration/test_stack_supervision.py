"""`stack.py run` supervises what it started: a real stack of its own, in a temp home, on its own ports.

Ports: SUPERVISION_PORT_BASE (default 36000) + 92/93 Kafka, +17 FerretDB, +80 gateway,
+101.. services. Uses the provisioned tools of STACK_TOOLS_HOME (default .local).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STACK_PY = REPO / "deploy" / "local" / "stack.py"
BASE = int(os.environ.get("SUPERVISION_PORT_BASE", 36000))
GATEWAY = f"http://127.0.0.1:{BASE + 80}"
SERVICE_PORT_BASE = BASE + 100
START_TIMEOUT = 240.0

_http = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def status_of(url: str) -> int | None:
    try:
        with _http.open(url, timeout=2) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except Exception:  # noqa: BLE001 - not up (yet)
        return None


def stack_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("KAFKA_BOOTSTRAP_SERVERS", "MONGODB_URI")}
    env.update({
        "STACK_HOME": str(home),
        "STACK_TOOLS_HOME": os.environ.get("STACK_TOOLS_HOME") or str(REPO / ".local"),
        "KAFKA_PORT": str(BASE + 92),
        "KAFKA_CONTROLLER_PORT": str(BASE + 93),
        "MONGO_PORT": str(BASE + 17),
        "PORTAL_BASE_URL": GATEWAY,
        "STACK_SERVICE_PORT_BASE": str(SERVICE_PORT_BASE),
        "PLATFORM_ADMIN_CLIENT_SECRET": "supervision-test-secret",
        "LOG_LEVEL": "WARNING",
    })  # fmt: skip
    return env


def records(home: Path) -> dict[str, int]:
    out = {}
    for path in (home / "run").glob("*.pid"):
        try:
            out[path.stem] = json.loads(path.read_text())["pid"]
        except (OSError, ValueError):
            pass  # being rewritten
    return out


def gone(pid: int) -> bool:
    """No such process, not even a zombie waiting to be reaped."""
    return not Path(f"/proc/{pid}").exists()


def wait_for(what: str, condition, timeout: float, run: subprocess.Popen, log: Path) -> float:
    started = time.monotonic()
    while not condition():
        if run.poll() is not None:
            pytest.fail(f"`run` exited ({run.returncode}) while waiting for {what}:\n{log.read_text()[-4000:]}")
        if time.monotonic() - started > timeout:
            pytest.fail(f"{what}: not after {timeout:.0f}s\n{log.read_text()[-4000:]}")
        time.sleep(0.1)
    return time.monotonic() - started


def start_run(home: Path, *args: str) -> tuple[subprocess.Popen, Path]:
    log = home.parent / "run.log"
    with open(log, "wb") as out:
        run = subprocess.Popen([sys.executable, str(STACK_PY), "run", *args], env=stack_env(home),
                               stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    return run, log


def assert_all_gone(pids: dict[str, int], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while (left := {n: p for n, p in pids.items() if not gone(p)}) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, f"still there: {left}"


@pytest.fixture
def home(tmp_path):
    home = tmp_path / "home"
    yield home
    # Whatever a failed test left behind.
    subprocess.run([sys.executable, str(STACK_PY), "stop"], env=stack_env(home), capture_output=True, timeout=120)


def test_a_killed_service_comes_back_and_stop_ends_run_and_everything(home):
    run, log = start_run(home, "--services", "identity,eligibility")
    try:
        wait_for("the gateway's /readyz 200", lambda: status_of(f"{GATEWAY}/readyz") == 200, START_TIMEOUT, run, log)
        before = records(home)
        assert {"run", "kafka", "ferretdb", "identity", "eligibility", "gateway"} <= set(before)
        assert before["run"] == run.pid

        os.kill(before["eligibility"], signal.SIGKILL)
        eligibility = f"http://127.0.0.1:{SERVICE_PORT_BASE + 2}/healthz"
        restarted = wait_for(
            "eligibility restarted and answering /healthz",
            lambda: records(home).get("eligibility") not in (None, before["eligibility"]) and status_of(eligibility) == 200,
            120, run, log,
        )
        wait_for("the gateway's /readyz 200 again", lambda: status_of(f"{GATEWAY}/readyz") == 200, 120, run, log)
        assert gone(before["eligibility"])
        assert "eligibility was killed by signal 9; restarting it" in log.read_text()

        pids = records(home)
        started = time.monotonic()
        stop = subprocess.run([sys.executable, str(STACK_PY), "stop"], env=stack_env(home), capture_output=True,
                              text=True, timeout=180)  # fmt: skip
        assert stop.returncode == 0, stop.stderr
        assert run.wait(timeout=30) == 0, log.read_text()[-4000:]
        ended = time.monotonic() - started
        assert_all_gone(pids)
        assert records(home) == {}
        assert status_of(f"{GATEWAY}/healthz") is None
        print(f"\nrestart after kill -9: {restarted:.1f}s to /healthz 200; `stop` ended `run` in {ended:.1f}s")
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()


def test_ctrl_c_ends_run_and_what_it_started(home):
    run, log = start_run(home, "--infra-only")
    try:
        wait_for("Kafka and FerretDB recorded", lambda: {"run", "kafka", "ferretdb"} <= set(records(home))
                 and "Press Ctrl-C" in log.read_text(), START_TIMEOUT, run, log)  # fmt: skip
        pids = records(home)
        run.send_signal(signal.SIGINT)
        assert run.wait(timeout=90) == 0, log.read_text()[-4000:]
        assert_all_gone(pids)
        assert records(home) == {}
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
