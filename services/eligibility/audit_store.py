"""The event store handle eligibility writes its audit records through.

Same database and outbox as the runtime's store, so the relay publishes these records
like any other; two differences, both about round trips on FerretDB:
- it has no relay listener, so a record does not wake the relay: the relay publishes
  audit records at its next poll (relay_poll_interval_seconds, 0.2 s), many per round,
  instead of running a round (an outbox read and a delete) per check;
- its outbox inserts linger (infra/batching.py), so concurrent checks share them.
"""

from pymongo.asynchronous.database import AsyncDatabase

from infra.batching import BatchedInserts
from infra.eventstore import EventStore


class AuditStore(EventStore):
    def __init__(self, db: AsyncDatabase, service: str, linger: float) -> None:
        super().__init__(db, service)
        # EventStore.record inserts through _intents; only the batching policy differs.
        self._intents = BatchedInserts(self.outbox, linger=linger)
