"""deploy/services.toml: one registry of the services, consistent with the code and with itself."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from contracts import topics

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "deploy"))

import service_registry  # noqa: E402

SERVICES = service_registry.load()


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
def test_exists_means_the_module_is_there(service):
    main = REPO.joinpath(*service.module.split("."), "__main__.py")
    assert main.exists() == service.exists, (
        f"{service.name}: exists={service.exists} in deploy/services.toml but {main.relative_to(REPO)} "
        f"{'is there' if main.exists() else 'is missing'}"
    )


def test_topics_are_the_contracts_topics():
    for s in SERVICES:
        assert set(s.publishes) | set(s.consumes) <= set(topics.ALL), s.name


def test_one_owner_per_topic():
    # The owner is the service (services/<name>), whose processes may share its topic
    # (payments is a process of adjudication); the audit trail has many writers.
    owners = {}
    for s in SERVICES:
        for t in s.publishes:
            if t != topics.AUDIT:
                owners.setdefault(t, set()).add(s.module.split(".")[1])
    assert all(len(services) == 1 for services in owners.values()), owners


def test_gateway_routes_are_only_those_of_existing_http_services():
    routes = service_registry.gateway_routes(SERVICES)
    names = {r["service"] for r in routes}
    assert names == {s.name for s in SERVICES if s.exists and s.http_api and s.routes}
    assert not [s for s in SERVICES if not s.exists and s.name in names]


def test_a_malformed_registry_is_refused(tmp_path):
    entry = dict(name="a", module="services.a", port_offset=1, exists=True, http_api=True, publishes=[], consumes=[],
                 routes=["/v1/a"])  # fmt: skip
    def write(*entries):
        path = tmp_path / "services.toml"
        path.write_text("".join("[[service]]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in e.items()) for e in entries))
        return path

    assert service_registry.load(write(entry))[0].routes == ("/v1/a",)
    for bad in (
        [entry, {**entry, "port_offset": 2}],  # same name twice
        [entry, {**entry, "name": "b", "routes": ["/v1/a"], "port_offset": 2}],  # same prefix twice
        [{**entry, "http_api": False}],  # routes without an API
        [{**entry, "routes": ["/openapi.json"]}],  # the platform's own path
        [{k: v for k, v in entry.items() if k != "exists"}],  # a field missing
    ):
        with pytest.raises(service_registry.RegistryError):
            service_registry.load(write(*bad))


@pytest.mark.parametrize("service", [s for s in SERVICES if s.exists and s.http_api], ids=lambda s: s.name)
def test_consumed_topics_are_what_the_service_subscribes_to(service):
    import importlib

    _app, runtime = importlib.import_module(f"{service.module}.main").build_app()
    subscribed = {t for runner in runtime.consumers for t in runner.topics}
    assert subscribed == set(service.consumes)
