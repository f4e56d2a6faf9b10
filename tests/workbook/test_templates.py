"""The shipped templates: generated from code, readable, scorable, and well-formed .xlsx."""

from __future__ import annotations

import re
import zipfile

import openpyxl
import pytest

from addin.headless import snapshot_from_xlsx
from server.scoring.engine import score
from server.workbook.contract import read_tables, to_score_input
from server.workbook.schema import TABLES
from server.workbook.templates import write_templates
from tests.workbook.books import TEMPLATE_DIR

SCORED_TEMPLATES = ["manufacturing", "rnd", "sales"]


@pytest.mark.parametrize("key", SCORED_TEMPLATES)
def test_template_reads_and_scores_without_problems(key):
    tables = read_tables(snapshot_from_xlsx(TEMPLATE_DIR / f"{key}.xlsx"))
    assert tables.problems == []
    assert set(tables.frames) == set(TABLES)
    inp = to_score_input(tables)
    result = score(inp, lang="zh")
    assert len(result.employees) >= 6
    assert all(e.total is not None and e.grade for e in result.employees)


def test_blank_template_has_every_table_and_no_rows():
    tables = read_tables(snapshot_from_xlsx(TEMPLATE_DIR / "blank.xlsx"))
    assert tables.problems == []
    assert set(tables.frames) == set(TABLES)
    assert all(len(f.frame) == 0 for name, f in tables.frames.items()
               if name not in ("kb_meta", "kb_settings"))


def _table_contents(path):
    """Every table's cells by table name: what regeneration must reproduce."""
    wb = openpyxl.load_workbook(path)
    contents = {}
    for ws in wb.worksheets:
        for table in ws.tables.values():
            contents[table.name] = (ws.title, table.ref, [
                [c.value for c in row] for row in ws[table.ref]])
    return contents


@pytest.mark.parametrize("key", ["manufacturing", "rnd", "sales", "blank"])
def test_regenerating_gives_the_committed_tables(tmp_path, key):
    write_templates(tmp_path)
    assert _table_contents(tmp_path / f"{key}.xlsx") == _table_contents(
        TEMPLATE_DIR / f"{key}.xlsx"), "run `kpibook templates build` and commit the result"


def test_xlsx_parts_are_well_formed():
    with zipfile.ZipFile(TEMPLATE_DIR / "manufacturing.xlsx") as z:
        names = z.namelist()
        tables = [n for n in names if re.fullmatch(r"xl/tables/table\d+\.xml", n)]
        assert len(tables) == len(TABLES)
        shown = set()
        for name in tables:
            xml = z.read(name).decode()
            shown.add(re.search(r'displayName="([^"]+)"', xml).group(1))
            n_cols = int(re.search(r'<tableColumns count="(\d+)"', xml).group(1))
            assert n_cols == xml.count("<tableColumn ")
        assert shown == set(TABLES)
        workbook = z.read("xl/workbook.xml").decode()
        assert 'name="_kpibook"' in workbook and 'state="veryHidden"' in workbook


def test_protection_and_drop_downs():
    wb = openpyxl.load_workbook(TEMPLATE_DIR / "manufacturing.xlsx")
    adjustments = wb["调整"]
    assert adjustments.protection.sheet
    header = [c.value for c in adjustments[1]]
    points = header.index("调整分 / Adjustment") + 1
    reason = header.index("调整理由 / Reason") + 1
    base = header.index("规则得分 / Rule score") + 1
    assert not adjustments.cell(2, points).protection.locked
    assert not adjustments.cell(2, reason).protection.locked
    assert adjustments.cell(2, base).protection.locked
    assert wb["汇总"].protection.sheet and wb["得分明细"].protection.sheet
    assert not wb["源数据"].protection.sheet and not wb["考核规则"].protection.sheet
    data = wb["源数据"]
    rating_rows = [r for r in range(2, data.max_row + 1) if data.cell(r, 2).value == "TEAMWORK"]
    lists = [dv for dv in data.data_validations.dataValidation if dv.type == "list"]
    assert lists and lists[0].formula1 == '"A,B,C,D"'
    assert {f"D{r}" for r in rating_rows} <= {str(c) for dv in lists for c in dv.sqref.ranges}
    rules = wb["考核规则"]
    formulas = {dv.formula1 for dv in rules.data_validations.dataValidation}
    assert '"定量,定性,加分,扣分"' in formulas and '"阻断,记零,排除"' in formulas
