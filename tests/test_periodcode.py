"""Period codes: the one check (server/periodcode.py) and this month in the company's zone."""

from __future__ import annotations

import datetime as dt

import pytest

from server.periodcode import PeriodCodeError, is_period_code, parse_period_code
from server.services.periods import current_month


@pytest.mark.parametrize(("text", "code", "kind", "start", "end"), [
    ("2026-11", "2026-11", "month", dt.date(2026, 11, 1), dt.date(2026, 12, 1)),
    (" 2026-12 ", "2026-12", "month", dt.date(2026, 12, 1), dt.date(2027, 1, 1)),
    ("2026-q4", "2026-Q4", "quarter", dt.date(2026, 10, 1), dt.date(2027, 1, 1)),
    ("2026-Q1", "2026-Q1", "quarter", dt.date(2026, 1, 1), dt.date(2026, 4, 1)),
    ("2026", "2026", "year", dt.date(2026, 1, 1), dt.date(2027, 1, 1)),
    ("2000-01", "2000-01", "month", dt.date(2000, 1, 1), dt.date(2000, 2, 1)),
    ("2100", "2100", "year", dt.date(2100, 1, 1), dt.date(2101, 1, 1)),
])
def test_valid_codes(text, code, kind, start, end):
    parsed = parse_period_code(text)
    assert (parsed.code, parsed.kind, parsed.start, parsed.end) == (code, kind, start, end)


@pytest.mark.parametrize(("text", "en", "zh"), [
    ("hello world", "'hello world' is not a period: write a month like 2026-11",
     "“hello world”不是考核期间"),
    ("2030-13", "the month must be 01 to 12", "月份须为 01 到 12"),
    ("2026-00", "the month must be 01 to 12", "月份须为 01 到 12"),
    ("../../etc/passwd", "is not a period", "不是考核期间"),
    ("2057-02-01 00:00:00", "is not a period", "不是考核期间"),
    ("1999-12", "the year must be 2000 to 2100", "年份须在 2000 到 2100 之间"),
    ("2101", "the year must be 2000 to 2100", "年份须在 2000 到 2100 之间"),
    ("2026-Q0", "the quarter must be Q1 to Q4", "季度须为 Q1 到 Q4"),
    ("2026-1", "is not a period", "不是考核期间"),
    ("２０２６-11", "is not a period", "不是考核期间"),
    ("", "no period given", "没有填写考核期间"),
    (None, "no period given", "没有填写考核期间"),
    (202611, "is not a period", "不是考核期间"),
])
def test_everything_else_is_refused_with_the_reason_in_both_languages(text, en, zh):
    with pytest.raises(PeriodCodeError) as caught:
        parse_period_code(text)
    assert en in str(caught.value) and en in caught.value.why.text("en")
    assert zh in caught.value.why.text("zh")
    assert not is_period_code(text)


def test_a_refused_code_is_quoted_printable_and_short():
    with pytest.raises(PeriodCodeError) as caught:
        parse_period_code("x\n" * 100)
    shown = caught.value.why.text("en")
    assert "\n" not in shown and "…" in shown and len(shown) < 200


def test_current_month_is_the_company_time_zone_s():
    late = dt.datetime(2026, 10, 31, 16, 30, tzinfo=dt.UTC)  # 00:30 on 1 November in Shanghai
    assert current_month("Asia/Shanghai", late) == "2026-11"
    assert current_month("UTC", late) == "2026-10"
