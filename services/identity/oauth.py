"""The token endpoint's request and errors, as RFC 6749 says and problem+json carries them.

OAuth2 clients expect 400 `invalid_request` for a malformed request (not the platform's
usual 422), 400 `unsupported_grant_type`, and 401 `invalid_client` when the client's
credentials fail; they read the code from the JSON member `error`. Each error here is
also an ordinary problem+json (`type` ends with the same code, `errors` lists every
malformed parameter), so the platform's clients need nothing special either.
"""

from typing import Any

from fastapi import Request
from pydantic import ValidationError
from starlette.datastructures import FormData

from infra.http.problems import Problem, validation_errors
from services.identity.models import TokenRequest

FORM = "application/x-www-form-urlencoded"
GRANT_TYPE = "client_credentials"
# RFC 6749 §5.1: a response carrying a credential must not be cached.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def oauth_error(status: int, error: str, detail: str, *, errors: list[dict[str, str]] | None = None,
                headers: dict[str, str] | None = None) -> Problem:
    return Problem(status, detail, code=error, errors=errors, headers={**NO_STORE, **(headers or {})},
                   extensions={"error": error, "error_description": detail})


def invalid_request(errors: list[dict[str, str]]) -> Problem:
    return oauth_error(400, "invalid_request", f"The token request has {len(errors)} problem(s).", errors=errors)


def invalid_client() -> Problem:
    # The client authenticated with form parameters; 401 with a challenge is what §5.2 allows.
    return oauth_error(401, "invalid_client", "Unknown client or wrong secret.",
                       headers={"WWW-Authenticate": 'Basic realm="provider-platform"'})


def unsupported_grant_type() -> Problem:
    return oauth_error(400, "unsupported_grant_type", f"Only grant_type={GRANT_TYPE} is supported.")


def parse_token_request(form: FormData) -> TokenRequest:
    """The validated form, or 400 invalid_request listing every problem (never echoing a value)."""
    fields: dict[str, Any] = {}
    repeated: list[dict[str, str]] = []
    for name in TokenRequest.model_fields:
        values = form.getlist(name)
        if values:
            fields[name] = values[0]
        if len(values) > 1:  # §3.2: parameters must not be included more than once
            repeated.append({"loc": name, "code": "repeated", "message": "given more than once"})
    try:
        parsed = TokenRequest.model_validate(fields)
    except ValidationError as exc:
        raise invalid_request(repeated + validation_errors(list(exc.errors()))) from None
    if repeated:
        raise invalid_request(repeated)
    return parsed


async def token_request(request: Request) -> TokenRequest:
    """The dependency: reads the form itself, so that its errors are OAuth2's 400, not a 422."""
    # A body of another media type parses as an empty form: every parameter is then missing.
    try:
        form = await request.form(max_files=0, max_fields=20)
    except Exception:  # noqa: BLE001 - any parse failure of the body is the client's malformed request
        raise invalid_request([{"loc": "", "code": "malformed_form", "message": "the form cannot be parsed"}]) from None
    return parse_token_request(form)
