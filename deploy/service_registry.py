"""Loader of deploy/services.toml, the registry of the platform's processes.

Standard library only (tomllib, Python 3.11+): deploy/local/stack.py runs on a bare
python3 and imports it, and so do deploy/grafana/generate.py and deploy/k8s/verify.py.

    python deploy/service_registry.py            # print the registry
    python deploy/service_registry.py --routes   # the gateway's route table as JSON
"""

from __future__ import annotations

import json
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

REGISTRY_FILE = Path(__file__).resolve().parent / "services.toml"

_NAME = re.compile(r"^[a-z][a-z0-9-]*$")
_FIELDS = {"name", "module", "port_offset", "exists", "http_api", "publishes", "consumes", "routes"}


class RegistryError(ValueError):
    """services.toml is malformed or contradicts itself."""


@dataclass(frozen=True)
class Service:
    name: str
    module: str
    port_offset: int
    exists: bool
    http_api: bool
    publishes: tuple[str, ...]
    consumes: tuple[str, ...]
    routes: tuple[str, ...]


def load(path: Path | str = REGISTRY_FILE) -> tuple[Service, ...]:
    """Every registered service, built or planned, in registry order."""
    with open(path, "rb") as f:
        raw = tomllib.load(f).get("service", [])
    services = []
    for entry in raw:
        if set(entry) != _FIELDS:
            raise RegistryError(f"{path}: entry {entry.get('name')!r} has fields {sorted(entry)}, expected {sorted(_FIELDS)}")
        services.append(
            Service(
                name=entry["name"], module=entry["module"], port_offset=int(entry["port_offset"]),
                exists=bool(entry["exists"]), http_api=bool(entry["http_api"]),
                publishes=tuple(entry["publishes"]), consumes=tuple(entry["consumes"]), routes=tuple(entry["routes"]),
            )  # fmt: skip
        )
    _validate(services, path)
    return tuple(services)


def _validate(services: list[Service], path: Path | str) -> None:
    def unique(values: list, what: str) -> None:
        dupes = sorted({str(v) for v in values if values.count(v) > 1})
        if dupes:
            raise RegistryError(f"{path}: duplicate {what}: {', '.join(dupes)}")

    unique([s.name for s in services], "service names")
    unique([s.port_offset for s in services], "port offsets")
    unique([r for s in services for r in s.routes], "route prefixes")
    for s in services:
        if not _NAME.match(s.name):
            raise RegistryError(f"{path}: bad service name {s.name!r}")
        if s.port_offset < 1:
            raise RegistryError(f"{path}: {s.name}: port_offset must be >= 1")
        if s.routes and not s.http_api:
            raise RegistryError(f"{path}: {s.name} has routes but no HTTP API")
        for r in s.routes:
            if not r.startswith("/") or r.endswith("/") or r in ("/openapi.json", "/docs"):
                raise RegistryError(f"{path}: {s.name}: route prefix {r!r} (must start, not end, with '/'; "
                                    "/openapi.json and /docs belong to the platform)")  # fmt: skip


def existing(services: tuple[Service, ...] | None = None) -> tuple[Service, ...]:
    """The services that are built: the only ones started, routed, documented or deployed."""
    return tuple(s for s in (load() if services is None else services) if s.exists)


def by_name(services: tuple[Service, ...] | None = None) -> dict[str, Service]:
    return {s.name: s for s in (load() if services is None else services)}


def gateway_routes(services: tuple[Service, ...] | None = None) -> list[dict[str, str]]:
    """The path table of the gateway and the Ingress: existing HTTP services only."""
    return [{"prefix": r, "service": s.name} for s in existing(services) for r in s.routes]


def main(argv: list[str]) -> int:
    services = load()
    if argv[1:] == ["--routes"]:
        print(json.dumps(gateway_routes(services), indent=2))
        return 0
    for s in services:
        state = "exists " if s.exists else "planned"
        api = f"routes {' '.join(s.routes)}" if s.http_api else "no HTTP API"
        print(f"{s.name:<15} {state} +{s.port_offset:<3} {s.module:<25} {api}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
