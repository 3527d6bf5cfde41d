"""Request and response bodies of the identity API (API.md names).

Every string is bounded and checked for shape here, so bad input is a 422 listing
every failure (or, on the token endpoint, a 400 invalid_request), never a 500.
"""

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError

from infra.http.problems import ProblemDetails
from refdata.codes import is_valid_npi, is_valid_tin, normalize_tin

MAX_NPIS = 100
MAX_CONTACT_EMAILS = 20

# ASCII only, spelled out: `\d` and `\w` also match other scripts' characters.
_EMAIL_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_EMAIL_DOMAIN = r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
_EMAIL = re.compile(rf"({_EMAIL_LOCAL})@({_EMAIL_DOMAIN})")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _npi(value: str) -> str:
    if not is_valid_npi(value):
        raise PydanticCustomError("invalid_npi", "not a valid NPI (10 digits 0-9 with a correct check digit)")
    return value


def _tin(value: str) -> str:
    if not is_valid_tin(value):
        raise PydanticCustomError("invalid_tin", "not a valid TIN (9 digits 0-9, optionally written NN-NNNNNNN)")
    return normalize_tin(value)


def _email(value: str) -> str:
    match = _EMAIL.fullmatch(value)
    # RFC 5321: at most 64 characters before the @, 254 in all (the max_length below).
    if match is None or len(match.group(1)) > 64:
        raise PydanticCustomError("invalid_email", "not a valid email address (ASCII, name@domain.tld)")
    return value


def _no_control_characters(value: str) -> str:
    # Names are shown on operators' screens and copied into events: no line breaks or NULs.
    if _CONTROL.search(value):
        raise PydanticCustomError("control_character", "must not contain control characters")
    return value


# The max_length bounds run before the validators, so no check ever sees a huge string.
Npi = Annotated[str, StringConstraints(max_length=10), AfterValidator(_npi)]
Tin = Annotated[str, StringConstraints(max_length=10), AfterValidator(_tin)]
"""Stored and signed into tokens as 9 digits; "NN-NNNNNNN" is accepted as the same TIN."""
Email = Annotated[str, StringConstraints(strip_whitespace=True, max_length=254), AfterValidator(_email)]
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), AfterValidator(_no_control_characters)
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProviderOrganizationIn(_Strict):
    name: Name
    tin: Tin
    npis: list[Npi] = Field(min_length=1, max_length=MAX_NPIS)
    contact_emails: list[Email] = Field(default_factory=list, max_length=MAX_CONTACT_EMAILS)


class ClientIn(_Strict):
    role: Literal["reviewer", "operator"]
    name: Name


class TokenRequest(BaseModel):
    """The form of POST /oauth/token. Unknown parameters are ignored (RFC 6749 §3.2)."""

    grant_type: str = Field(min_length=1, max_length=64)
    client_id: str = Field(min_length=1, max_length=200)
    client_secret: str = Field(min_length=1, max_length=500)


# ----------------------------------------------------------------- responses

_SECRET_ONCE = "Shown once, when created; an idempotent replay answers null (the secret is stored only as a hash)."


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int = Field(description="Seconds until the token expires.")


class ProviderOrganizationOut(BaseModel):
    organization_id: str
    client_id: str
    client_secret: str | None = Field(description=_SECRET_ONCE)
    # Echoed as stored (the TIN normalised to 9 digits): additions to API.md's fields.
    name: str
    tin: str
    npis: list[str]
    contact_emails: list[str]


class OrganizationOut(BaseModel):
    organization_id: str
    name: str
    tin: str
    npis: list[str]
    contact_emails: list[str]
    client_id: str


class ClientOut(BaseModel):
    client_id: str
    client_secret: str | None = Field(description=_SECRET_ONCE)
    role: Literal["reviewer", "operator"]
    name: str


class Jwk(BaseModel):
    """An RSA public signing key (RFC 7517)."""

    model_config = ConfigDict(extra="allow")

    kty: Literal["RSA"]
    kid: str
    use: Literal["sig"]
    alg: Literal["RS256"]
    n: str
    e: str


class Jwks(BaseModel):
    keys: list[Jwk]


class OAuthProblemDetails(ProblemDetails):
    """A token endpoint error: problem+json that OAuth2 clients read too (RFC 6749 §5.2)."""

    error: Literal["invalid_request", "invalid_client", "unsupported_grant_type"] | None = Field(
        default=None, description="The OAuth2 error code; absent on 429 and 503."
    )
    error_description: str | None = None
