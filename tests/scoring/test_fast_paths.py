"""The engine's shortcuts give exactly what the long way gives, to the last digit and word.

- Rule results are remembered within a run, per indicator (or personal target), weight and
  value text: scoring everyone together gives the same lines as scoring each person alone
  (a run of their own, where nothing can come from anyone else's line).
- `score(inp, lang, base=bare)` reuses the kept run of a validated input that differs only in
  its adjustments: the same result, or the same problems, as scoring `inp` in full.

Lines are compared by `repr`, which shows every Decimal with its exponent (80 and 80.00 are
equal numbers but not the same text in the workbook).
"""

import dataclasses
import random
from decimal import Decimal as D

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from server.scoring import engine
from server.scoring.model import (
    Adjustment,
    IndicatorKind,
    MissingPolicy,
    ScoreInput,
    TargetOverride,
    ValidationError,
)
from server.scoring.params import parse_params
from tests.scoring.factories import emp, fact, ind, rules, weight_splits

QUAL, BONUS, PENALTY = IndicatorKind.QUALITATIVE, IndicatorKind.BONUS, IndicatorKind.PENALTY

# Few distinct values, written several ways: lines repeat and the remembered results are used.
NUMBERS = st.sampled_from([D("80"), D("80.0"), D("80.00"), D("100"), D("0"), D("-5"),
                           D("7.375"), D("95.5"), D("120"), D("33.333"), D("1E+2"), "85",
                           "85%", D("2.675")])
COUNTS = st.sampled_from([D(0), D(1), D(2), D("2.0"), D(3), D(7), "2"])
TEMPLATES = [
    ("ratio", "target=100; cap=1.2", None, NUMBERS),
    ("reverse_ratio", "target=3; cap=1.5", None, st.sampled_from([D(0), D(2), D("2.0"), D(6)])),
    ("reverse_linear", "target=2; floor=10", None, NUMBERS),
    ("linear", "floor=50; target=100; cap=1.1", None, NUMBERS),
    ("band", "target=100; tolerance=5; zero_at=30", None, NUMBERS),
    ("steps", "target=100; steps=0.8:60, 1:80, 1.2:110", None, NUMBERS),
    ("deduction", "per=1.5", None, COUNTS),
    ("rating", "", QUAL, st.sampled_from(["A", "b", " C ", "d"])),
    ("stars", "", QUAL, st.sampled_from([D(1), D(3), D("3.0"), "★★★☆☆", D(5)])),
    ("points", "", QUAL, NUMBERS),
    ("formula", "expr=weight * actual / target; target=80; cap=1.3", None, NUMBERS),
]
ITEMS = [
    ("per_item", "per=0.75; cap=3", BONUS, COUNTS),
    ("per_item", "per=1.333; cap=4", PENALTY, COUNTS),
]
PERSONAL = {"ratio": ["target=90", "target=90.0", "target=110; cap=1.5"],
            "linear": ["floor=40", "target=90"], "band": ["target=90"],
            "steps": ["target=90"], "reverse_linear": ["floor=12"]}
POINTS = ["1", "-1", "0.5", "1.500", "-0.25", "0.005", "30", "-30"]


@st.composite
def months(draw):
    """A valid month (no adjustments) whose values repeat: indicators that apply to some
    departments only, exclude/zero policies (re-normalised weights), personal targets,
    stale values."""
    picks = draw(st.lists(st.integers(0, len(TEMPLATES) - 1), min_size=1, max_size=6))
    weights = draw(weight_splits(len(picks)))
    indicators, values = [], {}
    for n, (pick, weight) in enumerate(zip(picks, weights, strict=True)):
        rule, params, kind, values_of = TEMPLATES[pick]
        only = draw(st.sampled_from([frozenset(), frozenset({"Sales"})])) if n else frozenset()
        missing = draw(st.sampled_from([MissingPolicy.ZERO, MissingPolicy.EXCLUDE]))
        indicators.append(ind(f"K{n}", rule, weight, params, kind or IndicatorKind.QUANTITATIVE,
                              departments=only, missing=missing,
                              unit=draw(st.sampled_from(["", "%"]))))
        values[f"K{n}"] = values_of
    for n, pick in enumerate(draw(st.lists(st.integers(0, len(ITEMS) - 1), max_size=2))):
        rule, params, kind, values_of = ITEMS[pick]
        indicators.append(ind(f"X{n}", rule, 0, params, kind, missing=MissingPolicy.ZERO))
        values[f"X{n}"] = values_of
    people = [emp(f"E{i}", draw(st.sampled_from(["Sales", "Ops"])))
              for i in range(draw(st.integers(1, 12)))]
    facts, overrides = [], []
    for person in people:
        for indicator in indicators:
            # K0 applies to everyone and is always present: nobody loses every weight
            if indicator.code == "K0" or draw(st.integers(0, 3)):
                facts.append(fact(person.employee_id, indicator.code,
                                  draw(values[indicator.code]), stale=draw(st.integers(0, 9)) == 0))
        applicable = [i for i in indicators if i.applies_to(person) and i.rule in PERSONAL]
        if applicable and draw(st.booleans()):
            indicator = draw(st.sampled_from(applicable))
            overrides.append(TargetOverride(person.employee_id, indicator.code, parse_params(
                draw(st.sampled_from(PERSONAL[indicator.rule])))))
    rs = rules(*indicators, quotas="A:20,B:70,C:10")
    return ScoreInput(rs, tuple(people), tuple(facts), tuple(overrides))


def outcome(inp, lang="en", **kwargs):
    """repr of every line and person, or the problems' texts and keys."""
    try:
        result = engine.score(inp, lang, **kwargs)
    except ValidationError as exc:
        return "problems", [(p.table, p.column, p.message, p.key) for p in exc.problems]
    return "scored", [repr(ln) for ln in result.lines], [repr(e) for e in result.employees]


def adjustments_for(inp, rnd, n):
    """n adjustments, some of which the engine refuses (outside the line's range, too many
    decimals, no reason, not applicable, nobody)."""
    people = [e.employee_id for e in inp.employees] + ["NOBODY"]
    codes = [i.code for i in inp.rules.indicators]
    return tuple(Adjustment(rnd.choice(people), rnd.choice(codes), D(rnd.choice(POINTS)),
                            rnd.choice(["checked", "appeal", "", "ok"]), rnd.choice("ab"))
                 for _ in range(n))


def accepted(inp, adjustments):
    """`inp` with those of `adjustments` the engine accepts (dropping refused ones until none
    is refused)."""
    while True:
        candidate = dataclasses.replace(inp, adjustments=adjustments)
        refused = {p.key[:2] for p in engine.validate(candidate) if p.key}
        if not refused:
            return candidate
        adjustments = tuple(a for a in adjustments
                            if (a.employee_id, a.indicator) not in refused)


FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(months(), st.sampled_from(["en", "zh"]))
def test_everyone_together_scores_as_each_person_alone(inp, lang):
    together = outcome(inp, lang)
    assume(together[0] == "scored")
    lines = []
    for person in inp.employees:
        alone = ScoreInput(inp.rules, (person,),
                           tuple(f for f in inp.facts if f.employee_id == person.employee_id),
                           tuple(o for o in inp.overrides if o.employee_id == person.employee_id))
        lines += outcome(alone, lang)[1]
    assert together[1] == lines


@FAST
@given(months(), st.randoms(use_true_random=False), st.sampled_from(["en", "zh"]))
def test_rescoring_from_a_validated_base_equals_a_full_score(bare, rnd, lang):
    assume(engine.validate(bare, lang) == [])
    for n in (0, 1, 3, 8):
        inp = dataclasses.replace(bare, adjustments=adjustments_for(bare, rnd, n))
        fresh = dataclasses.replace(inp)  # another object: nothing kept for it
        assert outcome(inp, lang, base=bare) == outcome(fresh, lang)


@FAST
@given(months(), st.randoms(use_true_random=False))
def test_rescoring_from_a_base_with_adjustments_of_its_own(bare, rnd):
    assume(engine.validate(bare) == [])
    first = accepted(bare, adjustments_for(bare, rnd, 6))
    for n in (0, 2, 6):
        inp = dataclasses.replace(first, adjustments=adjustments_for(bare, rnd, n))
        assert outcome(inp, base=first) == outcome(dataclasses.replace(inp))


def _month():
    rs = rules(ind("R", "ratio", 60, "target=100"), ind("S", "steps", 40,
                                                       "target=100; steps=0.8:60, 1:100"))
    people = tuple(emp(f"E{i}") for i in range(6))
    facts = tuple(fact(p.employee_id, code, 90 + i) for i, p in enumerate(people)
                  for code in ("R", "S"))
    return ScoreInput(rs, people, facts)


def test_rescoring_takes_the_lines_of_everyone_not_adjusted():
    bare = _month()
    assert engine.validate(bare) == []
    kept = engine._SCORED[id(bare)][2]
    inp = dataclasses.replace(bare, adjustments=(Adjustment("E2", "R", D(4), "appeal"),))
    result = engine.score(inp, base=bare)
    assert result.line("E2", "R").points == kept.line("E2", "R").points + 4
    # the lines of everyone else are the kept run's, not computed again: the same objects

    def same(n):
        return all(result.lines.column(f)[n] is kept.lines.column(f)[n]
                   for f in ("actual", "base_points", "points"))

    assert not same(4)  # E2's R line
    assert all(same(n) for n in (0, 1, 2, 3, 6, 7, 8, 9, 10, 11))
    assert result.employee("E2").rank == 1
    assert engine.score(bare) is kept  # the base's own run is still there for it


def test_rescoring_refuses_like_a_full_score():
    bare = _month()
    assert engine.validate(bare) == []
    inp = dataclasses.replace(bare, adjustments=(Adjustment("E2", "R", D(50), "appeal"),
                                                 Adjustment("E9", "R", D(1), "appeal")))
    with pytest.raises(ValidationError) as reused:
        engine.score(inp, base=bare)
    with pytest.raises(ValidationError) as full:
        engine.score(dataclasses.replace(inp))
    assert reused.value.problems == full.value.problems
    assert [p.key for p in full.value.problems] == [("E9", "R"), ("E2", "R", "points")]


@pytest.mark.parametrize("change", ["facts", "lang", "not validated", "invalid base"])
def test_a_base_that_does_not_qualify_means_a_full_score(change, monkeypatch):
    bare = _month()
    lang = "en"
    if change == "invalid base":
        bare = dataclasses.replace(bare, facts=(*bare.facts, fact("E0", "R", 1)))  # twice
    if change != "not validated":
        engine.validate(bare)
    inp = dataclasses.replace(bare, adjustments=(Adjustment("E2", "R", D(1), "appeal"),))
    if change == "facts":
        inp = dataclasses.replace(inp, facts=tuple(reversed(bare.facts)))
    if change == "lang":
        lang = "zh"
    runs = []
    real = engine._Run
    monkeypatch.setattr(engine, "_Run", lambda *a: runs.append(a) or real(*a))
    assert outcome(inp, lang, base=bare) == outcome(dataclasses.replace(inp), lang)
    assert len(runs) == 2  # both scored in full


def test_a_kept_run_holds_no_reference_to_its_input():
    import gc

    bare = _month()
    engine.validate(bare)
    key = id(bare)
    assert key in engine._SCORED
    del bare
    gc.collect()
    assert key not in engine._SCORED


def test_a_larger_month_rescored_with_random_adjustments():
    """A few hundred people on every rule, adjusted again and again from one base."""
    rnd = random.Random(7)
    indicators = [ind("R", "ratio", 30, "target=100; cap=1.2"),
                  ind("L", "linear", 20, "floor=50; target=100", missing=MissingPolicy.EXCLUDE),
                  ind("T", "steps", 20, "target=100; steps=0.8:60, 1:100",
                      departments=frozenset({"Sales"})),
                  ind("G", "rating", 15, "", QUAL),
                  ind("F", "formula", 15, "expr=weight * min(1, actual / target); target=50"),
                  ind("B", "per_item", 0, "per=1; cap=3", BONUS, missing=MissingPolicy.ZERO)]
    people = tuple(emp(f"E{i}", rnd.choice(["Sales", "Ops", "Service"])) for i in range(300))
    facts = []
    for p in people:
        facts += [fact(p.employee_id, "R", rnd.randint(60, 130)),
                  fact(p.employee_id, "G", rnd.choice("ABCD")),
                  fact(p.employee_id, "F", rnd.randint(20, 60)),
                  fact(p.employee_id, "B", rnd.randint(0, 4))]
        if rnd.random() < 0.9:
            facts.append(fact(p.employee_id, "L", D(rnd.randint(400, 1100)) / 10))
        if p.department == "Sales":
            facts.append(fact(p.employee_id, "T", rnd.randint(70, 120)))
    bare = ScoreInput(rules(*indicators, quotas="A:20,B:70,C:10"), people, tuple(facts))
    assert engine.validate(bare, "zh") == []
    for n in (1, 10, 40):
        adjustments = tuple(Adjustment(p.employee_id, "R", D(rnd.choice(["0.5", "-0.5", "1"])),
                                       "appeal") for p in rnd.sample(people, n))
        inp = dataclasses.replace(bare, adjustments=adjustments)
        expected = outcome(dataclasses.replace(inp), "zh")
        assert outcome(inp, "zh", base=bare) == expected


@FAST
@given(st.lists(st.tuples(st.sampled_from(["Sales", "Ops", "HR"]),
                          st.sampled_from([D("80.00"), D("75.50"), D("90"), D("80"), D(0)])),
                max_size=40))
def test_group_order_taken_from_the_overall_order(people):
    """result() sorts everyone once and reads each group's order off it: the same ranks and
    grades as sorting each group on its own."""
    from server.scoring.model import GradeQuota

    quotas = [GradeQuota("A", D("0.2")), GradeQuota("B", D("0.7")), GradeQuota("C", D("0.1"))]
    totals = [t for _, t in people]
    order = engine.rank_order(totals)
    for group in ("Sales", "Ops", "HR"):
        members = [i for i, (g, _) in enumerate(people) if g == group]
        local = {i: k for k, i in enumerate(members)}
        part = [totals[i] for i in members]
        part_order = [local[i] for i in order if i in local]
        assert part_order == engine.rank_order(part)
        assert engine.competition_ranks(part, part_order) == engine.competition_ranks(part)
        assert engine.forced_grades(part, quotas, part_order) == engine.forced_grades(part,
                                                                                      quotas)
