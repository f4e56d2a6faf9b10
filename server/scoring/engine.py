"""The one authoritative scorer: ScoreInput -> ScoreResult, or every problem found.

`validate` and `score` run the same single pass (checks need the computed lines anyway, e.g. an
adjustment pushing a line past its cap), so nothing is ever half-scored: `score` raises
ValidationError with all problems, or returns a complete result.

Order of work per employee: applicable indicators -> data present or missing policy ->
effective weights (re-normalised when something was dropped) -> rule -> round each line to the
cent -> adjustments -> total = sum of the rounded lines -> grades and ranks over everyone scored.
"""

from __future__ import annotations

import copy
import weakref
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from contextlib import suppress
from dataclasses import fields as dataclass_fields
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import numpy as np

from server.gcpause import cycle_collector_paused
from server.scoring.columns import ColumnRun
from server.scoring.messages import Message, about, lang_of, message, seq, why_of
from server.scoring.model import (
    COMPANY_GROUP,
    SCORECARD_GROUP,
    Adjustment,
    Employee,
    EmployeeResult,
    Fact,
    GradingMethod,
    Indicator,
    IndicatorKind,
    LineStatus,
    LineTable,
    MissingPolicy,
    Problem,
    RuleSet,
    ScoreInput,
    ScoreResult,
    ValidationError,
)
from server.scoring.numbers import decimal_of, fmt, fmt_short, to_decimal
from server.scoring.rules import (
    Scorer,
    build_scorer,
    column_of,
    indicator_issues,
    params_issues,
)

# False: every line takes the per-line path (the differential tests compare both ways).
COLUMNS = True

ZERO = Decimal(0)
ZERO_POINTS = Decimal("0.00")  # a zeroed line shows 0.00 like every other line
HUNDRED = Decimal(100)
CENT = Decimal("0.01")
QUOTA_TOLERANCE = Decimal("0.001")
EMPLOYEE_ATTRIBUTES = frozenset(f.name for f in dataclass_fields(Employee))

TEXT = {
    "en": {
        "na": "not applicable",
        "zero": "no data -> 0 (policy: zero)",
        "exclude": "no data -> excluded, remaining weights re-normalised (policy: exclude)",
        "block": "no data -> no total (policy: block)",
        "renorm": "weight {w} re-normalised: {w} × 100 / {s}",
        "personal": " (personal target)",
        "adjust": "; adjustment {p} ({r}) -> {t}",
        "missing_status": "missing data: {codes}",
        "nothing_status": "no data for any weighted indicator: {codes}",
        "stale": " (last good value, source pull failed)",
    },
    "zh": {
        "na": "不适用",
        "zero": "无数据 -> 0（缺数据处理：计零分）",
        "exclude": "无数据 -> 剔除，其余权重重新归一（缺数据处理：剔除）",
        "block": "无数据 -> 不计总分（缺数据处理：阻断）",
        "renorm": "权重 {w} 重新归一：{w} × 100 / {s}",
        "personal": "（个人目标）",
        "adjust": "；调整 {p}（{r}）-> {t}",
        "missing_status": "缺少数据：{codes}",
        "nothing_status": "所有计权指标均无数据：{codes}",
        "stale": "（沿用上次数据，本次取数失败）",
    },
}


# One run serves `validate` and `score`: checking needs every line computed anyway, so a
# clean `validate` keeps its run for the next `score` of the same input object (the Score
# button validates while reading the workbook, then scores), which takes it. Keyed by the
# identity of the (immutable) input and dropped when that input is garbage-collected, so it
# never outlives the input and can never answer for another one (the kept _Run holds no
# reference to its input, or the input could never be collected). `score` itself keeps
# nothing: scoring the same input again computes it again. A kept run also serves
# `score(other, base=inp)` for an input that differs from `inp` only in its adjustments.
_SCORED: dict[int, tuple[str, _Run, ScoreResult]] = {}


def _remember(inp: ScoreInput, lang: str, run: _Run, result: ScoreResult) -> None:
    key = id(inp)
    if key not in _SCORED:
        weakref.finalize(inp, _SCORED.pop, key, None)
    _SCORED[key] = (lang, run, result)


def _remembered(inp: ScoreInput, lang: str, take: bool = False) -> ScoreResult | None:
    found = _SCORED.get(id(inp))
    if found is None or found[0] != lang:
        return None
    if take:
        _SCORED.pop(id(inp), None)
    return found[2]


def _kept_run(inp: ScoreInput, lang: str) -> _Run | None:
    found = _SCORED.get(id(inp))
    return found[1] if found is not None and found[0] == lang else None


def validate(inp: ScoreInput, lang: str = "en") -> list[Problem]:
    """Every problem that would stop `score`; empty when the input can be scored.

    Messages are in `lang` ("zh" or "en"); each problem's `why` renders them in either.
    When there is none, the run is kept for `score(inp, lang)` and `score(..., base=inp)`
    (see _SCORED)."""
    lang = lang_of(lang)
    if _remembered(inp, lang) is not None:
        return []
    # The cycle collector is paused while scoring: a month allocates ~100,000 result objects
    # and the collector would re-walk them again and again (it cost more than the scoring).
    # The engine builds no reference cycles, so reference counting frees everything.
    with cycle_collector_paused():
        run = _Run(inp, lang)
        if not run.problems:
            _remember(inp, lang, run, run.result())
        return run.problems


def score(inp: ScoreInput, lang: str = "en", base: ScoreInput | None = None) -> ScoreResult:
    """Score everyone, or raise ValidationError listing every problem (nothing half-scored).

    `lang` ("zh" or "en") words the explanations, statuses and problem messages.

    `base`: an input validated cleanly before (`validate(base, lang)` returned no problem)
    that differs from `inp` only in its adjustments -- the same `rules`, `employees`, `facts`
    and `overrides` objects, as `dataclasses.replace(base, adjustments=...)` gives. Its kept
    run is then reused: only the employees with adjustments in either input are scored
    again, everyone else's lines and totals are taken from it, and grades and ranks are
    recomputed. The result (or the ValidationError) is exactly that of `score(inp, lang)`;
    when `base` does not qualify (other objects, another language, nothing kept because it
    had problems or was already taken by `score(base)`), `inp` is simply scored in full.
    Lines taken from the kept run are the same (read-only) rows as in `base`'s result.
    """
    lang = lang_of(lang)
    remembered = _remembered(inp, lang, take=True)
    if remembered is not None:
        return remembered
    kept = None
    if (base is not None and base is not inp and base.rules is inp.rules
            and base.employees is inp.employees and base.facts is inp.facts
            and base.overrides is inp.overrides and base.peers == inp.peers):
        kept = _kept_run(base, lang)
    with cycle_collector_paused():  # see validate
        run = _Run(inp, lang) if kept is None else kept.again(inp.adjustments)
        if run.problems:
            raise ValidationError(run.problems)
        return run.result()


def _rounded(x: Decimal) -> Decimal:
    return x.quantize(CENT, ROUND_HALF_UP)


def _signed(x: Decimal) -> str:
    return ("+" if x >= 0 else "") + fmt(x)


class _Run:
    """One pass over a ScoreInput: checks, lines, totals, grades and ranks."""

    def __init__(self, inp: ScoreInput, lang: str):
        # No reference to `inp` itself is kept: a clean run is kept in _SCORED until its
        # input is collected, which a reference from the run would prevent.
        self.lang = lang_of(lang)
        self.text = TEXT[self.lang]
        self.problems: list[Problem] = []
        self.rules = rules = inp.rules
        self.peers = tuple(inp.peers)
        self.indicators = {}
        self.scorers: dict[str, Scorer] = {}
        self._check_rules(rules)
        self._check_settings(rules)
        self.employees: dict[str, Employee] = {}
        self._check_roster(inp.employees)
        # employee -> indicator -> its 'actual' fact: per employee, so the line loop looks a
        # fact up by the indicator code (whose hash str caches) instead of hashing a new
        # (employee, indicator) tuple for every line
        self.facts_of: dict[str, dict[str, Fact]] = {}
        self.fields: dict[tuple[str, str], dict[str, object]] = {}  # formula inputs
        self.stale_inputs: set[tuple[str, str]] = set()  # formula lines with a stale input
        self._index_facts(inp.facts)
        self.personal: dict[tuple[str, str], Scorer] = {}
        self._index_overrides(inp.overrides)
        self.adjustments: dict[tuple[str, str], list[Adjustment]] = defaultdict(list)
        self._index_adjustments(inp.adjustments)
        self.lines: list[tuple] = []  # LineTable rows: LINE_FIELDS of each line
        self.totals: list[tuple[Employee, Decimal | None, str, tuple[str, ...]]] = []
        self.spans: list[int] = []  # where each employee's lines start in `lines`, then the end
        # The column path (server/scoring/columns.py) scores everyone at once, rule by rule
        # over whole columns; it declines (None) when the input has problems or anything it
        # does not handle, and the per-line path below gives the same figures and words.
        self.columns: ColumnRun | None = None
        if COLUMNS and not self.problems:
            self.columns = ColumnRun.score(self)
        if self.columns is None:
            self._score_lines()

    def again(self, adjustments: Iterable[Adjustment]) -> _Run:
        """This run with other adjustments, for an input that differs only in them.

        Only for a run without problems: then nobody's lines depend on anything but the
        rules, roster, facts and personal targets (unchanged, so their indexes are shared)
        and their own adjustments. Employees with adjustments in this run or in
        `adjustments` are scored again; everyone else's lines and total are taken as they
        are. Problems come out in the order a full run would report them: the adjustments
        table's, then the lines' in roster order (the rest of the input had none)."""
        if self.columns is not None:  # a column run: see _Columns.again
            return self.columns.again(self, adjustments)
        run = copy.copy(self)
        run.problems = []
        run.adjustments = defaultdict(list)
        run._index_adjustments(adjustments)
        redo = {eid for eid, _ in self.adjustments} | {eid for eid, _ in run.adjustments}
        run.lines, run.totals, run.spans = [], [], []
        run._score_lines(reuse=(self, redo))
        return run

    # -- problems --------------------------------------------------------------------------

    def problem(self, table: str, column: str | None, why: Message,
                key: tuple[str, ...] | None) -> None:
        self.problems.append(Problem(table, None, column, why.text(self.lang), key=key, why=why))

    # -- rules table -----------------------------------------------------------------------

    def _check_rules(self, rules: RuleSet) -> None:
        weight_sum = ZERO
        for ind in rules.indicators:
            code = ind.code
            if not str(code).strip():
                self.problem("kb_rules", "code", message("rules.no_code"), (code,))
                continue
            if code in self.indicators:
                self.problem("kb_rules", "code", message("rules.code_twice", code=code), (code,))
                continue
            self.indicators[code] = ind
            issues = indicator_issues(ind)
            for column, why in issues:
                self.problem("kb_rules", column, about(code, why), (code,))
            if ind.weighted:
                with suppress(ValueError):  # a bad weight is reported by indicator_issues
                    weight_sum += to_decimal(ind.weight)
            if not issues:
                try:
                    self.scorers[code] = build_scorer(ind, lang=self.lang)
                except (ValueError, KeyError, TypeError) as exc:  # belt and braces
                    self.problem("kb_rules", "params", about(code, why_of(exc)), (code,))
        if any(ind.weighted for ind in rules.indicators):
            if abs(weight_sum - HUNDRED) > rules.weight_tolerance:
                self.problem("kb_rules", "weight",
                             message("rules.weights_sum", total=fmt_short(weight_sum)), None)
        else:
            self.problem("kb_rules", "weight", message("rules.no_weighted"), None)

    def _check_settings(self, rules: RuleSet) -> None:
        def bad(setting: str, key: str, **params: object) -> None:
            self.problem("kb_settings", "value", message(key, **params), (setting,))

        if rules.grading is GradingMethod.BANDS:
            mins = [band.min_score for band in rules.bands]
            if any(a <= b for a, b in zip(mins, mins[1:], strict=False)):
                bad("bands", "settings.bands_falling")
            if len({band.grade for band in rules.bands}) != len(rules.bands):
                bad("bands", "settings.band_twice")
        else:
            if not rules.quotas:
                bad("quotas", "settings.quotas_needed")
            elif any(q.share < 0 for q in rules.quotas):
                bad("quotas", "settings.quota_negative")
            elif abs(sum(q.share for q in rules.quotas) - 1) > QUOTA_TOLERANCE:
                total = fmt_short(sum(q.share for q in rules.quotas) * HUNDRED, 2)
                bad("quotas", "settings.quotas_sum", total=total)
            if len({q.grade for q in rules.quotas}) != len(rules.quotas):
                bad("quotas", "settings.quota_twice")
        group = rules.distribution_group
        if group and group not in EMPLOYEE_ATTRIBUTES | {SCORECARD_GROUP, COMPANY_GROUP}:
            allowed = seq(sorted(EMPLOYEE_ATTRIBUTES - {"name", "email", "employee_id"}))
            bad("distribution_group", "settings.bad_group", group=group, allowed=allowed)
        if rules.total_cap is not None and rules.total_cap <= 0:
            bad("total_cap", "settings.total_cap")

    # -- roster ----------------------------------------------------------------------------

    def _check_roster(self, employees: Iterable[Employee]) -> None:
        weighted = [ind for ind in self.indicators.values() if ind.weighted]
        # whether a weighted indicator applies, per (department, position): all it depends on
        applies: dict[tuple[str, str], bool] = {}
        for emp in employees:
            eid = emp.employee_id
            if not str(eid).strip():
                self.problem("kb_roster", "employee_id", message("roster.no_id", name=emp.name),
                             (eid,))
                continue
            if eid in self.employees:
                self.problem("kb_roster", "employee_id", message("roster.id_twice", eid=eid),
                             (eid,))
                continue
            self.employees[eid] = emp
            where = (emp.department, emp.position)
            some = applies.get(where)
            if some is None:
                some = applies[where] = any(ind.applies_to(emp) for ind in weighted)
            if weighted and not some:
                self.problem("kb_roster", "department",
                             message("roster.nothing_applies", eid=eid,
                                     department=emp.department, position=emp.position), (eid,))

    # -- facts, overrides, adjustments -----------------------------------------------------

    def _index_facts(self, facts: Iterable[Fact]) -> None:
        employees, indicators = self.employees, self.indicators
        fields = self.fields
        facts_of = self.facts_of
        for eid in employees:
            facts_of[eid] = {}
        formula_codes = {c for c, ind in indicators.items() if ind.rule == "formula"}
        plain_codes = indicators.keys() - formula_codes
        for fact in facts:
            eid, code = fact.employee_id, fact.indicator
            # Fast path: the usual 'actual' of a known person and a non-formula indicator.
            if fact.field == "actual" and code in plain_codes and type(fact.value) is Decimal:
                mine = facts_of.get(eid)
                if mine is not None and code not in mine:
                    mine[code] = fact
                    continue
            name = fact.field or "actual"
            if fact.value is None or (isinstance(fact.value, str) and not fact.value.strip()):
                continue  # an empty cell is no data: the missing-data policy decides, openly
            if eid not in employees:
                self.problem("kb_data", "employee_id", message("data.not_on_roster", eid=eid),
                             (eid, code))
            elif code not in indicators:
                self.problem("kb_data", "indicator", message("data.not_in_rules", code=code),
                             (eid, code))
            elif code in formula_codes:
                key = (eid, code)
                inputs = fields.setdefault(key, {})
                if name in inputs:
                    self.problem("kb_data", "value",
                                 about(f"{eid} {code}", message("data.given_twice", name=name)),
                                 (eid, code, name))
                    continue
                inputs[name] = fact.value
                if name == "actual":
                    facts_of[eid][code] = fact
                if fact.stale:
                    self.stale_inputs.add(key)
            elif name != "actual":
                self.problem("kb_data", "field",
                             about(f"{eid} {code}", message(
                                 "data.only_actual", rule=indicators[code].rule, name=name)),
                             (eid, code, name))
            elif code in facts_of[eid]:
                self.problem("kb_data", "value",
                             about(f"{eid} {code}", message("data.given_twice", name="actual")),
                             (eid, code, name))
            else:
                facts_of[eid][code] = fact

    def _index_overrides(self, overrides: Iterable) -> None:
        seen = set()
        built: dict[tuple, Scorer] = {}
        own_issues: dict[str, set[str]] = {}
        for ov in overrides:
            eid, code = ov.employee_id, ov.indicator
            if eid not in self.employees:
                self.problem("kb_targets", "employee_id", message("data.not_on_roster", eid=eid),
                             (eid, code))
                continue
            ind = self.indicators.get(code)
            if ind is None:
                self.problem("kb_targets", "indicator", message("data.not_in_rules", code=code),
                             (eid, code))
                continue
            if (eid, code) in seen:
                self.problem("kb_targets", "indicator",
                             about(f"{eid} {code}", message("targets.twice")), (eid, code))
                continue
            seen.add((eid, code))
            if not ind.applies_to(self.employees[eid]):
                self.problem("kb_targets", "indicator",
                             about(f"{eid} {code}", message("targets.not_applicable")),
                             (eid, code))
                continue
            # Keyed by the override's own parameters (the indicator's are the same for every
            # override of the code): the merged mapping is 2-3 times longer to freeze.
            cache_key = (code, _frozen(ov.params))
            cached = built.get(cache_key)
            if cached is not None:  # same personal parameters as someone else's
                self.personal[(eid, code)] = cached
                continue
            merged = {**ind.params, **ov.params}
            issues = params_issues(ind.rule, ind.kind, merged)
            own = own_issues.get(code)
            if own is None:
                own = own_issues[code] = {c for c, _ in params_issues(ind.rule, ind.kind,
                                                                      ind.params)}
            for column, why in issues:
                if column in own:
                    continue  # the rules-table row itself is wrong; reported there
                param = column if column in ("target", "floor", "cap") else "params"
                self.problem("kb_targets", column_of(param), about(f"{eid} {code}", why),
                             (eid, code, param))
            if not issues and code in self.scorers:
                scorer = built[cache_key] = build_scorer(ind, merged, self.lang)
                self.personal[(eid, code)] = scorer

    def _index_adjustments(self, adjustments: Iterable[Adjustment]) -> None:
        for adj in adjustments:
            eid, code = adj.employee_id, adj.indicator
            if eid not in self.employees:
                self.problem("kb_adjustments", "employee_id",
                             message("data.not_on_roster", eid=eid), (eid, code))
                continue
            ind = self.indicators.get(code)
            if ind is None:
                self.problem("kb_adjustments", "indicator",
                             message("data.not_in_rules", code=code), (eid, code))
                continue
            if not ind.applies_to(self.employees[eid]):
                self.problem("kb_adjustments", "indicator",
                             about(f"{eid} {code}", message("adjust.not_applicable")),
                             (eid, code))
                continue
            if not str(adj.reason or "").strip():
                self.problem("kb_adjustments", "reason",
                             about(f"{eid} {code}", message("adjust.needs_reason")),
                             (eid, code, "reason"))
                continue
            try:
                points = to_decimal(adj.points)
            except ValueError as exc:
                self.problem("kb_adjustments", "points", about(f"{eid} {code}", why_of(exc)),
                             (eid, code, "points"))
                continue
            if points != _rounded(points):
                self.problem("kb_adjustments", "points",
                             about(f"{eid} {code}",
                                   message("adjust.decimals", points=fmt_short(points, 6))),
                             (eid, code, "points"))
                continue
            self.adjustments[(eid, code)].append(adj)

    # -- lines -----------------------------------------------------------------------------

    def _score_lines(self, reuse: tuple[_Run, set[str]] | None = None,
                     only: Collection[str] | None = None) -> None:
        """Every line of every employee, in input order; the hot loop of the engine.

        Per-indicator constants are gathered once into plans (one per department/position
        pair), and the common line (data present, no adjustment) takes a short path;
        everything else goes through `_special_line`. `reuse` (see `again`): a clean run
        whose lines and totals are taken for every employee not in the set.

        A rule's run is a pure function of the value and the weight it is given, so the
        common path remembers, per indicator (or personal target) and weight, the rounded
        points and explanation of each value seen: ratings, step levels, counts and
        repeated figures are computed once per month instead of once per line. The key is
        the value's text (str of a Decimal is exact, and 80 and 80.0 stay apart since they
        are shown differently); formula lines, which read several fields, are not kept.
        """
        rules = self.rules
        text = self.text
        indicators = [ind for ind in rules.indicators if self.indicators.get(ind.code) is ind]
        default_missing = rules.missing_default
        policies = {ind.code: ind.missing or default_missing for ind in indicators}
        weights = {ind.code: to_decimal(ind.weight) if ind.code in self.scorers else ZERO
                   for ind in indicators}
        full_sum = sum((weights[ind.code] for ind in indicators if ind.weighted), ZERO)
        plans: dict[tuple[str, str], tuple] = {}
        weight_cache: dict[Decimal, dict[str, tuple]] = {}
        facts_of, fields_get = self.facts_of, self.fields.get
        own_of: dict[str, dict[str, Scorer]] = {}  # employee -> indicator -> personal scorer
        for (eid, code), scorer in self.personal.items():
            own_of.setdefault(eid, {})[code] = scorer
        adjusted_of: dict[str, set[str]] = {}  # lines that take the slow path even with data
        for eid, code in self.adjustments:
            adjusted_of.setdefault(eid, set()).add(code)
        # (personal scorer, the weight's memo) -> that scorer's memo at that weight
        own_memos: dict[tuple[int, int], dict] = {}
        personal_text, stale_text = text["personal"], text["stale"]
        stale_inputs = self.stale_inputs
        lines = self.lines
        append_line, append_total, append_span = lines.append, self.totals.append, self.spans.append
        st_ok, st_na, na_text = LineStatus.OK, LineStatus.NOT_APPLICABLE, text["na"]
        cent, half_up = CENT, ROUND_HALF_UP
        problem, special_line = self.problem, self._special_line
        total_cap = rules.total_cap
        decimal, string = Decimal, str
        if reuse is not None:
            kept, redo = reuse
            kept_lines, kept_spans, kept_totals = kept.lines, kept.spans, kept.totals

        for i, emp in enumerate(self.employees.values()):
            eid = emp.employee_id
            if only is not None and eid not in only:
                continue  # scored by the column path (_columns.py)
            append_span(len(lines))
            if reuse is not None and eid not in redo:
                lines.extend(kept_lines[kept_spans[i]:kept_spans[i + 1]])
                append_total(kept_totals[i])
                continue
            plan = plans.get((emp.department, emp.position))
            if plan is None:
                plan = self._plan(emp, indicators, policies, weights, full_sum)
                plans[(emp.department, emp.position)] = plan
            entries, applicable_sum, droppable, has_weighted, renormalised_entries = plan
            mine = facts_of[eid]
            own_codes = own_of.get(eid)
            adjusted = adjusted_of.get(eid)
            kept_sum, renormalised = applicable_sum, applicable_sum != full_sum
            if droppable:  # weighted indicators whose missing data drops them (EXCLUDE)
                for code, is_formula, needs in droppable:
                    if not self._has_data(eid, code, is_formula, needs):
                        kept_sum -= weights[code]
                        renormalised = True
            if renormalised and kept_sum > 0:
                # the plan's entries with the effective weights of this kept sum, once per
                # plan and sum: the line loop then never looks a weight up
                at_sum = renormalised_entries.get(kept_sum)
                if at_sum is None:
                    eff = weight_cache.get(kept_sum)
                    if eff is None:
                        eff = weight_cache[kept_sum] = self._effective_weights(
                            weights, kept_sum, indicators)
                    at_sum = renormalised_entries[kept_sum] = tuple(
                        (*entry[:6], *eff[entry[0]]) if entry[2] is not None
                        and entry[1].weighted else entry for entry in entries)
                entries = at_sum
            total = ZERO
            blocked: list[str] = []
            excluded: list[str] = []
            for code, ind, run, target, is_formula, needs, w, w_text, w_run, divisor, memo \
                    in entries:
                if run is None:
                    append_line((eid, code, None, None, ZERO, None, ZERO, None, na_text, st_na,
                                 False))
                    continue
                if is_formula:
                    fields = fields_get((eid, code))
                    has = needs <= (fields.keys() if fields else _NOTHING)
                    fact = (mine.get(code) or _NO_FACT) if has else None
                else:
                    fields, fact = None, mine.get(code)
                if fact is None or (adjusted and code in adjusted):
                    line = special_line(eid, ind, fact, fields, w, w_text, w_run, divisor,
                                        policies[code], blocked, excluded)
                    if line is not None:
                        if line[7] is not None:  # its points
                            total += line[7]
                        append_line(line)
                    continue
                value = fact.value
                own = own_codes.get(code) if own_codes else None
                if own is not None:
                    line_target = own.target
                    run = own.run
                    memo_key = (id(own), id(memo))
                    memo = own_memos.get(memo_key)
                    if memo is None:
                        memo = own_memos[memo_key] = {}
                else:
                    line_target = target
                if is_formula:
                    value_key = None
                elif type(value) is decimal:
                    value_key = string(value)
                elif type(value) is string:
                    value_key = (value,)  # never equal to a Decimal's text
                else:
                    value_key = None
                found = memo.get(value_key) if value_key is not None else None
                if found is None:
                    try:
                        raw, words = run(value, w_run, w_text, fields)
                    except (ValueError, ArithmeticError) as exc:
                        problem("kb_data", "value", about(f"{eid} {code}", why_of(exc)),
                                (eid, code))
                        continue
                    if divisor is not None:
                        raw = raw / divisor  # the re-normalisation, last (_effective_weights)
                    base = raw.quantize(cent, half_up)  # positional: faster than rounding=
                    found = (base, f"{words} = {base!s}")
                    if value_key is not None:
                        memo[value_key] = found
                base, explanation = found
                total += base
                if own is not None:
                    explanation += personal_text
                if fact.stale or (is_formula and (eid, code) in stale_inputs):
                    append_line((eid, code, value, line_target, w, base, ZERO, base,
                                 explanation + stale_text, st_ok, True))
                else:
                    append_line((eid, code, value, line_target, w, base, ZERO, base,
                                 explanation, st_ok, False))

            if blocked:
                status = text["missing_status"].format(codes=", ".join(blocked))
                append_total((emp, None, status, tuple(blocked)))
            elif has_weighted and kept_sum <= 0:
                status = text["nothing_status"].format(codes=", ".join(excluded))
                append_total((emp, None, status, tuple(excluded)))
            else:
                if total_cap is not None and total > total_cap:
                    total = total_cap
                append_total((emp, total, "ok", ()))
        append_span(len(lines))

    def _plan(self, emp: Employee, indicators: list[Indicator],
              policies: Mapping[str, MissingPolicy], weights: Mapping[str, Decimal],
              full_sum: Decimal) -> tuple:
        """Per-indicator constants for everyone sharing this employee's department and
        position: the line entries (each with an empty memo for its rule at its nominal
        weight), the applicable weight sum, the droppable indicators, whether any indicator
        is weighted, and (filled by _score_lines) the entries at each re-normalised sum."""
        entries, droppable, applicable_sum, has_weighted = [], [], ZERO, False
        for ind in indicators:
            code = ind.code
            scorer = self.scorers.get(code)
            applies = ind.applies_to(emp)
            weighted = ind.weighted
            if not applies:
                entries.append((code, ind, None, None, False, _NOTHING, ZERO, "0", ZERO, None,
                                None))
                continue
            if scorer is None:
                continue  # the rule itself is broken; reported with the rules table
            is_formula = ind.rule == "formula"
            w = weights[code] if weighted else ZERO
            # (code, indicator, rule, target, is formula, fields needed, weight shown, its
            # text, weight passed to the rule, divisor, memo): see _score_lines
            entries.append((code, ind, scorer.run, scorer.target, is_formula, scorer.needs,
                            w, fmt_short(w), w, None, {}))
            if weighted:
                has_weighted = True
                applicable_sum += w
                if policies[code] is MissingPolicy.EXCLUDE:
                    droppable.append((code, is_formula, scorer.needs))
        return tuple(entries), applicable_sum, tuple(droppable), has_weighted, {}

    def _has_data(self, eid: str, code: str, is_formula: bool, needs: frozenset[str]) -> bool:
        if is_formula:
            fields = self.fields.get((eid, code))
            return needs <= (fields.keys() if fields else _NOTHING)
        return code in self.facts_of[eid]

    def _special_line(self, eid: str, ind: Indicator, fact: object, fields: object,
                      w: Decimal, w_text: str, w_run: Decimal | Fraction,
                      divisor: Decimal | None, policy: MissingPolicy, blocked: list[str],
                      excluded: list[str]) -> tuple | None:
        """A line with missing data, a personal target or adjustments (the rare cases), as a
        row of a LineTable."""
        code, text = ind.code, self.text
        own = self.personal.get((eid, code))
        scorer = own or self.scorers[code]
        if fact is None:
            if policy is MissingPolicy.BLOCK:
                blocked.append(code)
                self._no_line_to_adjust(eid, code)
                return (eid, code, None, scorer.target, w, None, ZERO, None, text["block"],
                        LineStatus.MISSING, False)
            if policy is MissingPolicy.EXCLUDE:
                excluded.append(code)
                self._no_line_to_adjust(eid, code)
                return (eid, code, None, scorer.target, ZERO, None, ZERO, None,
                        text["exclude"], LineStatus.EXCLUDED, False)
            return self._adjusted(eid, code, ind, None, scorer.target, w, w_run, divisor,
                                  ZERO_POINTS, text["zero"], LineStatus.ZEROED, False, own)
        value = fact.value  # type: ignore[attr-defined]
        try:
            raw, words = scorer.run(value, w_run, w_text, fields)  # type: ignore[arg-type]
        except (ValueError, ArithmeticError) as exc:
            self.problem("kb_data", "value", about(f"{eid} {code}", why_of(exc)), (eid, code))
            return None
        if divisor is not None:
            raw = raw / divisor
        base = raw.quantize(CENT, ROUND_HALF_UP)
        explanation = f"{words} = {base!s}"
        if own is not None:
            explanation += text["personal"]
        stale = fact.stale or (eid, code) in self.stale_inputs  # type: ignore[attr-defined]
        if stale:
            explanation += text["stale"]
        return self._adjusted(eid, code, ind, value, scorer.target, w, w_run, divisor, base,
                              explanation, LineStatus.OK, stale, own)

    def _effective_weights(self, weights: Mapping[str, Decimal], kept_sum: Decimal,
                           indicators: list[Indicator]) -> dict[str, tuple]:
        """w × 100 / (sum of the weights still in play), with the working shown.

        Per code: (the weight shown, its text, the weight passed to the rule, the divisor,
        an empty memo for the rule at this weight: see _score_lines).
        w × 100 / s is often not a finite decimal (10 × 100 / 90 = 11.11…); as a 28-digit
        Decimal it is slightly low and an exact 7.375 came out 7.3749…9 -> 7.37. So it is
        never used in arithmetic: a rule linear in the weight gets the exact w × 100 and the
        engine divides its result by s last, in one correctly rounded Decimal division (exact
        whenever the result is a terminating decimal, as every half-cent is; otherwise within
        1e-27 of a value whose distance to any half-cent is far larger). A formula gets the
        weight as an exact Fraction. Both keep Decimal speed for the 95% of lines that are
        not formulas, which Fraction everywhere would not.
        """
        template, s_text = self.text["renorm"], fmt_short(kept_sum)
        eff = {}
        for ind in indicators:
            code = ind.code
            w = weights[code]
            effective = w * HUNDRED / kept_sum  # shown only
            text = f"{fmt_short(effective)} ({template.format(w=fmt_short(w), s=s_text)})"
            scorer = self.scorers.get(code)
            if scorer is None or scorer.linear:
                eff[code] = (effective, text, w * HUNDRED, kept_sum, {})
            else:
                eff[code] = (effective, text, Fraction(w * HUNDRED) / Fraction(kept_sum), None,
                             {})
        return eff

    def _no_line_to_adjust(self, eid: str, code: str) -> None:
        if (eid, code) in self.adjustments:
            self.problem("kb_adjustments", "indicator",
                         about(f"{eid} {code}", message("adjust.no_score")), (eid, code))

    def _adjusted(self, eid: str, code: str, ind: Indicator, value: object,
                  target: Decimal | None, w: Decimal, w_run: Decimal | Fraction,
                  divisor: Decimal | None, base: Decimal, explanation: str,
                  status: LineStatus, stale: bool, own: Scorer | None) -> tuple:
        """A line (a LineTable row) with its adjustments added, checked against the line's
        range."""
        adjustments = sorted(self.adjustments.get((eid, code), ()),
                             key=lambda a: (to_decimal(a.points), a.reason, a.author))
        if not adjustments:
            return (eid, code, value, target, w, base, ZERO, base, explanation, status, stale)
        delta = sum((to_decimal(a.points) for a in adjustments), ZERO)
        points = base + delta
        running = base
        for adj in adjustments:
            running += to_decimal(adj.points)
            explanation += self.text["adjust"].format(p=_signed(to_decimal(adj.points)),
                                                      r=adj.reason.strip(), t=fmt(running))
        scorer = own or self.scorers[code]
        if ind.weighted:  # the exact weight (see _effective_weights) × the largest share
            if divisor is not None:
                high = _rounded(w_run * scorer.max_share / divisor)
            elif type(w_run) is Fraction:
                high = _rounded(decimal_of(w_run * Fraction(scorer.max_share)))
            else:
                high = _rounded(w_run * scorer.max_share)
            low = ZERO
        elif ind.kind is IndicatorKind.PENALTY:
            low, high = -(scorer.item_cap or ZERO), ZERO
        else:
            low, high = ZERO, scorer.item_cap or ZERO
        if not low <= points <= high:
            self.problem("kb_adjustments", "points",
                         about(f"{eid} {code}", message("adjust.outside", points=fmt(points),
                                                        low=fmt(low), high=fmt(high))),
                         (eid, code, "points"))
        if ind.adjust_max_up is not None and delta > ind.adjust_max_up:
            self.problem("kb_adjustments", "points",
                         about(f"{eid} {code}", message(
                             "adjust.more_than", delta=_signed(delta),
                             limit=f"+{fmt_short(ind.adjust_max_up)}")), (eid, code, "points"))
        if ind.adjust_max_down is not None and -delta > ind.adjust_max_down:
            self.problem("kb_adjustments", "points",
                         about(f"{eid} {code}", message(
                             "adjust.more_than", delta=_signed(delta),
                             limit=f"-{fmt_short(ind.adjust_max_down)}")), (eid, code, "points"))
        return (eid, code, value, target, w, base, delta, points, explanation, status, stale)

    # -- totals, grades, ranks -------------------------------------------------------------

    def result(self) -> ScoreResult:
        rules = self.rules
        group_attr = rules.distribution_group
        whole = group_attr in ("", SCORECARD_GROUP, COMPANY_GROUP)
        scored = [(emp, total) for emp, total, _, _ in self.totals if total is not None]
        everyone = [t for _, t in scored]
        # the totals as whole cents when they all are: the same order and ties as the
        # Decimals, sorted by numpy (a stable sort of the negated cents keeps equal totals
        # in the order given, as rank_order does)
        cents = self.columns.total_cents() if self.columns is not None else None
        company = group_attr == COMPANY_GROUP and bool(self.peers)
        if cents is not None and len(cents) and not company:
            return self._result_by_cents(scored, cents, whole)
        if cents is not None:
            ranked: list = cents.tolist()
            order = np.argsort(-cents, kind="stable").tolist()
        else:
            ranked = everyone
            order = rank_order(everyone)  # sorted once: each group's order is a part of it
        rank = competition_ranks(ranked, order)
        keys = ["" if whole else getattr(emp, group_attr) for emp, _ in scored]
        groups: dict[object, list[int]] = defaultdict(list)
        local = [0] * len(scored)  # each scored employee's position within their group
        for i, key in enumerate(keys):
            members = groups[key]
            local[i] = len(members)
            members.append(i)
        group_orders: dict[object, list[int]] = {key: [] for key in groups}
        for i in order:
            group_orders[keys[i]].append(local[i])
        group_rank: list[int] = [0] * len(scored)
        grade: list[str | None] = [None] * len(scored)
        forced = rules.grading is GradingMethod.FORCED
        for key, members in groups.items():
            totals = [(everyone if company else ranked)[i] for i in members]
            group_order = group_orders[key]
            if company:
                # the other scorecards' totals join the ranking and the quotas; only this
                # scorecard's people (the first len(members)) get a rank and grade here
                totals = totals + list(self.peers)
                group_order = rank_order(totals)
            ranks = competition_ranks(totals, group_order)
            grades = forced_grades(totals, rules.quotas, group_order) if forced else None
            for n, i in enumerate(members):
                group_rank[i] = ranks[n]
                if grades is not None:
                    grade[i] = grades[n]
        if rules.grading is GradingMethod.BANDS:
            for i, (_, total) in enumerate(scored):
                grade[i] = band_grade(total, rules.bands)
        return self._scored_result(grade, rank, group_rank)

    def _scored_result(self, grade: list[str | None], rank: list[int], group_rank: list[int]
                       ) -> ScoreResult:
        """The result: each scored employee's grade and ranks (in the order of the scored
        employees of self.totals), the others' status only, and the lines."""
        results = []
        i = 0  # position among the scored: they come in the order of self.totals
        for emp, total, status, missing in self.totals:
            if total is None:
                results.append(EmployeeResult(emp.employee_id, None, None, None, None, status,
                                              missing))
            else:
                results.append(EmployeeResult(emp.employee_id, total, grade[i], rank[i],
                                              group_rank[i], status, missing))
                i += 1
        lines = self.columns.table() if self.columns is not None else LineTable(self.lines)
        return ScoreResult(lines, tuple(results))


    def _result_by_cents(self, scored: list[tuple[Employee, Decimal]], cents: np.ndarray,
                         whole: bool) -> ScoreResult:
        """`result` with the totals as whole cents (no company-wide peers): the same ranks
        and grades, worked out by numpy sorts instead of a Python loop per employee."""
        rules = self.rules
        n = len(scored)
        if whole:
            group = np.zeros(n, dtype=np.int64)
        else:
            numbers: dict[object, int] = {}
            attr = rules.distribution_group
            group = np.fromiter((numbers.setdefault(getattr(emp, attr), len(numbers))
                                 for emp, _ in scored), dtype=np.int64, count=n)
        rank, _, _ = _ranks_within(cents, np.zeros(n, dtype=np.int64))
        group_rank, order, start = _ranks_within(cents, group)
        grade: list[str | None] = [None] * n
        if rules.grading is GradingMethod.FORCED and rules.quotas:
            quotas = list(rules.quotas)
            sorted_group = group[order]
            grades = np.empty(n, dtype=np.int64)
            for g, size in enumerate(np.bincount(group).tolist()):
                where = np.flatnonzero(sorted_group == g)
                ends = np.cumsum(quota_counts(size, quotas))
                # forced_grades: a tie takes the grade owning the position of its first
                grades[where] = np.minimum(np.searchsorted(ends, start[where], side="right"),
                                           len(quotas) - 1)
            by_employee = np.empty(n, dtype=np.int64)
            by_employee[order] = grades
            names = [q.grade for q in quotas]
            grade = [names[k] for k in by_employee.tolist()]
        elif rules.grading is GradingMethod.BANDS:
            grade = [band_grade(total, rules.bands) for _, total in scored]
        return self._scored_result(grade, rank.tolist(), group_rank.tolist())


def _ranks_within(cents: np.ndarray, group: np.ndarray) -> tuple[np.ndarray, ...]:
    """Competition ranks ("1224") by total, highest first, within each group; the sort
    (by group, total falling, then the order given: rank_order's order within a group) and
    each sorted position's tie start within its group (0-based)."""
    n = len(cents)
    order = np.lexsort((np.arange(n), -cents, group))
    sorted_group, sorted_cents = group[order], cents[order]
    positions = np.arange(n)
    new_group = np.ones(n, dtype=bool)
    new_group[1:] = sorted_group[1:] != sorted_group[:-1]
    new_tie = new_group.copy()
    new_tie[1:] |= sorted_cents[1:] != sorted_cents[:-1]
    group_start = np.maximum.accumulate(np.where(new_group, positions, 0))
    tie_start = np.maximum.accumulate(np.where(new_tie, positions, 0)) - group_start
    ranks = np.empty(n, dtype=np.int64)
    ranks[order] = tie_start + 1
    return ranks, order, tie_start


def _frozen(params: Mapping[str, object]) -> tuple:
    """A hashable, order-free key for a parameter mapping (values are hashable: Decimal,
    str, tuples)."""
    if len(params) == 1:  # the usual personal target: one parameter, nothing to sort
        ((key, value),) = params.items()
        return ((key, repr(value)),)
    return tuple(sorted((k, repr(v)) for k, v in params.items()))


class _NoFact:
    """Marks a formula line whose inputs are all present but which has no 'actual' fact."""

    value = None
    stale = False


_NO_FACT = _NoFact()
_NOTHING: frozenset[str] = frozenset()


def rank_order(totals: list[Decimal]) -> list[int]:
    """Positions of `totals`, highest first, equal totals in the order given (a stable sort:
    any subset of it is in the order rank_order of that subset would give)."""
    return sorted(range(len(totals)), key=totals.__getitem__, reverse=True)


def competition_ranks(totals: Iterable[Decimal], order: list[int] | None = None) -> list[int]:
    """Competition ranks ("1224") by total, highest first, in the order given. `order`:
    rank_order(totals) when already known."""
    values = list(totals)
    if order is None:
        order = rank_order(values)
    ranks = [0] * len(values)
    previous, previous_rank = None, 0
    for position, i in enumerate(order, start=1):
        if values[i] != previous:
            previous, previous_rank = values[i], position
        ranks[i] = previous_rank
    return ranks


def band_grade(total: Decimal, bands: Iterable) -> str | None:
    """The first (best) band whose inclusive minimum the total reaches; None below all."""
    for band in bands:
        if total >= band.min_score:
            return band.grade
    return None


def quota_counts(n: int, quotas: Iterable) -> list[int]:
    """Seats per grade: largest remainder of share × n, ties to the better grade."""
    quotas = list(quotas)
    total_share = sum((q.share for q in quotas), ZERO)
    if not quotas or total_share <= 0:
        return [0] * len(quotas)
    exact = [q.share * n / total_share for q in quotas]
    counts = [int(x) for x in exact]  # floor: shares are never negative here
    left = n - sum(counts)
    by_remainder = sorted(range(len(quotas)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in by_remainder[:left]:
        counts[i] += 1
    return counts


def forced_grades(totals: list[Decimal], quotas: Iterable,
                  order: list[int] | None = None) -> list[str | None]:
    """Grades by quota in rank order; equal totals always share the better grade.

    Each grade owns a run of positions (its seats, best grade first). A group of equal totals
    takes the grade owning the position of its first member, so a tie at a boundary pushes the
    overflow into the following grades, which then get fewer seats. `order`:
    rank_order(totals) when already known.
    """
    quotas = list(quotas)
    counts = quota_counts(len(totals), quotas)
    ends, running = [], 0
    for c in counts:
        running += c
        ends.append(running)
    if order is None:
        order = rank_order(totals)
    grades: list[str | None] = [None] * len(totals)
    g, previous, current = 0, None, None
    for position, i in enumerate(order):
        if totals[i] != previous:
            while g < len(ends) - 1 and position >= ends[g]:
                g += 1
            current, previous = (quotas[g].grade if quotas else None), totals[i]
        grades[i] = current
    return grades
