"""Authorization aggregates in the event store (authorizations.events is their outbox).

Keyed by member on the topic, so one member's authorizations and claims keep their order.
The clinical notes travel as `meta` of the stream's first event: stored beside it,
never published (ADR 18).
"""

from collections.abc import Callable, Sequence
from typing import Any

from contracts import topics
from infra.aggregates import AggregateRepository, Envelope, Loaded, Outcome, Recorded
from infra.eventstore import EventStore
from services.authorizations.domain import Authorization, Change

SOURCE = "/services/authorizations"
STREAM_PREFIX = "authorization"


def _fold(state: Authorization | None, authorization_id: str, event: Recorded) -> Authorization:
    return (state or Authorization(authorization_id)).apply(event.type, event.version, event.data)


def _envelope(state: Authorization) -> Envelope:
    submitted = state.submitted
    return Envelope(organization_id=submitted.organization_id if submitted else None,
                    partition_key=submitted.member_id if submitted else None)


class AuthorizationRepository:
    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.aggregates: AggregateRepository[Authorization] = AggregateRepository(
            store, topic=topics.AUTHORIZATIONS, source=SOURCE, stream_prefix=STREAM_PREFIX, fold=_fold,
            envelope_of=_envelope,
        )

    async def load(self, authorization_id: str) -> Authorization | None:
        if not 0 < len(authorization_id) <= 64:
            return None
        loaded = await self.aggregates.load(authorization_id)
        return loaded.state if loaded else None

    async def first(self, authorization_id: str) -> dict[str, Any] | None:
        return await self.aggregates.first(authorization_id)

    async def create(self, authorization_id: str, changes: Sequence[Change], *, meta: dict[str, Any]) -> Authorization:
        state = await self.aggregates.append(authorization_id, 0, changes, meta=meta)
        assert state is not None
        return state

    async def execute(self, authorization_id: str, decide: Callable[[Authorization | None], list[Change]], *,
                      causation_id: str | None = None, current: Loaded[Authorization] | None = None,
                      ) -> Outcome[Authorization]:
        return await self.aggregates.execute(authorization_id, decide, causation_id=causation_id, current=current)
