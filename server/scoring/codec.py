"""The engine's input as JSON and back, exactly: the inputs of record (docs/records.md).

A stored input must come back as the same `ScoreInput` (same digest, same scores), so every
value carries its type: Decimals are `{"d": "0.85"}` (never floats, never bare text a
rating could be confused with), sets `{"set": [...]}`, tuples lists. Adjustments are not
part of an input of record: the adjustments of record live in the history.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from server.scoring.model import (
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

FORMAT = 1


def _value(v: object) -> object:
    if v.__class__ is Decimal:
        return {"d": str(v)}
    if isinstance(v, (tuple, list)):
        return [_value(x) for x in v]
    if isinstance(v, frozenset | set):
        return {"set": sorted(_value(x) for x in v)}  # type: ignore[type-var]
    if isinstance(v, Mapping):
        return {"map": {str(k): _value(x) for k, x in v.items()}}
    if v is None or isinstance(v, (str, bool, int)):
        return v
    raise TypeError(f"not part of an input of record: {type(v).__name__}")


def _back(v: object) -> object:
    if isinstance(v, list):
        return tuple(_back(x) for x in v)
    if isinstance(v, dict):
        if "d" in v:
            return Decimal(v["d"])
        if "set" in v:
            return frozenset(_back(x) for x in v["set"])
        return {k: _back(x) for k, x in v["map"].items()}
    return v


def _dec(v: Decimal | None) -> str | None:
    return None if v is None else str(v)


def _undec(v: str | None) -> Decimal | None:
    return None if v is None else Decimal(v)


def rules_to_json(rules: RuleSet) -> dict[str, Any]:
    return {
        "indicators": [{
            "code": i.code, "name": i.name, "kind": i.kind.value, "weight": str(i.weight),
            "source": i.source, "rule": i.rule, "params": _value(dict(i.params)),
            "departments": sorted(i.departments), "positions": sorted(i.positions),
            "missing": i.missing.value if i.missing is not None else None, "unit": i.unit,
            "adjust_roles": sorted(i.adjust_roles), "adjust_max_up": _dec(i.adjust_max_up),
            "adjust_max_down": _dec(i.adjust_max_down)} for i in rules.indicators],
        "missing_default": rules.missing_default.value,
        "grading": rules.grading.value,
        "bands": [[b.grade, str(b.min_score)] for b in rules.bands],
        "quotas": [[q.grade, str(q.share)] for q in rules.quotas],
        "distribution_group": rules.distribution_group,
        "total_cap": _dec(rules.total_cap),
        "weight_tolerance": str(rules.weight_tolerance),
    }


def rules_from_json(data: Mapping[str, Any]) -> RuleSet:
    indicators = tuple(Indicator(
        code=i["code"], name=i["name"], kind=IndicatorKind(i["kind"]),
        weight=Decimal(i["weight"]), source=i["source"], rule=i["rule"],
        params=_back(i["params"]),  # type: ignore[arg-type]
        departments=frozenset(i["departments"]), positions=frozenset(i["positions"]),
        missing=MissingPolicy(i["missing"]) if i["missing"] is not None else None,
        unit=i["unit"], adjust_roles=frozenset(i["adjust_roles"]),
        adjust_max_up=_undec(i["adjust_max_up"]), adjust_max_down=_undec(i["adjust_max_down"]),
    ) for i in data["indicators"])
    return RuleSet(
        indicators=indicators, missing_default=MissingPolicy(data["missing_default"]),
        grading=GradingMethod(data["grading"]),
        bands=tuple(GradeBand(g, Decimal(m)) for g, m in data["bands"]),
        quotas=tuple(GradeQuota(g, Decimal(s)) for g, s in data["quotas"]),
        distribution_group=data["distribution_group"],
        total_cap=_undec(data["total_cap"]),
        weight_tolerance=Decimal(data["weight_tolerance"]))


def input_to_json(inp: ScoreInput) -> dict[str, Any]:
    """Rules, roster, facts and target overrides (not adjustments) as JSON-able data."""
    return {
        "format": FORMAT,
        "rules": rules_to_json(inp.rules),
        # rows, not objects: a 5,000-manager month holds ~45,000 facts
        "employees": [[e.employee_id, e.name, e.department, e.position, e.email]
                      for e in inp.employees],
        "facts": [[f.employee_id, f.indicator, _value(f.value), f.field, f.source, f.stale]
                  for f in inp.facts],
        "overrides": [[o.employee_id, o.indicator, _value(dict(o.params))]
                      for o in inp.overrides],
    }


def input_from_json(data: Mapping[str, Any]) -> ScoreInput:
    if data.get("format") != FORMAT:
        raise ValueError(f"unknown input-of-record format {data.get('format')!r}")
    return ScoreInput(
        rules=rules_from_json(data["rules"]),
        employees=tuple(Employee(*row) for row in data["employees"]),
        facts=tuple(Fact(eid, code, _back(value), field, source, stale)  # type: ignore[arg-type]
                    for eid, code, value, field, source, stale in data["facts"]),
        overrides=tuple(TargetOverride(eid, code, _back(params))  # type: ignore[arg-type]
                        for eid, code, params in data["overrides"]),
    )
