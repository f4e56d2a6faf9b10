"""Benchmark of the rules engine: `server.scoring.engine.score` on a generated month.

    .venv/bin/python bench/bench_scoring.py [--managers 10000] [--indicators 10] [--runs 5]
                                            [--lang en] [--profile]

Prints the best and median wall time of `score(inp)` over several runs after one warm-up run,
its best CPU time (`time.process_time`: on a shared machine it moves much less than the wall
clock), indicator-lines per second, the best CPU time of what a Score click costs the engine
(`validate` then `score` of the same input: one run), of re-scoring from that validated input
with only the adjustments changed (`score(inp, base=bare)`, what the Score handler needs after
swapping in the adjustments of record), the tracemalloc peak of one scoring run (measured
separately: tracemalloc slows Python down) and the process max RSS. The engine has no phase
hooks, so the phase split shown is measured from outside: building the input (generator, not
part of the server path), `validate`-and-lines pass (`_Run.__init__`) and totals/grades/ranks
(`_Run.result`). `--profile` adds a cProfile listing of one run (top functions by own time).

Figures only: nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import gc
import io
import pstats
import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import workload  # noqa: E402  (also puts the repository root on sys.path)

from server.scoring import engine  # noqa: E402


def max_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn, *args, **kwargs):
    gc.collect()
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - t0, out


def cpu_timed(fn, *args, **kwargs):
    """(wall seconds, CPU seconds, result) of one call."""
    gc.collect()
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    return time.perf_counter() - t0, time.process_time() - c0, out


def validate_then_score(inp, lang: str):
    """What the Score button costs the engine: the contract validates, the handler scores;
    the clean validation's run is kept for that score (one run)."""
    assert engine.validate(inp, lang) == []
    return engine.score(inp, lang)


def profile_once(inp, lang: str, top: int = 25) -> str:
    prof = cProfile.Profile()
    prof.enable()
    engine.score(inp, lang)
    prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    out.write("\n--- cumulative ---\n")
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--managers", type=int, default=10_000)
    ap.add_argument("--indicators", type=int, default=10)
    ap.add_argument("--runs", type=int, default=5, help="timed runs after one warm-up")
    ap.add_argument("--lang", default="en", choices=("en", "zh"))
    ap.add_argument("--profile", action="store_true", help="print a cProfile of one run")
    args = ap.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # progress shows when redirected to a file

    t_gen, load = timed(workload.generate, args.managers, args.indicators)
    t_inp, inp = timed(load.score_input)
    lines = load.n_lines
    print(f"workload: {args.managers} managers x {args.indicators} indicators = {lines} lines, "
          f"{len(inp.facts)} facts, {len(inp.overrides)} personal targets, "
          f"{len(inp.adjustments)} adjustments (generated in {t_gen + t_inp:.2f} s)")

    engine.score(inp, args.lang)  # warm-up (imports, caches, allocator)
    times, cpus = [], []
    for _ in range(args.runs):
        t, cpu, result = cpu_timed(engine.score, inp, args.lang)
        times.append(t)
        cpus.append(cpu)
    assert len(result.lines) == lines, (len(result.lines), lines)
    best, median = min(times), statistics.median(times)
    click_cpus = [cpu_timed(validate_then_score, inp, args.lang)[1] for _ in range(args.runs)]
    # Re-scoring when only the adjustments change: the input without adjustments validated
    # once (its run kept), then the month with them scored from it.
    bare = dataclasses.replace(inp, adjustments=())
    assert engine.validate(bare, args.lang) == []
    rescore_cpus = []
    for _ in range(args.runs):
        _, cpu, again = cpu_timed(engine.score, inp, args.lang, base=bare)
        rescore_cpus.append(cpu)
    assert again == result

    # Phases from the outside (the engine exposes no hooks): the single checking/line pass,
    # then totals, grades and ranks.
    t_lines, run = timed(engine._Run, inp, args.lang)
    t_result, _ = timed(run.result)

    tracemalloc.start()
    engine.score(inp, args.lang)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    figures = {
        "managers": args.managers, "indicators": args.indicators, "lines": lines,
        "best_s": best, "median_s": median, "lines_per_s": lines / best,
        "best_cpu_s": min(cpus), "validate_score_cpu_s": min(click_cpus),
        "rescore_cpu_s": min(rescore_cpus),
        "lines_phase_s": t_lines, "result_phase_s": t_result,
        "tracemalloc_peak_mb": peak / 2**20, "max_rss_mb": max_rss_mb(),
    }
    print(f"engine.score ({args.runs} runs, lang={args.lang}): best {best:.3f} s, "
          f"median {median:.3f} s, all {', '.join(f'{t:.3f}' for t in times)}")
    print(f"CPU: score best {min(cpus) * 1000:.1f} ms; validate + score (one run, a Score "
          f"click) best {min(click_cpus) * 1000:.1f} ms; score(inp, base=bare) with "
          f"{len(inp.adjustments)} adjustments best {min(rescore_cpus) * 1000:.1f} ms")
    print(f"throughput: {lines / best:,.0f} indicator-lines/s (best), "
          f"{lines / median:,.0f} lines/s (median)")
    print(f"phases (one run, measured outside the engine): checks + lines {t_lines:.3f} s, "
          f"totals/grades/ranks {t_result:.3f} s")
    print(f"memory: tracemalloc peak {peak / 2**20:.1f} MiB during one score(); "
          f"process max RSS {max_rss_mb():.1f} MiB (includes the generated input)")
    if args.profile:
        print(profile_once(inp, args.lang))
    return figures


if __name__ == "__main__":
    main()
