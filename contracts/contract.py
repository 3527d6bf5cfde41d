from dataclasses import dataclass

from pydantic import BaseModel


@dataclass(frozen=True)
class EventContract:
    """An event type, the topic it travels on and the model of its payload (data)."""

    type: str
    topic: str
    payload: type[BaseModel]
    summary: str
