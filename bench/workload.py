"""A realistic, reproducible KPI month for the benchmarks: N managers x M indicators.

Shared by bench_scoring.py, bench_libreoffice.py, bench_protocol.py and the pytest-benchmark
variant. Everything is derived from a seeded `random.Random`, so two runs with the same
arguments score exactly the same figures.

The indicator pool (cycled when more than its size are asked for, weights re-apportioned to
100) covers every common rule type:

====== ============== =========================================================================
code   rule           notes
====== ============== =========================================================================
REV    ratio          revenue (万元, 1 decimal), cap 120%, personal target for 70% of managers
COST   reverse_ratio  cost index, lower is better, cap 120%, a few actual = 0
QUAL   linear         first-pass yield, floor 90%, target 98%, cap 110%
OTD    band           on-time delivery 95% ± 2%, 0 at ± 10%; Production and Logistics only
PROJ   steps          projects delivered vs target 12: 80% -> 60, 100% -> 80, 120% -> 100
SAFE   deduction      2 points off per incident, at least 0
LEAD   rating         A/B/C/D (qualitative); a few +1.00 adjustments for C/D
TURN   reverse_linear staff turnover, full at <= 5%, 0 at >= 20%; 2% missing -> excluded
TICK   formula        weight if resolved >= total × 0.9 else weight × resolved / total;
                      Service and Sales only (two input fields)
AWARD  per_item       bonus outside the weights: 0.5 per award, at most 3
====== ============== =========================================================================

Grading: forced distribution by department (S 10%, A 20%, B 50%, C 15%, D 5%).
"""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/x.py` puts bench/ first, not the repo root
    sys.path.insert(0, str(ROOT))

from server.scoring.model import (  # noqa: E402
    Adjustment,
    Employee,
    Fact,
    GradeQuota,
    GradingMethod,
    Indicator,
    IndicatorKind,
    MissingPolicy,
    RuleSet,
    ScoreInput,
    TargetOverride,
)

D = Decimal
DEPARTMENTS = ("Sales", "Service", "Production", "Logistics", "Quality", "R&D", "Finance", "HR")
DEPT_SHARES = (0.20, 0.15, 0.20, 0.10, 0.10, 0.12, 0.07, 0.06)
QUOTAS = (("S", "0.10"), ("A", "0.20"), ("B", "0.50"), ("C", "0.15"), ("D", "0.05"))
TICK_EXPR = "weight if resolved >= total * 0.9 else weight * resolved / total"


@dataclass(frozen=True)
class Template:
    """One indicator of the pool: rule, parameters, nominal weight, scope."""

    code: str
    name: str
    kind: IndicatorKind
    weight: int
    rule: str
    params: dict
    departments: tuple[str, ...] = ()
    missing: MissingPolicy | None = None
    unit: str = ""
    fields: tuple[str, ...] = ("actual",)


Q, QL, BONUS = IndicatorKind.QUANTITATIVE, IndicatorKind.QUALITATIVE, IndicatorKind.BONUS
POOL: tuple[Template, ...] = (
    Template("REV", "Revenue", Q, 15, "ratio", {"target": D(1000), "cap": D("1.2")}, unit="万元"),
    Template("COST", "Cost index", Q, 10, "reverse_ratio", {"target": D(100), "cap": D("1.2")}),
    Template("QUAL", "First-pass yield", Q, 15, "linear",
             {"floor": D("0.9"), "target": D("0.98"), "cap": D("1.1")}, unit="%"),
    Template("OTD", "On-time delivery", Q, 10, "band",
             {"target": D("0.95"), "tolerance": D("0.02"), "zero_at": D("0.1")},
             departments=("Production", "Logistics"), unit="%"),
    Template("PROJ", "Projects delivered", Q, 10, "steps",
             {"target": D(12), "steps": (("0.8", D(60)), ("1", D(80)), ("1.2", D(100)))}),
    Template("SAFE", "Safety incidents", Q, 10, "deduction", {"per": D(2), "min_points": D(0)}),
    Template("LEAD", "Leadership rating", QL, 10, "rating",
             {"scale": (("A", D(100)), ("B", D(85)), ("C", D(70)), ("D", D(50)))}),
    Template("TURN", "Staff turnover", Q, 10, "reverse_linear",
             {"target": D("0.05"), "floor": D("0.2")}, missing=MissingPolicy.EXCLUDE, unit="%"),
    Template("TICK", "Tickets resolved", Q, 10, "formula", {"expr": TICK_EXPR, "cap": D(1)},
             departments=("Service", "Sales"), fields=("resolved", "total")),
    Template("AWARD", "Awards", BONUS, 0, "per_item", {"per": D("0.5"), "cap": D(3)}),
)


@dataclass
class Workload:
    """The generated month, in the engine's terms plus the raw per-manager values."""

    templates: list[Template]  # one per indicator, code made unique
    indicators: list[Indicator]
    employees: list[Employee]
    # (employee_id, code) -> {field: value}; absent key: no data (missing)
    values: dict[tuple[str, str], dict[str, Decimal | str]] = field(default_factory=dict)
    targets: dict[tuple[str, str], Decimal] = field(default_factory=dict)  # personal targets
    adjustments: list[Adjustment] = field(default_factory=list)
    rules: RuleSet | None = None

    @property
    def n_lines(self) -> int:
        return len(self.employees) * len(self.indicators)

    def score_input(self) -> ScoreInput:
        facts = tuple(
            Fact(eid, code, value, name)
            for (eid, code), fields in self.values.items()
            for name, value in fields.items()
        )
        overrides = tuple(
            TargetOverride(eid, code, {"target": t}) for (eid, code), t in self.targets.items()
        )
        return ScoreInput(self.rules, tuple(self.employees), facts, overrides,
                          tuple(self.adjustments))


def apportion(weights: list[int], total: int = 100) -> list[int]:
    """Integer weights proportional to `weights` adding up to `total` (largest remainder)."""
    s = sum(weights)
    exact = [w * total / s for w in weights]
    out = [int(x) for x in exact]
    for i in sorted(range(len(out)), key=lambda i: out[i] - exact[i])[: total - sum(out)]:
        out[i] += 1
    return out


def pick_templates(n_indicators: int) -> list[Template]:
    chosen = []
    for i in range(n_indicators):
        t = POOL[i % len(POOL)]
        suffix = "" if i < len(POOL) else f"_{i // len(POOL) + 1}"
        chosen.append(Template(t.code + suffix, t.name + suffix, t.kind, t.weight, t.rule,
                               dict(t.params), t.departments, t.missing, t.unit, t.fields))
    weighted = [t for t in chosen if t.kind in (Q, QL)]
    if not weighted:
        raise SystemExit("need at least one weighted indicator")
    # Every manager needs a weighted indicator that applies: the first one is unscoped.
    if weighted[0].departments:
        raise SystemExit("the first weighted indicator must apply to every department")
    new = iter(apportion([t.weight for t in weighted]))
    return [replace(t, weight=next(new)) if t.kind in (Q, QL) else t for t in chosen]


def _dec(x: float, places: int) -> Decimal:
    return Decimal(f"{x:.{places}f}")


def _value(rng: random.Random, base: str, t: Template, target: Decimal | None
           ) -> dict[str, Decimal | str] | None:
    """Raw inputs of one (manager, indicator), None for missing data."""
    if base == "REV":
        return {"actual": _dec(float(target) * rng.uniform(0.5, 1.4), 1)}
    if base == "COST":
        return {"actual": D(0) if rng.random() < 0.005 else _dec(rng.uniform(70, 140), 1)}
    if base == "QUAL":
        return {"actual": _dec(rng.uniform(0.85, 1.0), 4)}
    if base == "OTD":
        return {"actual": _dec(rng.uniform(0.8, 1.0), 4)}
    if base == "PROJ":
        return {"actual": D(rng.randint(6, 16))}
    if base == "SAFE":
        return {"actual": D(rng.choices(range(7), (50, 20, 12, 8, 5, 3, 2))[0])}
    if base == "LEAD":
        return {"actual": rng.choices("ABCD", (20, 50, 22, 8))[0]}
    if base == "TURN":
        return None if rng.random() < 0.02 else {"actual": _dec(rng.uniform(0, 0.3), 3)}
    if base == "TICK":
        total = rng.randint(50, 400)
        return {"resolved": D(int(total * rng.uniform(0.7, 1.0))), "total": D(total)}
    if base == "AWARD":
        return {"actual": D(rng.choices(range(9), (60, 15, 10, 5, 4, 2, 2, 1, 1))[0])}
    raise AssertionError(base)


def generate(n_managers: int = 10_000, n_indicators: int = 10, seed: int = 20261128
             ) -> Workload:
    rng = random.Random(seed)
    templates = pick_templates(n_indicators)
    indicators = [
        Indicator(t.code, t.name, t.kind, D(t.weight), "bench", t.rule, t.params,
                  departments=frozenset(t.departments), missing=t.missing, unit=t.unit,
                  adjust_max_up=D(2) if t.rule == "rating" else None)
        for t in templates
    ]
    rules = RuleSet(
        tuple(indicators),
        missing_default=MissingPolicy.BLOCK,
        grading=GradingMethod.FORCED,
        quotas=tuple(GradeQuota(g, D(s)) for g, s in QUOTAS),
        distribution_group="department",
    )
    employees = [
        Employee(f"M{i + 1:05d}", f"Manager {i + 1}",
                 rng.choices(DEPARTMENTS, DEPT_SHARES)[0], "manager")
        for i in range(n_managers)
    ]
    load = Workload(templates, indicators, employees, rules=rules)
    for emp in employees:
        for t in templates:
            if t.departments and emp.department not in t.departments:
                continue
            base = t.code.split("_")[0]
            target = None
            if base == "REV":
                target = t.params["target"]
                if rng.random() < 0.7:
                    target = D(rng.randint(60, 300) * 10)
                    load.targets[(emp.employee_id, t.code)] = target
            value = _value(rng, base, t, target)
            if value is not None:
                load.values[(emp.employee_id, t.code)] = value
            if base == "LEAD" and value["actual"] in "CD" and rng.random() < 0.1:
                load.adjustments.append(
                    Adjustment(emp.employee_id, t.code, D("1.00"), "cross-team project", "hr"))
    return load
