"""The engine's column path: a month scored rule by rule over whole columns (issue #16).

The per-line path (engine._Run._score_lines) walks 100,000 lines one by one and builds a
tuple, a figure and a sentence for each. Here the lines are a grid, one row per employee and
one column per indicator, and the work goes a column at a time:

- the common line (data present, no adjustment) is scored in bulk: per indicator, per
  weight in play (department and position decide which indicators apply and so the
  re-normalised weights) and per scorer (the indicator's or a personal target's), the
  column of values is handed to a kernel (server/scoring/kernels.py): numpy scaled-integer
  arithmetic for the rules it covers, rounding half away from zero exactly as Decimal
  quantize does, else the rule's own `run` once per distinct value;
- everyone with anything unusual (missing data and its policies, adjustments, a weighted
  sum of zero) is scored by the per-line path itself (`_score_lines(only=...)`), so those
  rules live in one place;
- totals are column sums in cents; the lines come out as columns (model.LineTable), the
  explanation column made only when read, through the same memoised rule texts as the
  per-line path.

Same figures, same words, same problems: anything the column path is not sure of (a value
that is neither a Decimal nor text, a rule that raises, figures too large for int64) makes
it decline, and the per-line path scores the whole input as before. tests/scoring/
test_columns.py compares both paths field by field.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import ROUND_HALF_UP, Decimal
from operator import attrgetter, itemgetter
from typing import TYPE_CHECKING

import numpy as np

from server.scoring.kernels import (
    column_points,
    decimals_of_cents,
    formula_texts,
    per_distinct,
    ratio_texts,
    value_keys,
)
from server.scoring.model import LINE_FIELDS, Adjustment, LineStatus, LineTable, MissingPolicy
from server.scoring.numbers import to_decimal

if TYPE_CHECKING:
    from server.scoring.engine import _Run

ZERO = Decimal(0)
CENT = Decimal("0.01")
_value_of, _stale_of = attrgetter("value"), attrgetter("stale")
_where_of = attrgetter("department", "position")
_first, _second = itemgetter(0), itemgetter(1)
_CENTS_LIMIT = 10**15  # per line; the sum of a row's lines then stays far inside int64


def _filled(value: object, n: int) -> np.ndarray:
    """An object array holding `value` n times (np.full would turn a str enum into str)."""
    array = np.empty(n, dtype=object)
    array.fill(value)
    return array


def _objects(values: Iterable[object], n: int) -> np.ndarray:
    """An object array of `values` (never a str or number array numpy would infer)."""
    return np.fromiter(values, dtype=object, count=n)


class _NoFact:
    """A formula line whose inputs are all present but which has no 'actual' fact."""

    value = None
    stale = False


_NO_FACT = _NoFact()


class _Column:
    """The scored lines of one indicator: their positions in the grid, and what makes their
    explanations when they are asked for."""

    __slots__ = ("positions", "values", "keys", "fields", "groups", "params", "scorers",
                 "stale", "kernel", "cents")

    def __init__(self, positions: np.ndarray, values: list, keys: list | None,
                 fields: list | None, groups: np.ndarray, params: list[tuple], scorers: int,
                 stale: list[bool], kernel: str | None = None,
                 cents: np.ndarray | None = None) -> None:
        # kernel: "ratio" when every value is a Decimal of a ratio column (ratio_texts),
        # "formula" for a formula column (formula_texts);
        # cents: the lines' points
        # group number g: weighting g // scorers, scorer g % scorers (0: the indicator's)
        self.positions, self.values, self.keys, self.fields = positions, values, keys, fields
        self.groups, self.params, self.scorers, self.stale = groups, params, scorers, stale
        self.kernel, self.cents = kernel, cents

    def explanations(self, personal_text: str, stale_text: str) -> np.ndarray:
        """The per-line path's words, line for line (engine._Run._score_lines: the rule's
        text, " = " and the rounded points, made once per value text, then the personal
        target and stale notes)."""
        params, values, fields = self.params, self.values, self.fields
        cents = self.cents.tolist() if self.cents is not None else None

        def text(group: int, line: int) -> str:
            (_, w_text, w_run, divisor), scorer = params[group]
            raw, words = scorer.run(values[line], w_run, w_text,
                                    fields[line] if fields is not None else None)
            c = cents[line] if cents is not None else 0
            if c > 0:  # the line's points, as quantize writes them (0 and below: quantize)
                return f"{words} = {c // 100}.{c % 100:02d}"
            if divisor is not None:
                raw = raw / divisor
            return f"{words} = {raw.quantize(CENT, ROUND_HALF_UP)!s}"

        made = None
        if self.kernel == "ratio":
            made = ratio_texts(self.keys, self.groups, params, self.cents)
        elif self.kernel == "formula":
            made = formula_texts(values, fields, self.groups, params, self.cents)
        if made is not None:
            texts = made
            rest = np.flatnonzero(np.equal(made, None)).tolist()  # actual <= 0: the rule's
            if rest:
                groups = self.groups.tolist()
                texts[rest] = _objects([text(groups[line], line) for line in rest], len(rest))
        elif self.keys is None:  # a formula: each line on its own
            texts = _objects([text(g, line) for line, g in enumerate(self.groups.tolist())],
                             len(values))
        else:
            texts = per_distinct(self.keys, self.groups, len(params), text)
        personal = self.groups % self.scorers != 0  # a personal target's scorer
        if personal.any():
            texts[personal] = texts[personal] + personal_text
        if any(self.stale):
            stale = np.array(self.stale, dtype=bool)
            texts[stale] = texts[stale] + stale_text
        return texts


class ColumnRun:
    """The lines and totals of a _Run, as a grid of columns (see the module doc)."""

    def __init__(self, run: _Run, n: int, width: int, eids: list[str], codes: list[str]):
        self.n, self.width, self.eids, self.codes = n, width, eids, codes
        size = n * width
        na = run.text["na"]
        self.na_text = na
        self.personal_text, self.stale_text = run.text["personal"], run.text["stale"]
        # the n/a line everywhere; scored lines are written over it
        self.grid: dict[str, np.ndarray] = {
            "actual": _filled(None, size),
            "target": _filled(None, size),
            "weight": _filled(ZERO, size),
            "base_points": _filled(None, size),
            "adjustment": _filled(ZERO, size),
            "points": _filled(None, size),
            "status": _filled(LineStatus.NOT_APPLICABLE, size),
            "stale": _filled(False, size),
        }
        self.cents = np.zeros(size, dtype=np.int64)
        self.columns: list[_Column] = []
        self.special: set[str] = set()  # scored by the per-line path
        self.odd_rows: set[int] = set()  # rows with a line made by _special_line
        self.odd_texts: dict[str, object] = {}  # those lines' explanations (as below)
        # the per-line path's explanations: {"positions": in the grid, "texts": theirs}
        self.special_texts: dict[str, object] = {}
        self.plain_totals: list[Decimal | None] = [None] * n

    # -- scoring -----------------------------------------------------------------------------

    @classmethod
    def score(cls, run: _Run) -> ColumnRun | None:
        """Score `run`'s input, or None (nothing changed) when the per-line path must."""
        rules = run.rules
        indicators = [ind for ind in rules.indicators if run.indicators.get(ind.code) is ind]
        employees = list(run.employees.values())
        if not indicators or not employees or any(ind.code not in run.scorers
                                                  for ind in indicators):
            return None
        codes = [ind.code for ind in indicators]
        width, n = len(indicators), len(employees)
        eids = [emp.employee_id for emp in employees]
        self = cls(run, n, width, eids, codes)
        if not self._score_plain(run, indicators, employees):
            return None
        self._score_special(run, employees, self.special)
        return self

    def _score_plain(self, run: _Run, indicators: list, employees: list) -> bool:
        rules, width, n, eids, codes = run.rules, self.width, self.n, self.eids, self.codes
        default_missing = rules.missing_default
        policies = {ind.code: ind.missing or default_missing for ind in indicators}
        weights = {ind.code: to_decimal(ind.weight) for ind in indicators}
        full_sum = sum((weights[ind.code] for ind in indicators if ind.weighted), ZERO)

        # one plan per (department, position), as in the per-line path (raw entries: each
        # indicator at its nominal weight), and its applicable weight sum
        wheres = list(map(_where_of, employees))
        first_of: dict[tuple[str, str], object] = {}
        for where, emp in zip(wheres, employees, strict=True):
            if where not in first_of:
                first_of[where] = emp
        plan_index = {where: p for p, where in enumerate(first_of)}
        plans: list[tuple] = []
        for emp in first_of.values():
            entries, applicable_sum, _, has_weighted, _ = run._plan(
                emp, indicators, policies, weights, full_sum)
            plans.append((entries, applicable_sum, has_weighted))
        plan_of = np.fromiter(map(plan_index.__getitem__, wheres), dtype=np.int64, count=n)
        if any(len(entries) != width for entries, _, _ in plans):
            return False  # a line left out (a broken rule): the per-line path reports it

        applies = np.array([[entry[2] is not None for entry in entries]
                            for entries, _, _ in plans], dtype=bool)[plan_of]  # (n, width)
        row_of = {eid: i for i, eid in enumerate(eids)}
        column_of = {code: k for k, code in enumerate(codes)}
        facts_of = run.facts_of
        flat: list = []
        extend = flat.extend
        for eid in eids:
            extend(map(facts_of[eid].get, codes))
        facts = _objects(flat, n * width)
        present = facts.astype(bool).reshape(n, width)
        fields_get, stale_inputs = run.fields.get, run.stale_inputs
        formula_fields: dict[int, list] = {}  # column -> per employee: fields or None
        for k, ind in enumerate(indicators):
            if ind.rule != "formula":
                continue
            needs = run.scorers[ind.code].needs
            column_fields: list = [None] * n
            for i in np.flatnonzero(applies[:, k]).tolist():
                fields = fields_get((eids[i], ind.code))
                has = fields is not None and needs <= fields.keys()
                present[i, k] = has
                if has:
                    column_fields[i] = fields
            formula_fields[k] = column_fields
        missing = applies & ~present
        # who the per-line path scores whole: a blocked total (policy block), or no weight
        # left (see below)
        blocks = np.array([policies[code] is MissingPolicy.BLOCK for code in codes], dtype=bool)
        special = (missing & blocks).any(axis=1)
        # lines the per-line path's own _special_line makes, in the column path: missing
        # data (policies zero and exclude) and adjusted lines
        odd = missing & ~special[:, None]
        for eid, code in run.adjustments:
            odd[row_of[eid], column_of[code]] = True
        odd &= applies
        # each employee's weighting: the plan's, re-normalised to the weights still in play
        # when data of an exclude indicator is missing (engine._Run._score_lines)
        drops = np.array([ind.weighted and policies[ind.code] is MissingPolicy.EXCLUDE
                          for ind in indicators], dtype=bool)
        dropped = missing & drops & ~special[:, None]
        variant_index: dict[tuple[int, Decimal], int] = {}
        variants: list[tuple] = []  # (entries, kept sum) of each
        weight_cache: dict[Decimal, dict] = {}
        some_dropped = dropped.any(axis=1)
        drop_rows = set(np.flatnonzero(some_dropped).tolist())

        def variant(p: int, kept_sum: Decimal, renormalised: bool) -> int:
            entries, _, has_weighted = plans[p]
            key = (p, kept_sum)
            v = variant_index.get(key)
            if v is None:
                v = variant_index[key] = len(variants)
                if has_weighted and kept_sum <= 0:
                    variants.append((None, kept_sum))  # nothing left: the per-line path's
                else:
                    if renormalised:
                        eff = weight_cache.get(kept_sum)
                        if eff is None:
                            eff = weight_cache[kept_sum] = run._effective_weights(
                                weights, kept_sum, indicators)
                        entries = tuple((*entry[:6], *eff[entry[0]]) if entry[2] is not None
                                        and entry[1].weighted else entry for entry in entries)
                    variants.append((entries, kept_sum))
            return v

        # everyone without dropped data: the plan's own weighting; the others one by one
        plan_variant = np.fromiter(
            (variant(p, plan[1], plan[1] != full_sum) for p, plan in enumerate(plans)),
            dtype=np.int64, count=len(plans))
        variant_of = plan_variant[plan_of]
        for i in sorted(drop_rows):
            p = int(plan_of[i])
            kept_sum = plans[p][1]
            for k in np.flatnonzero(dropped[i]).tolist():
                kept_sum -= weights[codes[k]]
            variant_of[i] = variant(p, kept_sum, True)
        unweighted = np.array([entries is None for entries, _ in variants], dtype=bool)
        special |= unweighted[variant_of]
        odd &= ~special[:, None]
        self.special = {eids[i] for i in np.flatnonzero(special).tolist()}
        self.odd_rows = set(np.flatnonzero(odd.any(axis=1)).tolist())

        # personal scorers: per column, 0 for the indicator's own, else 1 + its index
        personal = np.zeros((n, width), dtype=np.int64)
        scorers_of: list[list] = [[run.scorers[code]] for code in codes]
        if run.personal:
            pairs = list(run.personal)
            at = np.fromiter(map(row_of.__getitem__, map(_first, pairs)), dtype=np.int64,
                             count=len(pairs)) * width
            at += np.fromiter(map(column_of.__getitem__, map(_second, pairs)),
                              dtype=np.int64, count=len(pairs))
            scorers = list(run.personal.values())
            # one number per distinct (column, scorer): a scorer is shared by everyone
            # with the same personal parameters (engine._index_overrides)
            number_of: dict[tuple[int, int], int] = {}
            which = list(zip((at % width).tolist(), map(id, scorers), strict=True))
            for (k, key), scorer in zip(which, scorers, strict=True):
                if (k, key) not in number_of:
                    number_of[(k, key)] = len(scorers_of[k])
                    scorers_of[k].append(scorer)
            personal.ravel()[at] = np.fromiter(map(number_of.__getitem__, which),
                                               dtype=np.int64, count=len(which))
        grid, cents = self.grid, self.cents
        ok = LineStatus.OK
        plain_lines = applies & ~missing & ~odd & ~special[:, None]
        for k, ind in enumerate(indicators):
            code = ind.code
            # the weights in play: one class per distinct (weight, its text, the weight the
            # rule gets, the divisor) among the plans where the indicator applies
            classes: dict[tuple, int] = {}
            class_of_variant = np.zeros(len(variants), dtype=np.int64)
            weightings: list[tuple] = []
            for v, (entries, _) in enumerate(variants):
                if entries is None or entries[k][2] is None:
                    continue
                entry = entries[k]
                key = (repr(entry[6]), entry[7], repr(entry[8]), repr(entry[9]))
                c = classes.get(key)
                if c is None:
                    c = classes[key] = len(weightings)
                    weightings.append(entry[6:10])
                class_of_variant[v] = c
            rows = np.flatnonzero(plain_lines[:, k])
            m = len(rows)
            if not m:
                continue
            positions = rows * width + k
            column_facts = facts[positions]
            line_scorers = scorers_of[k]
            groups = class_of_variant[variant_of[rows]] * len(line_scorers) + personal[rows, k]
            if ind.rule == "formula":
                column_fields = formula_fields[k]
                row_list = rows.tolist()
                kinds = None  # a formula's values are its fields
                line_fields = [column_fields[i] for i in row_list]
                line_facts = [f if f is not None else _NO_FACT for f in column_facts.tolist()]
                values = [f.value for f in line_facts]
                stale = [f.stale or (eids[i], code) in stale_inputs
                         for f, i in zip(line_facts, row_list, strict=True)]
            else:
                line_fields = None
                fact_list = column_facts.tolist()  # a list maps at C speed, an array not
                values = list(map(_value_of, fact_list))
                stale = list(map(_stale_of, fact_list))
                kinds = set(map(type, values))
                if not kinds <= {Decimal, str}:
                    return False  # other value types: the per-line path's own rules
            # one weighting and scorer per group number
            params = [(weightings[g // len(line_scorers)], line_scorers[g % len(line_scorers)])
                      for g in range(len(weightings) * len(line_scorers))]
            keys = value_keys(values, kinds) if line_fields is None else None
            found = column_points(ind, values, keys, line_fields, groups, params,
                                  line_fields is None and kinds == {Decimal})
            if found is None:
                return False
            bases, line_cents = found
            if int(np.abs(line_cents).max()) >= _CENTS_LIMIT:
                return False
            shown = _objects(bases, m)
            grid["actual"][positions] = _objects(values, m)
            grid["target"][positions] = _objects(
                [scorer.target for scorer in line_scorers], len(line_scorers))[
                    groups % len(line_scorers)]
            grid["weight"][positions] = _objects(
                [w[0] for w in weightings], len(weightings))[groups // len(line_scorers)]
            grid["base_points"][positions] = shown  # and points: see _score_special
            if any(stale):  # else False, as the grid starts
                grid["stale"][positions] = _objects(stale, m)
            cents[positions] = line_cents
            kernel = ("ratio" if ind.rule == "ratio" and kinds == {Decimal}
                      else "formula" if line_fields is not None else None)
            self.columns.append(_Column(positions, values, keys, line_fields, groups, params,
                                        len(line_scorers), stale, kernel, line_cents))
        # totals: a row's rounded lines added up, in cents (every line is quantized to the
        # cent, so the Decimal sum is this many cents with exponent -2)
        grid["status"][plain_lines.ravel()] = ok
        grid["points"] = grid["base_points"].copy()  # the odd lines' differ: below
        if not self._score_odd(run, indicators, variants, variant_of, odd, facts, policies):
            return False
        row_cents = self.row_cents = cents.reshape(n, width).sum(axis=1)
        rows = np.flatnonzero(~special)
        made = decimals_of_cents(row_cents[rows])
        if self.odd_rows:  # added up as the per-line path does: their exponents may differ
            points = grid["points"]
            odd_rows = sorted(self.odd_rows)
            for j, i in zip(np.searchsorted(rows, odd_rows).tolist(), odd_rows, strict=True):
                made[j] = sum((x for x in points[i * width:(i + 1) * width].tolist()
                               if x is not None), ZERO)
        total_cap = rules.total_cap
        self.total_capped = total_cap is not None
        if total_cap is not None:
            made = [total_cap if total > total_cap else total for total in made]
        if len(rows) == n:
            self.plain_totals = made
        else:
            totals = np.array(self.plain_totals, dtype=object)
            totals[rows] = _objects(made, len(made))
            self.plain_totals = totals.tolist()
        return True

    def _score_odd(self, run: _Run, indicators: list, variants: list, variant_of: np.ndarray,
                   odd: np.ndarray, facts: np.ndarray, policies: dict) -> bool:
        """Lines with missing data or adjustments, each by the per-line path's own
        _special_line, in roster order; False (nothing kept) if one is a problem."""
        self.odd_texts = {}
        if not odd.any():
            return True
        width, eids, grid = self.width, self.eids, self.grid
        problems = len(run.problems)
        fields_get = run.fields.get
        positions = np.flatnonzero(odd.ravel())
        lines = []
        for pos in positions.tolist():
            i, k = divmod(pos, width)
            eid, ind = eids[i], indicators[k]
            (code, _, _, _, is_formula, needs, w, w_text, w_run, divisor,
             _) = variants[variant_of[i]][0][k]
            if is_formula:
                fields = fields_get((eid, code))
                has = needs <= (fields.keys() if fields else frozenset())
                fact = (run.facts_of[eid].get(code) or _NO_FACT) if has else None
            else:
                fields, fact = None, facts[pos]
            line = run._special_line(eid, ind, fact, fields, w, w_text, w_run, divisor,
                                     policies[code], [], [])
            if line is None or len(run.problems) != problems:
                del run.problems[problems:]
                return False
            lines.append(line)
        for f, name in enumerate(LINE_FIELDS):
            if name in grid:
                grid[name][positions] = _objects((line[f] for line in lines), len(lines))
        self.cents[positions] = 0  # these rows are added up in Decimal (_score_plain)
        self.odd_texts = {"positions": positions, "texts": [line[8] for line in lines]}
        return True

    def _score_special(self, run: _Run, employees: Sequence, special: set[str]) -> None:
        """The special employees by the per-line path, written over their rows; the run's
        totals become everyone's, in roster order."""
        run.lines, run.totals, run.spans = [], [], []
        if special:
            run._score_lines(only=special)
        width, grid = self.width, self.grid
        special_totals = iter(run.totals)
        totals = []
        rows: list[int] = []
        for i, emp in enumerate(employees):
            if emp.employee_id in special:
                totals.append(next(special_totals))
                rows.append(i)
            else:
                totals.append((emp, self.plain_totals[i], "ok", ()))
        run.totals = self.totals = totals
        self.special_texts = {}
        if run.problems or not rows:
            return  # no result comes of a run with problems: its lines need not fit
        lines = run.lines
        positions = (np.array(rows, dtype=np.int64)[:, None] * width
                     + np.arange(width)).ravel()
        for f, name in enumerate(LINE_FIELDS):
            if name in grid:
                grid[name][positions] = _objects((line[f] for line in lines), len(lines))
        self.special_texts = {"positions": positions,
                              "texts": [line[8] for line in lines]}

    def total_cents(self) -> np.ndarray | None:
        """The totals of everyone with one (roster order), each as a whole number of cents,
        or None when one is not a whole number of cents (a total cap such as 99.995)."""
        cents = self.row_cents.copy()  # a plain row's total: its lines' cents, uncapped
        scored = np.ones(self.n, dtype=bool)
        totals = self.totals
        if self.total_capped:
            rows: Iterable[int] = range(self.n)
        else:
            row_of = {eid: i for i, eid in enumerate(self.eids)} if self.special else {}
            rows = sorted(self.odd_rows | {row_of[eid] for eid in self.special})
        for i in rows:
            total = totals[i][1]
            if total is None:
                scored[i] = False
                continue
            whole = total.scaleb(2)
            if whole != whole.to_integral_value() or abs(whole) >= _CENTS_LIMIT:
                return None
            cents[i] = int(whole)
        return cents[scored]

    # -- the same run with other adjustments ---------------------------------------------------

    def again(self, run: _Run, adjustments: Iterable[Adjustment]) -> _Run:
        """`run` (clean, scored by this) with other adjustments: everyone with adjustments in
        either is scored again by the per-line path, with the employees that already took
        it; everyone else's lines and totals are this run's."""
        other = copy.copy(run)
        other.problems = []
        other.adjustments = defaultdict(list)
        other._index_adjustments(adjustments)
        redo = {eid for eid, _ in run.adjustments} | {eid for eid, _ in other.adjustments}
        columns = copy.copy(self)
        columns.grid = {name: values.copy() for name, values in self.grid.items()}
        columns.special = self.special | redo
        columns._score_special(other, list(other.employees.values()), columns.special)
        other.columns = columns
        return other

    # -- the lines -------------------------------------------------------------------------------

    def table(self) -> LineTable:
        """The lines as a LineTable of columns, the explanations made when first read (the
        table holds this run until then; nothing here holds the table: no cycle)."""
        columns = {name: values.tolist() for name, values in self.grid.items()}
        columns["employee_id"] = np.repeat(np.array(self.eids, dtype=object),
                                           self.width).tolist()
        columns["indicator"] = self.codes * self.n
        return LineTable.from_columns(columns, {"explanation": self._explanations},
                                      n=self.n * self.width)

    def _explanations(self) -> list[str]:
        texts = _filled(self.na_text, self.n * self.width)
        for column in self.columns:
            texts[column.positions] = column.explanations(self.personal_text,
                                                          self.stale_text)
        # the per-line path's rows last: they include rows a group covered before `again`
        # scored them anew
        for made in (self.odd_texts, self.special_texts):
            if made:
                texts[made["positions"]] = _objects(made["texts"], len(made["texts"]))
        return texts.tolist()

