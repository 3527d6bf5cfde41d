"""scrypt off the event loop, in a small bounded pool of threads.

One scrypt costs ~45 ms of CPU here; run on the event loop it stalls every other
request of the process for that long. hashlib.scrypt releases the GIL, so a couple
of threads hash in parallel while the loop goes on serving. The pool is bounded
twice: by its threads (CPU and ~16 MiB of scrypt memory each) and by how many
hashes may wait for one, so that overload is answered at once instead of queueing.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from services.identity.secrets_hashing import hash_secret, verify_secret

T = TypeVar("T")


class HashingBusy(Exception):
    """More hashes are waiting than the pool accepts."""


class HashingPool:
    def __init__(self, workers: int = 2, max_pending: int = 64) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="scrypt")
        self._slots = threading.BoundedSemaphore(max_pending)

    async def verify(self, secret: str, encoded: str) -> bool:
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

    def _release_after(self, fn: Callable[..., T], *args) -> T:
        try:
            return fn(*args)
        finally:
            self._slots.release()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
