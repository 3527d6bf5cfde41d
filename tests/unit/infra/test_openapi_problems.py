"""Every service's OpenAPI document lists its problem+json errors (infra/http/app.py does it for all)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

from infra.http.problems import problem_response

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "deploy"))

import service_registry  # noqa: E402

HTTP_SERVICES = [s for s in service_registry.existing() if s.http_api]


def openapi_of(module: str) -> dict:
    app, _runtime = importlib.import_module(f"{module}.main").build_app()
    return app.openapi()


@pytest.mark.parametrize("service", HTTP_SERVICES, ids=lambda s: s.name)
def test_every_operation_documents_its_errors_as_problem_json(service):
    doc = openapi_of(service.module)
    problem = doc["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail", "code"}
    error = doc["components"]["schemas"]["ProblemError"]
    assert set(error["required"]) == {"loc", "code", "message"}
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    assert doc["paths"]
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            where = f"{service.name} {method.upper()} {path}"
            errors = {code: r for code, r in op["responses"].items() if code[0] in "45"}
            assert "500" in errors, where
            for code, response in errors.items():
                assert list(response["content"]) == ["application/problem+json"], f"{where} {code}"
                assert _is_problem(doc, response["content"]["application/problem+json"]["schema"]), f"{where} {code}"
            if op.get("security"):
                assert {"401"} <= set(errors), where
            if "{" in path:
                assert "404" in errors, where
            if op.get("requestBody") and path != OAUTH_TOKEN:
                assert {"400", "413", "422"} <= set(errors), where


# RFC 6749 answers every malformed token request with 400 invalid_request, never 422.
OAUTH_TOKEN = "/oauth/token"


def _is_problem(doc: dict, schema: dict) -> bool:
    """The Problem schema itself, or a route's extension of it (all of Problem's members required too)."""
    if schema == {"$ref": "#/components/schemas/Problem"}:
        return True
    name = schema.get("$ref", "").rsplit("/", 1)[-1]
    component = doc["components"]["schemas"].get(name) or {}
    return set(doc["components"]["schemas"]["Problem"]["required"]) <= set(component.get("required", ()))


def test_routes_document_what_their_dependencies_can_answer():
    doc = openapi_of("services.identity")
    token = doc["paths"]["/oauth/token"]["post"]
    assert "security" not in token and {"400", "401", "429", "500", "503"} <= set(token["responses"])
    admin = doc["paths"]["/v1/admin/clients"]["post"]
    assert admin["security"] == [{"bearerAuth": []}]
    assert {"401", "403", "409", "413", "422"} <= set(admin["responses"])  # operator only; Idempotency-Key
    plans = openapi_of("services.eligibility")["paths"]["/v1/plans"]["get"]
    assert "401" in plans["responses"] and "403" not in plans["responses"]  # any role may read


def test_every_problem_body_carries_a_code():
    assert problem_response(404, "No such claim.", code="not_found").body.count(b'"code":"not_found"') == 1
    assert b'"code":"method_not_allowed"' in problem_response(405, "Method not allowed").body


async def test_an_unhandled_error_is_logged_with_its_code_location_but_not_its_message(caplog):
    import logging

    import httpx
    from fastapi import FastAPI

    from infra.http.problems import install_problem_handlers

    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/boom/{member_id}")
    async def boom(member_id: str) -> dict:
        raise ValueError(f"bad member {member_id}")

    with caplog.at_level(logging.ERROR, logger="infra.http"):
        transport = httpx.ASGITransport(app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.get("/boom/M123456")
    assert response.status_code == 500 and response.headers["content-type"] == "application/problem+json"
    (record,) = [r for r in caplog.records if r.name == "infra.http"]
    message = record.getMessage()
    assert "test_openapi_problems.py:" in message and "in boom" in message
    assert "M123456" not in message and record.route == "/boom/{member_id}"
