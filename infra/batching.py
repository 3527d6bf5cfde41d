"""Group commit for inserts: many concurrent callers, one insert_many per round.

FerretDB v1 on SQLite commits each insert command as one transaction and serialises
them; at a few hundred requests per second that lock, not the work, dominates tail
latency. Callers here wait for their document to be durable exactly as with
insert_one, but documents arriving while a round is in flight go together in the next
one. No timer by default: an idle collection writes a lone document at once.

`linger` (seconds, default 0) lets the first document of a round wait that long for
company. On FerretDB each command costs about the same whatever it carries, so at a
steady few hundred inserts per second a millisecond or two of waiting halves the
commands; callers that weigh latency above round trips leave it at 0.
"""

import asyncio
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError


class BatchedInserts:
    def __init__(self, collection: AsyncCollection, max_batch: int = 256, linger: float = 0.0) -> None:
        self.collection = collection
        self.max_batch = max_batch
        self.linger = linger
        self._queue: list[tuple[dict[str, Any], asyncio.Future]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None

    async def insert(self, doc: dict[str, Any]) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name=f"batched-inserts-{self.collection.name}")
        future = asyncio.get_running_loop().create_future()
        self._queue.append((doc, future))
        self._wake.set()
        await future

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            if self.linger and len(self._queue) < self.max_batch:
                await asyncio.sleep(self.linger)
            self._wake.clear()
            while self._queue:
                batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
                await self._write(batch)

    async def _write(self, batch: list[tuple[dict[str, Any], asyncio.Future]]) -> None:
        try:
            await self.collection.insert_many([doc for doc, _ in batch], ordered=False)
        except BulkWriteError as exc:
            failed = {e["index"]: e for e in exc.details.get("writeErrors", [])}
            for index, (_, future) in enumerate(batch):
                error = failed.get(index)
                if error is None:
                    _resolve(future, None)
                elif error.get("code") in (11000, 11001):
                    _resolve(future, DuplicateKeyError(error.get("errmsg", "duplicate key"), error.get("code")))
                else:
                    _resolve(future, BulkWriteError({"writeErrors": [error]}))
            return
        except Exception as exc:  # noqa: BLE001 - every waiter gets the failure
            for _, future in batch:
                _resolve(future, exc)
            return
        for _, future in batch:
            _resolve(future, None)


def _resolve(future: asyncio.Future, outcome: BaseException | None) -> None:
    if future.done():
        return  # the caller was cancelled; the write still happened or failed
    if outcome is None:
        future.set_result(None)
    else:
        future.set_exception(outcome)
