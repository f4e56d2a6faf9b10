"""Where the Score button's time goes through Flask: each use-case stage of POST /xl/score
(the everyday re-score, the workbook as the last answer left it), CPU and wall, median of
`--runs` presses.

    .venv/bin/python bench/bench_score_stages.py [--managers 5000] [--runs 5] [--digest]

With --digest the press is the one the product's clients send (Office.js, VBA, headless):
the output sheets by digest, kb_meta's `sheet_digests` stamped by the previous answer, as
bench_goals.flask_rescore builds it; the stored copies are read and the answer stamped.
Without it, the same month with every sheet's values (a client that does not speak digests).

Each stage is the function the button calls, wrapped where it is looked up (the blueprint,
the Score use case) to add up its time: nothing else is changed. CPU time (process time)
moves much less than the wall clock on a machine shared with other work. "rest" is Flask,
authentication, reading the body, the period and the database commit. Figures only.
"""

from __future__ import annotations

import argparse
import collections
import gc
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_goals  # noqa: E402

from server.blueprints import xl  # noqa: E402
from server.services import answer, records, sheet_copies  # noqa: E402
from server.services import score as score_service  # noqa: E402
from server.xlwire import actions  # noqa: E402
from server.xlwire import digest as wire_digest  # noqa: E402

STAGES = [  # (module, function, label)
    (xl, "parse_book", "parse_payload"),  # where the blueprint looks it up, or
    (sheet_copies, "parse_book", "parse_payload"),  # where the copies are read with it
    (xl, "open_workbook", "read_tables"),
    (score_service, "to_score_input", "to_score_input (+ the engine's run)"),
    (records, "resolve", "records.resolve"),
    (score_service, "authoritative_input", "adjustments of record"),
    (score_service, "run_engine", "engine.score (the kept run)"),
    (answer, "score_plan", "answer_plan: render.score_plan"),
    (answer, "answer_plan", "answer_plan (rest of it)"),
    (score_service, "check_writable", "check_writable"),
    (score_service, "store_run", "store_run"),
    (score_service, "record_score", "record_score (git)"),
    (xl, "plan_actions", "plan_to_actions"),
    (sheet_copies, "copies_for", "stored copies read"),
    (sheet_copies, "remember", "stored copies written"),
    (wire_digest, "stamp_digests", "stamp_digests"),
    (actions, "response_body", "response_body"),
]
NESTED = {"answer_plan (rest of it)": "answer_plan: render.score_plan"}  # outer: inner


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--managers", type=int, default=5000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--digest", action="store_true",
                    help="output sheets by digest, as the product's clients send them")
    args = ap.parse_args(argv)
    spent: dict[str, list[float]] = {}

    def timed(fn, label):
        def wrapper(*a, **k):
            w0, c0 = time.perf_counter(), time.process_time()
            try:
                return fn(*a, **k)
            finally:
                spent[label] = [spent.get(label, [0.0, 0.0])[0] + time.process_time() - c0,
                                spent.get(label, [0.0, 0.0])[1] + time.perf_counter() - w0]
        return wrapper

    for module, name, label in STAGES:
        if hasattr(module, name):  # a stage some versions of the server do not have
            setattr(module, name, timed(getattr(module, name), label))
    client, headers, base, bodies = bench_goals.flask_rescore(args.managers)
    again, extra = bodies["digest" if args.digest else "values"]
    headers = {**headers, **extra}
    del bodies
    figures: dict[str, list[tuple[float, float]]] = collections.defaultdict(list)
    for _ in range(args.runs):
        spent.clear()
        gc.collect()
        w0, c0 = time.perf_counter(), time.process_time()
        r = client.post("/xl/score", data=again, headers=headers, base_url=base)
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
        if r.status_code != 200:
            raise SystemExit(f"score -> {r.status_code}: {r.get_data(as_text=True)[:300]}")
        for outer, inner in NESTED.items():  # the outer stage's own time
            if outer in spent and inner in spent:
                spent[outer] = [a - b for a, b in zip(spent[outer], spent[inner], strict=True)]
        for label, (c, w) in spent.items():
            figures[label].append((c, w))
        figures["rest"].append((cpu - sum(c for c, _ in spent.values()),
                                wall - sum(w for _, w in spent.values())))
        figures["TOTAL"].append((cpu, wall))
    mode = "by digest" if args.digest else "with values"
    print(f"POST /xl/score again {mode} at {args.managers:,} managers x 10, median of "
          f"{args.runs} "
          f"(ms)\n{'stage':<40} {'cpu':>8} {'wall':>8}")
    for label, values in figures.items():
        print(f"{label:<40} {statistics.median(c for c, _ in values) * 1000:8.1f} "
              f"{statistics.median(w for _, w in values) * 1000:8.1f}")


if __name__ == "__main__":
    main()
