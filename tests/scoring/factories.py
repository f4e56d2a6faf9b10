"""Small builders so each test reads like the rules table it describes."""

from __future__ import annotations

from decimal import Decimal

from server.scoring.model import (
    Adjustment,
    Employee,
    Fact,
    GradeBand,
    GradeQuota,
    GradingMethod,
    Indicator,
    IndicatorKind,
    MissingPolicy,
    RuleSet,
    ScoreInput,
    TargetOverride,
)
from server.scoring.params import parse_params

D = Decimal
Q = IndicatorKind.QUANTITATIVE


def ind(code: str, rule: str, weight: object = 0, params: str = "",
        kind: IndicatorKind = Q, **extra) -> Indicator:
    """An indicator whose parameters are written exactly as in the Parameters cell."""
    return Indicator(code, code.title(), kind, D(str(weight)), "manual", rule,
                     parse_params(params), **extra)


def emp(employee_id: str, department: str = "Sales", position: str = "") -> Employee:
    return Employee(employee_id, employee_id.lower(), department, position)


def fact(employee_id: str, indicator: str, value: object, field: str = "actual",
         stale: bool = False) -> Fact:
    if isinstance(value, int | float):
        value = D(str(value))
    return Fact(employee_id, indicator, value, field, stale=stale)


def target(employee_id: str, indicator: str, params: str) -> TargetOverride:
    return TargetOverride(employee_id, indicator, parse_params(params))


def adjust(employee_id: str, indicator: str, points: object, reason: str = "checked") -> Adjustment:
    return Adjustment(employee_id, indicator, D(str(points)), reason)


def rules(*indicators: Indicator, missing: MissingPolicy = MissingPolicy.BLOCK,
          bands: str = "", quotas: str = "", group: str = "department",
          total_cap: object = None) -> RuleSet:
    """bands "A:90,B:70,C:0" or quotas "A:20,B:70,C:10" (percent)."""
    grade_bands = tuple(GradeBand(g, v) for g, v in parse_params(f"b={bands}")["b"]) \
        if bands else ()
    grade_quotas = tuple(GradeQuota(g, v / 100) for g, v in parse_params(f"q={quotas}")["q"]) \
        if quotas else ()
    return RuleSet(tuple(indicators), missing_default=missing,
                   grading=GradingMethod.FORCED if quotas else GradingMethod.BANDS,
                   bands=grade_bands, quotas=grade_quotas, distribution_group=group,
                   total_cap=None if total_cap is None else D(str(total_cap)))


def one(indicator: Indicator, value: object, *more: Indicator, lang: str = "en"):
    """Score a single employee E1 on `indicator` (plus filler indicators so weights reach
    100) and return the line of `indicator`."""
    from server.scoring.engine import score

    weighted = sum((i.weight for i in (indicator, *more) if i.weighted), D(0))
    filler = [ind("FILL", "points", 100 - weighted)] if weighted < 100 else []
    rs = rules(indicator, *more, *filler)
    facts = [fact("E1", indicator.code, value)]
    facts += [fact("E1", f.code, 0) for f in filler]
    result = score(ScoreInput(rs, (emp("E1"),), tuple(facts)), lang)
    return result.line("E1", indicator.code)


def weight_splits(n: int):
    """A hypothesis strategy: n weights (two decimals, each > 0) summing to exactly 100."""
    from hypothesis import strategies as st

    def split(cuts: list[int]) -> list[Decimal]:
        bounds = [0, *sorted(cuts), 10000]
        return [Decimal(b - a) / 100 for a, b in zip(bounds, bounds[1:], strict=False)]

    return st.lists(st.integers(1, 9999), min_size=n - 1, max_size=n - 1,
                    unique=True).map(split)
