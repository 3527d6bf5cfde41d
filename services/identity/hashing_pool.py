"""scrypt off the event loop, in a small bounded pool of threads.

One scrypt costs ~45 ms of CPU here; run on the event loop it stalls every other
request of the process for that long. hashlib.scrypt releases the GIL, so a couple
of threads hash in parallel while the loop goes on serving. The pool is bounded
twice: by its threads (CPU and ~16 MiB of scrypt memory each) and by how many
hashes may wait for one, so that overload is answered at once instead of queueing.
It is also shared fairly: one key (a client id) has at most `per_key` hashes in the
pool at a time, so a burst for one client queues behind itself, not in front of
every other client's token request.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from services.identity.secrets_hashing import hash_secret, verify_secret

T = TypeVar("T")


class HashingBusy(Exception):
    """More hashes are waiting than the pool accepts."""


class HashingPool:
    def __init__(self, workers: int = 2, max_pending: int = 64, per_key: int = 1) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="scrypt")
        self._slots = threading.BoundedSemaphore(max_pending)
        self._per_key = per_key
        self._keys: dict[str, tuple[asyncio.Semaphore, list[int]]] = {}  # key -> (slots, [users])

    async def verify(self, secret: str, encoded: str, *, key: str | None = None) -> bool:
        if key is None:
            return await self._run(verify_secret, secret, encoded)
        async with self._turn_of(key):
            return await self._run(verify_secret, secret, encoded)

    async def hash(self, secret: str) -> str:
        return await self._run(hash_secret, secret)

    async def _run(self, fn: Callable[..., T], *args) -> T:
        if not self._slots.acquire(blocking=False):
            raise HashingBusy
        try:
            future = self._pool.submit(self._release_after, fn, *args)
        except BaseException:
            self._slots.release()
            raise
        # The slot is freed by the thread when the hash is done, not when the caller
        # stops waiting: a caller whose client went away leaves the work running.
        return await asyncio.wrap_future(future)

    @contextlib.asynccontextmanager
    async def _turn_of(self, key: str) -> AsyncIterator[None]:
        if key not in self._keys:
            self._keys[key] = (asyncio.Semaphore(self._per_key), [0])
        slots, users = self._keys[key]
        users[0] += 1
        try:
            async with slots:
                yield
        finally:
            users[0] -= 1
            if users[0] == 0:
                del self._keys[key]  # only keys with work in flight are kept

    def _release_after(self, fn: Callable[..., T], *args) -> T:
        try:
            return fn(*args)
        finally:
            self._slots.release()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
