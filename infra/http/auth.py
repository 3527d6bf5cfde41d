"""Bearer-token authentication shared by every /v1 route.

Tokens are JWTs verified against a JWKS: identity's own in local development, any
OIDC issuer's in production. The caller's organisation and role come from the token,
never from the request body.
"""

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Literal

import httpx
import jwt
from fastapi import Depends, Request

from infra.http.problems import Problem

log = logging.getLogger(__name__)

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


class KeysUnavailable(Exception):
    """The issuer's keys cannot be had right now (key source unreachable, failing or too slow)."""

    def __init__(self, retry_after: float) -> None:
        super().__init__("signing keys unavailable")
        self.retry_after = retry_after


JwksFetch = Callable[[], Awaitable[dict]]


class JwksKeys:
    """The issuer's keys, fetched by one request at a time and shared by all (single flight).

    A request whose kid is not cached waits for the fetch in flight, or starts it; a
    fetch ends within `fetch_timeout_seconds`. An unknown kid answers None ("not signed
    by a known key") only when a fetch succeeded within the last `min_refresh_seconds`,
    so a flood of made-up kids costs the issuer at most one fetch per that interval.
    When the keys cannot be fetched, KeysUnavailable (503): a valid token must not be
    called invalid only because its issuer was out of reach for a moment.
    """

    def __init__(
        self,
        url: str,
        min_refresh_seconds: float = 5.0,
        *,
        fetch_timeout_seconds: float = 3.0,
        retry_after_failure_seconds: float = 1.0,
        fetch: JwksFetch | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.min_refresh = min_refresh_seconds
        self.fetch_timeout = fetch_timeout_seconds
        self.failure_backoff = retry_after_failure_seconds
        self._fetch_document = fetch or self._http_get
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._last_fetch: tuple[float, bool] | None = None  # (when it ended, whether it succeeded)
        self._inflight: asyncio.Task[bool] | None = None

    async def key(self, kid: str) -> jwt.PyJWK | None:
        found = self._keys.get(kid)
        if found is not None:
            return found
        if self._inflight is None:
            if self._last_fetch is not None:
                ended, succeeded = self._last_fetch
                age = self._clock() - ended
                if succeeded and age < self.min_refresh:
                    return None  # the keys are fresh and this kid is not among them
                if not succeeded and age < self.failure_backoff:
                    raise KeysUnavailable(self.failure_backoff - age)
            self._inflight = asyncio.create_task(self._refresh())
        # Shielded: a caller that gives up (its client went away) must not cancel the
        # fetch that the other callers are waiting for.
        if not await asyncio.shield(self._inflight):
            raise KeysUnavailable(self.failure_backoff)
        return self._keys.get(kid)

    async def _refresh(self) -> bool:
        try:
            async with asyncio.timeout(self.fetch_timeout):
                document = await self._fetch_document()
            listed = document.get("keys")
            # An empty set is an answer (no key is valid); PyJWKSet refuses to hold one.
            keys = {} if listed == [] else {k.key_id: k for k in jwt.PyJWKSet.from_dict(document).keys if k.key_id}
        except Exception as exc:  # noqa: BLE001 - whatever the reason, the keys could not be had
            log.warning("JWKS fetch failed", extra={"url": self.url, "error_type": type(exc).__name__})
            succeeded = False
        else:
            self._keys = keys  # on failure the old keys stay: they still verify what they signed
            succeeded = True
        self._last_fetch = (self._clock(), succeeded)
        self._inflight = None
        return succeeded

    async def _http_get(self) -> dict:
        async with httpx.AsyncClient(timeout=self.fetch_timeout) as client:
            response = await client.get(self.url)
            response.raise_for_status()
            return response.json()


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
            kid = jwt.get_unverified_header(token).get("kid")
            if not isinstance(kid, str) or not kid:
                raise _unauthorized("The token names no signing key.")
            try:
                key = await self.keys.key(kid)
            except KeysUnavailable as exc:
                raise _keys_unavailable(exc.retry_after) from exc
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


def _keys_unavailable(retry_after: float) -> Problem:
    return Problem(
        503, "The keys to verify tokens cannot be fetched from their issuer right now; retry shortly.",
        code="signing_keys_unavailable", headers={"Retry-After": str(max(1, math.ceil(retry_after)))},
    )


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
