"""Benchmark: the same month scored the way HR does it today, with Excel formulas recalculated
by LibreOffice headless, compared line by line with the engine.

    .venv/bin/python bench/bench_libreoffice.py [--managers 10000] [--indicators 10]
                                                [--out /tmp/kpibook-lo] [--keep]

1. generate the month (bench/workload.py) and score it with `engine.score` (best of 3);
2. write an .xlsx with openpyxl: one row per manager on sheet "Scores" holding the raw inputs,
   the re-normalised weight sum, one formula per manager x indicator equivalent to the rule,
   and the total =SUM of the rounded parts; parameters sit on sheet "Rules", step and rating
   tables on sheet "Lookup" (absolute references, as HR writes them). openpyxl stores no
   cached values, so every number read back afterwards was computed by LibreOffice;
3. also write the same sheet with the engine's figures typed in as constants (no formulas):
   converting that one measures LibreOffice's start + load + save without recalculation;
4. `soffice --headless --convert-to xlsx` both files with a private profile in which
   "recalculate on load" is set to Always for OOXML and ODF (wall clock of each);
5. read LibreOffice's figures back (openpyxl, data_only=True) and compare every line score and
   total with the engine's: exact, equal to the cent (a float artefact such as
   65.66000000000001 in an unrounded SUM), or a real mismatch (listed with its inputs).

LibreOffice is installed when `soffice` is missing (apt-get install -y --no-install-recommends
libreoffice-calc), unless an install started elsewhere is still running (/tmp/lo.log without
LODONE), which is waited for.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import workload  # noqa: E402
from openpyxl import Workbook, load_workbook  # noqa: E402
from openpyxl.utils import get_column_letter  # noqa: E402

from server.scoring import engine  # noqa: E402
from server.scoring.model import IndicatorKind  # noqa: E402

CALC_CONFIG = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry"
 xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" \
oor:op="fuse"><value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="ODFRecalcMode" \
oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""


# ---------------------------------------------------------------------------------------------
# LibreOffice


def ensure_soffice(log: Path = Path("/tmp/lo.log"), wait_s: float = 1800) -> str:
    """Path of soffice; waits for a running install or installs libreoffice-calc."""
    found = shutil.which("soffice")
    if found:
        return found
    deadline = time.time() + wait_s
    while log.exists() and "LODONE" not in log.read_text(errors="replace"):
        if time.time() > deadline:
            raise SystemExit(f"LibreOffice install in {log} did not finish in {wait_s:.0f} s")
        print(f"waiting for the LibreOffice install already running ({log}) ...", flush=True)
        time.sleep(20)
    found = shutil.which("soffice")
    if found:
        return found
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    print("installing libreoffice-calc (apt-get) ...", flush=True)
    subprocess.run([*sudo, "apt-get", "update"], check=True, env=env)
    subprocess.run([*sudo, "apt-get", "install", "-y", "--no-install-recommends",
                    "libreoffice-calc"], check=True, env=env)
    found = shutil.which("soffice")
    if not found:
        raise SystemExit("libreoffice-calc installed but soffice is not on PATH")
    return found


def make_profile(directory: Path) -> str:
    """A private LibreOffice user profile that recalculates every formula on load."""
    user = directory / "user"
    user.mkdir(parents=True, exist_ok=True)
    (user / "registrymodifications.xcu").write_text(CALC_CONFIG, encoding="utf-8")
    return directory.resolve().as_uri()


def convert(soffice: str, profile_uri: str, src: Path, out_dir: Path, fmt: str = "xlsx"
            ) -> tuple[float, Path]:
    """Wall-clock seconds of `soffice --headless --convert-to fmt` and the file it wrote."""
    out_dir.mkdir(parents=True, exist_ok=True)
    cmd = [soffice, f"-env:UserInstallation={profile_uri}", "--headless", "--norestore",
           "--convert-to", fmt, "--outdir", str(out_dir), str(src)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    elapsed = time.perf_counter() - t0
    target = out_dir / (src.stem + "." + fmt)
    if proc.returncode != 0 or not target.exists():
        raise SystemExit(f"soffice failed ({proc.returncode}): {proc.stdout}\n{proc.stderr}")
    return elapsed, target


# ---------------------------------------------------------------------------------------------
# the workbook HR would build


def _num(x: Decimal | str | None) -> float | str | None:
    if x is None or isinstance(x, str):
        return x
    return float(x)


class Layout:
    """Where everything sits in the generated workbook, and the formulas."""

    def __init__(self, load: workload.Workload):
        self.load = load
        self.templates = load.templates
        self.rules_rows: list[list[object]] = [["Code", "Indicator", "Weight", "Parameters ->"]]
        self.lookup_cols: list[list[object]] = []  # column-wise blocks for the Lookup sheet
        self.param_ref: dict[tuple[str, str], str] = {}  # (code, param) -> Rules!$X$n
        self.table_ref: dict[str, tuple[str, str]] = {}  # code -> (keys range, shares range)
        for n, t in enumerate(self.templates):
            row = n + 2
            cells: list[object] = [t.code, t.name, t.weight]
            self.param_ref[(t.code, "weight")] = f"Rules!$C${row}"
            for key, value in t.params.items():
                if key == "expr":
                    cells.append(f"expr: {value}")
                    continue
                if isinstance(value, tuple):
                    self._lookup_table(t, key, value)
                    continue
                col = get_column_letter(len(cells) + 1)
                cells += [float(value)]
                self.param_ref[(t.code, key)] = f"Rules!${col}${row}"
            self.rules_rows.append(cells)
        # Scores sheet columns: id, name, department, inputs..., kept weight, scores..., total
        self.header = ["Employee ID", "Name", "Department"]
        self.input_col: dict[tuple[str, str], str] = {}  # (code, field) -> column letters
        self.adj_codes = sorted({a.indicator for a in load.adjustments})
        for t in self.templates:
            names = t.fields + (("target",) if t.rule == "ratio" else ())
            for name in names:
                self._column(f"{t.code} {name}", (t.code, name))
        for code in self.adj_codes:
            self._column(f"{code} adjustment", (code, "adjustment"))
        self.kept_col = self._column("Weights in play", ("", "kept"))
        self.score_col = {t.code: self._column(f"{t.code} score", (t.code, "score"))
                          for t in self.templates}
        self.total_col = self._column("Total", ("", "total"))

    def _column(self, caption: str, key: tuple[str, str]) -> str:
        self.header.append(caption)
        letters = get_column_letter(len(self.header))
        self.input_col[key] = letters
        return letters

    def _lookup_table(self, t: workload.Template, key: str, table: tuple) -> None:
        pairs = [(k, float(v)) for k, v in table]
        if t.rule == "steps":  # LOOKUP needs ascending thresholds
            pairs = sorted(((float(k), v) for k, v in pairs), key=lambda p: p[0])
        first = len(self.lookup_cols) + 1
        self.lookup_cols.append([f"{t.code} {key}", *(k for k, _ in pairs)])
        self.lookup_cols.append(["% of weight", *(v for _, v in pairs)])
        self.lookup_cols.append([])  # a blank column between tables
        a, b, last = get_column_letter(first), get_column_letter(first + 1), len(pairs) + 1
        self.table_ref[t.code] = (f"Lookup!${a}$2:${a}${last}", f"Lookup!${b}$2:${b}${last}")

    # -- formulas -------------------------------------------------------------------------

    def cond(self, t: workload.Template, r: int) -> str | None:
        """When the indicator counts for the manager on row r (None: always)."""
        parts = []
        if t.departments:
            parts.append("OR(" + ",".join(f'$C{r}="{d}"' for d in t.departments) + ")")
        if t.missing is not None:  # EXCLUDE: dropped when there is no data
            parts.append(f'${self.input_col[(t.code, t.fields[0])]}{r}<>""')
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else "AND(" + ",".join(parts) + ")"

    def kept(self, r: int) -> str:
        terms = []
        for t in self.templates:
            if t.kind not in (IndicatorKind.QUANTITATIVE, IndicatorKind.QUALITATIVE):
                continue
            w, c = self.param_ref[(t.code, "weight")], self.cond(t, r)
            terms.append(w if c is None else f"{w}*({c})")
        return "=" + "+".join(terms)

    def score(self, t: workload.Template, r: int) -> str:
        p = lambda key: self.param_ref[(t.code, key)]  # noqa: E731
        col = lambda name: f"${self.input_col[(t.code, name)]}{r}"  # noqa: E731
        wn = p("weight")
        W = f"({wn}*100/${self.kept_col}{r})"  # noqa: N806  effective (re-normalised) weight
        a = col("actual") if "actual" in t.fields else None
        rule = t.rule
        if rule == "ratio":
            target = f'IF({col("target")}="",{p("target")},{col("target")})'
            body = f'ROUND(MAX(0,MIN({p("cap")},{a}/{target}))*{W},2)'
        elif rule == "reverse_ratio":
            body = (f'ROUND(IF({a}=0,{W}*{p("cap")},{W}*MIN({p("cap")},{p("target")}/{a})),2)')
        elif rule == "linear":
            f, tg = p("floor"), p("target")
            body = f"ROUND({W}*MAX(0,MIN({p('cap')},({a}-{f})/({tg}-{f}))),2)"
        elif rule == "reverse_linear":
            f, tg = p("floor"), p("target")
            body = f"ROUND({W}*MAX(0,MIN(1,({f}-{a})/({f}-{tg}))),2)"
        elif rule == "band":
            z, tol = p("zero_at"), p("tolerance")
            body = f"ROUND({W}*MAX(0,MIN(1,({z}-ABS({a}-{p('target')}))/({z}-{tol}))),2)"
        elif rule == "steps":
            keys, shares = self.table_ref[t.code]
            ratio = f"{a}/{p('target')}"
            body = (f"ROUND({W}*IF({ratio}<MIN({keys}),0,LOOKUP({ratio},{keys},{shares}))/100,"
                    "2)")
        elif rule == "deduction":
            body = f"ROUND(MAX({p('min_points')},{wn}-{p('per')}*{a})*{W}/{wn},2)"
        elif rule == "rating":
            keys, shares = self.table_ref[t.code]
            body = f"ROUND({W}*INDEX({shares},MATCH({a},{keys},0))/100,2)"
        elif rule == "per_item":
            body = f"ROUND(MIN({p('cap')},{p('per')}*{a}),2)"
        elif rule == "formula":
            if t.params["expr"] != workload.TICK_EXPR:
                raise SystemExit(f"no Excel translation for formula {t.params['expr']!r}")
            res, tot = col("resolved"), col("total")
            body = (f"ROUND(MAX(0,MIN({W}*{p('cap')},IF({res}>={tot}*0.9,{W},{W}*{res}/{tot}))),"
                    "2)")
        else:
            raise SystemExit(f"no Excel translation for rule {rule}")
        if t.code in self.adj_codes:
            body += f"+{col('adjustment')}"
        c = self.cond(t, r)
        return f"={body}" if c is None else f'=IF({c},{body},"")'

    def total(self, r: int) -> str:
        cols = [self.score_col[t.code] for t in self.templates]
        return f"=SUM({cols[0]}{r}:{cols[-1]}{r})"  # score columns are contiguous

    # -- rows -----------------------------------------------------------------------------

    def rows(self, result=None):
        """Data rows of the Scores sheet: formulas, or the engine's figures as constants."""
        load = self.load
        adj = {(a.employee_id, a.indicator): float(a.points) for a in load.adjustments}
        lines = totals = None
        if result is not None:
            lines = {(ln.employee_id, ln.indicator): ln.points for ln in result.lines}
            totals = {e.employee_id: e.total for e in result.employees}
        for n, emp in enumerate(load.employees):
            r = n + 2
            eid = emp.employee_id
            row: list[object] = [eid, emp.name, emp.department]
            for t in self.templates:
                values = load.values.get((eid, t.code), {})
                for name in t.fields:
                    row.append(_num(values.get(name)))
                if t.rule == "ratio":
                    row.append(_num(load.targets.get((eid, t.code))))
            for code in self.adj_codes:
                row.append(adj.get((eid, code)))
            if result is None:
                row.append(self.kept(r))
                row += [self.score(t, r) for t in self.templates]
                row.append(self.total(r))
            else:
                row.append(None)
                row += [_num(lines[(eid, t.code)]) for t in self.templates]
                row.append(_num(totals[eid]))
            yield row

    def write(self, path: Path, result=None) -> None:
        wb = Workbook(write_only=True)
        scores = wb.create_sheet("Scores")
        scores.append(self.header)
        for row in self.rows(result):
            scores.append(row)
        rules = wb.create_sheet("Rules")
        for row in self.rules_rows:
            rules.append(row)
        lookup = wb.create_sheet("Lookup")
        height = max((len(c) for c in self.lookup_cols), default=0)
        for i in range(height):
            lookup.append([c[i] if i < len(c) else None for c in self.lookup_cols])
        wb.save(path)


# ---------------------------------------------------------------------------------------------
# exact arithmetic: the arbiter for mismatches


def _half_up(x: Fraction) -> Fraction:
    """Round half away from zero to cents, exactly."""
    cents = math.floor(abs(x) * 100 + Fraction(1, 2))
    return Fraction(cents if x >= 0 else -cents, 100)


def exact_points(load: workload.Workload, eid: str, t: workload.Template, kept: Fraction
                 ) -> Fraction | None:
    """The rule evaluated in exact rational arithmetic and rounded half up to the cent (what
    both the engine and the spreadsheet mean); None when the line does not count."""
    values = load.values.get((eid, t.code))
    if values is None:
        return None
    p = {k: Fraction(str(v)) for k, v in t.params.items() if isinstance(v, Decimal)}
    wn = Fraction(t.weight)
    w = wn * 100 / kept if kept else Fraction(0)
    a = Fraction(str(values["actual"])) if t.rule not in ("rating", "formula") else None
    rule = t.rule
    if rule == "ratio":
        target = Fraction(str(load.targets.get((eid, t.code), t.params["target"])))
        raw = w * max(Fraction(0), min(p["cap"], a / target))
    elif rule == "reverse_ratio":
        raw = w * p["cap"] if a == 0 else w * min(p["cap"], p["target"] / a)
    elif rule == "linear":
        raw = w * max(Fraction(0), min(p["cap"], (a - p["floor"]) / (p["target"] - p["floor"])))
    elif rule == "reverse_linear":
        raw = w * max(Fraction(0), min(Fraction(1), (p["floor"] - a) / (p["floor"] - p["target"])))
    elif rule == "band":
        d = abs(a - p["target"])
        raw = w * max(Fraction(0), min(Fraction(1), (p["zero_at"] - d)
                                       / (p["zero_at"] - p["tolerance"])))
    elif rule == "steps":
        ratio = a / p["target"]
        share = Fraction(0)
        for k, v in sorted(t.params["steps"], key=lambda kv: Fraction(kv[0])):
            if ratio >= Fraction(k):
                share = Fraction(str(v))
        raw = w * share / 100
    elif rule == "deduction":
        raw = max(p["min_points"], wn - p["per"] * a) * w / wn
    elif rule == "rating":
        share = dict(t.params["scale"])[values["actual"]]
        raw = w * Fraction(str(share)) / 100
    elif rule == "per_item":
        raw = min(p["cap"], p["per"] * a)
    elif rule == "formula":
        res, tot = Fraction(str(values["resolved"])), Fraction(str(values["total"]))
        raw = max(Fraction(0), min(w * p["cap"], w if res >= tot * Fraction(9, 10)
                                   else w * res / tot))
    else:
        raise AssertionError(rule)
    points = _half_up(raw)
    return points + _adjustments(load).get((eid, t.code), 0)


_ADJ_CACHE: dict[int, dict[tuple[str, str], Fraction]] = {}


def _adjustments(load: workload.Workload) -> dict[tuple[str, str], Fraction]:
    found = _ADJ_CACHE.get(id(load))
    if found is None:
        found = _ADJ_CACHE[id(load)] = {}
        for x in load.adjustments:
            key = (x.employee_id, x.indicator)
            found[key] = found.get(key, 0) + Fraction(str(x.points))
    return found


def exact_kept(load: workload.Workload, emp) -> Fraction:
    kept = Fraction(0)
    for t in load.templates:
        if t.kind not in (IndicatorKind.QUANTITATIVE, IndicatorKind.QUALITATIVE):
            continue
        if t.departments and emp.department not in t.departments:
            continue
        if t.missing is not None and (emp.employee_id, t.code) not in load.values:
            continue
        kept += t.weight
    return kept


def _verdict(mine: Decimal | None, theirs: Decimal | None, exact: Fraction | None) -> str:
    engine_ok = (mine is None) == (exact is None) and (mine is None or Fraction(mine) == exact)
    lo_ok = (theirs is None) == (exact is None) and (
        theirs is None or abs(Fraction(theirs) - exact) < Fraction(1, 10**9))
    if engine_ok and not lo_ok:
        return "lo_float"
    if lo_ok and not engine_ok:
        return "engine_wrong"
    return "both_wrong" if not engine_ok else "unexplained"


# ---------------------------------------------------------------------------------------------
# comparison


def _as_decimal(value: object) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"not a number: {value!r}")
    return Decimal(repr(value))


def compare(layout: Layout, path: Path, result) -> dict:
    """Every line score and total of LibreOffice's file against the engine's result."""
    wb = load_workbook(path, read_only=True, data_only=True)
    ws = wb["Scores"]
    header = next(ws.iter_rows(min_row=1, max_row=1, values_only=True))
    index = {caption: i for i, caption in enumerate(header)}
    score_idx = {t.code: index[f"{t.code} score"] for t in layout.templates}
    total_idx = index["Total"]
    lines = {(ln.employee_id, ln.indicator): ln for ln in result.lines}
    totals = {e.employee_id: e.total for e in result.employees}
    stats = {"lines": 0, "totals": 0, "exact": 0, "cent_equal": 0, "mismatch": 0,
             "uncomputed": 0, "lo_float": 0, "engine_wrong": 0, "both_wrong": 0,
             "unexplained": 0, "engine_not_exact": 0}
    examples: list[str] = []
    by_rule: dict[str, int] = {}  # "verdict rule" -> count
    employees = {e.employee_id: e for e in layout.load.employees}

    def check(what: str, mine: Decimal | None, raw: object, context: str,
              exact: Fraction | None) -> None:
        # every line and total against exact arithmetic, whatever LibreOffice says (a wrong
        # engine figure that LibreOffice happens to share is no mismatch)
        if (mine is None) != (exact is None) or (mine is not None and Fraction(mine) != exact):
            stats["engine_not_exact"] += 1
        try:
            theirs = _as_decimal(raw)
        except TypeError:
            stats["uncomputed"] += 1
            stats["mismatch"] += 1
            examples.append(f"{what}: LibreOffice gave {raw!r}, engine {mine}  [{context}]")
            return
        if mine == theirs:
            stats["exact"] += 1
        elif mine is not None and theirs is not None and abs(mine - theirs) < Decimal("1e-9"):
            stats["cent_equal"] += 1  # float noise in an unrounded sum, same cents
        else:
            stats["mismatch"] += 1
            verdict = _verdict(mine, theirs, exact)
            stats[verdict] += 1
            kind = "total" if what.endswith(" total") else context.split(",")[0]
            by_rule[f"{verdict} {kind}"] = by_rule.get(f"{verdict} {kind}", 0) + 1
            if len(examples) < 20:
                shown = "n/a" if exact is None else f"{float(exact):.2f}"
                examples.append(f"{what}: LibreOffice {raw!r}, engine {mine}, exact {shown} "
                                f"-> {verdict}  [{context}]")

    for row in ws.iter_rows(min_row=2, values_only=True):
        eid = row[0]
        if eid is None:
            continue
        emp = employees[eid]
        kept = exact_kept(layout.load, emp)
        exact_total = Fraction(0)
        for t in layout.templates:
            ln = lines[(eid, t.code)]
            stats["lines"] += 1
            inputs = layout.load.values.get((eid, t.code), {})
            target = layout.load.targets.get((eid, t.code))
            context = (f"{t.rule}, inputs {dict((k, str(v)) for k, v in inputs.items())}"
                       + (f", personal target {target}" if target is not None else "")
                       + f", weight {ln.weight}; engine: {ln.explanation}")
            applies = not t.departments or emp.department in t.departments
            exact = exact_points(layout.load, eid, t, kept) if applies else None
            exact_total += exact or 0
            check(f"{eid} {t.code}", ln.points, row[score_idx[t.code]], context, exact)
        stats["totals"] += 1
        check(f"{eid} total", totals[eid], row[total_idx], "", exact_total)
    wb.close()
    stats["examples"] = examples
    stats["by_rule"] = dict(sorted(by_rule.items()))
    return stats


# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--managers", type=int, default=10_000)
    ap.add_argument("--indicators", type=int, default=10)
    ap.add_argument("--out", type=Path, default=None, help="work directory (default: temp)")
    ap.add_argument("--keep", action="store_true", help="keep the generated files")
    args = ap.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # progress shows when redirected to a file

    soffice = ensure_soffice()
    out = args.out or Path(tempfile.mkdtemp(prefix="kpibook-lo-"))
    out.mkdir(parents=True, exist_ok=True)
    version = subprocess.run([soffice, "--version"], capture_output=True, text=True).stdout
    print(f"LibreOffice: {version.strip()}  work dir: {out}")

    load = workload.generate(args.managers, args.indicators)
    inp = load.score_input()
    engine.score(inp)  # warm-up
    engine_times = []
    for _ in range(3):
        t0 = time.perf_counter()
        result = engine.score(inp)
        engine_times.append(time.perf_counter() - t0)
    engine_s = min(engine_times)

    layout = Layout(load)
    formulas, constants = out / "hr_formulas.xlsx", out / "hr_constants.xlsx"
    t0 = time.perf_counter()
    layout.write(formulas)
    t_write = time.perf_counter() - t0
    layout.write(constants, result)
    n_formulas = args.managers * (len(layout.templates) + 2)
    print(f"workbook: {formulas.name} {formulas.stat().st_size / 1e6:.1f} MB, {n_formulas:,} "
          f"formulas, written by openpyxl in {t_write:.1f} s")

    profile = make_profile(out / "lo-profile")
    tiny = out / "warmup.xlsx"
    wb = Workbook()
    wb.active["A1"] = "=1+1"
    wb.save(tiny)
    t_start, _ = convert(soffice, profile, tiny, out / "warm")  # first start creates the profile
    t_empty, _ = convert(soffice, profile, tiny, out / "warm")
    t_const, _ = convert(soffice, profile, constants, out / "recalc-constants")
    t_lo, recalculated = convert(soffice, profile, formulas, out / "recalc")
    print(f"soffice: first start {t_start:.1f} s, start+convert of a 1-cell book {t_empty:.1f} s,"
          f" same sheet with constants {t_const:.1f} s, with formulas {t_lo:.1f} s")

    t0 = time.perf_counter()
    stats = compare(layout, recalculated, result)
    t_compare = time.perf_counter() - t0
    recalc_only = max(t_lo - t_const, 0.0)
    figures = {
        "managers": args.managers, "lines": load.n_lines, "formulas": n_formulas,
        "lo_s": t_lo, "lo_recalc_s": recalc_only, "lo_constants_s": t_const,
        "lo_empty_s": t_empty, "engine_s": engine_s, "speedup": t_lo / engine_s,
        "speedup_recalc_only": recalc_only / engine_s, **stats,
    }
    print()
    print(f"managers            {args.managers:>12,}")
    print(f"lines               {load.n_lines:>12,}  (+ {args.managers:,} totals)")
    print(f"LibreOffice seconds {t_lo:>12.2f}  (convert with recalculation; the same sheet "
          f"with constants takes {t_const:.2f} s, so recalculation itself ~{recalc_only:.2f} s)")
    print(f"engine seconds      {engine_s:>12.3f}  (best of 3 engine.score)")
    print(f"speed-up            {t_lo / engine_s:>12.1f}x  (recalculation only: "
          f"{recalc_only / engine_s:.1f}x)")
    print(f"compared            {stats['lines']:,} lines + {stats['totals']:,} totals: "
          f"{stats['exact']:,} exact, {stats['cent_equal']:,} equal to the cent (float noise), "
          f"{stats['uncomputed']:,} not computed (read in {t_compare:.1f} s)")
    print(f"mismatches          {stats['mismatch']:>12,}  (against exact rational arithmetic: "
          f"{stats['lo_float']} LibreOffice float artefacts, {stats['engine_wrong']} engine "
          f"wrong, {stats['both_wrong']} both wrong, {stats['unexplained']} unexplained)")
    print(f"engine vs exact     {stats['engine_not_exact']:>12,}  engine figures (lines + totals) "
          f"differing from exact rational arithmetic, whether or not LibreOffice agrees")
    if stats["by_rule"]:
        print("  by verdict and rule: " + ", ".join(f"{k}: {v}" for k, v in
                                                    stats["by_rule"].items()))
    for line in stats["examples"][:10]:
        print("  " + line)
    if not args.keep and args.out is None:
        shutil.rmtree(out, ignore_errors=True)
    return figures


if __name__ == "__main__":
    main()
