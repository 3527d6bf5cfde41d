"""Writes the JSON Schemas and the AsyncAPI document from the pydantic contracts.

    python -m contracts.generate          # rewrite contracts/schemas and contracts/asyncapi.json
    python -m contracts.generate --check  # exit 1 if the checked-in files drifted
"""

import json
import sys
from pathlib import Path

from contracts.envelope import CloudEvent
from contracts.registry import CONTRACTS
from contracts.topics import ALL as TOPICS

ROOT = Path(__file__).parent
SCHEMAS = ROOT / "schemas"


def _dump(obj: dict) -> str:
    return json.dumps(obj, indent=2, sort_keys=True) + "\n"


def render() -> dict[Path, str]:
    files: dict[Path, str] = {}
    envelope = CloudEvent.model_json_schema()
    envelope["$id"] = "urn:provider-platform:schema:cloudevent"
    files[SCHEMAS / "cloudevent.json"] = _dump(envelope)
    messages, channels = {}, {}
    for contract in CONTRACTS:
        schema = contract.payload.model_json_schema()
        schema["$id"] = f"urn:provider-platform:schema:{contract.type}"
        files[SCHEMAS / f"{contract.type}.json"] = _dump(schema)
        name = contract.type.replace(".", "_")
        messages[name] = {
            "name": contract.type,
            "summary": contract.summary,
            "contentType": "application/cloudevents+json",
            "payload": {"$ref": f"schemas/{contract.type}.json"},
            "headers": {"$ref": "schemas/cloudevent.json"},
        }
        channels.setdefault(contract.topic, {"address": contract.topic, "messages": {}})
        channels[contract.topic]["messages"][name] = {"$ref": f"#/components/messages/{name}"}
    for topic in TOPICS:
        channels.setdefault(topic, {"address": topic, "messages": {}})
    asyncapi = {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Provider platform events",
            "version": "1.0.0",
            "description": "CloudEvents 1.0 JSON on Kafka; W3C trace context in Kafka headers; "
            "member-centred topics are keyed by member id.",
        },
        "defaultContentType": "application/cloudevents+json",
        "channels": dict(sorted(channels.items())),
        "components": {"messages": dict(sorted(messages.items()))},
    }
    files[ROOT / "asyncapi.json"] = _dump(asyncapi)
    return files


def main(argv: list[str]) -> int:
    files = render()
    if "--check" in argv:
        drifted = [str(p) for p, text in files.items() if not p.exists() or p.read_text() != text]
        stale = [str(p) for p in SCHEMAS.glob("*.json") if p not in files]
        if drifted or stale:
            print("contracts drifted; run `python -m contracts.generate`:", *drifted, *stale, sep="\n  ")
            return 1
        return 0
    SCHEMAS.mkdir(exist_ok=True)
    for stale in SCHEMAS.glob("*.json"):
        if stale not in files:
            stale.unlink()
    for path, text in files.items():
        path.write_text(text)
    print(f"wrote {len(files)} files")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
