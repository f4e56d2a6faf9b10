"""One golden figure per rule, each checkable by hand; the explanation shows the working."""

from decimal import Decimal as D
from pathlib import Path

import pytest

from server.scoring.model import IndicatorKind
from server.scoring.model import ValidationError as Invalid
from server.scoring.rules import RULES, check_indicator
from tests.scoring.factories import ind, one

QUAL, BONUS, PENALTY = IndicatorKind.QUALITATIVE, IndicatorKind.BONUS, IndicatorKind.PENALTY


def points(indicator, value):
    return one(indicator, value).points


# -- the figures -----------------------------------------------------------------------

def test_ratio_80_percent_of_weight_25_is_20():
    line = one(ind("SALES", "ratio", 25, "target=100"), 80)
    assert line.points == D("20.00")
    assert line.explanation == "80.00% of target × 25 = 20.00"
    assert one(ind("SALES", "ratio", 25, "target=100"), 80, lang="zh").explanation == \
        "完成率 80.00% × 25 = 20.00"


def test_failure_rate_2_percent_against_3_percent_gets_the_full_10():
    line = one(ind("FAIL", "reverse_ratio", 10, "target=3%", unit="%"), D("0.02"))
    assert line.points == D("10.00")
    assert "3%" in line.explanation and "2%" in line.explanation


def test_one_point_off_per_late_arrival():
    late = ind("LATE", "deduction", 10, "per=1")
    assert [points(late, n) for n in (0, 1, 3, 10, 12)] == \
        [D("10.00"), D("9.00"), D("7.00"), D("0.00"), D("0.00")]
    assert one(late, 3).explanation == "10 − 1 × 3 = 7.00"


# -- each rule ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("actual", "expected"), [
    (0, "0.00"), (50, "12.50"), (100, "25.00"), (130, "25.00"), (-10, "0.00"),
])
def test_ratio_cap_1(actual, expected):
    assert points(ind("R", "ratio", 25, "target=100"), actual) == D(expected)


def test_ratio_cap_120_percent():
    r = ind("R", "ratio", 25, "target=100; cap=120%")
    assert points(r, 110) == D("27.50")
    assert points(r, 150) == D("30.00")
    assert "capped at 120%" in one(r, 150).explanation


@pytest.mark.parametrize(("actual", "cap", "expected"), [
    ("0.02", "1", "10.00"), ("0.03", "1", "10.00"), ("0.04", "1", "7.50"), ("0", "1", "10.00"),
    ("0.02", "1.2", "12.00"), ("0.025", "1.2", "12.00"), ("0.06", "1.2", "5.00"),
    ("0", "1.2", "12.00"),
])
def test_reverse_ratio(actual, cap, expected):
    rule = ind("F", "reverse_ratio", 10, f"target=0.03; cap={cap}")
    assert points(rule, D(actual)) == D(expected)


def test_reverse_ratio_zero_target_means_zero_defects():
    r = ind("F", "reverse_ratio", 10, "target=0")
    assert points(r, 0) == D("10.00")
    assert points(r, 2) == D("0.00")


@pytest.mark.parametrize(("actual", "expected"), [
    (1, "10.00"), (2, "10.00"), (6, "5.00"), (8, "2.50"), (10, "0.00"), (12, "0.00"),
])
def test_reverse_linear(actual, expected):
    assert points(ind("T", "reverse_linear", 10, "target=2; floor=10"), actual) == D(expected)


@pytest.mark.parametrize(("actual", "expected"), [
    (40, "0.00"), (50, "0.00"), (75, "10.00"), (100, "20.00"), (130, "20.00"),
])
def test_linear(actual, expected):
    assert points(ind("L", "linear", 20, "floor=50; target=100"), actual) == D(expected)


def test_linear_with_cap():
    assert points(ind("L", "linear", 20, "floor=50; target=100; cap=1.2"), 130) == D("24.00")
    assert points(ind("L", "linear", 20, "floor=50; target=100; cap=1.2"), 105) == D("22.00")


@pytest.mark.parametrize(("actual", "expected"), [
    (100, "10.00"), (103, "10.00"), (95, "10.00"), (115, "5.00"), (85, "5.00"), (125, "0.00"),
    (70, "0.00"),
])
def test_band(actual, expected):
    rule = ind("B", "band", 10, "target=100; tolerance=5; zero_at=25")
    assert points(rule, actual) == D(expected)


@pytest.mark.parametrize(("actual", "expected"), [
    (79, "0.00"), (80, "6.00"), (95, "6.00"), (100, "8.00"), (119.99, "8.00"), (120, "10.00"),
    (300, "10.00"),
])
def test_steps_of_ratio(actual, expected):
    steps = ind("S", "steps", 10, "target=100; steps=0.8:60, 1:80, 1.2:100")
    assert points(steps, actual) == D(expected)


def test_steps_of_actual_in_any_order():
    steps = ind("S", "steps", 10, "of=actual; steps=10:100, 5:50")
    assert [points(steps, n) for n in (4, 5, 7, 10, 11)] == \
        [D("0.00"), D("5.00"), D("5.00"), D("10.00"), D("10.00")]


def test_deduction_min_points():
    late = ind("LATE", "deduction", 10, "per=1.5; min_points=2")
    assert points(late, 2) == D("7.00")
    assert points(late, 6) == D("2.00")


@pytest.mark.parametrize(("rating", "expected"), [
    ("A", "20.00"), ("B", "17.00"), (" b ", "17.00"), ("Ｃ", "14.00"), ("D", "10.00"),
])
def test_rating_default_scale(rating, expected):
    assert points(ind("TEAM", "rating", 20, kind=QUAL), rating) == D(expected)


def test_rating_custom_scale_and_explanation():
    line = one(ind("TEAM", "rating", 20, "scale=优:100, 良:80, 中:60", kind=QUAL), "良")
    assert line.points == D("16.00")
    assert line.explanation == "rating 良 = 80% × 20 = 16.00"


def test_rating_off_the_scale_names_the_allowed_values():
    with pytest.raises(Invalid) as err:
        one(ind("TEAM", "rating", 20, kind=QUAL), "E")
    assert "A, B, C, D" in err.value.problems[0].message
    assert err.value.problems[0].key == ("E1", "TEAM")


@pytest.mark.parametrize(("stars", "expected"), [
    (1, "2.00"), (3, "6.00"), (5, "10.00"), ("★★★★☆", "8.00"), ("4", "8.00"),
])
def test_stars(stars, expected):
    assert points(ind("STAR", "stars", 10, kind=QUAL), stars) == D(expected)


def test_stars_off_the_scale():
    with pytest.raises(Invalid, match="not on the scale"):
        one(ind("STAR", "stars", 10, kind=QUAL), 6)


@pytest.mark.parametrize(("count", "expected"),
                         [(0, "0.00"), (3, "3.00"), (5, "5.00"), (7, "5.00")])
def test_bonus_per_item_capped(count, expected):
    assert points(ind("AWD", "per_item", 0, "per=1; cap=5", kind=BONUS), count) == D(expected)


def test_penalty_per_item_is_negative_and_capped():
    penalty = ind("VIOL", "per_item", 0, "per=2; cap=5", kind=PENALTY)
    assert points(penalty, 2) == D("-4.00")
    assert points(penalty, 4) == D("-5.00")


@pytest.mark.parametrize(("given", "expected"), [(18, "18.00"), (25, "20.00"), (-1, "0.00")])
def test_points_given_directly_clamped_to_weight(given, expected):
    assert points(ind("TW", "points", 20, kind=QUAL), given) == D(expected)


def test_points_with_cap():
    assert points(ind("TW", "points", 20, "cap=15", kind=QUAL), 18) == D("15.00")


def test_formula_with_fact_fields():
    from server.scoring.engine import score
    from server.scoring.model import ScoreInput
    from tests.scoring.factories import emp, fact, rules

    tick = ind("TICK", "formula", 100, "expr=weight if resolved >= total * 0.9 "
                                       "else weight * resolved / total")
    facts = (fact("E1", "TICK", 8, "resolved"), fact("E1", "TICK", 10, "total"),
             fact("E2", "TICK", 9, "resolved"), fact("E2", "TICK", 10, "total"))
    result = score(ScoreInput(rules(tick), (emp("E1"), emp("E2")), facts))
    assert result.line("E1", "TICK").points == D("80.00")
    assert result.line("E2", "TICK").points == D("100.00")
    assert "resolved=8, total=10" in result.line("E1", "TICK").explanation


def test_formula_clamped_to_weight_times_cap():
    f = ind("F", "formula", 30, "expr=actual / target * weight; target=100")
    assert points(f, 150) == D("30.00")
    assert points(f, -5) == D("0.00")
    assert points(ind("F", "formula", 30, "expr=actual/target*weight; target=100; cap=1.2"),
                  150) == D("36.00")


def test_formula_division_by_zero_is_a_problem_not_a_crash():
    with pytest.raises(Invalid, match="division by zero"):
        one(ind("F", "formula", 30, "expr=weight * actual / (actual - 5)"), 5)


# -- rounding ----------------------------------------------------------------------------------

def test_half_cent_rounds_up_like_excel():
    # 25 × 81.82 / 100 = 20.455 exactly -> 20.46 (binary floats would give 20.45)
    assert points(ind("R", "ratio", 25, "target=100"), D("81.82")) == D("20.46")
    # 30 × 2.0455 / 3 = 20.455 exactly; dividing first (2.0455 / 3 = 0.68183...) would lose
    # the half and give 20.45: the engine multiplies before it divides
    assert points(ind("R", "ratio", 30, "target=3"), D("2.0455")) == D("20.46")
    # banker's rounding would give 20.46 here (6 is even); Excel and we give 20.47
    assert points(ind("R", "ratio", 25, "target=100"), D("81.86")) == D("20.47")
    assert points(ind("R", "ratio", 30, "target=3"), D("2.0465")) == D("20.47")


def test_negative_half_cent_rounds_away_from_zero():
    penalty = ind("P", "per_item", 0, "per=2.675; cap=10", kind=PENALTY)
    assert points(penalty, 1) == D("-2.68")
    # -2.665: banker's rounding gives -2.66, Excel's ROUND gives -2.67
    assert points(ind("P", "per_item", 0, "per=2.665; cap=10", kind=PENALTY), 1) == D("-2.67")


# -- rule checks ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("indicator", "fragment"), [
    (ind("X", "nope", 10), "unknown rule"),
    (ind("X", "ratio", 10), "needs target"),
    (ind("X", "ratio", 10, "target=0"), "above 0"),
    (ind("X", "reverse_linear", 10, "target=5; floor=2"), "floor must be above target"),
    (ind("X", "linear", 10, "target=5; floor=8"), "floor must be below target"),
    (ind("X", "ratio", 10, "target=5; colour=red"), "does not take colour"),
    (ind("X", "rating", 10, "scale=A:100, a:80", kind=QUAL), "same rating twice"),
    (ind("X", "rating", 10, "scale=A:100, B:-5", kind=QUAL), "negative"),
    (ind("X", "formula", 10, "expr=__import__('os')"), "cannot be called"),
    (ind("X", "formula", 10, "expr=actual.real"), "not allowed"),
    (ind("X", "formula", 10, "expr=actual / target"), "no target is given"),
    (ind("X", "rating", 10, kind=IndicatorKind.QUANTITATIVE), "does not fit"),
    (ind("X", "ratio", 10, "target=5", kind=QUAL), "does not fit"),
    (ind("X", "per_item", 10, "per=1; cap=5"), "does not fit"),
    (ind("X", "per_item", 5, "per=1; cap=5", kind=BONUS), "outside the 100 weights"),
    (ind("X", "band", 10, "target=5; tolerance=2; zero_at=1"), "beyond tolerance"),
    (ind("X", "steps", 10, "steps=0.8:50, 80%:60; target=10"), "same threshold twice"),
    (ind("X", "steps", 10, "steps=1:50"), "need a target"),
    (ind("X", "points", 0, kind=BONUS), "needs a cap"),
    (ind("X", "deduction", 10, "per=abc"), "not a number"),
])
def test_check_indicator_finds(indicator, fragment):
    assert any(fragment in message for message in check_indicator(indicator)), \
        check_indicator(indicator)


@pytest.mark.parametrize("indicator", [
    ind("X", "ratio", 10, "target=5"), ind("X", "reverse_ratio", 10, "target=0"),
    ind("X", "rating", 10, kind=QUAL), ind("X", "stars", 10, kind=QUAL),
    ind("X", "per_item", 0, "per=1; cap=5", kind=BONUS),
    ind("X", "formula", 10, "expr=clamp(actual / target, 0, 1) * weight; target=4"),
    ind("X", "steps", 10, "of=actual; steps=1:50, 2:100"),
])
def test_check_indicator_accepts(indicator):
    assert check_indicator(indicator) == []


def test_every_rule_is_documented_in_both_languages():
    for spec in RULES.values():
        assert spec.en and spec.zh and spec.kinds
    text = (Path(__file__).resolve().parents[2] / "docs" / "rules.md").read_text("utf-8")
    for name in RULES:
        assert f"`{name}`" in text, name
