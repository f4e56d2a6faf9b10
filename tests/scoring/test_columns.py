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
