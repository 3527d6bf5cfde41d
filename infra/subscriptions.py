"""Consumers subscribe by event type: one handler per type, each payload validated first.

A handler receives the payload as its contract's model (contracts/registry.py) and
the envelope; it never sees an event of another type and never re-checks the type.
A payload that does not match its contract raises ValidationError before any
handler code runs, which the consumer runner treats as poison (dead-letter topic).
Types on the same topic that nobody subscribed to are skipped.
"""

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiokafka import ConsumerRecord
from pydantic import BaseModel

from contracts.envelope import CloudEvent
from contracts.registry import BY_TYPE

EventHandler = Callable[[Any, CloudEvent], Awaitable[None]]


class Subscriptions:
    def __init__(self, handlers: Mapping[str, EventHandler]) -> None:
        unknown = sorted(t for t in handlers if t not in BY_TYPE)
        if unknown:
            raise ValueError(f"no contract for event type(s) {', '.join(unknown)}")
        if not handlers:
            raise ValueError("a subscription needs at least one event type")
        self._handlers = dict(handlers)

    @property
    def topics(self) -> list[str]:
        """The topics the subscribed types travel on, from their contracts."""
        return sorted({BY_TYPE[t].topic for t in self._handlers})

    @property
    def event_types(self) -> list[str]:
        return sorted(self._handlers)

    def payload(self, event: CloudEvent) -> BaseModel:
        return BY_TYPE[event.type].payload.model_validate(event.data)

    async def __call__(self, event: CloudEvent, record: ConsumerRecord | None = None) -> None:
        handler = self._handlers.get(event.type)
        if handler is None:
            return
        await handler(self.payload(event), event)
