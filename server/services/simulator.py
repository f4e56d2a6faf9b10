"""The demo simulator: source facts as ERP/QMS/CRM/attendance would deliver them.

Used by `kpibook demo` and, when KPIBOOK_FACT_SOURCE=simulator, by the Pull button for periods
without stored facts. For a shipped template it returns the template's demo figures exactly
(so demo results are reproducible); for other rule sets it invents plausible values from the
rule parameters, seeded by period and employee so that pulling twice gives the same numbers.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from server.scoring.model import Employee, Indicator


@dataclass(frozen=True, slots=True)
class SimFact:
    employee_id: str
    indicator: str
    value: Decimal | str
    source: str
    unit: str = ""
    field: str = "actual"
    request: str = ""
    stale: bool = False


def _dec(value: object) -> Decimal | str:
    if isinstance(value, str):
        return value
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))


def template_facts(template_key: str, period: str) -> list[SimFact] | None:
    """The demo figures of a shipped template, or None when `template_key` is not one."""
    try:
        from server.workbook.template_content import TEMPLATES
    except ImportError:  # the template module is not there (yet)
        return None
    tpl = TEMPLATES.get(template_key)
    if tpl is None or not tpl.values:
        return None
    rules = {r.code: r for r in tpl.rules}
    out = []
    for employee_id, values in tpl.values.items():
        for code, value in values.items():
            rule = rules.get(code)
            if value is None or rule is None:
                continue  # blank: missing data stays missing
            report = tpl.provenance.get(rule.source, rule.source)
            out.append(SimFact(employee_id, code, _dec(value), rule.source, rule.unit,
                               request=f"{report} {period} {employee_id}",
                               stale=(employee_id, code) in tpl.stale))
    return out


def invent_facts(indicators: Iterable[Indicator], employees: Iterable[Employee],
                 period: str) -> list[SimFact]:
    """Plausible values for any rule set (deterministic per period/employee/indicator)."""
    out = []
    for emp in employees:
        for ind in indicators:
            if not ind.applies_to(emp):
                continue
            rng = random.Random(f"{period}/{emp.employee_id}/{ind.code}")
            for field_name, value in _values(ind, rng).items():
                out.append(SimFact(emp.employee_id, ind.code, value, ind.source or "simulator",
                                   ind.unit, field_name,
                                   request=f"simulator {ind.source} {period} {emp.employee_id}"))
    return out


def _num(params: dict, key: str, default: str) -> Decimal:
    value = params.get(key)
    return value if isinstance(value, Decimal) else Decimal(default)


def _values(ind: Indicator, rng: random.Random) -> dict[str, Decimal | str]:
    params = dict(ind.params)
    rule = ind.rule
    if rule in ("rating",):
        scale = params.get("scale") or (("A", 0), ("B", 0), ("C", 0), ("D", 0))
        return {"actual": str(rng.choice([k for k, _ in scale]))}  # type: ignore[union-attr]
    if rule == "stars":
        return {"actual": Decimal(rng.randint(2, 5))}
    if rule in ("deduction", "per_item"):
        return {"actual": Decimal(rng.choice([0, 0, 0, 1, 1, 2, 3]))}
    if rule == "points":
        top = _num(params, "cap", str(ind.weight or 5))
        return {"actual": (top * Decimal(rng.randint(50, 100)) / 100).quantize(Decimal("0.1"))}
    if rule == "formula":
        from server.scoring.formula import compile_formula

        names = compile_formula(str(params.get("expr", "0"))).names - {
            "target", "floor", "cap", "weight"}
        return {n: Decimal(rng.randint(60, 100)) for n in sorted(names)}
    target = _num(params, "target", "100")
    factor = Decimal(rng.randint(80, 115)) / 100
    return {"actual": (target * factor).quantize(Decimal("0.0001"))}
