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


def _failing_lookup(name: str) -> None:
    raise LookupError(f"no member called {name} born 1961-07-04, id M5550001234")


def _logged_exception() -> dict:
    patient = "Zephyrine"  # a local that a verbose traceback would print
    try:
        try:
            _failing_lookup(patient)
        except LookupError as exc:
            raise RuntimeError(f"adjudication failed for {patient}") from exc
    except RuntimeError:
        import sys

        record = _record()
        record.exc_info = sys.exc_info()
    line = JsonFormatter("adjudication").format(record)
    for secret in ("Zephyrine", "1961-07-04", "M5550001234", "no member called", "adjudication failed"):
        assert secret not in line
    return json.loads(line)


def test_a_traceback_keeps_its_frames_not_its_message_nor_locals():
    entry = _logged_exception()
    assert entry["error_type"] == "RuntimeError"
    assert entry["frames"] == [{"file": __file__, "line": entry["frames"][0]["line"], "function": "_logged_exception"}]
    assert isinstance(entry["frames"][0]["line"], int)
    (cause,) = entry["causes"]
    assert cause["error_type"] == "LookupError"
    assert [f["function"] for f in cause["frames"]] == ["_logged_exception", "_failing_lookup"]
    assert all(set(f) == {"file", "line", "function"} for f in cause["frames"])


def test_a_line_has_only_the_formatter_fields_and_the_allow_list():
    from infra.logging import ENTRY_FIELDS, SAFE_FIELDS

    entry = _logged_exception()
    assert set(entry) <= ENTRY_FIELDS | SAFE_FIELDS


def test_an_exception_logged_as_the_message_is_not_printed():
    record = logging.LogRecord("aiokafka", logging.ERROR, __file__, 1, ValueError("Zephyrine 1961-07-04"), None, None)
    line = JsonFormatter("claims").format(record)
    assert json.loads(line)["msg"] == "ValueError"
    assert "Zephyrine" not in line


def test_third_party_messages_keep_their_template_not_their_arguments():
    record = logging.LogRecord("faust.agents", logging.ERROR, __file__, 1, "Agent error: %r", ("Zephyrine",), None)
    assert json.loads(JsonFormatter("adjudication").format(record))["msg"] == "Agent error: %r"


def test_uncaught_exceptions_go_through_the_formatter(capsys):
    import sys
    import threading

    from infra.logging import configure_logging

    saved = (logging.getLogger().handlers[:], logging.getLogger().level, sys.excepthook, threading.excepthook)
    try:
        configure_logging("adjudication")
        try:
            raise KeyError("Zephyrine")
        except KeyError:
            sys.excepthook(*sys.exc_info())
        out = capsys.readouterr()
    finally:
        logging.getLogger().handlers[:], level, sys.excepthook, threading.excepthook = saved
        logging.getLogger().setLevel(level)
        logging.captureWarnings(False)
    entry = json.loads(out.out)
    assert entry["error_type"] == "KeyError" and entry["frames"]
    assert "Zephyrine" not in out.out + out.err
