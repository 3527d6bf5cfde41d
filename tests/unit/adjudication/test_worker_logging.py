"""The faust worker is started so that mode leaves logging alone (the log files
themselves are checked end to end in tests/integration/test_logs_stay_phi_free.py)."""

import faust

from services.adjudication.worker import worker_for


def test_the_worker_keeps_the_platform_logging():
    worker = worker_for(faust.App("test-adjudication-logging", broker="kafka://127.0.0.1:1"))
    # override_logging would replace the root handlers with plain-text ones at start;
    # redirect_stdouts would turn prints into log records; the banner and spinner
    # would write to stdout outside of any log format.
    assert worker.override_logging is False
    assert worker.redirect_stdouts is False
    assert worker.quiet is True and worker.spinner is None
