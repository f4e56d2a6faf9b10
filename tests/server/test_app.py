"""The application factory and configuration."""

from __future__ import annotations

import pytest

from server import create_app
from server.config import from_environ, parse_size


def test_config_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("KPIBOOK_DATABASE_URL", f"sqlite:///{tmp_path}/x.sqlite3")
    monkeypatch.setenv("KPIBOOK_MAX_CONTENT_LENGTH", "2MB")
    monkeypatch.setenv("KPIBOOK_LANG", "en-US")
    monkeypatch.setenv("KPIBOOK_TRUST_PROXY", "1")
    monkeypatch.setenv("KPIBOOK_BASE_URL", "https://kpi.corp.example/")
    monkeypatch.setenv("KPIBOOK_INSTANCE_PATH", str(tmp_path / "inst"))
    app = create_app()
    assert app.config["DATABASE_URL"] == f"sqlite:///{tmp_path}/x.sqlite3"
    assert app.config["MAX_CONTENT_LENGTH"] == 2 * 1024 * 1024
    assert app.config["LANG"] == "en"
    assert app.config["BASE_URL"] == "https://kpi.corp.example"
    assert app.config["HISTORY_DIR"] == str(tmp_path / "inst" / "history")
    assert app.instance_path == str(tmp_path / "inst")


def test_defaults_live_in_the_instance_folder(monkeypatch, tmp_path):
    for key in ("DATABASE_URL", "HISTORY_DIR", "INSTANCE_PATH", "MAX_CONTENT_LENGTH"):
        monkeypatch.delenv("KPIBOOK_" + key, raising=False)
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert app.config["DATABASE_URL"] == f"sqlite:///{tmp_path}/kpibook.sqlite3"
    assert app.config["MAX_CONTENT_LENGTH"] == 128 * 1024 * 1024
    assert app.config["LANG"] == "zh"


def test_mapping_overrides_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("KPIBOOK_LANG", "en")
    app = create_app({"LANG": "zh", "INSTANCE_PATH": str(tmp_path)})
    assert app.config["LANG"] == "zh"


def test_bad_environment_value_names_the_variable(monkeypatch):
    monkeypatch.setenv("KPIBOOK_MAX_CONTENT_LENGTH", "lots")
    with pytest.raises(ValueError, match="KPIBOOK_MAX_CONTENT_LENGTH"):
        from_environ()


def test_parse_size():
    assert parse_size("64MB") == 64 * 1024**2
    assert parse_size("512 kb") == 512 * 1024
    assert parse_size("1000") == 1000


def test_create_app_does_not_create_tables(tmp_path):
    from sqlalchemy import inspect

    from server.db import get_engine

    app = create_app({"INSTANCE_PATH": str(tmp_path),
                      "DATABASE_URL": f"sqlite:///{tmp_path}/empty.sqlite3"})
    assert inspect(get_engine(app)).get_table_names() == []
    resp = app.test_client().get("/healthz")
    assert resp.status_code == 503


def test_health_on_migrated_database(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200, resp.data
    assert resp.json["status"] == "ok"
    assert resp.json["revision"] == resp.json["head"]


def test_security_headers(client):
    resp = client.get("/healthz")
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["X-Request-ID"]


def test_docs_list_every_setting():
    from pathlib import Path

    from server.config import SETTINGS

    text = (Path(__file__).resolve().parents[2] / "docs" / "config.md").read_text("utf-8")
    for s in SETTINGS:
        assert f"`{s.env}`" in text, s.env
