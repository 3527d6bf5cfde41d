"""RFC 9457 problem+json for every error, listing every validation failure."""

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"

_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Validation failed",
    429: "Too many requests",
    500: "Internal error",
    503: "Service unavailable",
}

# A machine-readable code for every problem, also for those raised without one
# (FastAPI's own 404/405, a body parse error).
_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}


class ProblemError(BaseModel):
    """One failed check of the request: where, which rule, and what it means."""

    loc: str = Field(description='Where: a body field as written in the request ("lines[0].units"), or "query.limit", "header.idempotency-key", ...')
    code: str = Field(description="The rule that failed (missing, int_parsing, invalid_npi, ...).")
    message: str


class ProblemDocument(BaseModel):
    """The body of every error response: RFC 9457 problem details."""

    model_config = ConfigDict(title="Problem", extra="allow")

    type: str = Field(description="A URI naming the kind of problem.")
    title: str
    status: int
    detail: str
    code: str = Field(description="A machine-readable code of the problem (not_found, validation, idempotency_conflict, ...).")
    instance: str | None = Field(default=None, description="The path of the request.")
    errors: list[ProblemError] | None = Field(default=None, description="Every failed check, for 422 and 400 problems.")


# What each documented status means on any route (routes may raise more specific details).
PROBLEM_DESCRIPTIONS = {
    400: "The body could not be parsed at all (e.g. JSON that is not UTF-8, a broken form or multipart body).",
    401: "No bearer token, or one that is invalid or expired.",
    403: "The token's role may not use this operation.",
    404: "No such resource, or one the caller's organisation may not see.",
    409: "The Idempotency-Key was already used with a different body, or the resource changed meanwhile.",
    413: "The request body is larger than the service accepts.",
    422: "The request failed validation; every failure is listed in errors.",
    500: "An unexpected error; it has been logged (without the request's data).",
}


def document_problems(schema: dict[str, Any], statuses_by_operation: dict[tuple[str, str], set[int]]) -> dict[str, Any]:
    """Document problem+json responses in an OpenAPI document, in place.

    statuses_by_operation maps (path, method) to the problem statuses the operation
    can answer with. FastAPI's application/json 422 (HTTPValidationError) is replaced
    by the problem the handlers really send.
    """
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    definitions = ProblemDocument.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(definitions.pop("$defs", {}))
    components["Problem"] = definitions
    ref = {"$ref": "#/components/schemas/Problem"}
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            statuses = statuses_by_operation.get((path, method))
            if statuses is None:
                continue
            responses = operation.setdefault("responses", {})
            # Errors a route declares itself are problems too, whatever FastAPI assumed.
            declared = {int(code) for code in responses if code.isdigit() and int(code) >= 400}
            for status in sorted(statuses | declared):
                existing = responses.get(str(status), {})
                declared_problem = existing.get("content", {}).get(PROBLEM_JSON)
                if declared_problem is not None:
                    declared_problem.setdefault("schema", ref)
                    existing["content"] = {PROBLEM_JSON: declared_problem}
                    continue
                default = PROBLEM_DESCRIPTIONS.get(status, _TITLES.get(status, "Error"))
                own = existing.get("description")
                responses[str(status)] = {
                    "description": own if own and status != 422 else default,
                    "content": {PROBLEM_JSON: {"schema": ref}},
                }
    # FastAPI's validation error models are referenced by nothing now.
    text = repr(schema.get("paths"))
    for name in ("HTTPValidationError", "ValidationError"):
        if f"#/components/schemas/{name}'" not in text:
            components.pop(name, None)
    return schema


class Problem(Exception):
    """Raise from a route to answer with problem+json."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        errors: list[dict[str, str]] | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        extensions: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors
        self.code = code
        self.headers = headers
        self.extensions = extensions
        """Extra members (RFC 9457 §3.2), e.g. OAuth2's `error` on the token endpoint."""


def problem_response(
    status: int,
    detail: str,
    *,
    instance: str | None = None,
    errors: list[dict[str, str]] | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
    extensions: dict[str, Any] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"https://provider-platform.example/problems/{code or status}",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "code": code or _CODES.get(status, "error"),
    }
    if instance:
        body["instance"] = instance
    if errors is not None:
        body["errors"] = errors
    for name, value in (extensions or {}).items():
        body.setdefault(name, value)  # never overriding a standard member
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def validation_errors(raw: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Pydantic errors as API.md's {loc, code, message}; never echoing the input value."""
    out = []
    for err in raw:
        loc = [str(p) for p in err.get("loc", ())]
        if err.get("type") == "json_invalid":
            loc = loc[:1]  # its second part is a character offset, not a field: "[1]" misleads
        if loc and loc[0] in ("body", "query", "path", "header"):
            where, rest = loc[0], loc[1:]
        else:
            where, rest = "body", loc
        # Body fields read as in the request ("lines[0].units"); other inputs say where they are.
        path = "" if where == "body" else where
        for part in rest:
            path += f"[{part}]" if part.isdigit() else (f".{part}" if path else part)
        out.append({"loc": path, "code": err.get("type", "invalid"), "message": err.get("msg", "invalid value").removeprefix("Value error, ")})
    return out


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = validation_errors(list(exc.errors()))
        return problem_response(
            422, f"The request has {len(errors)} problem(s).", instance=request.url.path, errors=errors,
            code="validation",
        )

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(
            exc.status, exc.detail, instance=request.url.path, errors=exc.errors, code=exc.code, headers=exc.headers,
            extensions=exc.extensions,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(
            exc.status_code, str(exc.detail), instance=request.url.path, headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        import logging

        route = getattr(request.scope.get("route"), "path", None) or "unmatched"
        logging.getLogger("infra.http").error(
            "unhandled error at %s", error_location(exc), exc_info=exc,
            extra={"method": request.method, "route": route},
        )  # fmt: skip
        return problem_response(500, "An unexpected error occurred; it has been logged.", instance=request.url.path)


# ------------------------------------------------------- OpenAPI description

ProblemDetails = ProblemDocument
"""The name routes use in `responses=` (see problem_responses)."""


def problem_responses(
    descriptions: dict[int, str], model: type[ProblemDocument] | None = None
) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: what each error status means on this route.

    document_problems() (run on every service's OpenAPI) makes each of them
    application/problem+json with the one Problem schema, or with `model`: a
    subclass naming a route's extension members (e.g. OAuth2's `error`).
    """
    if model is None:
        return {status: {"description": description} for status, description in descriptions.items()}
    return {
        status: {
            "model": model,
            "description": description,
            "content": {PROBLEM_JSON: {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}},
        }
        for status, description in descriptions.items()
    }


def error_location(exc: BaseException) -> str:
    """Where an exception was raised, as code locations only ("services/x.py:12 in f").

    The logs carry no exception message (it can quote the input), so without this a
    500 says nothing about where to look. The innermost frame of our own code comes
    first, then the innermost frame overall when that is in a library.
    """
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "unknown"

    def short(frame: traceback.FrameSummary) -> str:
        path = frame.filename.replace("\\", "/")
        for root in ("/services/", "/infra/", "/contracts/", "/refdata/", "/site-packages/"):
            if root in path:
                path = path[path.rindex(root) + 1 :].removeprefix("site-packages/")
                break
        return f"{path}:{frame.lineno} in {frame.name}"

    ours = [f for f in frames if any(r in f.filename for r in ("/services/", "/contracts/", "/refdata/"))]
    ours = ours or [f for f in frames if "/infra/" in f.filename]
    where = [short(ours[-1])] if ours else []
    if not ours or frames[-1] is not ours[-1]:
        where.append(short(frames[-1]))
    return " <- raised in ".join(reversed(where)) if len(where) > 1 else where[0]
