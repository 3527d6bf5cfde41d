"""Writes to one document serialised within a process, for FerretDB v1.

FerretDB v1 applies an update as read, modify, write back, without isolation: two
concurrent updates of one document lose one of them, even when they set different
fields (measured: 200 concurrent `$inc` of one document kept 86; a dotted `$set` of an
endpoint's health undid a concurrent `$set` that had disabled another endpoint of the
same organisation). MongoDB proper applies each update atomically; these locks make
the local stack and the tests, which run FerretDB, equally correct within a process.
Across processes nothing serialises such writers, so a store that needs this runs one
writing process per document set locally (each says which).

A fixed set of locks per event loop: bounded memory, and unrelated documents rarely
share one (an asyncio lock belongs to the loop it was first used on).
"""

from __future__ import annotations

import asyncio
import weakref
import zlib

_STRIPES = 64
_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[asyncio.Lock]] = weakref.WeakKeyDictionary()


def document_lock(collection: str, document_id: str) -> asyncio.Lock:
    """The lock that serialises this process's writes to the document (collection's full name, `_id`)."""
    locks = _LOCKS.setdefault(asyncio.get_running_loop(), [asyncio.Lock() for _ in range(_STRIPES)])
    return locks[zlib.crc32(f"{collection}\x00{document_id}".encode()) % _STRIPES]
