"""Schemathesis over the platform's merged OpenAPI document, once as a provider and once as an operator.

    python -m tests.support.fuzz [--base-url URL] [--max-examples N] [--seed N]

Against a running stack (`make run` in another shell: `make fuzz`; the integration
test tests/integration/test_fuzz_openapi.py uses its own). The only check is
not_a_server_error: a 5xx answer to any input, valid or not, is a bug. Each
finding names the operation and the input; the traceback is in the service's log
(<STACK_HOME>/logs/<service>.log, "unhandled error"). Exit status 1 on findings.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.client import fresh_tin, luhn_npi

DEFAULT_MAX_EXAMPLES = 15
DEFAULT_SEED = 20261201
# coverage: boundary values of every constraint (the longest string, the largest
# integer, ...), where unbounded request models break; fuzzing: random cases, at
# most --max-examples per operation. Both roles together take about a minute here.
PHASES = os.environ.get("FUZZ_PHASES", "examples,coverage,fuzzing")


@dataclass
class FuzzRun:
    role: str
    returncode: int
    output: str


def tokens(base_url: str, admin_id: str, admin_secret: str) -> dict[str, str]:
    """An operator token, and the token of a provider organisation registered for the run."""
    with httpx.Client(base_url=base_url, timeout=30.0) as http:

        def token(client_id: str, secret: str) -> str:
            response = http.post("/oauth/token", data={
                "grant_type": "client_credentials", "client_id": client_id, "client_secret": secret})  # fmt: skip
            response.raise_for_status()
            return response.json()["access_token"]

        operator = token(admin_id, admin_secret)
        org = http.post(
            "/v1/admin/provider-organizations",
            headers={"Authorization": f"Bearer {operator}"},
            json={"name": f"Fuzz clinic {uuid.uuid4().hex[:6]}", "tin": fresh_tin(), "npis": [luhn_npi()],
                  "contact_emails": ["fuzz@clinic.example"]},  # fmt: skip
        )
        org.raise_for_status()
        body = org.json()
        return {"provider": token(body["client_id"], body["client_secret"]), "operator": operator}


def schemathesis_cli() -> list[str]:
    st = Path(sys.executable).with_name("st")
    return [str(st)] if st.exists() else [shutil.which("st") or "st"]


def run(
    base_url: str,
    token: str,
    role: str,
    *,
    max_examples: int = DEFAULT_MAX_EXAMPLES,
    seed: int = DEFAULT_SEED,
    # One worker: with two, schemathesis's coverage phase calls ast.parse from two threads,
    # which CPython 3.11.7 cannot do safely ("SystemError: AST constructor recursion depth
    # mismatch", CPython gh-106905, fixed in later 3.11 releases): a crash of the tool, not a finding.
    workers: int = 1,
    report_dir: Path | None = None,
    timeout: float = 600,
) -> FuzzRun:
    cmd = [
        *schemathesis_cli(), "run", f"{base_url}/openapi.json",
        "--checks", "not_a_server_error",
        "--phases", PHASES,
        "--max-examples", str(max_examples),
        "--seed", str(seed),
        "--workers", str(workers),
        "--request-timeout", "30",
        "--header", f"Authorization: Bearer {token}",
        "--suppress-health-check", "all",
        "--warnings", "off",
    ]  # fmt: skip
    if report_dir is not None:
        cmd += ["--report", "junit", "--report-junit-path", str(report_dir / f"schemathesis-{role}.xml")]
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "160"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    # The token would be in the output's reproduction commands: no credentials in logs.
    output = (proc.stdout + proc.stderr).replace(token, "<token>")
    return FuzzRun(role, proc.returncode, output)


def fuzz(base_url: str, admin_id: str, admin_secret: str, **kwargs) -> list[FuzzRun]:
    return [run(base_url, tok, role, **kwargs) for role, tok in tokens(base_url, admin_id, admin_secret).items()]


def server_errors(log_dir: Path) -> list[str]:
    """The services' "unhandled error" log lines: route, error type and code location, no data."""
    import json

    found = []
    for log in sorted(log_dir.glob("*.log")):
        for line in log.read_text(errors="replace").splitlines():
            if '"unhandled error' not in line:
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            found.append(f"{log.stem}: {entry.get('method')} {entry.get('route')}: {entry.get('error_type')} "
                         f"{entry.get('msg', '').removeprefix('unhandled error ')}")  # fmt: skip
    return sorted(set(found))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", default=os.environ.get("PORTAL_BASE_URL", "http://127.0.0.1:8080"))
    parser.add_argument("--max-examples", type=int, default=DEFAULT_MAX_EXAMPLES)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--logs", type=Path, default=None, help="the stack's log dir, to list the tracebacks' locations")
    args = parser.parse_args(argv)
    admin = (os.environ.get("PLATFORM_ADMIN_CLIENT_ID", "platform-admin"),
             os.environ.get("PLATFORM_ADMIN_CLIENT_SECRET", "local-dev-admin-secret"))  # fmt: skip
    runs = fuzz(args.base_url.rstrip("/"), *admin, max_examples=args.max_examples, seed=args.seed, workers=args.workers)
    for r in runs:
        print(f"===== schemathesis as {r.role}: exit {r.returncode}\n{r.output}")
    if args.logs:
        errors = server_errors(args.logs)
        print(f"===== {len(errors)} distinct unhandled error(s) in {args.logs}", *errors, sep="\n")
    return 0 if all(r.returncode == 0 for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
