"""When the key source cannot be reached, a valid token is answered 503 with Retry-After, not 401.

Real sockets on loopback: one port where nothing listens (connection refused) and one
that accepts connections and never answers (a hung issuer).
"""

import asyncio
import socket
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from infra.http.auth import JwksKeys, TokenVerifier
from infra.http.problems import Problem

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def token() -> str:
    now = int(time.time())
    return jwt.encode({"sub": "c1", "role": "operator", "iss": "iss", "aud": "aud", "iat": now, "exp": now + 60},
                      KEY, algorithm="RS256", headers={"kid": "k1"})


@pytest.fixture
def refusing_url():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now: connecting is refused
    return f"http://127.0.0.1:{port}/.well-known/jwks.json"


@pytest.fixture
def hanging_url():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)  # the kernel completes handshakes; nobody ever reads or answers
    yield f"http://127.0.0.1:{server.getsockname()[1]}/.well-known/jwks.json"
    server.close()


async def _assert_503(verifier: TokenVerifier, within: float) -> None:
    started = time.monotonic()
    with pytest.raises(Problem) as raised:
        await verifier.verify(token())
    assert time.monotonic() - started < within
    assert raised.value.status == 503
    assert int(raised.value.headers["Retry-After"]) >= 1


async def test_a_refused_connection_to_the_key_source_is_503(refusing_url):
    verifier = TokenVerifier(JwksKeys(refusing_url), "iss", "aud")
    await _assert_503(verifier, within=3.0)


async def test_a_key_source_that_never_answers_is_503_at_the_deadline_for_every_waiter(hanging_url):
    verifier = TokenVerifier(JwksKeys(hanging_url, fetch_timeout_seconds=0.5), "iss", "aud")
    started = time.monotonic()
    results = await asyncio.gather(*(verifier.verify(token()) for _ in range(8)), return_exceptions=True)
    assert time.monotonic() - started < 3.0
    assert all(isinstance(r, Problem) and r.status == 503 for r in results), results
    assert all(int(r.headers["Retry-After"]) >= 1 for r in results)
