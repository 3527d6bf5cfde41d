"""Identity use cases: registering organisations and clients, issuing tokens.

Organisations and clients are plain documents, not event-sourced aggregates: each is
written once (an insert whose `_id` is derived from the Idempotency-Key, so the insert
is also the idempotency record, infra/idempotency.py) and never changed by a command,
so there is no read-decide-append cycle to lose a race in. Registering an organisation
also publishes `organization.registered` through the event store's outbox, as the
single event at version 1 of `organization-<id>`; that append is idempotent by its key.
"""

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from prometheus_client import Counter
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from contracts import topics
from contracts.envelope import new_event
from infra.eventstore import ConcurrencyError, EventStore
from infra.http.problems import Problem
from infra.idempotency import IdempotentRequest, conflict
from services.identity.hashing_pool import HashingBusy, HashingPool
from services.identity.models import ClientIn, ProviderOrganizationIn
from services.identity.oauth import invalid_client
from services.identity.secrets_hashing import hash_secret, new_secret
from services.identity.settings import IdentitySettings
from services.identity.signing_keys import SigningKey
from services.identity.token_rate_limits import Rate, RateLimited, TokenRequestLimiter

TOKEN_REQUESTS_REFUSED = Counter(
    "identity_token_requests_refused_total", "Token requests refused before any secret was checked",
    ["reason"],  # client | address | hashing_busy: never the client id or the address
)

# Fixed forever: ids derived from it are how a retried registration finds its first result.
NAMESPACE = uuid.UUID("6f1d3d1e-8a55-4a0e-9a7e-5f7c1f0b9c21")
SOURCE = "/services/identity"
CLIENT_ROLES = ("reviewer", "operator")


def organization_request(body: ProviderOrganizationIn, caller: str, key: str | None) -> IdempotentRequest:
    return IdempotentRequest.of(NAMESPACE, caller, key, body.model_dump(mode="json"), scope="organization")


def client_request(body: ClientIn, caller: str, key: str | None) -> IdempotentRequest:
    return IdempotentRequest.of(NAMESPACE, caller, key, body.model_dump(mode="json"), scope="client")


def client_id_for(role: str, request: IdempotentRequest) -> str:
    return f"{role}-{request.resource_id[:18]}"


@dataclass
class Registered:
    document: dict
    client_secret: str | None
    replayed: bool


def token_request_limiter(settings: IdentitySettings) -> TokenRequestLimiter:
    s = settings
    return TokenRequestLimiter(
        client_attempts=Rate(s.token_client_attempts_burst, s.token_client_attempts_per_minute),
        client_failures=Rate(s.token_client_failures_burst, s.token_client_failures_per_minute),
        address_attempts=Rate(s.token_address_attempts_burst, s.token_address_attempts_per_minute),
        address_failures=Rate(s.token_address_failures_burst, s.token_address_failures_per_minute),
    )


class Identity:
    def __init__(
        self, db: AsyncDatabase, store: EventStore, settings: IdentitySettings, key: SigningKey,
        admin_secret: str, hashing: HashingPool,
    ) -> None:
        self.orgs = db["organizations"]
        self.clients = db["clients"]
        self.store = store
        self.settings = settings
        self.key = key
        self.hashing = hashing
        self.limiter = token_request_limiter(settings)
        # Once, at startup (before the first request), so not worth the pool.
        self._admin_hash = hash_secret(admin_secret)
        # Unknown client ids are checked against this, with the same scrypt parameters as
        # real secrets: they take as long to refuse as a wrong secret of a real client,
        # so the answer's timing does not tell which client ids exist.
        self._unknown_client_hash = hash_secret(new_secret())

    async def ensure_indexes(self) -> None:
        await self.orgs.create_index("tin")

    async def register_organization(self, body: ProviderOrganizationIn, caller: str, key: str | None) -> Registered:
        request = organization_request(body, caller, key)
        org_id = request.resource_id
        existing = await self.orgs.find_one({"_id": org_id})
        if existing is not None:
            replay = _replay(existing, request)
            await self._announce(existing)  # a crash may have come between the insert and the event
            return replay
        client_id = f"org-{org_id[:8]}-{uuid.uuid4().hex[:8]}"
        secret = new_secret()
        now = datetime.now(UTC)
        org = {
            "_id": org_id, "name": body.name, "tin": body.tin, "npis": body.npis,
            "contact_emails": body.contact_emails, "client_id": client_id, "fingerprint": request.fingerprint,
            "created_at": now,
        }
        # Client first: an organisation document always has a usable client behind it.
        await self.clients.insert_one(
            {"_id": client_id, "role": "provider", "organization_id": org_id, "name": body.name,
             "secret_hash": await self._hash(secret), "created_at": now}
        )
        try:
            await self.orgs.insert_one(org)
        except DuplicateKeyError:
            # A concurrent retry with the same key won the insert.
            await self.clients.delete_one({"_id": client_id})
            return _replay(await self.orgs.find_one({"_id": org_id}), request)
        await self._announce(org)
        return Registered(org, secret, False)

    async def _announce(self, org: dict) -> None:
        org_id = org["_id"]
        event = new_event(
            source=SOURCE, type="organization.registered", subject=org_id, aggregateversion=1,
            organizationid=org_id, id=str(uuid.uuid5(NAMESPACE, f"organization.registered:{org_id}")),
            data={"organization_id": org_id, "name": org["name"], "tin": org["tin"], "npis": org["npis"],
                  "contact_emails": org["contact_emails"], "registered_at": org["created_at"].isoformat()},
        )
        try:
            await self.store.append(f"organization-{org_id}", topics.ORGANIZATIONS, event)
        except ConcurrencyError:
            pass  # already announced

    async def register_client(self, body: ClientIn, caller: str, key: str | None) -> Registered:
        request = client_request(body, caller, key)
        client_id = client_id_for(body.role, request)
        if key:
            existing = await self.clients.find_one({"_id": client_id})
            if existing is not None:
                return _replay(existing, request)
            # The role is part of the id: the same key used for the other role is another body.
            for role in CLIENT_ROLES:
                if role != body.role and await self.clients.find_one({"_id": client_id_for(role, request)}, {"_id": 1}):
                    raise conflict()
        secret = new_secret()
        doc = {"_id": client_id, "role": body.role, "name": body.name, "organization_id": None,
               "secret_hash": await self._hash(secret), "fingerprint": request.fingerprint,
               "created_at": datetime.now(UTC)}
        try:
            await self.clients.insert_one(doc)
        except DuplicateKeyError:
            return _replay(await self.clients.find_one({"_id": client_id}), request)
        return Registered(doc, secret, False)

    async def issue_token(self, client_id: str, client_secret: str, address: str) -> tuple[str, int]:
        try:
            self.limiter.admit(client_id, address)
        except RateLimited as exc:
            TOKEN_REQUESTS_REFUSED.labels(exc.limit).inc()
            raise Problem(429, f"Too many token requests; retry in {exc.retry_after_seconds} s.", code="rate_limited",
                          headers={"Retry-After": str(exc.retry_after_seconds)}) from exc
        claims = await self._claims_for(client_id, client_secret)
        if claims is None:
            self.limiter.failed(client_id, address)
            raise invalid_client()
        now = int(time.time())
        ttl = self.settings.token_ttl_seconds
        claims.update({
            "iss": self.settings.jwt_issuer, "aud": self.settings.jwt_audience, "sub": client_id,
            "iat": now, "nbf": now, "exp": now + ttl, "jti": uuid.uuid4().hex,
        })
        return self.key.sign(claims), ttl

    async def _claims_for(self, client_id: str, client_secret: str) -> dict | None:
        if client_id == self.settings.platform_admin_client_id:
            return {"role": "operator"} if await self._verify(client_id, client_secret, self._admin_hash) else None
        client = await self.clients.find_one({"_id": client_id})
        encoded = client["secret_hash"] if client is not None else self._unknown_client_hash
        if not await self._verify(client_id, client_secret, encoded) or client is None:
            return None
        claims: dict = {"role": client["role"]}
        if client.get("organization_id"):
            org = await self.orgs.find_one({"_id": client["organization_id"]})
            if org is None:
                return None
            claims.update({"org": org["_id"], "npis": org["npis"], "tin": org["tin"]})
        return claims

    async def _verify(self, client_id: str, secret: str, encoded: str) -> bool:
        try:
            return await self.hashing.verify(secret, encoded, key=client_id)
        except HashingBusy as exc:
            TOKEN_REQUESTS_REFUSED.labels("hashing_busy").inc()
            raise _busy() from exc

    async def _hash(self, secret: str) -> str:
        try:
            return await self.hashing.hash(secret)
        except HashingBusy as exc:
            raise _busy() from exc

    async def get_organization(self, org_id: str) -> dict | None:
        return await self.orgs.find_one({"_id": org_id})


def _replay(existing: dict, request: IdempotentRequest) -> Registered:
    """The first registration's answer (without its secret), or 409 idempotency_conflict."""
    # Documents keep the fingerprint under `fingerprint` (the event store's meta calls it body_sha256).
    request.check(existing.get("fingerprint"))
    return Registered(existing, None, True)


def _busy() -> Problem:
    return Problem(503, "Identity is busy verifying secrets; retry shortly.", code="busy", headers={"Retry-After": "1"})
