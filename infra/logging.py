"""JSON logs that cannot carry patient data.

Only allow-listed extra fields are written: an allow-list fails safe where a deny-list
of PHI names would leak the first field nobody thought of. Messages are fixed strings
written by us; payloads are never logged.
"""

import logging
import sys
from datetime import UTC, datetime

import orjson

SAFE_FIELDS = frozenset(
    {
        "service", "event_id", "event_type", "stream", "version", "topic", "partition", "offset",
        "group", "claim_id", "check_id", "authorization_id", "organization_id", "client_id",
        "status", "status_code", "method", "route", "duration_ms", "count", "error_type",
        "attempt", "trace_id", "component", "port", "url",
    }
)


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
            "msg": record.getMessage() if record.name.startswith(("services", "infra")) else record.msg,
        }
        for key, value in record.__dict__.items():
            if key in SAFE_FIELDS:
                entry[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            # The exception type only: exception messages can quote the offending input.
            entry["error_type"] = record.exc_info[0].__name__
        return orjson.dumps(entry, default=str).decode()


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
