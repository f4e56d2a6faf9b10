from decimal import Decimal as D

import pytest

from server.scoring.numbers import fmt, parse_number, round_half_up, to_decimal
from server.scoring.params import parse_params


@pytest.mark.parametrize(("value", "expected"), [
    (0.1, "0.1"), (1, "1"), (D("2.50"), "2.50"), (85.5, "85.5"), ("85%", "0.85"),
])
def test_to_decimal_keeps_what_excel_shows(value, expected):
    assert to_decimal(value) == D(expected)
    assert str(to_decimal(0.1)) == "0.1"  # not 0.1000000000000000055511151231257827


@pytest.mark.parametrize("value", [True, float("nan"), float("inf"), None, D("NaN")])
def test_to_decimal_refuses_non_numbers(value):
    with pytest.raises(ValueError):
        to_decimal(value)


@pytest.mark.parametrize(("text", "expected"), [
    ("85", "85"), (" 85 ", "85"), ("85%", "0.85"), ("8.5 %", "0.085"), ("1,234.5", "1234.5"),
    ("１，２３４．５", "1234.5"), ("８５％", "0.85"), ("-3", "-3"), ("−3", "-3"), (".5", "0.5"),
    ("\u300012\u3000", "12"), (7, "7"),
])
def test_parse_number_reads_what_hr_types(text, expected):
    assert parse_number(text) == D(expected)


@pytest.mark.parametrize(("text", "reason"), [
    ("abc", "'abc' is not a number"), ("", "empty"), ("1,5", "use '.'"), ("12,34", "use '.'"),
    ("nan", "not a number"), ("1.2.3", "not a number"), ("%", "not a number"),
])
def test_parse_number_says_why_not(text, reason):
    with pytest.raises(ValueError, match=reason):
        parse_number(text)


@pytest.mark.parametrize(("x", "places", "expected"), [
    ("2.675", 2, "2.68"), ("-2.675", 2, "-2.68"), ("20.455", 2, "20.46"), ("20.454999", 2, "20.45"),
    ("0.005", 2, "0.01"), ("-0.005", 2, "-0.01"), ("2.5", 0, "3"), ("1.23456", 4, "1.2346"),
])
def test_round_half_up_is_excel_round(x, places, expected):
    assert round_half_up(D(x), places) == D(expected)
    assert str(round_half_up(D(x), places)) == expected


def test_fmt_never_shows_minus_zero():
    assert fmt(D("-0.001")) == "0.00"
    assert fmt(D("1")) == "1.00"
    assert fmt(D("2.675")) == "2.68"


def test_parse_params_cell_syntax():
    params = parse_params("target=85%; cap=1.2；steps=0.8:60,1:80，1.2:100\n"
                          "scale=A:100,B:85%、C:70; of=actual; expr=a if a>=t else 0; Floor＝3")
    assert params == {
        "target": D("0.85"), "cap": D("1.2"),
        "steps": (("0.8", D(60)), ("1", D(80)), ("1.2", D(100))),
        "scale": (("A", D(100)), ("B", D(85)), ("C", D(70))),
        "of": "actual", "expr": "a if a>=t else 0", "floor": D(3),
    }


def test_parse_params_empty_cell():
    assert parse_params("") == {}
    assert parse_params(None) == {}
    assert parse_params(" ; \n") == {}


@pytest.mark.parametrize(("text", "reason"), [
    ("target 80", "has no '='"), ("cap=", "has no value"), ("cap=1;cap=2", "given twice"),
    ("steps=0.8:x", "not a number"), ("steps=0.8", None), ("1a=3", "not a parameter name"),
    ("steps=:60", "no key"), ("scale=A:100,B", "has no ':'"),
])
def test_parse_params_refuses_bad_syntax(text, reason):
    if reason is None:  # a plain value without ':' is a number, not a table: no error here
        assert parse_params(text) == {"steps": D("0.8")}
        return
    with pytest.raises(ValueError, match=reason):
        parse_params(text)
