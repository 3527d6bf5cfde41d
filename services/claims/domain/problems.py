"""One failed check, in the form the API's problem+json `errors` list uses."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Iterable, Sequence

CLAIM = ""
"""loc of a problem with the claim as a whole (e.g. a duplicate claim)."""


@dataclass(frozen=True)
class Problem:
    loc: str
    """Path into the request body: "lines[0].procedure_code", "" for the whole claim."""
    code: str
    """Stable machine code, e.g. "unknown_procedure_code"."""
    message: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def loc_text(path: Sequence[str | int]) -> str:
    """("lines", 0, "units") -> "lines[0].units"."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


def problems_from_validation_errors(errors: Iterable[dict[str, Any]]) -> list[Problem]:
    """Translate pydantic's `ValidationError.errors()` (or FastAPI's
    `RequestValidationError.errors()`, whose locs start with "body") into
    Problems, so structural failures and business edits read the same way."""
    problems = []
    for error in errors:
        path = list(error.get("loc", ()))
        if path and path[0] == "body":
            path = path[1:]
        problems.append(Problem(loc_text(path), str(error["type"]), str(error["msg"])))
    return problems
