"""Identity in production refuses to start without an explicitly configured admin secret.

Runs the real entry point (python -m services.identity) as a process; it must exit
before it connects to anything, so no servers are needed.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _run_identity(extra_env: dict[str, str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLATFORM_", "MONGODB_", "KAFKA_"))}
    # Nothing listens there: a process that got past the check would fail differently (or hang).
    env |= {"MONGODB_URI": "mongodb://127.0.0.1:1/", "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1", "PORT": "1"}
    env |= extra_env
    return subprocess.run([sys.executable, "-m", "services.identity"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("secret", [None, "", "local-dev-admin-secret"])
def test_production_without_an_explicit_admin_secret_exits_non_zero_with_a_clear_log_line(secret):
    env = {"PLATFORM_ENV": "production"}
    if secret is not None:
        env["PLATFORM_ADMIN_CLIENT_SECRET"] = secret
    done = _run_identity(env)
    assert done.returncode != 0
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    refusals = [line for line in lines if line["level"] == "critical"]
    assert len(refusals) == 1, done.stdout + done.stderr
    assert "refusing to start" in refusals[0]["msg"] and "PLATFORM_ADMIN_CLIENT_SECRET" in refusals[0]["msg"]
    assert "local-dev-admin-secret" not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr
