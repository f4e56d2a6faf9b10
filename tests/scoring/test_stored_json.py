"""The score run's stored JSON (lines, totals, digests) is exactly `periods.to_jsonable` /
`periods.digest`, produced by the faster helpers in server/services/scoring.py."""

from __future__ import annotations

import sys
from pathlib import Path

from server.scoring import engine
from server.services import scoring as scoring_service
from server.services.periods import digest, to_jsonable
from tests.scoring.factories import adjust, emp, fact, ind, rules, target

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import workload  # noqa: E402


def _check(inp, lang: str) -> None:
    result = engine.score(inp, lang)
    for obj in (inp, inp.rules, list(result.lines), list(result.employees)):
        assert scoring_service._jsonable(obj) == to_jsonable(obj)
    # same values and the same order of keys (the stored text, the digest)
    assert [list(d) for d in scoring_service._line_dicts(result.lines)] == \
        [list(d) for d in to_jsonable(list(result.lines))]
    assert scoring_service._line_dicts(result.lines) == to_jsonable(list(result.lines))
    assert scoring_service._digest(inp) == digest(inp)
    assert scoring_service._digest(inp.rules) == digest(inp.rules)


def test_every_rule_of_the_bench_month() -> None:
    load = workload.generate(60, 10)
    _check(load.score_input(), "zh")


def test_ratings_stale_overrides_adjustments_and_bands() -> None:
    from server.scoring.model import IndicatorKind, ScoreInput

    inp = ScoreInput(
        rules(ind("REV", "ratio", 60, "target=100; cap=1.2"),
              ind("LEAD", "rating", 40, kind=IndicatorKind.QUALITATIVE,
                  departments=frozenset({"S"})),
              bands="A:90,B:70,C:0"),
        (emp("E1", "S"), emp("E2", "P")),
        (fact("E1", "REV", 95, stale=True), fact("E1", "LEAD", "B"), fact("E2", "REV", 130)),
        (target("E1", "REV", "target=90"),),
        (adjust("E1", "REV", "1.5"),))
    _check(inp, "en")
