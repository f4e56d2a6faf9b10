"""SQL against a real PostgreSQL (an ERP reporting database), file drops with Chinese
encodings, and the declarative mapping: aggregations, units, key maps, per-row problems."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import openpyxl
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from sync.config import PeriodWindow, parse_config
from sync.connectors import FetchContext, fetch
from sync.connectors.files import detect_encoding
from sync.errors import ConfigError, SourceError
from sync.mapping import map_records

WINDOW = PeriodWindow.of("2026-10")


def one(raw: dict):
    return parse_config({"source": [raw]}).sources[0]


# --- SQL ---------------------------------------------------------------------------------------


@pytest.fixture
def erp_db(pg_url):
    engine = create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE mes_daily (staff_no text, work_day date, "
                          "output_qty numeric(12,2), planned_qty numeric(12,2))"))
        rows = [("E001001", f"2026-10-{d:02d}", 98.8, 100) for d in range(1, 21)]
        rows += [("E001002", "2026-10-05", 120, 100), ("E001002", "2026-11-02", 1, 100),
                 ("E001002", "2026-09-30", 1, 100), ("E009999", "2026-10-06", 50, 100)]
        conn.execute(text("INSERT INTO mes_daily VALUES (:s, :d, :o, :p)"),
                     [{"s": s, "d": d, "o": o, "p": p} for s, d, o, p in rows])
    engine.dispose()
    return pg_url


def test_sql_parameterised_period_on_postgresql(erp_db, monkeypatch):
    url = make_url(erp_db)
    monkeypatch.setenv("T_PG_PASSWORD", url.password)
    source = one({
        "name": "erp_db", "kind": "sql",
        "url": url.set(password=None).render_as_string(hide_password=False),
        "password_env": "T_PG_PASSWORD",
        "query": "SELECT staff_no, output_qty, planned_qty FROM mes_daily "
                 "WHERE work_day >= :period_start AND work_day < :period_end_exclusive",
        "employee_key": "staff_no", "key_map": {"E001001": "M1001", "E001002": "M1002"},
        "indicator": [{"indicator": "PROD_EFF", "aggregate": "ratio",
                       "numerator": "output_qty", "denominator": "planned_qty",
                       "unit": "%"}]})
    got = fetch(source, WINDOW, FetchContext())
    assert len(got.records) == 22  # the September and November rows stay out
    assert "period_start=2026-10-01" in got.request and "***" in got.request
    assert url.password not in got.request
    mapped = map_records(source, got.records, {"M1001", "M1002"}, got.request)
    assert {f.employee_id: f.value for f in mapped.facts} == {
        "M1001": Decimal("0.988"), "M1002": Decimal("1.2")}
    [problem] = mapped.problems  # the staff number nobody mapped is reported, not dropped
    assert problem.field == "staff_no" and "E009999" in problem.reason
    assert problem.at == "row 22"


def test_sql_errors_name_the_source(erp_db):
    bad = one({"name": "erp_db", "kind": "sql", "url": erp_db,
               "query": "SELECT * FROM no_such_table WHERE x = :period",
               "indicator": [{"indicator": "X", "aggregate": "count"}]})
    with pytest.raises(SourceError, match="erp_db: query failed .*no_such_table"):
        fetch(bad, WINDOW, FetchContext())
    unknown = one({"name": "erp_db", "kind": "sql", "url": erp_db,
                   "query": "SELECT 1 WHERE :month = 'x'",
                   "indicator": [{"indicator": "X", "aggregate": "count"}]})
    with pytest.raises(SourceError, match="unknown parameters \\['month'\\]"):
        fetch(unknown, WINDOW, FetchContext())


# --- files -------------------------------------------------------------------------------------


def write_csv(path, rows, encoding):
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))


@pytest.mark.parametrize("encoding", ["gb18030", "gbk", "utf-8-sig", "utf-8"])
def test_csv_encodings_are_detected(tmp_path, encoding):
    rows = [["工号", "姓名", "不良数", "检验数", "备注"],
            ["M1001", "张伟", "20", "1000", "一车间焊接线返工较多，已整改"],
            ["M1002", "王芳", "12", "1000", "二车间质量稳定"]]
    write_csv(tmp_path / "qms.csv", rows, encoding)
    source = one({"name": "qms", "kind": "files", "folder": str(tmp_path),
                  "employee_key": "工号",
                  "indicator": [{"indicator": "QUALITY", "aggregate": "ratio",
                                 "numerator": "不良数", "denominator": "检验数", "unit": "%"}]})
    got = fetch(source, WINDOW, FetchContext())
    assert got.records[0]["姓名"] == "张伟"
    facts = map_records(source, got.records, None, got.request).facts
    assert {f.employee_id: f.value for f in facts} == {"M1001": Decimal("0.02"),
                                                      "M1002": Decimal("0.012")}


def test_detect_encoding_prefers_gb18030_for_chinese():
    data = "工号,姓名\nM1001,张伟\nM1002,王芳\n".encode("gbk")
    assert detect_encoding(data) == "gb18030"


def test_xlsx_drop_and_row_problems(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    for row in [["工号", "评价", "表彰次数", "单位"], ["M1001", "B", 2, "次"],
                ["M1002", "A", "两次", "次"], ["M1003", "C", 1, "件"],
                ["M9999", "A", 1, "次"], ["M1004", "B", None, "次"]]:
        ws.append(row)
    wb.save(tmp_path / "评价.xlsx")
    source = one({"name": "rating", "kind": "files", "folder": str(tmp_path),
                  "pattern": "*.xlsx", "employee_key": "工号",
                  "indicator": [{"indicator": "TEAMWORK", "aggregate": "label", "value": "评价"},
                                {"indicator": "AWARD", "value": "表彰次数",
                                 "unit_field": "单位", "expect_unit": "次"}]})
    got = fetch(source, WINDOW, FetchContext())
    known = {"M1001", "M1002", "M1003", "M1004"}
    mapped = map_records(source, got.records, known, got.request)
    facts = {(f.employee_id, f.indicator): f.value for f in mapped.facts}
    assert facts == {("M1001", "TEAMWORK"): "B", ("M1002", "TEAMWORK"): "A",
                     ("M1003", "TEAMWORK"): "C", ("M1004", "TEAMWORK"): "B",
                     ("M1001", "AWARD"): Decimal(2)}  # M1004's blank cell: no value
    messages = sorted(p.message() for p in mapped.problems)
    assert messages == [
        "rating: 评价.xlsx!Sheet row 3: 表彰次数: '两次' is not a number [M1002 AWARD]",
        "rating: 评价.xlsx!Sheet row 4: 单位: unit '件' does not match the expected '次' "
        "[M1003 AWARD]",
        "rating: 评价.xlsx!Sheet row 5: 工号: unknown employee 'M9999': not on the roster "
        "and not in key_map",
    ]
    assert set(mapped.rejected) == {("M1002", "AWARD", "actual"), ("M1003", "AWARD", "actual")}


def test_missing_drop_folder_is_a_source_error(tmp_path):
    source = one({"name": "qms", "kind": "files", "folder": str(tmp_path / "nope"),
                  "indicator": [{"indicator": "Q", "aggregate": "count"}]})
    with pytest.raises(SourceError, match="qms: no file matching"):
        fetch(source, WINDOW, FetchContext())


# --- mapping -------------------------------------------------------------------------------------


def recs(*rows):
    return [dict(r, _at=f"row {i + 1}") for i, r in enumerate(rows)]


def mapped_values(spec: dict, records, known=None, subjects=None):
    source = one({"name": "s", "kind": "push", "employee_key": "emp", "indicator": [spec]})
    out = map_records(source, records, known, "req", subjects)
    return {f.employee_id: f.value for f in out.facts}, out


@pytest.mark.parametrize(("aggregate", "expected"), [
    ("sum", Decimal("6")), ("avg", Decimal("2")), ("min", Decimal("1")), ("max", Decimal("3")),
    ("last", Decimal("1")), ("first", Decimal("2")), ("count", Decimal("3"))])
def test_aggregations(aggregate, expected):
    rows = recs({"emp": "A", "v": 3, "d": "2026-10-05"}, {"emp": "A", "v": 2, "d": "2026-10-01"},
                {"emp": "A", "v": "1", "d": "2026-10-09"})
    values, _ = mapped_values({"indicator": "X", "aggregate": aggregate, "value": "v",
                               "date_field": "d"}, rows)
    assert values == {"A": expected}


def test_units_percent_and_fraction():
    rows = recs({"emp": "A", "v": 98.8}, {"emp": "B", "v": "97.5%"})
    values, _ = mapped_values({"indicator": "X", "aggregate": "last", "value": "v",
                               "source_unit": "percent", "unit": "%"}, rows)
    assert values == {"A": Decimal("0.988"), "B": Decimal("0.975")}
    values, _ = mapped_values({"indicator": "X", "aggregate": "last", "value": "v",
                               "unit": "%"}, recs({"emp": "A", "v": "98.8%"}))
    assert values == {"A": Decimal("0.988")}


def test_unit_mismatch_detected_by_range():
    # a source that switched to percent while the mapping expects fractions
    values, out = mapped_values({"indicator": "X", "aggregate": "last", "value": "v",
                                 "source_unit": "fraction", "unit": "%", "range": [0, 1.5]},
                                recs({"emp": "A", "v": 98.8}, {"emp": "B", "v": 0.95}))
    assert values == {"B": Decimal("0.95")}
    [p] = out.problems
    assert "outside the allowed range [0, 1.5]" in p.reason and "percent" in p.reason
    assert p.employee_id == "A"


def test_ratio_with_zero_denominator_is_reported():
    values, out = mapped_values({"indicator": "X", "aggregate": "ratio", "numerator": "a",
                                 "denominator": "b"}, recs({"emp": "A", "a": 1, "b": 0}))
    assert values == {} and "denominator is 0" in out.problems[0].reason


def test_key_map_zero_fill_and_missing_key():
    source = one({"name": "s", "kind": "push", "employee_key": "staff",
                  "key_map": {"0001": "M1001"},
                  "indicator": [{"indicator": "LATE", "aggregate": "count", "zero_fill": True,
                                 "where": {"result": "Late"}}]})
    rows = recs({"staff": "0001", "result": "Late"}, {"staff": "0001", "result": "Normal"},
                {"result": "Late"})
    out = map_records(source, rows, {"M1001", "M1002"}, "req", subjects={"M1001", "M1002"})
    assert {f.employee_id: f.value for f in out.facts} == {"M1001": 1, "M1002": 0}
    assert [p.message() for p in out.problems] == [
        "s: row 3: staff: no employee key in this record"]


def test_config_errors_name_file_source_and_key():
    with pytest.raises(ConfigError, match=r"source #1 \(erp\): kind 'soap'"):
        parse_config({"source": [{"name": "erp", "kind": "soap", "indicator": [
            {"indicator": "X"}]}]}, "c.toml")
    with pytest.raises(ConfigError, match=r"indicator #1 \(X\): aggregate ratio needs"):
        parse_config({"source": [{"name": "erp", "kind": "rest", "indicator": [
            {"indicator": "X", "aggregate": "ratio"}]}]}, "c.toml")
    with pytest.raises(ConfigError, match="NOT_SET_ANYWHERE"):
        parse_config({"source": [{"name": "erp", "kind": "rest",
                                  "url": "${NOT_SET_ANYWHERE}/x",
                                  "indicator": [{"indicator": "X", "aggregate": "count"}]}]})


def test_yaml_config(tmp_path):
    from sync.config import load_config

    path = tmp_path / "connectors.yaml"
    path.write_text("settings: {timeout: 5}\nsource:\n  - name: qms\n    kind: files\n"
                    "    folder: drop\n    employee_key: 工号\n    indicator:\n"
                    "      - {indicator: QUALITY, aggregate: ratio, numerator: 不良数, "
                    "denominator: 检验数, unit: '%'}\n", encoding="utf-8")
    config = load_config(path)
    assert config.sources[0].timeout == 5
    assert config.sources[0].options["folder"] == str((tmp_path / "drop").resolve())
