"""pytest-benchmark variant of bench_scoring.py.

Not part of the normal suite (the project's testpaths is tests/); run it explicitly:

    .venv/bin/pytest bench/ --benchmark-only
    KPIBOOK_BENCH_MANAGERS=2000 .venv/bin/pytest bench/ --benchmark-only   # smaller, quicker

Figures only: the tests check that every line was scored, never how long it took.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import workload  # noqa: E402

from server.scoring import engine  # noqa: E402

MANAGERS = int(os.environ.get("KPIBOOK_BENCH_MANAGERS", "10000"))
INDICATORS = int(os.environ.get("KPIBOOK_BENCH_INDICATORS", "10"))


@pytest.fixture(scope="module")
def month():
    load = workload.generate(MANAGERS, INDICATORS)
    return load, load.score_input()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_score(benchmark, month, lang):
    load, inp = month
    benchmark.group = f"engine.score {MANAGERS}x{INDICATORS}"
    benchmark.extra_info["lines"] = load.n_lines
    result = benchmark.pedantic(engine.score, args=(inp, lang), rounds=5, iterations=1,
                                warmup_rounds=1)
    assert len(result.lines) == load.n_lines
    assert all(e.total is not None for e in result.employees)


def test_validate(benchmark, month):
    load, inp = month
    benchmark.group = f"engine.validate {MANAGERS}x{INDICATORS}"
    problems = benchmark.pedantic(engine.validate, args=(inp,), rounds=3, iterations=1,
                                  warmup_rounds=1)
    assert problems == []
