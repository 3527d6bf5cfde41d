"""Every route and dependency of every service is a coroutine function.

FastAPI runs a plain `def` dependency or endpoint in its thread pool: a thread hop
(and a GIL hand-off) per request for what is usually a one-line lookup. The claims
service's three sync dependencies showed up in a profile under load; this keeps
them from coming back.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from pathlib import Path

import pytest

from infra.http.app import _api_routes

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "deploy"))

import service_registry  # noqa: E402

HTTP_SERVICES = [s for s in service_registry.existing() if s.http_api]


def _is_async(call) -> bool:
    target = call if inspect.isfunction(call) or inspect.ismethod(call) else getattr(call, "__call__", None)
    return inspect.iscoroutinefunction(target)


def _sync_parts(dependant, where: str) -> list[str]:
    found = []
    for sub in dependant.dependencies:
        if sub.call is not None and not inspect.isclass(sub.call) and not _is_async(sub.call):
            found.append(f"{where}: {getattr(sub.call, '__qualname__', sub.call)!r}")
        found.extend(_sync_parts(sub, where))
    return found


@pytest.mark.parametrize("service", HTTP_SERVICES, ids=lambda s: s.name)
def test_no_route_or_dependency_runs_in_the_thread_pool(service):
    app, _runtime = importlib.import_module(f"{service.module}.main").build_app()
    sync, routes = [], list(_api_routes(app))
    assert routes
    for path, methods, route in routes:
        where = f"{sorted(methods)} {path}"
        if not _is_async(route.endpoint):
            sync.append(f"{where}: endpoint {route.endpoint.__qualname__}")
        sync.extend(_sync_parts(route.dependant, where))
    assert sync == []
