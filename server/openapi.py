"""The published OpenAPI 3.1 document of the JSON API and the ribbon endpoints.

    GET /api/v1/openapi.json      (public: it describes, it grants nothing)

A hand-maintained description: every rule of `app.url_map` under /api/, /xl/ and /oauth/ must
appear here with its methods and nothing else may (tests/fuzz/test_openapi.py), so a new
route without documentation fails the suite. tests/fuzz runs schemathesis against it.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify

from server import guards
from server.xlwire.actions import ALLOWED_ACTIONS

bp = Blueprint("openapi", __name__)

DOCUMENTED_PREFIXES = ("/api/", "/xl/", "/oauth/")


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _plain(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"text/plain": {"schema": {"type": "string"}}}}


API_ERRORS = {
    "400": _json(_ref("Error"), "a period code that is not one (the message says why)"),
    "401": _json(_ref("Error"), "missing, invalid, expired or revoked token"),
    "403": _json(_ref("Error"), "the role may not (or a token over plain HTTP)"),
}
# server/periodcode.py: a month, a quarter or a year from 2000 to 2100 ("2026-q4" reads as
# "2026-Q4"); anything else is refused with 400 and the reason.
PERIOD_CODE = {"type": "string", "pattern": r"^(20\d\d|2100)(-(0[1-9]|1[0-2])|-[Qq][1-4])?$",
               "description": "period code: a month 2026-11, a quarter 2026-Q4 or a year 2026"}
CODE = [{"name": "code", "in": "path", "required": True, "schema": PERIOD_CODE,
         "description": "period code, e.g. 2026-10"}]
XL_ERRORS = {
    "400": _plain("malformed xlwings payload, or a period code that is not one (the sentence "
                  "says which and why)"),
    "401": _plain("missing or invalid token"),
    "403": _plain("role or authority refused"),
    "409": _plain("state conflict: no period yet, closed period, other template, a pull "
                  "already running"),
    "413": _plain("body larger than KPIBOOK_MAX_CONTENT_LENGTH"),
    "422": _plain("workbook problems, one line each with sheet, row, column, cell, reason"),
}
BUTTONS = {
    "new_period": ("New period", "creates the period the person chose (?period=, required) "
                                 "and writes it into kb_meta and kb_data's blank periods"),
    "pull": ("Pull data", "pulls every source system, rewrites kb_data with provenance"),
    "score": ("Score", "contract -> engine -> stored snapshot -> kb_scores, kb_summary"),
    "check": ("Check", "validates only: an alert listing the problems"),
    "submit": ("Submit", "stores the workbook's adjustments, writes back the totals"),
    "refresh": ("Refresh", "read only, any period state: the results of record (latest stored "
                           "run, appeal answers included) into kb_scores, kb_summary, "
                           "kb_adjustments"),
}


def _xl(button: str) -> dict[str, Any]:
    title, does = BUTTONS[button]
    params = [{"name": "lang", "in": "query", "required": False,
               "schema": {"type": "string", "enum": ["zh", "en"]}}]
    if button == "new_period":
        params += [{"name": "period", "in": "query", "required": True,
                    "schema": PERIOD_CODE},
                   {"name": "template", "in": "query", "required": False,
                    "schema": {"type": "string", "maxLength": 40}}]
    return {"post": {
        "operationId": f"xl_{button}", "tags": ["ribbon"], "summary": f"{title}: {does}",
        "security": [{"bearer": []}], "parameters": params,
        "requestBody": {"required": True, "content": {
            "application/json": {"schema": _ref("XlwingsPayload")}}},
        "responses": {"200": _json(_ref("Actions"), "the actions the client applies"),
                      **XL_ERRORS}}}


def _get(op: str, summary: str, schema: dict[str, Any], params: list | None = None,
         security: list | None = None, extra: dict | None = None) -> dict[str, Any]:
    responses = {"200": _json(schema, summary), **API_ERRORS, **(extra or {})}
    return {"get": {"operationId": op, "tags": ["api"], "summary": summary,
                    "parameters": params or [],
                    "security": security or [{"bearer": []}, {"oauth2": ["periods:read"]}],
                    "responses": responses}}


NOT_FOUND = {"404": _json(_ref("Error"), "no such period")}
OBJ = {"type": "object"}

# One action of the answer (server/xlwire/actions.py builds them; only its names are allowed).
ACTION_FIELDS: dict[str, Any] = dict(
    func={"type": "string", "enum": sorted(ALLOWED_ACTIONS)}, args={"type": "array"},
    values={}, sheet_position={"type": "integer"}, start_row={"type": "integer"},
    start_column={"type": "integer"}, row_count={"type": "integer"},
    column_count={"type": "integer"})

SCHEMAS: dict[str, Any] = {
    "Error": {"type": "object", "required": ["error", "status"],
              "properties": {"error": {"type": "string"}, "status": {"type": "integer"}}},
    "Actions": {"type": "object", "required": ["actions"], "properties": {"actions": {
        "type": "array", "items": {"type": "object", "required": ["func"], "properties": {
            **ACTION_FIELDS}}}}},
    "XlwingsPayload": {
        "type": "object", "description": "the xlwings wire protocol's book snapshot",
        "required": ["client", "version", "book", "sheets"],
        "properties": {
            "client": {"type": "string", "description": "e.g. Office.js, VBA, kpibook-headless"},
            "version": {"type": "string"},
            "book": {"type": "object", "required": ["name", "active_sheet_index"],
                     "properties": {"name": {"type": "string"},
                                    "active_sheet_index": {"type": "integer", "minimum": 0},
                                    "selection": {"type": ["string", "null"]}}},
            "sheets": {"type": "array", "minItems": 1, "items": _ref("XlwingsSheet")},
            "names": {"type": "array", "items": {
                "type": "object", "required": ["name"],
                "properties": {"name": {"type": "string"},
                               "sheet_index": {"type": ["integer", "null"]},
                               "address": {"type": ["string", "null"]},
                               "book_scope": {"type": "boolean"}}}}}},
    "XlwingsSheet": {
        "type": "object", "required": ["name", "values"],
        "properties": {
            "name": {"type": "string"},
            "values": {"type": "array", "description": "rows of cells (0-based from A1)",
                       "items": {"type": "array", "items": {
                           "type": ["string", "number", "boolean", "null"]}}},
            "pictures": {"type": "array"},
            "tables": {"type": "array", "items": _ref("XlwingsTable")}}},
    "XlwingsTable": {
        "type": "object", "required": ["name", "range_address"],
        "properties": {
            "name": {"type": "string"},
            "range_address": {"type": "string", "description": "e.g. $A$1:$R$8"},
            "header_row_range_address": {"type": ["string", "null"]},
            "data_body_range_address": {"type": ["string", "null"]},
            "total_row_range_address": {"type": ["string", "null"]},
            "show_headers": {"type": "boolean"}, "show_totals": {"type": "boolean"},
            "table_style": {"type": ["string", "null"]},
            "show_autofilter": {"type": "boolean"}}},
    "Period": {"type": "object", "required": ["code", "state"], "properties": {
        "code": {"type": "string"}, "scorecard": {"type": "string"},
        "template": {"type": ["string", "null"]},
        "state": {"type": "string"}, "lang": {"type": ["string", "null"]},
        "created_at": {"type": "string"}, "created_by": {"type": ["string", "null"]}}},
    "PullStatus": {"type": "object", "required": ["period", "state", "sources"], "properties": {
        "period": {"type": "string"},
        "state": {"type": "string", "enum": ["idle", "running", "done", "failed"]},
        "started_at": {"type": "string"}, "finished_at": {"type": "string"},
        "by": {"type": "string"}, "sources": {"type": "array", "items": OBJ},
        "problems": {"type": "array", "items": OBJ}, "summary": OBJ}},
}


def _paths() -> dict[str, Any]:
    paths: dict[str, Any] = {f"/xl/{b}": _xl(b) for b in BUTTONS}
    paths["/api/v1/openapi.json"] = {"get": {
        "operationId": "openapi", "tags": ["api"], "summary": "this document",
        "security": [], "responses": {"200": _json(OBJ, "OpenAPI 3.1 document")}}}
    paths["/api/v1/whoami"] = _get(
        "whoami", "who the token belongs to",
        {"type": "object", "required": ["user", "role"], "properties": {
            "user": {"type": "string"}, "name": {"type": "string"},
            "display_name": {"type": "string"}, "role": {"type": "string"},
            "authority": OBJ, "current_month": {
                "type": "string", "description": "this month in the company's time zone "
                                                 "(what the task pane offers for New period)"}}},
        security=[{"bearer": []}])
    paths["/api/v1/periods"] = _get(
        "periods", "every period", {"type": "object", "required": ["periods"], "properties": {
            "periods": {"type": "array", "items": _ref("Period")}}})
    paths["/api/v1/periods/{code}"] = _get(
        "period", "a period and its latest score totals (filtered by department)",
        {"allOf": [_ref("Period"), {"type": "object", "properties": {
            "latest_run": {"type": ["object", "null"]}}}]}, CODE, extra=NOT_FOUND)
    paths["/api/v1/periods/{code}/pull-status"] = _get(
        "pull_status", "per-source progress of the running or last pull (any worker)",
        _ref("PullStatus"), CODE, [{"bearer": []}], extra=NOT_FOUND)
    paths["/api/v1/periods/{code}/facts"] = _get(
        "facts", "every source fact of the period with its provenance",
        {"type": "object", "required": ["period", "facts"], "properties": {
            "period": {"type": "string"}, "state": {"type": "string"},
            "frozen": {"type": "boolean"}, "facts": {"type": "array", "items": OBJ}}},
        CODE + [{"name": "lang", "in": "query", "required": False,
                 "schema": {"type": "string", "enum": ["zh", "en"]}}],
        [{"bearer": []}], extra=NOT_FOUND)
    paths["/api/v1/periods/{code}/explanations"] = _get(
        "explanations", "latest score lines with links to their facts",
        {"type": "object", "required": ["period", "lines"], "properties": {
            "period": {"type": "string"}, "lines": {"type": "array", "items": OBJ}}},
        CODE + [{"name": "employee", "in": "query", "required": False,
                 "schema": {"type": "string", "maxLength": 40}},
                {"name": "lang", "in": "query", "required": False,
                 "schema": {"type": "string", "enum": ["zh", "en"]}}],
        [{"bearer": []}], extra=NOT_FOUND)
    paths["/api/v1/periods/{code}/restatement"] = _get(
        "restatement", "what a Score with the source values pulled since the last Score "
        "would change: values, score lines and totals before -> after, computed by the engine "
        "(nothing is re-scored; scored=false before the first Score)",
        {"type": "object", "required": ["scored"], "properties": {
            "scored": {"type": "boolean"}, "period": {"type": "string"},
            "values_changed": {"type": "integer"}, "scores_changed": {"type": "integer"},
            "totals_changed": {"type": "integer"}, "error": {"type": "string"},
            "values": {"type": "array", "items": OBJ},
            "lines": {"type": "array", "items": OBJ},
            "totals": {"type": "array", "items": OBJ}}},
        CODE + [{"name": "lang", "in": "query", "required": False,
                 "schema": {"type": "string", "enum": ["zh", "en"]}}],
        [{"bearer": []}], extra=NOT_FOUND)
    lang = [{"name": "lang", "in": "query", "required": False,
             "schema": {"type": "string", "enum": ["zh", "en"]}}]
    paths["/api/v1/periods/{code}/lines/{employee_id}/{indicator}"] = _get(
        "line", "one score line for the add-in's task pane: explanation, adjustment history, "
        "source facts, the caller's adjustment range, links (403 for another department)",
        {"type": "object", "required": ["period", "employee_id", "indicator", "explanation",
                                        "history", "facts", "links"], "properties": {
            "period": {"type": "string"}, "employee_id": {"type": "string"},
            "indicator": {"type": "string"}, "explanation": {"type": "string"},
            "history": {"type": "array", "items": OBJ}, "facts": {"type": "array", "items": OBJ},
            "adjust": {"type": ["object", "null"]}, "links": OBJ}},
        CODE + [{"name": "employee_id", "in": "path", "required": True,
                 "schema": {"type": "string", "minLength": 1, "maxLength": 40}},
                {"name": "indicator", "in": "path", "required": True,
                 "schema": {"type": "string", "minLength": 1, "maxLength": 40}}] + lang,
        [{"bearer": []}], extra={"404": _json(_ref("Error"), "no such period or line")})
    paths["/api/v1/figures"] = _get(
        "figures", "totals, grades, ranks and lines of the latest score run for the add-in's "
        "custom functions; managers the caller may not read are listed as unknown",
        {"type": "object", "required": ["period", "people", "unknown"], "properties": {
            "period": {"type": "string"}, "state": {"type": "string"},
            "run_no": {"type": ["integer", "null"]},
            "people": {"type": "object", "additionalProperties": OBJ},
            "unknown": {"type": "array", "items": {"type": "string"}}}},
        [{"name": "employee", "in": "query", "required": True, "style": "form",
          "explode": True, "schema": {"type": "array", "minItems": 1, "maxItems": 200,
                                      "items": {"type": "string", "maxLength": 40}}},
         {"name": "period", "in": "query", "required": False,
          "schema": {"type": "string", "maxLength": 40},
          "description": "default: the newest period with a score run"}] + lang,
        [{"bearer": []}], extra={"400": _json(_ref("Error"), "no or too many employees"),
                                 "404": _json(_ref("Error"), "no such period or no result")})
    paths["/api/v1/facts"] = {"post": {
        "operationId": "push_facts", "tags": ["sync"],
        "summary": "a source system pushes records (idempotent by source + external id)",
        "security": [{"pushToken": []}, {"oauth2": ["facts:write"]}],
        "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                        "schema": {"type": "string", "maxLength": 200}}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["source", "period", "records"], "properties": {
                "source": {"type": "string"}, "period": {"type": "string"},
                "request_key": {"type": "string"},
                "records": {"type": "array", "minItems": 1, "items": OBJ}}}}}},
        "responses": {"200": _json(OBJ, "stored (or the same answer again)"),
                      "201": _json(OBJ, "stored"),
                      "400": _json(_ref("Error"), "not a JSON object"),
                      **API_ERRORS,
                      "409": _json(_ref("Error"), "period frozen or key reused"),
                      "413": _json(_ref("Error"), "body too large"),
                      "422": _json(_ref("Error"), "records refused, each with its reason")}}}
    paths["/oauth/token"] = {"post": {
        "operationId": "oauth_token", "tags": ["oauth"],
        "summary": "OAuth2 client credentials: a kpo_... access token",
        "security": [],
        "requestBody": {"required": True, "content": {
            "application/x-www-form-urlencoded": {"schema": {
                "type": "object", "required": ["grant_type"], "properties": {
                    "grant_type": {"type": "string", "enum": ["client_credentials"]},
                    "client_id": {"type": "string"}, "client_secret": {"type": "string"},
                    "scope": {"type": "string"}}}}}},
        "responses": {"200": _json({"type": "object", "required": ["access_token"],
                                    "properties": {"access_token": {"type": "string"},
                                                   "token_type": {"type": "string"},
                                                   "expires_in": {"type": "integer"},
                                                   "scope": {"type": "string"}}},
                                   "an access token"),
                      "400": _json(OBJ, "RFC 6749 error (also over plain HTTP)"),
                      "401": _json(OBJ, "invalid_client")}}}
    return paths


def document(base_url: str = "") -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "kpibook API", "version": "1",
                 "description": "JSON API (/api/v1) and the Excel ribbon buttons (/xl, the "
                                "xlwings wire protocol). Errors: JSON {error, status} under "
                                "/api, text/plain under /xl."},
        "servers": [{"url": base_url}] if base_url else [],
        "paths": _paths(),
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "personal access token kpb_... (/account) or an "
                                          "OAuth2 access token kpo_..."},
                "pushToken": {"type": "http", "scheme": "bearer",
                              "description": "the push source's token (connectors file)"},
                "oauth2": {"type": "oauth2", "flows": {"clientCredentials": {
                    "tokenUrl": "/oauth/token",
                    "scopes": {"facts:write": "push source facts",
                               "periods:read": "read periods and results"}}}}}},
    }


def openapi_path(rule: str) -> str:
    """Flask's /periods/<code> (or <string:code>) -> OpenAPI's /periods/{code}."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def undocumented(app: Flask) -> list[str]:
    """'METHOD path' of routes under the documented prefixes missing from the document, and
    of documented operations no route serves."""
    paths = _paths()
    served = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(DOCUMENTED_PREFIXES):
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            served.add(f"{method} {openapi_path(rule.rule)}")
    documented = {f"{m.upper()} {p}" for p, ops in paths.items() for m in ops}
    return sorted(served ^ documented)


@bp.get("/api/v1/openapi.json")
@guards.public("the API's description: what every route takes and answers, no data")
def openapi_json() -> Response:
    resp = jsonify(document(current_app.config.get("BASE_URL", "")))
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp
