"""The column path (server/scoring/columns.py, kernels.py) gives exactly what the per-line path
gives: every field of every line (by repr: 80 and 80.00 are equal numbers, not the same text),
every explanation in both languages, every total, grade and rank, the same problems in the
same order, and the same result again from a kept run with other adjustments.

The per-line path is the reference (engine.COLUMNS = False); inputs come from hypothesis
(test_fast_paths.months: repeated values written several ways, personal targets, missing-data
policies, stale values, adjustments), the shipped templates and bench/workload.py months.
"""

from __future__ import annotations

import dataclasses
import random
import sys
from decimal import Decimal as D
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.scoring import engine
from server.scoring.kernels import _ratio, _scaled, ratio_texts
from server.scoring.model import IndicatorKind, ScoreInput, ValidationError
from server.scoring.params import parse_params
from server.scoring.rules import build_scorer
from tests.scoring.factories import emp, fact, ind, rules
from tests.scoring.test_fast_paths import FAST, accepted, adjustments_for, months

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import workload  # noqa: E402


def full(inp: ScoreInput, lang: str = "en", **kwargs) -> tuple:
    """Every field of every line and person (explanations included), or the problems."""
    try:
        result = engine.score(inp, lang, **kwargs)
    except ValidationError as exc:
        return "problems", [(p.table, p.column, p.message, p.key) for p in exc.problems]
    lines = result.lines
    return ("scored", [repr(row) for row in lines.rows],
            [repr(ln) for ln in lines], [repr(e) for e in result.employees])


def per_line(inp: ScoreInput, lang: str = "en", **kwargs) -> tuple:
    engine.COLUMNS = False
    try:
        return full(inp, lang, **kwargs)
    finally:
        engine.COLUMNS = True


def both(inp: ScoreInput, lang: str = "en") -> tuple:
    fresh = dataclasses.replace(inp)  # another object: nothing kept from the other path
    column, line = full(inp, lang), per_line(fresh, lang)
    assert column == line
    return column


@FAST
@given(months(), st.sampled_from(["en", "zh"]))
def test_columns_equal_lines_on_random_months(inp, lang):
    both(inp, lang)


@FAST
@given(months(), st.randoms(use_true_random=False), st.sampled_from(["en", "zh"]))
def test_columns_equal_lines_with_adjustments_and_problems(bare, rnd, lang):
    for n in (1, 4, 10):
        both(dataclasses.replace(bare, adjustments=adjustments_for(bare, rnd, n)), lang)


@FAST
@given(months(), st.randoms(use_true_random=False), st.sampled_from(["en", "zh"]))
def test_a_kept_column_run_rescored_with_adjustments_equals_the_per_line_path(bare, rnd, lang):
    if engine.validate(bare, lang):
        return
    inp = accepted(bare, adjustments_for(bare, rnd, 6))
    again = full(inp, lang, base=bare)
    assert again == per_line(dataclasses.replace(inp), lang)
    # and a kept run of a month with adjustments, rescored without some of them
    if engine.validate(inp, lang) == []:
        fewer = dataclasses.replace(inp, adjustments=inp.adjustments[::2])
        assert full(fewer, lang, base=inp) == per_line(dataclasses.replace(fewer), lang)


@pytest.mark.parametrize(("managers", "indicators", "seed"),
                         [(400, 10, 1), (250, 12, 2), (150, 23, 3), (60, 3, 4)])
def test_columns_equal_lines_on_bench_workload_months(managers, indicators, seed):
    load = workload.generate(managers, indicators, seed=seed)
    result = both(load.score_input(), random.Random(seed).choice(["en", "zh"]))
    assert result[0] == "scored"


@pytest.mark.parametrize("key", ["manufacturing", "rnd", "sales"])
def test_columns_equal_lines_on_the_shipped_templates(key):
    from addin.headless import snapshot_from_xlsx
    from server.workbook.contract import read_tables, to_score_input
    from tests.workbook.books import TEMPLATE_DIR

    inp = to_score_input(read_tables(snapshot_from_xlsx(TEMPLATE_DIR / f"{key}.xlsx")))
    for lang in ("zh", "en"):
        assert both(inp, lang)[0] == "scored"


def test_the_column_path_is_taken_for_a_clean_month_and_declines_on_problems():
    inp = workload.generate(50, 10).score_input()
    run = engine._Run(inp, "en")
    assert run.columns is not None and not run.problems
    bad = dataclasses.replace(inp, facts=inp.facts + (fact("NOBODY", "REV", D(1)),))
    assert engine._Run(bad, "en").columns is None


def test_a_value_the_rule_refuses_is_reported_as_by_the_per_line_path():
    rs = rules(ind("A", "ratio", 60, "target=100"), ind("B", "deduction", 40, "per=2"))
    people = tuple(emp(f"E{i}", "Sales") for i in range(4))
    facts = [fact(p.employee_id, "A", D(80 + i)) for i, p in enumerate(people)]
    facts += [fact(p.employee_id, "B", D(i) if i != 2 else D("-1")) for i, p in
              enumerate(people)]
    facts.append(fact("E3", "A", "abc"))
    inp = ScoreInput(rs, people, tuple(facts))
    assert both(inp)[0] == "problems"
    assert both(dataclasses.replace(inp, facts=tuple(facts[:-1])))[0] == "problems"


# -- the ratio kernel against the rule itself ---------------------------------------------------

@FAST
@given(st.lists(st.tuples(st.integers(-5000, 10**6), st.integers(0, 6)), min_size=1,
                max_size=40),
       st.sampled_from(["target=1000", "target=3; cap=1.2", "target=0.07; cap=1.5",
                        "target=12345.678; cap=2", "target=0.001; cap=1.05"]),
       st.sampled_from([(D(15), None), (D(1500), D(90)), (D(1000), D(73)), (D("12.5"), None),
                        (D(700), D("99.99"))]))
def test_ratio_kernel_equals_the_rule_line_by_line(numbers, params, weighting):
    values = [D(n).scaleb(-places) for n, places in numbers]
    scorer = build_scorer(ind("R", "ratio", 10, params))
    w_run, divisor = weighting
    groups = np.zeros(len(values), dtype=np.int64)
    found = _ratio(list(map(str, values)), groups, [((D(10), "10", w_run, divisor), scorer)])
    assert found is not None
    points, cents = found
    for value, mine, c in zip(values, points, cents.tolist(), strict=True):
        raw, _ = scorer.run(value, w_run, "10", None)
        if divisor is not None:
            raw = raw / divisor
        expected = raw.quantize(D("0.01"), "ROUND_HALF_UP")
        assert repr(mine) == repr(expected) and c == int(expected.scaleb(2))
    texts = ratio_texts(list(map(str, values)), groups,
                        [((D(10), "10", w_run, divisor), scorer)], cents)
    assert texts is not None
    for value, text, base in zip(values, texts.tolist(), points, strict=True):
        _, words = scorer.run(value, w_run, "10", None)
        assert text == (f"{words} = {base}" if value > 0 else None)


def test_scaled_reads_plain_decimals_and_refuses_what_does_not_fit():
    digits, unit, largest = _scaled(["12.5", "-3", "0.0012", "100"])
    assert unit == 10**4 and digits.tolist() == [125000, -30000, 12, 1000000]
    assert largest == 1000000
    repeated, unit, largest = _scaled(["1.5", "2", "1.5", "-3", "2", "0.25"])  # read once each
    assert unit == 100 and repeated.tolist() == [150, 200, 150, -300, 200, 25] and largest == 300
    assert _scaled(["1.5", "1.5", "1E+2"]) is None
    assert _scaled(["1E+2"]) is None
    assert _scaled(["0.0000001"]) is None  # 7 places
    assert _scaled(["12345678901234567.5"]) is None


def test_personal_targets_and_items_on_one_column():
    rs = rules(ind("R", "ratio", 100, "target=100; cap=1.2"),
               ind("P", "per_item", 0, "per=0.75; cap=3", IndicatorKind.PENALTY))
    people = tuple(emp(f"E{i}", "Sales" if i % 2 else "Ops") for i in range(30))
    facts = [fact(p.employee_id, "R", D(70 + 3 * i) / 10 ** (i % 3)) for i, p in
             enumerate(people)]
    facts += [fact(p.employee_id, "P", D(i % 4)) for i, p in enumerate(people)]
    from server.scoring.model import TargetOverride

    overrides = tuple(TargetOverride(p.employee_id, "R", parse_params(f"target={50 + i % 5}"))
                      for i, p in enumerate(people) if i % 3)
    inp = ScoreInput(rs, people, tuple(facts), overrides)
    for lang in ("en", "zh"):
        assert both(inp, lang)[0] == "scored"


def test_a_result_holds_no_reference_cycle_and_lets_its_run_go_once_worded():
    """Reference counting frees a result (the cycle collector is paused while scoring), and
    the run that makes the explanations goes once they are made."""
    import gc
    import weakref

    inp = workload.generate(30, 10).score_input()
    gc.disable()
    try:
        result = engine.score(inp)
        run = weakref.ref(result.lines._lazy["explanation"].__self__)
        assert run() is not None
        del result
        assert run() is None
        result = engine.score(inp)
        run = weakref.ref(result.lines._lazy["explanation"].__self__)
        assert result.lines.column("explanation")[0]
        assert run() is None
    finally:
        gc.enable()


# -- the other scaled-integer kernels and the formula kernel against the rules themselves -------

def _expected(scorer, value, w_run, divisor, fields=None):
    raw, _ = scorer.run(value, w_run, "10", fields)
    if divisor is not None:
        raw = raw / divisor
    return raw.quantize(D("0.01"), "ROUND_HALF_UP")


def _assert_lines(found, expected):
    assert found is not None
    points, cents = found
    assert [repr(p) for p in points] == [repr(e) for e in expected]
    assert cents.tolist() == [int(e.scaleb(2)) for e in expected]


KERNEL_PARAMS = {
    "reverse_ratio": ["target=3; cap=1.5", "target=100; cap=1.2", "target=0.07",
                      "target=0; cap=2", "target=12345.678; cap=1.05"],
    "linear": ["floor=50; target=100; cap=1.1", "floor=0.9; target=0.98; cap=1.1",
               "floor=-20; target=7.5; cap=1", "floor=0; target=0.003; cap=3"],
    "reverse_linear": ["target=2; floor=10", "target=0.05; floor=0.2", "target=-3; floor=4.25"],
    "band": ["target=100; tolerance=5; zero_at=30", "target=0.95; tolerance=0.02; zero_at=0.1",
             "target=-1.5; tolerance=0; zero_at=0.004"],
}
WEIGHTINGS = [(D(15), None), (D(1500), D(90)), (D(1000), D(73)), (D("12.5"), None),
              (D(700), D("99.99")), (D(1000), D(3))]


@FAST
@given(st.sampled_from(sorted(KERNEL_PARAMS)), st.data(),
       st.lists(st.tuples(st.integers(-10**6, 10**7), st.integers(0, 6)), min_size=1,
                max_size=40),
       st.lists(st.sampled_from(WEIGHTINGS), min_size=1, max_size=3))
def test_scaled_kernels_equal_the_rules_line_by_line(rule, data, numbers, weightings):
    """Every line of a reverse_ratio, linear, reverse_linear or band column, in several groups
    (weightings, a personal target's scorer), is the rule's own figure; the boundaries
    (target, floor, cap, tolerance, zero_at) and their neighbours are drawn on purpose."""
    from server.scoring.kernels import _scaled_rule

    scorers = [build_scorer(ind("K", rule, 10, p))
               for p in data.draw(st.lists(st.sampled_from(KERNEL_PARAMS[rule]), min_size=1,
                                           max_size=2))]
    bounds = []
    for scorer in scorers:
        parts = scorer.kernel[1]
        bounds += [*parts, *(-p for p in parts), *(parts[0] + p for p in parts),
                   *(parts[0] - p for p in parts)]
        if rule == "linear":  # where the cap starts
            bounds.append(parts[0] + parts[2] * (parts[1] - parts[0]))
        if rule == "reverse_ratio" and parts[0]:
            bounds.append((parts[0] / parts[1]).quantize(D("0.000001")))
    edges = [b + d for b in bounds for d in (0, D("0.000001"), D("-0.000001"), D("0.01"))]
    values = [D(n).scaleb(-places) for n, places in numbers]
    values += data.draw(st.lists(st.sampled_from(edges), max_size=20))
    if rule == "reverse_ratio":
        values = [abs(v) for v in values]  # a negative actual is refused: below
    params = [(w, s) for w in weightings for s in scorers]
    params = [((D(10), "10", w_run, divisor), s) for (w_run, divisor), s in params]
    groups = np.array([data.draw(st.integers(0, len(params) - 1)) for _ in values])
    found = _scaled_rule(rule, list(map(str, values)), groups, params)
    expected = [_expected(params[g][1], v, params[g][0][2], params[g][0][3])
                for v, g in zip(values, groups.tolist(), strict=True)]
    _assert_lines(found, expected)


def test_scaled_kernels_decline_what_does_not_fit_and_the_engine_still_scores_it():
    from server.scoring.kernels import _scaled_rule

    band = build_scorer(ind("B", "band", 10, "target=100; tolerance=5; zero_at=30"))
    one = [((D(10), "10", D(1000), None), band)]
    zeros = np.zeros(1, dtype=np.int64)
    assert _scaled_rule("band", ["1E+3"], zeros, one) is None  # exponent form
    assert _scaled_rule("band", ["0.0000001"], zeros, one) is None  # 7 places
    assert _scaled_rule("band", ["99999999999999999"], zeros, one) is None  # 17 digits, 6 more
    fine = build_scorer(ind("B", "band", 10, "target=100.1234567; tolerance=5; zero_at=30"))
    assert _scaled_rule("band", ["100"], zeros, [((D(10), "10", D(1000), None), fine)]) is None
    huge = [((D(10), "10", D(10) ** 12, None), band)]  # points beyond the kernel's bound
    assert _scaled_rule("band", ["100"], zeros, huge) is None
    reverse = build_scorer(ind("R", "reverse_ratio", 10, "target=3"))
    assert _scaled_rule("reverse_ratio", ["-1"], zeros, [((D(10), "10", D(1000), None),
                                                          reverse)]) is None
    # through the engine: huge actuals, 7 places and a negative cost, as the per-line path
    rs = rules(ind("A", "band", 40, "target=100; tolerance=5; zero_at=30"),
               ind("B", "linear", 30, "floor=50; target=100"),
               ind("C", "reverse_ratio", 30, "target=3"))
    people = tuple(emp(f"E{i}", "Sales") for i in range(6))
    odd = [D("1E+20"), D("0.0000001"), D("123456789012345678"), D("-7"), D(0), D("100.5")]
    facts = [fact(p.employee_id, code, value) for p, value in zip(people, odd, strict=True)
             for code in ("A", "B")]
    facts += [fact(p.employee_id, "C", abs(value)) for p, value in zip(people, odd, strict=True)]
    inp = ScoreInput(rs, people, tuple(facts))
    for lang in ("en", "zh"):
        assert both(inp, lang)[0] == "scored"
    negative = facts[:-1] + [fact("E5", "C", D("-1"))]
    assert both(dataclasses.replace(inp, facts=tuple(negative)))[0] == "problems"
    beyond = [fact("E0", "A", D("1E+30")), *facts[1:]]  # quantize refuses the line's figure
    assert both(dataclasses.replace(inp, facts=tuple(beyond)))[0] == "problems"


FORMULAS = [
    workload.TICK_EXPR + "; cap=1",
    "expr=weight * actual / target; target=80; cap=1.3",
    "expr=min(actual, target) / target * weight - abs(actual - target) / 10; target=50",
    "expr=clamp(round(actual / 3, 2), 0, 1) * weight if actual > 0 and not actual == 7 "
    "else weight / 2; cap=1.2",
    "expr=max(actual, 0) * 0.5 + (actual >= 10) * weight / 4; cap=2",
    "expr=weight * (1 if 0 <= actual < 100 else 2) / 3; cap=1",
    "expr=round(actual * weight / 7, -1) + 0.005; cap=1.5",
]


@FAST
@given(st.sampled_from(FORMULAS), st.data(),
       st.lists(st.tuples(st.integers(-500, 500), st.integers(1, 400), st.integers(0, 3)),
                min_size=1, max_size=30),
       st.lists(st.sampled_from([D(15), D(10), D("12.5"), D(1500)]), min_size=1, max_size=2),
       st.sampled_from(["en", "zh"]))
def test_the_formula_kernel_equals_the_rule_line_by_line(params, data, numbers, weights, lang):
    """A formula column evaluated at once (formula.Formula.evaluate_columns) gives each
    line's figure exactly, and each line's words (kernels.formula_texts: below 0, capped,
    between, facts written several ways); a re-normalised weight comes as a Fraction."""
    from fractions import Fraction

    from server.scoring.kernels import _formula, formula_texts

    if params.startswith("weight if"):
        params = "expr=" + params
    scorer = build_scorer(ind("F", "formula", 10, params), lang=lang)
    runs = [w if data.draw(st.booleans()) else Fraction(w * 100) / Fraction(data.draw(
        st.sampled_from([90, 73, 7]))) for w in weights]
    values, fields = [], []
    for a, b, places in numbers:
        actual = D(a).scaleb(-places)
        values.append(actual)
        fields.append({"actual": actual, "resolved": D(min(a % 400, b)), "total": D(b)})
    params_of = [((D(10), "10", w, None), scorer) for w in runs]
    groups = np.array([data.draw(st.integers(0, len(params_of) - 1)) for _ in values])
    found = _formula(values, fields, groups, params_of)
    expected = [_expected(scorer, v, runs[g], None, f)
                for v, f, g in zip(values, fields, groups.tolist(), strict=True)]
    _assert_lines(found, expected)
    texts = formula_texts(values, fields, groups, params_of, found[1])
    assert texts is not None
    worded = [f"{scorer.run(v, runs[g], '10', f)[1]} = {e}"
              for v, f, g, e in zip(values, fields, groups.tolist(), expected, strict=True)]
    assert texts.tolist() == worded


def test_the_formula_kernel_declines_what_the_rule_would_refuse():
    from server.scoring.kernels import _formula, formula_texts

    def points(expr, actual):
        scorer = build_scorer(ind("F", "formula", 10, f"expr={expr}"))
        return _formula([D(actual)], [{"actual": D(actual)}], np.zeros(1, dtype=np.int64),
                        [((D(10), "10", D(10), None), scorer)])

    assert points("weight / actual", 0) is None  # division by zero
    assert points("actual > 1", 5) is None  # true/false, not a number
    assert points("round(actual, 0.5)", 5) is None  # round to half a place
    assert points("weight if actual > 1 else actual > 2", 5) is not None  # the taken branch
    # the words decline with the figures, and for points below 0 (a negative cap)
    scorer = build_scorer(ind("F", "formula", 10, "expr=weight / actual"))
    one = [((D(10), "10", D(10), None), scorer)]
    zeros = np.zeros(1, dtype=np.int64)
    assert formula_texts([D(0)], [{"actual": D(0)}], zeros, one, zeros) is None
    negative = build_scorer(ind("F", "formula", 10, "expr=weight * actual; cap=-1"))
    assert formula_texts([D(2)], [{"actual": D(2)}], zeros,
                         [((D(10), "10", D(10), None), negative)], zeros) is None
    assert formula_texts([D(2)], [{"actual": D(2)}], zeros, one, np.array([-1])) is None
    rs = rules(ind("F", "formula", 100, "expr=weight * 10 / actual"))
    people = tuple(emp(f"E{i}", "Sales") for i in range(3))
    inp = ScoreInput(rs, people, tuple(fact(p.employee_id, "F", D(i))
                                       for i, p in enumerate(people)))
    assert both(inp)[0] == "problems"  # E0's division by zero, said by the per-line path



@FAST
@given(st.one_of(st.integers(-10**6, 10**6), st.integers(-10**30, 10**30),
                 st.sampled_from([0, 1, -1, 5, 99995, -99995, 123456789012, 1234567890123,
                                  -12345678901, 10**20 - 1, 10**20, -(10**20)])),
       st.one_of(st.integers(1, 10**9), st.sampled_from([1, 2, 3, 7, 16, 20000, 200000,
                                                         10**6, 10**7, 2**30, 10**24])),
       st.integers(0, 8))
def test_a_formula_value_is_written_as_its_decimal(n, d, shift):
    """rules.ratio_text (the formula's value in its explanation, worked in integers) writes
    exactly what num_text writes for decimal_of_ratio: exact and cut, long and short, below
    1E-6 (exponent form), at the integer bound, negative and zero."""
    from server.scoring.numbers import decimal_of_ratio
    from server.scoring.rules import num_text, ratio_text

    d *= 10**shift
    try:
        expected = num_text(decimal_of_ratio(n, d))
    except ArithmeticError:  # too many digits to cut to 4 places: the same error
        with pytest.raises(ArithmeticError):
            ratio_text(n, d)
        return
    assert ratio_text(n, d) == expected


def test_a_formula_value_is_written_as_its_decimal_at_the_edges():
    from server.scoring.numbers import decimal_of_ratio
    from server.scoring.rules import num_text, ratio_text

    edges = [(1, 10**6), (1, 10**7), (-1, 10**7), (12, 10**8), (1, 2 * 10**6),  # 1E-6 and below
             (123456700005, 10**5), (-123456700005, 10**5), (123456700004, 10**5),  # halves
             (1234567890125, 10**4), (1, 20000), (-1, 20000), (1, 3), (-2, 3), (0, 7),
             (99999999999, 1), (999999999999, 1), (-99999999999, 1), (10**12, 1),  # 12 chars
             (123456789, 10**3), (-12345678, 10**3), (12345678901, 10**6),
             (-1234567891, 10**6), (123456789, 10**10), (-123456789, 10**10),
             (123456789012, 10**11), (10**20 - 1, 1), (10**20, 1)]
    for n, d in edges:
        assert ratio_text(n, d) == num_text(decimal_of_ratio(n, d)), (n, d)
