"""scrypt runs off the event loop, in a bounded pool."""

import asyncio

import pytest

from services.identity.hashing_pool import HashingBusy, HashingPool
from services.identity.secrets_hashing import hash_secret


@pytest.fixture
def pool():
    hashing = HashingPool(workers=1, max_pending=2)
    yield hashing
    hashing.close()


async def test_verification_leaves_the_event_loop_free(pool):
    encoded = hash_secret("s3cret")
    verifying = asyncio.create_task(pool.verify("s3cret", encoded))
    await asyncio.sleep(0)  # the task has run its first step: on the loop, that would be the whole scrypt
    assert not verifying.done()
    assert await verifying is True
    assert await pool.verify("wrong", encoded) is False


async def test_more_waiting_hashes_than_the_pool_accepts_are_refused_at_once(pool):
    encoded = hash_secret("s3cret")
    running = [asyncio.create_task(pool.verify("s3cret", encoded)) for _ in range(2)]
    await asyncio.sleep(0)
    with pytest.raises(HashingBusy):
        await pool.verify("s3cret", encoded)
    assert await asyncio.gather(*running) == [True, True]
    assert await pool.verify("s3cret", encoded) is True  # slots are given back


async def test_hashes_made_in_the_pool_verify(pool):
    encoded = await pool.hash("another")
    assert encoded.startswith("scrypt$")
    assert await pool.verify("another", encoded)


async def test_a_burst_for_one_key_does_not_queue_in_front_of_another_key():
    hashing = HashingPool(workers=2, max_pending=64, per_key=1)
    try:
        encoded = hash_secret("s3cret")
        burst = [asyncio.create_task(hashing.verify("s3cret", encoded, key="client-a")) for _ in range(12)]
        await asyncio.sleep(0)
        assert await hashing.verify("s3cret", encoded, key="client-b")
        # client-a's hashes run one at a time, so client-b's (on the other worker) is done
        # long before the burst is. The margin is wide on purpose: on a loaded machine
        # threads are scheduled unevenly, but queueing behind the burst would finish it all.
        assert sum(task.done() for task in burst) < 6
        assert await asyncio.gather(*burst) == [True] * 12
        assert not hashing._keys  # nothing kept for keys without work in flight
    finally:
        hashing.close()
