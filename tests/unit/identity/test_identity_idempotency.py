"""Identity's creating POSTs go through infra/idempotency.py and keep the ids they always had."""

import uuid

import pytest

from infra.http.problems import Problem
from infra.idempotency import derive_id
from services.identity.application import NAMESPACE, Identity, client_id_for, client_request, organization_request
from services.identity.hashing_pool import HashingPool
from services.identity.models import ClientIn, ProviderOrganizationIn
from services.identity.settings import IdentitySettings
from services.identity.signing_keys import SigningKey
from tests.unit.identity.fakes import FakeDb, FakeStore

ORG = {"name": "Clinic", "tin": "123456789", "npis": ["1234567893"], "contact_emails": ["billing@clinic.example"]}


def _before(scope: str, caller: str, key: str) -> str:
    """Identity's own formula before it used infra/idempotency.py (services/identity/application.py)."""
    return str(uuid.uuid5(uuid.UUID("6f1d3d1e-8a55-4a0e-9a7e-5f7c1f0b9c21"), f"{scope}:{caller}:{key}"))


@pytest.mark.parametrize("caller, key", [("platform-admin", "k-1"), ("operator-abc", "2026-01-01:clinic/7"),
                                         ("", "x"), ("a:b", "c:d")])
def test_derived_ids_are_the_ones_identity_always_derived(caller, key):
    org = organization_request(ProviderOrganizationIn.model_validate(ORG), caller, key)
    client = client_request(ClientIn(role="reviewer", name="R"), caller, key)
    assert org.resource_id == derive_id(NAMESPACE, caller, key, "organization") == _before("organization", caller, key)
    assert client_id_for("reviewer", client) == f"reviewer-{_before('client', caller, key)[:18]}"


def test_known_ids_do_not_move():
    # Pinned literals: registrations made before this change are found again by their retries.
    org = organization_request(ProviderOrganizationIn.model_validate(ORG), "platform-admin", "k-1")
    client = client_request(ClientIn(role="operator", name="Ops"), "platform-admin", "k-1")
    assert org.resource_id == "a0cca1bd-351b-5c44-af23-39cc022ffa79"
    assert client_id_for("operator", client) == "operator-2e407cd6-20df-5f8c"


def test_without_a_key_every_request_is_a_new_resource():
    body = ProviderOrganizationIn.model_validate(ORG)
    assert organization_request(body, "op", None).resource_id != organization_request(body, "op", None).resource_id


@pytest.fixture
async def identity():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    hashing = HashingPool(workers=1)
    service = Identity(FakeDb(), FakeStore(), IdentitySettings(), SigningKey("kid-1", pem), "admin-secret", hashing)
    yield service
    hashing.close()


async def test_an_organisation_replayed_with_the_same_body_is_the_same_registration(identity):
    body = ProviderOrganizationIn.model_validate(ORG)
    first = await identity.register_organization(body, "op", "k")
    again = await identity.register_organization(ProviderOrganizationIn.model_validate(ORG | {"tin": "12-3456789"}),
                                                 "op", "k")
    assert (first.replayed, again.replayed) == (False, True)
    assert again.document["_id"] == first.document["_id"] and again.document["client_id"] == first.document["client_id"]
    assert first.client_secret and again.client_secret is None  # stored only as a hash: shown once
    assert len(identity.clients.docs) == 1  # no second client behind the replay
    assert [key for key in identity.store.streams] == [(f"organization-{first.document['_id']}", 1)]


async def test_an_organisation_replayed_with_another_body_is_a_conflict(identity):
    await identity.register_organization(ProviderOrganizationIn.model_validate(ORG), "op", "k")
    with pytest.raises(Problem) as refused:
        await identity.register_organization(ProviderOrganizationIn.model_validate(ORG | {"name": "Other"}), "op", "k")
    assert (refused.value.status, refused.value.code) == (409, "idempotency_conflict")
    other_caller = await identity.register_organization(ProviderOrganizationIn.model_validate(ORG), "op-2", "k")
    assert not other_caller.replayed


async def test_a_client_replayed_with_the_same_body_or_another_is_a_replay_or_a_conflict(identity):
    first = await identity.register_client(ClientIn(role="reviewer", name="Review desk"), "op", "k")
    again = await identity.register_client(ClientIn(role="reviewer", name=" Review desk "), "op", "k")
    assert again.replayed and again.document["_id"] == first.document["_id"] and again.client_secret is None
    for other in (ClientIn(role="reviewer", name="Other"), ClientIn(role="operator", name="Review desk")):
        with pytest.raises(Problem) as refused:
            await identity.register_client(other, "op", "k")
        assert refused.value.code == "idempotency_conflict"
    assert len(identity.clients.docs) == 1


async def test_a_registered_client_gets_a_token_with_its_role(identity):
    created = await identity.register_client(ClientIn(role="operator", name="Ops"), "op", None)
    token, ttl = await identity.issue_token(created.document["_id"], created.client_secret, "127.0.0.1")
    assert token and ttl == IdentitySettings().token_ttl_seconds
    with pytest.raises(Problem) as refused:
        await identity.issue_token(created.document["_id"], "wrong", "127.0.0.1")
    assert (refused.value.status, refused.value.code, refused.value.extensions["error"]) == (
        401, "invalid_client", "invalid_client")
