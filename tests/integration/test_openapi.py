"""One OpenAPI document for the whole platform at the base URL, errors documented as problem+json."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "deploy"))

import service_registry  # noqa: E402

HTTP_SERVICES = [s for s in service_registry.existing() if s.http_api]
METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


async def test_the_base_url_serves_every_path_of_every_service(running_stack):
    async with httpx.AsyncClient(timeout=30) as http:
        merged = await http.get(f"{running_stack.base_url}/openapi.json")
        assert merged.status_code == 200, merged.text
        assert merged.headers["content-type"].startswith("application/json")
        doc = merged.json()
        assert doc["openapi"].startswith("3.")
        for service in HTTP_SERVICES:
            own = (await http.get(f"{running_stack.service_url(service.name)}/openapi.json")).json()
            assert own["paths"], service.name
            for path, operations in own["paths"].items():
                assert path in doc["paths"], f"{service.name} {path} missing from the merged document"
                assert set(doc["paths"][path]) == set(operations), path
        assert "/oauth/token" in doc["paths"]

    schemas = doc["components"]["schemas"]
    assert {"type", "title", "status", "detail", "code"} <= set(schemas["Problem"]["properties"])
    assert set(schemas["ProblemError"]["properties"]) == {"loc", "code", "message"}
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            if method not in METHODS:
                continue
            errors = {code: r for code, r in op["responses"].items() if code[0] in "45"}
            assert errors, f"{method.upper()} {path} documents no error"
            for code, response in errors.items():
                assert _is_problem(schemas, response["content"]["application/problem+json"]["schema"]), (
                    f"{method.upper()} {path} {code}"
                )


def _is_problem(schemas: dict, schema: dict) -> bool:
    """The Problem schema, or a route's extension of it (OAuth2's error members on /oauth/token)."""
    name = schema.get("$ref", "").rsplit("/", 1)[-1]
    if name == "Problem":
        return True
    return set(schemas["Problem"].get("required", ())) <= set((schemas.get(name) or {}).get("required", ()))


async def test_the_docs_page_loads_the_merged_document(running_stack):
    async with httpx.AsyncClient(timeout=30) as http:
        page = await http.get(f"{running_stack.base_url}/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "swagger-ui" in page.text and "./openapi.json" in page.text
