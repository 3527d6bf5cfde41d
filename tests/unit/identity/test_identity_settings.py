"""Which admin secret identity uses, and when it refuses to start (PLATFORM_ENV)."""

import pytest
from pymongo import AsyncMongoClient

from services.identity.application import Identity
from services.identity.hashing_pool import HashingPool
from services.identity.secrets_hashing import hash_secret
from services.identity.settings import LOCAL_ADMIN_CLIENT_SECRET, IdentitySettings, UnsafeConfiguration

STRONG = "9f1c2d3e4b5a69788796a5b4c3d2e1f0"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ("PLATFORM_ENV", "PLATFORM_ADMIN_CLIENT_SECRET", "PLATFORM_ADMIN_CLIENT_ID"):
        monkeypatch.delenv(name, raising=False)


def test_unset_environment_is_local_and_keeps_the_readme_default():
    settings = IdentitySettings()
    assert settings.platform_env == "local"
    assert settings.admin_client_secret() == LOCAL_ADMIN_CLIENT_SECRET


def test_local_uses_an_explicit_secret(monkeypatch):
    monkeypatch.setenv("PLATFORM_ADMIN_CLIENT_SECRET", "test-admin-secret")
    assert IdentitySettings().admin_client_secret() == "test-admin-secret"


@pytest.mark.parametrize("secret", [None, "", LOCAL_ADMIN_CLIENT_SECRET, "x7Qz"])
def test_production_refuses_a_missing_default_or_weak_secret(monkeypatch, secret):
    monkeypatch.setenv("PLATFORM_ENV", "production")
    if secret is not None:
        monkeypatch.setenv("PLATFORM_ADMIN_CLIENT_SECRET", secret)
    with pytest.raises(UnsafeConfiguration) as raised:
        IdentitySettings().admin_client_secret()
    assert "PLATFORM_ADMIN_CLIENT_SECRET" in str(raised.value)
    if secret:
        assert secret not in str(raised.value)


def test_production_accepts_an_explicit_strong_secret(monkeypatch):
    monkeypatch.setenv("PLATFORM_ENV", "production")
    monkeypatch.setenv("PLATFORM_ADMIN_CLIENT_SECRET", STRONG)
    settings = IdentitySettings()
    assert settings.admin_client_secret() == STRONG
    assert STRONG not in repr(settings)  # a SecretStr: never printed with the settings


def test_unknown_client_ids_are_checked_against_a_hash_with_the_real_parameters():
    client = AsyncMongoClient("mongodb://127.0.0.1:1/", connect=False)  # never connects
    hashing = HashingPool(1, 4)
    try:
        identity = Identity(client["x"], None, IdentitySettings(), None, "admin", hashing)
        parameters = identity._unknown_client_hash.split("$")[:4]
        assert parameters == hash_secret("anything").split("$")[:4]
    finally:
        hashing.close()
