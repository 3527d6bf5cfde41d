"""RFC 9457 problem+json for every error, listing every validation failure."""

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
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

        logging.getLogger("infra.http").error("unhandled error", exc_info=exc)
        return problem_response(500, "An unexpected error occurred; it has been logged.", instance=request.url.path)


# ------------------------------------------------------- OpenAPI description
# The shape every handler above writes, for routes' `responses=`: each documented
# error is application/problem+json with this schema.

from pydantic import BaseModel, Field  # noqa: E402 - kept with the additions it serves


class ProblemError(BaseModel):
    loc: str = Field(description='Where: a body path ("lines[0].units"), "" for the whole request, or "query.x".')
    code: str = Field(description="Stable machine code, e.g. unknown_procedure_code.")
    message: str


class ProblemDetails(BaseModel):
    """RFC 9457 problem details, as every error of the platform is answered."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[ProblemError] | None = Field(default=None, description="Every failed check, all at once.")


def problem_responses(
    descriptions: dict[int, str], model: type[ProblemDetails] = ProblemDetails
) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each status documented as application/problem+json.

    `model` is ProblemDetails or a subclass naming a route's extension members.
    """
    return {
        status: {
            "model": model,
            "description": description,
            "content": {PROBLEM_JSON: {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}},
        }
        for status, description in descriptions.items()
    }
