"""JwksKeys: one fetch shared by every waiting request, a deadline, 503 rather than 401 when keys cannot be had.

No I/O: the key source is a coroutine the test controls.
"""

import asyncio
import base64
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from infra.http.auth import JwksKeys, KeysUnavailable, TokenVerifier
from infra.http.problems import Problem

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
JWK = jwt.algorithms.RSAAlgorithm.to_jwk(KEY.public_key(), as_dict=True) | {"kid": "k1", "alg": "RS256", "use": "sig"}


def token(kid: str = "k1", **claims) -> str:
    now = int(time.time())
    body = {"sub": f"c-{kid}", "role": "provider", "org": "o1", "iss": "iss", "aud": "aud", "iat": now,
            "exp": now + 60} | claims
    return jwt.encode(body, KEY, algorithm="RS256", headers={"kid": kid})


class Clock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


class KeySource:
    """Answers when the test says so; counts how often it is asked."""

    def __init__(self, document: dict | None = None) -> None:
        self.document = document if document is not None else {"keys": [JWK]}
        self.calls = 0
        self.release = asyncio.Event()
        self.fail_with: Exception | None = None
        self.hang = False

    async def __call__(self) -> dict:
        self.calls += 1
        if self.hang:
            await asyncio.Event().wait()
        await self.release.wait()
        if self.fail_with is not None:
            raise self.fail_with
        return self.document


async def _until_asked(source: KeySource, times: int = 1) -> None:
    for _ in range(1000):  # bounded: a few loop turns are enough
        if source.calls >= times:
            return
        await asyncio.sleep(0)
    raise AssertionError(f"the key source was asked {source.calls} times, expected {times}")


async def test_requests_arriving_while_the_first_fetch_is_in_flight_all_wait_for_it():
    source = KeySource()
    verifier = TokenVerifier(JwksKeys("jwks", fetch=source, clock=Clock()), "iss", "aud")
    tokens = [token(sub=f"c{i}") for i in range(20)]
    pending = [asyncio.create_task(verifier.verify(t)) for t in tokens]
    await _until_asked(source)
    assert not any(p.done() for p in pending)
    source.release.set()
    principals = await asyncio.gather(*pending)
    assert [p.client_id for p in principals] == [f"c{i}" for i in range(20)]
    assert source.calls == 1


async def test_a_kid_unknown_after_a_fresh_fetch_is_401_and_bogus_kids_cannot_force_refetches():
    clock = Clock()
    source = KeySource()
    source.release.set()
    keys = JwksKeys("jwks", min_refresh_seconds=5.0, fetch=source, clock=clock)
    verifier = TokenVerifier(keys, "iss", "aud")
    results = await asyncio.gather(*(verifier.verify(token(kid=f"bogus-{i}")) for i in range(50)),
                                   return_exceptions=True)
    assert all(isinstance(r, Problem) and r.status == 401 for r in results)
    assert source.calls == 1
    for i in range(50):
        with pytest.raises(Problem) as raised:
            await verifier.verify(token(kid=f"more-bogus-{i}"))
        assert raised.value.status == 401
    assert source.calls == 1  # within min_refresh: answered from the fresh keys
    clock.now += 5.1
    with pytest.raises(Problem):
        await verifier.verify(token(kid="bogus-later"))
    assert source.calls == 2
    assert (await verifier.verify(token())).client_id == "c-k1"  # the real key is still known


async def test_a_failing_key_source_is_503_with_retry_after_never_401():
    clock = Clock()
    source = KeySource()
    source.fail_with = OSError("connection refused")
    source.release.set()
    verifier = TokenVerifier(JwksKeys("jwks", fetch=source, clock=clock), "iss", "aud")
    with pytest.raises(Problem) as raised:
        await verifier.verify(token())
    assert raised.value.status == 503
    assert int(raised.value.headers["Retry-After"]) >= 1
    # Retried within the back-off: no new fetch, still 503, and nothing cached.
    with pytest.raises(Problem) as again:
        await verifier.verify(token())
    assert again.value.status == 503 and source.calls == 1
    clock.now += 1.1
    source.fail_with = None
    assert (await verifier.verify(token())).client_id == "c-k1"
    assert source.calls == 2


@pytest.mark.parametrize("document", [{"keys": "nope"}, {"no": "keys"}, {"keys": [{"kty": "bogus"}]}])
async def test_a_garbled_key_set_is_503(document):
    source = KeySource(document)
    source.release.set()
    verifier = TokenVerifier(JwksKeys("jwks", fetch=source, clock=Clock()), "iss", "aud")
    with pytest.raises(Problem) as raised:
        await verifier.verify(token())
    assert raised.value.status == 503


async def test_an_empty_key_set_is_an_answer_so_the_kid_is_unknown():
    source = KeySource({"keys": []})
    source.release.set()
    verifier = TokenVerifier(JwksKeys("jwks", fetch=source, clock=Clock()), "iss", "aud")
    with pytest.raises(Problem) as raised:
        await verifier.verify(token())
    assert raised.value.status == 401


async def test_a_key_source_that_hangs_gives_every_waiter_503_at_the_deadline_with_one_fetch():
    source = KeySource()
    source.hang = True
    keys = JwksKeys("jwks", fetch_timeout_seconds=0.2, fetch=source, clock=Clock())
    verifier = TokenVerifier(keys, "iss", "aud")
    started = time.monotonic()
    results = await asyncio.gather(*(verifier.verify(token(sub=f"c{i}")) for i in range(10)),
                                   return_exceptions=True)
    assert time.monotonic() - started < 2.0
    assert all(isinstance(r, Problem) and r.status == 503 for r in results), results
    assert source.calls == 1


async def test_a_waiter_that_gives_up_does_not_cancel_the_shared_fetch():
    source = KeySource()
    keys = JwksKeys("jwks", fetch=source, clock=Clock())
    first = asyncio.create_task(keys.key("k1"))
    second = asyncio.create_task(keys.key("k1"))
    await _until_asked(source)
    first.cancel()
    source.release.set()
    assert (await second).key_id == "k1"
    assert first.cancelled()


async def test_old_keys_keep_verifying_while_the_source_is_down():
    clock = Clock()
    source = KeySource()
    source.release.set()
    keys = JwksKeys("jwks", fetch=source, clock=clock)
    assert (await keys.key("k1")) is not None
    source.fail_with = OSError("down")
    clock.now += 60
    with pytest.raises(KeysUnavailable):
        await keys.key("k2-rotated")
    assert (await keys.key("k1")) is not None


@pytest.mark.parametrize("kid", [None, 5, ["k1"], ""])
async def test_a_token_without_a_usable_kid_is_401(kid):
    source = KeySource()
    source.release.set()
    verifier = TokenVerifier(JwksKeys("jwks", fetch=source, clock=Clock()), "iss", "aud")
    header = {"alg": "RS256", "typ": "JWT"} | ({} if kid is None else {"kid": kid})
    signed = token().split(".")
    forged = ".".join([_b64(json.dumps(header).encode()), signed[1], signed[2]])
    with pytest.raises(Problem) as raised:
        await verifier.verify(forged)
    assert raised.value.status == 401
    assert source.calls == 0


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
