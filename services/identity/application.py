"""Identity use cases: registering organisations and clients, issuing tokens."""

import hashlib
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from contracts import topics
from contracts.envelope import new_event
from infra.eventstore import ConcurrencyError, EventStore
from infra.http.problems import Problem
from services.identity.models import ClientIn, ProviderOrganizationIn
from services.identity.secrets_hashing import hash_secret, new_secret, verify_secret
from services.identity.settings import IdentitySettings
from services.identity.signing_keys import SigningKey

_NAMESPACE = uuid.UUID("6f1d3d1e-8a55-4a0e-9a7e-5f7c1f0b9c21")
SOURCE = "/services/identity"


def idempotent_id(scope: str, caller: str, key: str | None) -> str:
    """Same caller + same Idempotency-Key -> same resource id, so a retry finds its first result."""
    return str(uuid.uuid5(_NAMESPACE, f"{scope}:{caller}:{key}")) if key else str(uuid.uuid4())


def fingerprint(body: dict) -> str:
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


@dataclass
class Registered:
    document: dict
    client_secret: str | None
    replayed: bool


class Identity:
    def __init__(self, db: AsyncDatabase, store: EventStore, settings: IdentitySettings, key: SigningKey) -> None:
        self.orgs = db["organizations"]
        self.clients = db["clients"]
        self.store = store
        self.settings = settings
        self.key = key
        self._admin_hash = hash_secret(settings.platform_admin_client_secret)

    async def ensure_indexes(self) -> None:
        await self.orgs.create_index("tin")

    async def register_organization(self, body: ProviderOrganizationIn, caller: str, key: str | None) -> Registered:
        payload = body.model_dump()
        org_id = idempotent_id("organization", caller, key)
        print_ = fingerprint(payload)
        existing = await self.orgs.find_one({"_id": org_id})
        if existing is not None:
            replay = self._replay(existing, print_)
            await self._announce(existing)  # a crash may have come between the insert and the event
            return replay
        client_id = f"org-{org_id[:8]}-{uuid.uuid4().hex[:8]}"
        secret = new_secret()
        now = datetime.now(UTC)
        org = {
            "_id": org_id, "name": body.name, "tin": body.tin, "npis": body.npis,
            "contact_emails": body.contact_emails, "client_id": client_id, "fingerprint": print_,
            "created_at": now,
        }
        # Client first: an organisation document always has a usable client behind it.
        await self.clients.insert_one(
            {"_id": client_id, "role": "provider", "organization_id": org_id, "name": body.name,
             "secret_hash": hash_secret(secret), "created_at": now}
        )
        try:
            await self.orgs.insert_one(org)
        except DuplicateKeyError:
            await self.clients.delete_one({"_id": client_id})
            return self._replay(await self.orgs.find_one({"_id": org_id}), print_)
        await self._announce(org)
        return Registered(org, secret, False)

    async def _announce(self, org: dict) -> None:
        org_id = org["_id"]
        event = new_event(
            source=SOURCE, type="organization.registered", subject=org_id, aggregateversion=1,
            organizationid=org_id, id=str(uuid.uuid5(_NAMESPACE, f"organization.registered:{org_id}")),
            data={"organization_id": org_id, "name": org["name"], "tin": org["tin"], "npis": org["npis"],
                  "contact_emails": org["contact_emails"], "registered_at": org["created_at"].isoformat()},
        )
        try:
            await self.store.append(f"organization-{org_id}", topics.ORGANIZATIONS, event)
        except ConcurrencyError:
            pass  # already announced

    def _replay(self, existing: dict, print_: str) -> Registered:
        if existing.get("fingerprint") != print_:
            raise Problem(409, "This Idempotency-Key was used with a different body.", code="idempotency_conflict")
        return Registered(existing, None, True)

    async def register_client(self, body: ClientIn, caller: str, key: str | None) -> Registered:
        client_id = f"{body.role}-{idempotent_id('client', caller, key)[:18]}"
        print_ = fingerprint(body.model_dump())
        existing = await self.clients.find_one({"_id": client_id})
        if existing is not None:
            return self._replay(existing, print_)
        secret = new_secret()
        doc = {"_id": client_id, "role": body.role, "name": body.name, "organization_id": None,
               "secret_hash": hash_secret(secret), "fingerprint": print_, "created_at": datetime.now(UTC)}
        try:
            await self.clients.insert_one(doc)
        except DuplicateKeyError:
            return self._replay(await self.clients.find_one({"_id": client_id}), print_)
        return Registered(doc, secret, False)

    async def issue_token(self, client_id: str, client_secret: str) -> tuple[str, int]:
        claims = await self._claims_for(client_id, client_secret)
        if claims is None:
            raise Problem(401, "Unknown client or wrong secret.", code="invalid_client",
                          headers={"WWW-Authenticate": 'Basic realm="provider-platform"'})
        now = int(time.time())
        ttl = self.settings.token_ttl_seconds
        claims.update({
            "iss": self.settings.jwt_issuer, "aud": self.settings.jwt_audience, "sub": client_id,
            "iat": now, "nbf": now, "exp": now + ttl, "jti": uuid.uuid4().hex,
        })
        return self.key.sign(claims), ttl

    async def _claims_for(self, client_id: str, client_secret: str) -> dict | None:
        if client_id == self.settings.platform_admin_client_id:
            return {"role": "operator"} if verify_secret(client_secret, self._admin_hash) else None
        client = await self.clients.find_one({"_id": client_id})
        if client is None or not verify_secret(client_secret, client["secret_hash"]):
            return None
        claims: dict = {"role": client["role"]}
        if client.get("organization_id"):
            org = await self.orgs.find_one({"_id": client["organization_id"]})
            if org is None:
                return None
            claims.update({"org": org["_id"], "npis": org["npis"], "tin": org["tin"]})
        return claims

    async def get_organization(self, org_id: str) -> dict | None:
        return await self.orgs.find_one({"_id": org_id})
