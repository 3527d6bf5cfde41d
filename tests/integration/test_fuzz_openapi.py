"""Schemathesis over the merged OpenAPI document finds no server error, as a provider or as an operator.

Bounded: FUZZ_MAX_EXAMPLES (default 15) random cases per operation plus the
boundary-value cases of the coverage phase; about a minute for both roles here.
A failure lists schemathesis' findings and where the services raised (their logs).
"""

from __future__ import annotations

import os

from tests.support import fuzz
from tests.support import stack as stack_support


def test_no_input_makes_any_service_answer_5xx(running_stack):
    runs = fuzz.fuzz(
        running_stack.base_url, stack_support.ADMIN_ID, stack_support.ADMIN_SECRET,
        max_examples=int(os.environ.get("FUZZ_MAX_EXAMPLES", fuzz.DEFAULT_MAX_EXAMPLES)),
    )  # fmt: skip
    failed = [r for r in runs if r.returncode != 0]
    errors = fuzz.server_errors(running_stack.stack.log_dir)
    report = "\n".join(f"===== as {r.role}\n{r.output[-6000:]}" for r in failed)
    assert not failed and not errors, f"{report}\nunhandled errors in the services' logs:\n" + "\n".join(errors)
