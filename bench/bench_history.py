"""Benchmark of the git-backed adjustment history (server.ledger).

Builds a repository with a baseline of N employees x M indicators, then submits one
adjustment commit at a time (1-3 cells; every 10th against a stale base so the three-way
merge runs), and prints:

* submit latency p50/p99 around 10, 1,000 and 20,000 commits of history;
* diff, cell history, timeline and state_at latency at the end, each sample a new question
  (other cells, commit pairs, departments), "cold" ones on a fresh History (empty caches);
* the repository's size on disk before and after `git gc`.

Packing while running: History(maintenance_every=500) runs `git gc --auto` (packs once
~6,700 loose objects exist) and `git commit-graph write --changed-paths --split` in a
background thread every 500 commits.

    .venv/bin/python bench/bench_history.py                 # 20,000 commits, 1,000 employees
    .venv/bin/python bench/bench_history.py --commits 2000  # quicker

`--record-scores` times only `History.record_scores` (the Score button's commit) at
--employees x --indicators (e.g. 5000 x 10): a baseline, an unchanged re-score (no commit)
and a re-score with --changed (10%) of the employees' lines changed, each --runs times on a
fresh repository; wall and process CPU time per call, and the load average.

    .venv/bin/python bench/bench_history.py --record-scores --employees 5000 --runs 5
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from server.ledger import (  # noqa: E402
    CellValue,
    Editor,
    EmployeeInfo,
    History,
    Kind,
    ScoreLine,
    ScoreSnapshot,
    TotalLine,
)

PERIOD = "2026-10"
EDITORS = [Editor(f"Exec {i}", f"exec{i}@example.cn") for i in range(5)]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def fmt(values: list[float]) -> str:
    return (f"p50 {pct(values, 50):7.1f} ms   p99 {pct(values, 99):7.1f} ms   "
            f"max {max(values):7.1f} ms   (n={len(values)})")


def du(path: Path) -> str:
    return subprocess.run(["du", "-sh", str(path)], capture_output=True, text=True,
                          check=True).stdout.split()[0]


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def _score_snapshot(rnd: random.Random, employees: list[str], indicators: list[str]
                    ) -> ScoreSnapshot:
    lines = {(e, k): ScoreLine(Decimal(rnd.randint(50, 100)), Decimal(0),
                               Decimal(rnd.randint(50, 100)))
             for e in employees for k in indicators}
    totals = {e: TotalLine(Decimal(rnd.randint(600, 1000)), "A", i + 1, None)
              for i, e in enumerate(employees)}
    people = {e: EmployeeInfo(f"员工{e}", f"部门{int(e[1:]) % 7}") for e in employees}
    return ScoreSnapshot(lines, totals, people, {"v": 1})


def bench_record_scores(args: argparse.Namespace) -> None:
    """Baseline, unchanged re-score, re-score with a share of employees changed."""
    rnd = random.Random(7)
    employees = [f"E{i:05d}" for i in range(args.employees)]
    indicators = [f"K{j:02d}" for j in range(args.indicators)]
    snap = _score_snapshot(rnd, employees, indicators)
    changed = rnd.sample(employees, int(len(employees) * args.changed))
    lines2 = dict(snap.lines)
    for e in changed:
        for k in indicators:
            old = lines2[(e, k)]
            lines2[(e, k)] = ScoreLine(old.base, old.adjustment, old.points + 1)
    totals2 = dict(snap.totals)
    for e in changed:
        t = totals2[e]
        totals2[e] = TotalLine(t.total + len(indicators), t.grade, t.rank, t.group_rank)
    snap2 = ScoreSnapshot(lines2, totals2, snap.employees, snap.rules)
    git_version = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout
    print(f"record_scores: {args.employees} employees x {args.indicators} indicators "
          f"({len(snap.lines)} lines), {len(changed)} employees changed in the 3rd step; "
          f"durable={not args.no_durable}; {git_version.strip()}; runs {args.runs}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    steps = ["baseline", "re-score unchanged", f"re-score {args.changed:.0%} changed"]
    results: dict[str, list[tuple[float, float]]] = {s: [] for s in steps}
    for run in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="bench-record-scores-") as tmp:
            history = History(Path(tmp) / "history.git", durable=not args.no_durable,
                              maintenance_every=0)
            calls = [(steps[0], snap, "b", Kind.BASELINE),
                     (steps[1], snap, "r1", Kind.RESCORE),
                     (steps[2], snap2, "r2", Kind.RESCORE)]
            for name, s, sid, kind in calls:
                w0, c0 = time.perf_counter(), time.process_time()
                commit = history.record_scores(PERIOD, s, EDITORS[0], f"{sid}-{run}", kind=kind)
                results[name].append(((time.perf_counter() - w0) * 1000,
                                      (time.process_time() - c0) * 1000))
                if (commit is None) != (name == steps[1]):
                    raise SystemExit(f"{name}: unexpected commit {commit}")
            history.close()
    for name in steps:
        walls = sorted(w for w, _ in results[name])
        cpus = sorted(c for _, c in results[name])
        print(f"  {name:<22} wall median {walls[len(walls) // 2]:7.0f} ms (min {walls[0]:.0f})"
              f"   cpu median {cpus[len(cpus) // 2]:7.0f} ms (min {cpus[0]:.0f})")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--commits", type=int, default=20_000)
    ap.add_argument("--employees", type=int, default=1_000)
    ap.add_argument("--indicators", type=int, default=10)
    ap.add_argument("--no-durable", action="store_true", help="skip fsync of objects")
    ap.add_argument("--dir", help="keep the repository here instead of a temporary dir")
    ap.add_argument("--record-scores", action="store_true",
                    help="time History.record_scores only (baseline, unchanged, changed)")
    ap.add_argument("--changed", type=float, default=0.1,
                    help="--record-scores: share of employees changed in the re-score")
    ap.add_argument("--runs", type=int, default=3, help="--record-scores: repetitions")
    args = ap.parse_args()
    if args.record_scores:
        bench_record_scores(args)
        return
    rnd = random.Random(7)
    employees = [f"E{i:05d}" for i in range(args.employees)]
    indicators = [f"K{j:02d}" for j in range(args.indicators)]
    workdir = Path(args.dir or tempfile.mkdtemp(prefix="bench-history-"))
    repo = workdir / "history.git"
    history = History(repo, durable=not args.no_durable, maintenance_every=500)
    git_version = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout
    print(f"repository {repo}  employees {args.employees} x indicators {args.indicators}  "
          f"durable={not args.no_durable}  {git_version.strip()}")

    snapshot = _score_snapshot(rnd, employees, indicators)
    t0 = time.perf_counter()
    baseline = history.record_scores(PERIOD, snapshot, EDITORS[0], "baseline-1",
                                     kind=Kind.BASELINE)
    print(f"baseline commit ({len(snapshot.lines)} score lines): "
          f"{(time.perf_counter() - t0) * 1000:.0f} ms")

    marks = sorted({m for m in (10, 1_000, 20_000) if m <= args.commits} | {args.commits})
    window = 200
    latencies: dict[int, list[float]] = {m: [] for m in marks}
    heads: list[str] = []
    conflicts = 0
    t_all = time.perf_counter()
    for n in range(1, args.commits + 1):
        head = history.head()
        base = heads[-5] if n % 10 == 0 and len(heads) > 5 else head
        edits = {}
        for _ in range(rnd.randint(1, 3)):
            cell = (rnd.choice(employees), rnd.choice(indicators))
            edits[cell] = CellValue(Decimal(rnd.randint(-50, 50)) / 10,
                                    f"调整原因 {n}: 客户反馈\n第二行")
        t0 = time.perf_counter()
        result = history.submit(PERIOD, base, edits, EDITORS[n % len(EDITORS)], f"sub-{n}")
        ms = (time.perf_counter() - t0) * 1000
        conflicts += len(result.conflicts)
        if result.commit:
            heads.append(result.commit)
        for m in marks:
            if m - min(window, m) < n <= m:
                latencies[m].append(ms)
        if n % 2000 == 0:
            print(f"  {n} commits, {n / (time.perf_counter() - t_all):.0f} commits/s, "
                  f".git {du(repo)}", flush=True)
    history.maintain(wait=True)
    print(f"\nsubmit latency (last {window} submits before each mark; {conflicts} conflicts "
          "reported in all):")
    for m in marks:
        print(f"  at {m:>6} commits: {fmt(latencies[m])}")

    head = history.head()
    total_commits = int(history._git("rev-list", "--count", head))
    print(f"\nreads at {total_commits} commits (warm: this History's caches as a server has "
          "them; cold: a fresh History, empty caches; every sample asks something new):")
    cells = [(rnd.choice(employees), rnd.choice(indicators)) for _ in range(20)]
    cell_it = iter(cells)
    emp_it = iter(rnd.sample(employees, 20))
    ind_it = iter(indicators * 2)
    dept_it = iter([f"部门{d}" for d in range(7)] * 2)
    pair1 = iter(range(1, 21))
    pair100 = iter(range(1, 11))
    recent = iter(range(2, 12))
    heads_b = iter(range(1, 4))

    def cold(fn):
        def run():
            with History(repo, durable=False, maintenance_every=0) as fresh:
                fn(fresh)
        return run

    reads = {
        "cell_history": (lambda: history.cell_history(PERIOD, *next(cell_it)), 20),
        "diff head~1..head": (lambda: history.diff(PERIOD, heads[-1 - (i := next(pair1))],
                                                   heads[-i]), 20),
        "diff head~100..head": (lambda: history.diff(PERIOD, heads[-100 - (i := next(pair100))],
                                                     heads[-i]), 10),
        "diff baseline..head cold": (cold(lambda h: h.diff(PERIOD, baseline, head)), 3),
        "diff baseline..head~i": (lambda: history.diff(PERIOD, baseline, heads[-next(heads_b)]),
                                  3),
        "timeline newest 50": (lambda: history.timeline(PERIOD, limit=50), 10),
        "timeline employee 50": (lambda: history.timeline(PERIOD, employee=next(emp_it)), 10),
        "timeline indicator 50": (lambda: history.timeline(PERIOD, indicator=next(ind_it)), 10),
        "timeline department 50": (lambda: history.timeline(PERIOD, department=next(dept_it)),
                                   7),
        "timeline editor 50": (lambda: history.timeline(PERIOD, editor=EDITORS[1].email), 5),
        "timeline kind=baseline": (lambda: history.timeline(PERIOD, kind="baseline"), 3),
        "timeline everything": (lambda: history.timeline(PERIOD, limit=None), 2),
        "state_at head cold": (cold(lambda h: h.state_at(head, PERIOD)), 3),
        "state_at head~i warm": (lambda: history.state_at(heads[-next(recent)], PERIOD), 10),
    }
    for name, (fn, repeat) in reads.items():
        print(f"  {name:<26}", fmt(timed(fn, repeat)), flush=True)
    history.close()

    print(f"\nrepository on disk: {du(repo)} before gc")
    t0 = time.perf_counter()
    subprocess.run(["git", f"--git-dir={repo}", "gc", "--quiet"], check=True)
    print(f"repository on disk: {du(repo)} after git gc ({time.perf_counter() - t0:.1f} s)")
    count = subprocess.run(["git", f"--git-dir={repo}", "count-objects", "-vH"],
                           capture_output=True, text=True, check=True).stdout
    print("  " + count.replace("\n", "; "))


if __name__ == "__main__":
    main()
