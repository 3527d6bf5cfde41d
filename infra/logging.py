"""JSON logs that cannot carry patient data.

Only allow-listed extra fields are written: an allow-list fails safe where a deny-list
of PHI names would leak the first field nobody thought of. Messages are fixed strings
written by us; payloads are never logged.

An error keeps its location, never its content: the exception's type and, for each
traceback frame, file, line number and function name. The exception's message and
the frames' locals (and source lines) are dropped, because they can quote the input
that failed, which may be patient data.
"""

import logging
import sys
import threading
from datetime import UTC, datetime
from types import TracebackType

import orjson

SAFE_FIELDS = frozenset(
    {
        "service", "event_id", "event_type", "stream", "version", "topic", "partition", "offset",
        "group", "claim_id", "check_id", "authorization_id", "organization_id", "client_id",
        "status", "status_code", "method", "route", "duration_ms", "count", "error_type",
        "attempt", "trace_id", "component", "port", "url", "payment_run_id", "remittance_id", "step",
    }
)

ENTRY_FIELDS = frozenset({"ts", "level", "logger", "service", "msg", "frames", "causes"})
"""What the formatter itself writes; with SAFE_FIELDS, every key a log line can have."""

_MAX_FRAMES = 50
_MAX_CAUSES = 5


def traceback_frames(tb: TracebackType | None) -> list[dict[str, object]]:
    """Where an exception travelled, outermost call first: file, line, function.

    Read from the frame objects rather than through the traceback module, which
    would also capture source lines and (optionally) locals.
    """
    frames = []
    while tb is not None:
        code = tb.tb_frame.f_code
        frames.append({"file": code.co_filename, "line": tb.tb_lineno, "function": code.co_name})
        tb = tb.tb_next
    # The innermost frames say where it failed; keep those if the stack is deep.
    return frames[-_MAX_FRAMES:]


def _causes(exc: BaseException) -> list[dict[str, object]]:
    """The exceptions behind this one (raise ... from, or raised while handling)."""
    causes: list[dict[str, object]] = []
    seen = {id(exc)}
    current = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    while current is not None and id(current) not in seen and len(causes) < _MAX_CAUSES:
        seen.add(id(current))
        causes.append({"error_type": type(current).__name__, "frames": traceback_frames(current.__traceback__)})
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return causes


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "service": self.service,
            "msg": _message(record),
        }
        for key, value in record.__dict__.items():
            if key in SAFE_FIELDS:
                entry[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            _, exc, tb = record.exc_info
            # The exception type only: exception messages can quote the offending input.
            entry["error_type"] = record.exc_info[0].__name__
            entry["frames"] = traceback_frames(tb)
            if exc is not None and (causes := _causes(exc)):
                entry["causes"] = causes
        return orjson.dumps(entry, default=str).decode()


def _message(record: logging.LogRecord) -> str:
    if not isinstance(record.msg, str):
        # logger.error(exc) and the like: str() of the object is its (unvetted) message.
        return type(record.msg).__name__
    if record.name.startswith(("services", "infra")):
        return record.getMessage()
    # Third-party loggers interpolate arguments we do not control (a failing
    # request, an exception's repr); their fixed template says what happened.
    return record.msg


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Access logs print raw URLs, whose query strings can hold member ids; our
    # middleware logs the route template instead.
    logging.getLogger("uvicorn.access").disabled = True
    for noisy in ("aiokafka", "kafka", "faust", "mode", "pymongo", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel("WARNING")
    # What Python itself would print to stderr (warnings, an exception that ends the
    # process or a thread) goes through the same formatter instead.
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_in_thread


_uncaught = logging.getLogger("infra.uncaught")


def _log_uncaught(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    if issubclass(exc_type, KeyboardInterrupt):
        return
    _uncaught.critical("uncaught exception", exc_info=(exc_type, exc, tb))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    _uncaught.error("uncaught exception in a thread",
                    exc_info=(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback))
