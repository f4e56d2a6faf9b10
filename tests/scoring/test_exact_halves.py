"""Exact halves survive re-normalised weights: every rule rounds the exact rational value.

A weight of 10 re-normalised by 100 / 90 is 100/9 = 11.111…, which no Decimal holds exactly.
Each case below has an exact value of 7.375 (= 100/9 × 0.66375), which Excel's ROUND and the
engine must turn into 7.38; a 28-digit 11.11111111111111111111111111 gives 7.374999… -> 7.37.
The figures are checked against `fractions.Fraction` as well as written out by hand.
"""

from decimal import Decimal as D
from fractions import Fraction

import pytest

from server.scoring.engine import score
from server.scoring.model import IndicatorKind, MissingPolicy, ScoreInput
from tests.scoring.factories import emp, fact, ind, rules

QUAL = IndicatorKind.QUALITATIVE
SHARE = Fraction("0.66375")  # 100/9 × 0.66375 = 7.375 exactly

CASES = [
    # (rule, params, kind, actual) with share 0.66375 of the weight
    ("ratio", "target=100", IndicatorKind.QUANTITATIVE, D("66.375")),
    ("reverse_ratio", "target=66.375", IndicatorKind.QUANTITATIVE, D("100")),
    ("linear", "floor=0; target=100", IndicatorKind.QUANTITATIVE, D("66.375")),
    ("reverse_linear", "target=0; floor=100", IndicatorKind.QUANTITATIVE, D("33.625")),
    # bench_libreoffice's M00020: |90.31% − 95%| = 4.69%, (10% − 4.69%) / 8% = 0.66375
    ("band", "target=95%; tolerance=2%; zero_at=10%", IndicatorKind.QUANTITATIVE, D("0.9031")),
    ("steps", "steps=1:66.375; target=100", IndicatorKind.QUANTITATIVE, D("100")),
    ("deduction", "per=3.3625", IndicatorKind.QUANTITATIVE, D("1")),
    ("rating", "scale=A:66.375,B:50", QUAL, "A"),
    ("stars", "scale=1:20,2:66.375", QUAL, D("2")),
    ("points", "", QUAL, D("6.6375")),
    ("formula", "expr=weight * actual", IndicatorKind.QUANTITATIVE, D("0.66375")),
    ("formula", "expr=actual / 3 * weight", IndicatorKind.QUANTITATIVE, D("1.99125")),
]


def _month(rule, params, kind, actual, how):
    tested = ind("X", rule, 10, params, kind=kind)
    filler = ind("FILL", "points", 80)
    if how == "department":  # an indicator of weight 10 that does not apply to Sales
        dropped = ind("OTHER", "points", 10, departments=frozenset({"Production"}))
        facts = ()
    else:  # missing data excluded by policy
        dropped = ind("OTHER", "points", 10, missing=MissingPolicy.EXCLUDE)
        facts = ()
    facts = (fact("E1", "X", actual), fact("E1", "FILL", 0), *facts)
    return ScoreInput(rules(tested, dropped, filler), (emp("E1"),), facts)


@pytest.mark.parametrize("how", ["department", "excluded"])
@pytest.mark.parametrize(("rule", "params", "kind", "actual"), CASES,
                         ids=[f"{c[0]}:{c[1]}" for c in CASES])
def test_exact_half_with_weight_renormalised_by_100_over_90(rule, params, kind, actual, how):
    exact = Fraction(10 * 100, 90) * SHARE
    assert exact == Fraction("7.375")
    result = score(_month(rule, params, kind, actual, how))
    line = result.line("E1", "X")
    assert line.points == D("7.38"), line.explanation
    assert "11.1111 (weight 10 re-normalised: 10 × 100 / 90)" in line.explanation
    assert result.employee("E1").total == D("7.38")


def test_formula_dividing_first_still_rounds_the_exact_value():
    # 0.7375 / 3 × 30 = 7.375 exactly; in 28-digit Decimal 0.7375 / 3 = 0.245833…3 and the
    # product is 7.374999…9 (-> 7.37). The formula is evaluated in exact fractions.
    tested = ind("F", "formula", 30, "expr=actual / 3 * weight")
    filler = ind("FILL", "points", 70)
    inp = ScoreInput(rules(tested, filler), (emp("E1"),),
                     (fact("E1", "F", D("0.7375")), fact("E1", "FILL", 0)))
    assert score(inp).line("E1", "F").points == D("7.38")


def test_no_renormalisation_keeps_the_plain_figures():
    # the same share on the nominal weight: 10 × 0.66375 = 6.6375 -> 6.64
    tested = ind("X", "ratio", 10, "target=100")
    filler = ind("FILL", "points", 90)
    inp = ScoreInput(rules(tested, filler), (emp("E1"),),
                     (fact("E1", "X", D("66.375")), fact("E1", "FILL", 0)))
    line = score(inp).line("E1", "X")
    assert line.points == D("6.64")
    assert line.explanation == "66.38% of target × 10 = 6.64"


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_renormalised_explanations_are_unchanged(lang):
    result = score(_month("deduction", "per=3.3625", IndicatorKind.QUANTITATIVE, D("1"),
                          "department"), lang)
    line = result.line("E1", "X")
    if lang == "en":
        assert line.explanation == ("10 − 3.3625 × 1; re-scaled to weight 11.1111 (weight 10 "
                                    "re-normalised: 10 × 100 / 90) = 7.38")
    assert line.weight == D(1000) / D(90)  # the weight shown is still the 28-digit Decimal
