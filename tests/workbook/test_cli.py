"""`kpibook templates build` and `kpibook score` on files."""

from __future__ import annotations

import openpyxl
from click.testing import CliRunner

from server.cli import main
from tests.workbook.books import TEMPLATE_DIR


def test_templates_build_writes_four_workbooks(tmp_path):
    result = CliRunner().invoke(main, ["templates", "build", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "blank.xlsx", "manufacturing.xlsx", "rnd.xlsx", "sales.xlsx"]


def test_score_writes_a_scored_copy(tmp_path):
    out = tmp_path / "out.xlsx"
    result = CliRunner().invoke(main, ["score", str(TEMPLATE_DIR / "sales.xlsx"), "-o",
                                       str(out), "--lang", "en"])
    assert result.exit_code == 0, result.output
    assert "scored 6/6" in result.output
    ws = openpyxl.load_workbook(out)["汇总"]
    assert ws["A2"].value == "S3001" and isinstance(ws["L2"].value, int | float)


def test_score_reports_located_problems(tmp_path):
    wb = openpyxl.load_workbook(TEMPLATE_DIR / "sales.xlsx")
    wb["源数据"]["D2"] = "abc"
    broken = tmp_path / "broken.xlsx"
    wb.save(broken)
    result = CliRunner().invoke(main, ["score", str(broken), "--lang", "zh"])
    assert result.exit_code == 1
    assert "工作表“源数据”，第 2 行" in result.output and "单元格 D2" in result.output
