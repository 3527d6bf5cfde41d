import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from infra.http.auth import Principal, StaticKeys, TokenVerifier
from infra.http.problems import Problem

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
JWK = jwt.algorithms.RSAAlgorithm.to_jwk(KEY.public_key(), as_dict=True) | {"kid": "k1", "alg": "RS256"}


def token(**claims) -> str:
    now = int(time.time())
    body = {"sub": "c1", "role": "provider", "org": "o1", "npis": ["1234567893"], "tin": "123456789",
            "iss": "iss", "aud": "aud", "iat": now, "exp": now + 60} | claims
    return jwt.encode(body, KEY, algorithm="RS256", headers={"kid": "k1"})


async def test_a_valid_token_gives_its_principal_and_is_cached():
    verifier = TokenVerifier(StaticKeys([JWK]), "iss", "aud")
    t = token()
    first = await verifier.verify(t)
    assert first.organization_id == "o1" and first.role == "provider" and first.npis == ("1234567893",)
    assert await verifier.verify(t) is first


@pytest.mark.parametrize("claims", [{"aud": "other"}, {"iss": "other"}, {"exp": int(time.time()) - 10},
                                    {"role": "admin"}, {"org": None, "role": "provider"}])
async def test_invalid_tokens_are_401(claims):
    verifier = TokenVerifier(StaticKeys([JWK]), "iss", "aud")
    with pytest.raises(Problem) as raised:
        await verifier.verify(token(**claims))
    assert raised.value.status == 401


async def test_a_cached_token_is_not_trusted_past_its_expiry():
    verifier = TokenVerifier(StaticKeys([JWK]), "iss", "aud")
    expired = token(exp=int(time.time()) - 10)
    # As if it had been verified while still valid and its hour has now passed.
    verifier._verified[expired] = (Principal(client_id="c1", role="provider", organization_id="o1"), time.time() - 1)
    with pytest.raises(Problem):
        await verifier.verify(expired)
    assert expired not in verifier._verified
