"""Request and response bodies of the identity API."""

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from refdata.codes import is_valid_npi, is_valid_tin, normalize_tin


def _npi(value: str) -> str:
    if not is_valid_npi(value):
        raise ValueError("not a valid NPI (10 digits with a correct check digit)")
    return value


def _tin(value: str) -> str:
    if not is_valid_tin(value):
        raise ValueError("not a valid TIN (9 digits, optionally NN-NNNNNNN)")
    return normalize_tin(value)


Npi = Annotated[str, AfterValidator(_npi)]
Tin = Annotated[str, AfterValidator(_tin)]
Email = Annotated[str, Field(pattern=r"^[^@\s]{1,64}@[^@\s]+\.[A-Za-z]{2,}$", max_length=254)]


class ProviderOrganizationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    tin: Tin
    npis: list[Npi] = Field(min_length=1, max_length=100)
    contact_emails: list[Email] = Field(default_factory=list, max_length=20)


class ProviderOrganizationOut(BaseModel):
    organization_id: str
    client_id: str
    client_secret: str | None = Field(
        description="Shown once, when created; an idempotent replay does not repeat it."
    )
    name: str
    tin: str
    npis: list[str]
    contact_emails: list[str]


class ClientIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["reviewer", "operator"]
    name: str = Field(min_length=1, max_length=200)


class ClientOut(BaseModel):
    client_id: str
    client_secret: str | None
    role: str
    name: str


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int
