"""The published OpenAPI document: it covers every API/ribbon route (a new undocumented
route fails here), it is public, and schemathesis, generating requests from it against the
WSGI app in-process, never gets a 500 or a stack trace, and a refused request changes
nothing."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from server.openapi import undocumented
from tests.fuzz.conftest import LEAKS, db_state


def test_every_api_and_ribbon_route_is_documented(app):
    assert undocumented(app) == [], "document these routes in server/openapi.py"


def test_document_is_public_and_declared(app, client):
    from server.declarations import route_policy

    resp = client.get("/api/v1/openapi.json")
    assert resp.status_code == 200
    doc = resp.get_json()
    assert doc["openapi"].startswith("3.1")
    assert {"bearer", "oauth2"} <= set(doc["components"]["securitySchemes"])
    flows = doc["components"]["securitySchemes"]["oauth2"]["flows"]
    assert flows["clientCredentials"]["tokenUrl"] == "/oauth/token"
    assert doc["paths"]["/xl/score"]["post"]["requestBody"]["content"][
        "application/json"]["schema"] == {"$ref": "#/components/schemas/XlwingsPayload"}
    assert route_policy(app, "openapi.openapi_json").kind == "public"
    schemathesis.openapi.from_dict(doc)  # loads as a valid document


def test_api_from_its_document(app, opened):
    """Every operation of the document, positive and negative examples (bounded)."""
    from hypothesis import given

    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    labels = []
    for result in schema.get_all_operations():
        operation = result.ok()
        labels.append(operation.label)

        @given(case=operation.as_strategy())
        @settings(max_examples=8, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case):
            before = db_state(app)
            response = case.call(headers={**opened, **(case.headers or {})})
            case.validate_response(response, checks=[not_a_server_error])
            leak = LEAKS.search(response.text)
            assert leak is None, (case.operation.label, leak.group(0), response.text[:300])
            if response.status_code >= 400:
                assert db_state(app) == before, (case.operation.label, response.status_code)

        run()
    assert "POST /xl/score" in labels and "GET /api/v1/periods/{code}/pull-status" in labels
