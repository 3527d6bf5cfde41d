"""CloudEvents 1.0 envelope shared by every topic.

Extension attribute names follow the CloudEvents naming rule (lower-case letters and
digits only): aggregateversion, organizationid, correlationid, causationid, partitionkey.
"""

from datetime import UTC, datetime
from typing import Any, Literal
from uuid import uuid4

from pydantic import BaseModel, ConfigDict, Field


class CloudEvent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(default_factory=lambda: str(uuid4()), min_length=1)
    source: str = Field(min_length=1, description="URI-reference of the producing service, e.g. /services/claims")
    type: str = Field(min_length=1, description="Past-tense event name, e.g. claim.received")
    subject: str | None = Field(default=None, description="The aggregate id the event is about")
    time: datetime = Field(default_factory=lambda: datetime.now(UTC))
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: str | None = None
    aggregateversion: int | None = Field(default=None, ge=1, description="Position of the event in its aggregate's stream")
    organizationid: str | None = Field(default=None, description="Provider organisation (tenant) the event belongs to")
    correlationid: str | None = None
    causationid: str | None = None
    partitionkey: str | None = Field(default=None, description="Kafka message key; member-centred topics use the member id")
    data: dict[str, Any] = Field(default_factory=dict)

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


def new_event(
    *,
    source: str,
    type: str,
    subject: str,
    data: dict[str, Any],
    aggregateversion: int | None = None,
    organizationid: str | None = None,
    partitionkey: str | None = None,
    correlationid: str | None = None,
    causationid: str | None = None,
    id: str | None = None,
    time: datetime | None = None,
) -> CloudEvent:
    fields: dict[str, Any] = {
        "source": source,
        "type": type,
        "subject": subject,
        "data": data,
        "aggregateversion": aggregateversion,
        "organizationid": organizationid,
        "partitionkey": partitionkey or subject,
        "correlationid": correlationid,
        "causationid": causationid,
        "dataschema": f"urn:provider-platform:schema:{type}",
    }
    if id is not None:
        fields["id"] = id
    if time is not None:
        fields["time"] = time
    return CloudEvent(**fields)
