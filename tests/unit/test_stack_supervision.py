"""The supervisor of `stack.py run`, on stand-in processes (no Kafka or FerretDB needed)."""

from __future__ import annotations

import io
import os
import signal
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "deploy" / "local"))

import stack  # noqa: E402


def make_stack(tmp_path: Path) -> stack.LocalStack:
    return stack.LocalStack(tmp_path / "home", kafka_port=39092, mongo_port=39017, gateway_port=38080,
                            service_port_base=38100, verbose=False)  # fmt: skip


def poll_until(supervisor: stack.Supervisor, done, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "supervisor did not get there in time"
        supervisor.poll()
        time.sleep(0.02)


def test_a_killed_process_is_restarted_with_the_same_command(tmp_path):
    s = make_stack(tmp_path)
    first = s._spawn("sleeper", ["sleep", "30"], None, os.environ, tmp_path)
    out = io.StringIO()
    sup = stack.Supervisor(s, ["sleeper"], base_delay=0.01, out=out)
    try:
        os.kill(first.pid, signal.SIGKILL)
        poll_until(sup, lambda: sup.restarts["sleeper"] == 1 and s.is_running("sleeper"))
        again = s._record("sleeper")
        assert again.pid != first.pid and again.argv == first.argv
        assert "sleeper was killed by signal 9; restarting it" in out.getvalue()
        assert "restarted sleeper" in out.getvalue()
        assert stack._proc_stat(first.pid) is None  # reaped, not left a zombie
    finally:
        s._stop(["sleeper"], timeout=5)


def test_a_process_that_keeps_crashing_is_given_up_on_loudly(tmp_path):
    s = make_stack(tmp_path)
    s._spawn("crasher", [sys.executable, "-c", "raise SystemExit(3)"], None, os.environ, tmp_path)
    out = io.StringIO()
    sup = stack.Supervisor(s, ["crasher"], base_delay=0.01, max_crashes=5, window=60, out=out)
    poll_until(sup, lambda: "crasher" in sup.given_up)
    assert sup.restarts["crasher"] == 4  # the 5th exit within the window ends it
    text = out.getvalue()
    assert text.count("crasher exited with status 3; restarting it") == 4
    assert "GIVING UP on crasher" in text and "5th exit within 60s" in text
    for _ in range(10):  # and it stays given up
        sup.poll()
    assert sup.restarts["crasher"] == 4 and not s.is_running("crasher")


def test_backoff_doubles_up_to_its_cap(tmp_path):
    sup = stack.Supervisor(make_stack(tmp_path), [], base_delay=0.5, max_delay=4)
    assert [sup.delay(n) for n in range(1, 6)] == [0.5, 1, 2, 4, 4]


def test_crashes_outside_the_window_are_forgotten(tmp_path):
    s = make_stack(tmp_path)
    now = [0.0]
    s._spawn("crasher", [sys.executable, "-c", "raise SystemExit(1)"], None, os.environ, tmp_path)
    sup = stack.Supervisor(s, ["crasher"], base_delay=0.0, max_crashes=3, window=10, clock=lambda: now[0],
                           out=io.StringIO())  # fmt: skip
    deadline = time.monotonic() + 20
    while sup.restarts["crasher"] < 6:  # twice the limit, but never 3 within 10 "seconds"
        assert time.monotonic() < deadline and "crasher" not in sup.given_up
        sup.poll()
        if not s.is_running("crasher"):
            now[0] += 6
        time.sleep(0.01)
    s._stop(["crasher"], timeout=5)
