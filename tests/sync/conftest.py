"""Fixtures of the sync tests: the simulated source systems on 127.0.0.1 (real HTTP), their
file drops, and an app whose Pull button reads sync/demo_connectors.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.simulators.data import demo_data, write_files
from sync.simulators.demo import DEMO_CONFIG, demo_environment
from sync.simulators.server import SourceSimulator

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def sources(tmp_path, monkeypatch):
    """The demo's source systems (ERP, CRM, DingTalk, Jira, GitLab) and file drops."""
    data = demo_data("2026-10")
    drop = tmp_path / "drop"
    write_files(data, str(drop))
    with SourceSimulator(data) as sim:
        for key, value in demo_environment(sim.url, str(drop)).items():
            monkeypatch.setenv(key, value)
        yield sim


@pytest.fixture
def app_config(app_config, sources):
    # the shared fixture's app, with real connectors instead of the simulator's invented facts
    # ALLOW_INSECURE_HTTP: the Flask test client speaks plain HTTP (the security issue
    # refuses tokens over HTTP otherwise).
    return {**app_config, "FACT_SOURCE": "stored", "SYNC_CONFIG": str(DEMO_CONFIG),
            "ALLOW_INSECURE_HTTP": True,
            "SYNC_UPLOAD_DIR": str(Path(app_config["INSTANCE_PATH"]) / "uploads")}
