"""Properties that hold for any rule set and any data: caps, sums, determinism, order."""

from decimal import Decimal as D
from fractions import Fraction

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.scoring.engine import score
from server.scoring.model import IndicatorKind, MissingPolicy, ScoreInput
from server.scoring.numbers import decimal_of, round_half_up
from server.scoring.rules import build_scorer
from tests.scoring.factories import emp, fact, ind, rules, weight_splits

QUAL, BONUS, PENALTY = IndicatorKind.QUALITATIVE, IndicatorKind.BONUS, IndicatorKind.PENALTY

# (rule, params, kind, value strategy)
numbers = st.decimals(min_value=-50, max_value=500, places=3, allow_nan=False,
                      allow_infinity=False)
counts = st.integers(min_value=0, max_value=12).map(D)
TEMPLATES = [
    ("ratio", "target=100; cap=1.2", None, numbers),
    ("ratio", "target=7", None, numbers),
    ("reverse_ratio", "target=3; cap=1.5", None, st.decimals(min_value=0, max_value=20, places=3)),
    ("reverse_linear", "target=2; floor=10", None, numbers),
    ("linear", "floor=50; target=100; cap=1.1", None, numbers),
    ("band", "target=100; tolerance=5; zero_at=30", None, numbers),
    ("steps", "target=100; steps=0.8:60, 1:80, 1.2:110", None, numbers),
    ("deduction", "per=1.5", None, counts),
    ("rating", "", QUAL, st.sampled_from(["A", "b", " C ", "d"])),
    ("stars", "", QUAL, st.integers(min_value=1, max_value=5).map(D)),
    ("points", "", QUAL, numbers),
    ("formula", "expr=weight * actual / target; target=80; cap=1.3", None, numbers),
]
ITEMS = [
    ("per_item", "per=0.75; cap=3", BONUS, counts),
    ("per_item", "per=1.333; cap=4", PENALTY, counts),
]
DEPARTMENTS = ["Sales", "Ops", "Service"]


@st.composite
def months(draw):
    """A random but valid month: indicators, weights summing to 100, people and facts."""
    picks = draw(st.lists(st.integers(0, len(TEMPLATES) - 1), min_size=1, max_size=6))
    weights = draw(weight_splits(len(picks)))
    indicators, values = [], {}
    for n, (pick, weight) in enumerate(zip(picks, weights, strict=True)):
        rule, params, kind, values_of = TEMPLATES[pick]
        only = draw(st.sampled_from([frozenset(), frozenset({"Sales"})])) if n else frozenset()
        missing = draw(st.sampled_from([MissingPolicy.ZERO, MissingPolicy.EXCLUDE]))
        code = f"K{n}"
        indicators.append(ind(code, rule, weight, params, kind or IndicatorKind.QUANTITATIVE,
                              departments=only, missing=missing))
        values[code] = values_of
    for n, pick in enumerate(draw(st.lists(st.integers(0, len(ITEMS) - 1), max_size=2))):
        rule, params, kind, values_of = ITEMS[pick]
        code = f"X{n}"
        indicators.append(ind(code, rule, 0, params, kind, missing=MissingPolicy.ZERO))
        values[code] = values_of
    people = [emp(f"E{i}", draw(st.sampled_from(DEPARTMENTS)))
              for i in range(draw(st.integers(1, 8)))]
    facts = []
    for person in people:
        for indicator in indicators:
            # K0 applies to everyone and is always present: nobody loses every weight
            if indicator.code == "K0" or draw(st.booleans()) or draw(st.booleans()):
                facts.append(fact(person.employee_id, indicator.code, draw(values[indicator.code])))
    rs = rules(*indicators, quotas="A:20,B:70,C:10")
    return ScoreInput(rs, tuple(people), tuple(facts))


def figures(result):
    lines = {(ln.employee_id, ln.indicator): (ln.points, ln.base_points, ln.weight, ln.status)
             for ln in result.lines}
    people = {e.employee_id: (e.total, e.grade, e.rank, e.group_rank) for e in result.employees}
    return lines, people


FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(months())
def test_a_line_never_exceeds_its_cap(inp):
    result = score(inp)
    by_code = {i.code: i for i in inp.rules.indicators}
    for line in result.lines:
        if line.points is None:
            continue
        indicator = by_code[line.indicator]
        scorer = build_scorer(indicator)
        if indicator.weighted:
            # the exact weight (w × 100 / s, shown as a 28-digit Decimal) × the largest share
            exact_weight = Fraction(line.weight).limit_denominator(10**9)
            top = round_half_up(decimal_of(exact_weight * Fraction(scorer.max_share)))
            assert D(0) <= line.points <= top, line
        elif indicator.kind is BONUS:
            assert D(0) <= line.points <= scorer.item_cap, line
        else:
            assert -scorer.item_cap <= line.points <= D(0), line


@FAST
@given(months())
def test_total_is_the_sum_of_the_parts(inp):
    result = score(inp)
    for person in result.employees:
        points = [ln.points for ln in result.lines
                  if ln.employee_id == person.employee_id and ln.points is not None]
        assert person.total == sum(points, D(0))
        assert all(p == p.quantize(D("0.01")) for p in points)


@FAST
@given(months())
def test_effective_weights_add_up_to_100(inp):
    result = score(inp)
    for person in result.employees:
        weights = [ln.weight for ln in result.lines
                   if ln.employee_id == person.employee_id and ln.points is not None
                   and ln.indicator.startswith("K")]
        assert abs(sum(weights, D(0)) - 100) < D("1e-20")


@FAST
@given(months())
def test_same_input_same_output(inp):
    assert score(inp) == score(inp)
    assert score(inp, "zh").employees == score(inp, "en").employees


@FAST
@given(months(), st.randoms(use_true_random=False))
def test_row_order_changes_nothing(inp, rnd):
    employees, facts, indicators = list(inp.employees), list(inp.facts), list(inp.rules.indicators)
    rnd.shuffle(employees)
    rnd.shuffle(facts)
    rnd.shuffle(indicators)
    from dataclasses import replace

    shuffled = ScoreInput(replace(inp.rules, indicators=tuple(indicators)), tuple(employees),
                          tuple(facts))
    assert figures(score(shuffled)) == figures(score(inp))
