"""`kpibook org sync`: the proposal printed, nothing applied; a bad source named."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, select

from server.cli import main
from server.models import Employee, RosterChange
from tests.orgsync.conftest import write_org_config

pytestmark = pytest.mark.both_databases


def test_org_sync_command_proposes(db_url, tmp_path, monkeypatch, dingtalk):
    config = write_org_config(tmp_path / "org.toml", [dingtalk])
    monkeypatch.setenv("KPIBOOK_DATABASE_URL", db_url)
    monkeypatch.setenv("KPIBOOK_INSTANCE_PATH", str(tmp_path / "instance"))
    result = CliRunner().invoke(main, ["org", "sync", "--platform", "dingtalk", "--config",
                                       config, "--by", "nightly"])
    assert result.exit_code == 0, result.output
    assert "roster change #1 proposed (dingtalk, dingtalk): 10 added" in result.output
    assert "M1004" in result.output and "/admin/roster" in result.output
    engine = create_engine(db_url)
    with engine.connect() as conn:
        assert conn.execute(select(RosterChange.created_by, RosterChange.state)).all() == \
            [("nightly", "proposed")]
        assert conn.execute(select(Employee.id)).first() is None  # nothing applied
    engine.dispose()
    wrong = CliRunner().invoke(main, ["org", "sync", "--platform", "wecom", "--config",
                                      config])
    assert wrong.exit_code == 1 and "dingtalk (dingtalk)" in wrong.output
