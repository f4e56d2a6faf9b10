"""The explanation column of a scored month: engine.score, then the time to read every line's
explanation (made when first read: server/scoring/columns.py), CPU ms, min of --runs, per
language. Run it from a tree's root (it imports that tree's server and bench), so another
tree can be measured with the same script:

    .venv/bin/python bench/bench_explanations.py [--managers 5000] [--runs 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path[:0] = [str(Path.cwd() / "bench"), str(Path.cwd())]

import workload  # noqa: E402

from server.scoring import engine  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--managers", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    inp = workload.generate(args.managers, 10).score_input()
    shown = []
    for lang in ("zh", "en"):
        times = []
        for _ in range(args.runs):
            result = engine.score(inp, lang)
            start = time.process_time()
            result.lines.column("explanation")
            times.append(time.process_time() - start)
        shown.append(f"{lang} {min(times) * 1000:.0f}")
    print(f"explanations cpu ms (min of {args.runs}) at {args.managers}:", *shown)


if __name__ == "__main__":
    main()
