"""Bearer-token authentication shared by every /v1 route.

Tokens are JWTs verified against a JWKS: identity's own in local development, any
OIDC issuer's in production. The caller's organisation and role come from the token,
never from the request body.
"""

import asyncio
import time
from dataclasses import dataclass, field
from typing import Annotated, Literal

import httpx
import jwt
from fastapi import Depends, Request

from infra.http.problems import Problem

Role = Literal["operator", "reviewer", "provider"]


@dataclass(frozen=True)
class Principal:
    client_id: str
    role: Role
    organization_id: str | None = None
    npis: tuple[str, ...] = field(default_factory=tuple)
    tin: str | None = None

    @property
    def is_operator(self) -> bool:
        return self.role == "operator"

    def can_see(self, organization_id: str | None) -> bool:
        """Providers see only their organisation; payer roles see every organisation."""
        return self.role in ("operator", "reviewer") or (
            organization_id is not None and organization_id == self.organization_id
        )


class JwksKeys:
    """Caches the issuer's keys; refetches at most every few seconds on an unknown kid."""

    def __init__(self, url: str, min_refresh_seconds: float = 5.0) -> None:
        self.url = url
        self.min_refresh = min_refresh_seconds
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    async def key(self, kid: str) -> jwt.PyJWK | None:
        if kid not in self._keys and time.monotonic() - self._fetched_at > self.min_refresh:
            async with self._lock:
                if kid not in self._keys:
                    await self._fetch()
        return self._keys.get(kid)

    async def _fetch(self) -> None:
        self._fetched_at = time.monotonic()
        try:
            async with httpx.AsyncClient(timeout=3.0) as client:
                response = await client.get(self.url)
                response.raise_for_status()
            self._keys = {k.key_id: k for k in jwt.PyJWKSet.from_dict(response.json()).keys if k.key_id}
        except (httpx.HTTPError, jwt.PyJWKSetError, ValueError):
            pass  # keep the old keys; the caller answers 401 for an unknown key


class TokenVerifier:
    # Clients reuse a token for its lifetime (an hour); verifying its RSA signature on
    # every request cost a noticeable share of an eligibility check's CPU.
    CACHE_SIZE = 10_000

    def __init__(self, keys: JwksKeys, issuer: str, audience: str) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self._verified: dict[str, tuple[Principal, float]] = {}

    async def verify(self, token: str) -> Principal:
        hit = self._verified.get(token)
        if hit is not None:
            principal, expires_at = hit
            if time.time() < expires_at:
                return principal
            del self._verified[token]
        principal, expires_at = await self._verify(token)
        if len(self._verified) >= self.CACHE_SIZE:
            self._verified.clear()
        self._verified[token] = (principal, expires_at)
        return principal

    async def _verify(self, token: str) -> tuple[Principal, float]:
        try:
            header = jwt.get_unverified_header(token)
            key = await self.keys.key(header.get("kid", ""))
            if key is None:
                raise _unauthorized("The token was not signed by a known key.")
            claims = jwt.decode(
                token, key=key, algorithms=["RS256"], audience=self.audience, issuer=self.issuer,
                options={"require": ["exp", "iat", "sub", "role"]},
            )
        except jwt.PyJWTError as exc:
            raise _unauthorized("The token is invalid or expired.") from exc
        role = claims.get("role")
        if role not in ("operator", "reviewer", "provider"):
            raise _unauthorized("The token carries no known role.")
        if role == "provider" and not claims.get("org"):
            raise _unauthorized("A provider token must name its organisation.")
        principal = Principal(
            client_id=claims["sub"], role=role, organization_id=claims.get("org"),
            npis=tuple(claims.get("npis", ())), tin=claims.get("tin"),
        )
        return principal, float(claims["exp"])


def _unauthorized(detail: str) -> Problem:
    return Problem(401, detail, code="unauthorized", headers={"WWW-Authenticate": 'Bearer realm="provider-platform"'})


async def authenticated(request: Request) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise _unauthorized("A bearer token is required.")
    verifier: TokenVerifier = request.app.state.token_verifier
    return await verifier.verify(token.strip())


CurrentPrincipal = Annotated[Principal, Depends(authenticated)]


def require_role(*roles: Role):
    async def dependency(principal: CurrentPrincipal) -> Principal:
        if principal.role not in roles:
            raise Problem(403, "Your role may not use this endpoint.", code="forbidden")
        return principal

    return Depends(dependency)


Operator = Annotated[Principal, require_role("operator")]
Provider = Annotated[Principal, require_role("provider")]


class StaticKeys:
    """Keys known in-process (the issuer verifying its own tokens)."""

    def __init__(self, jwks: list[dict]) -> None:
        self._keys = {k["kid"]: jwt.PyJWK(k) for k in jwks}

    async def key(self, kid: str) -> jwt.PyJWK | None:
        return self._keys.get(kid)
