import json
import logging

from infra.logging import JsonFormatter


def _record(**extra) -> logging.LogRecord:
    record = logging.LogRecord("services.claims", logging.INFO, __file__, 1, "claim accepted", None, None)
    record.__dict__.update(extra)
    return record


def test_only_allow_listed_fields_are_written():
    line = JsonFormatter("claims").format(
        _record(claim_id="c-1", status="received", member_id="M123", first_name="Ann", date_of_birth="1980-02-03")
    )
    entry = json.loads(line)
    assert entry["claim_id"] == "c-1" and entry["status"] == "received" and entry["service"] == "claims"
    for secret in ("M123", "Ann", "1980-02-03"):
        assert secret not in line


def test_exceptions_keep_their_type_but_not_their_message():
    try:
        raise ValueError("member M123 born 1980-02-03 not found")
    except ValueError:
        import sys

        record = _record()
        record.exc_info = sys.exc_info()
    line = JsonFormatter("claims").format(record)
    assert json.loads(line)["error_type"] == "ValueError"
    assert "M123" not in line and "1980" not in line
