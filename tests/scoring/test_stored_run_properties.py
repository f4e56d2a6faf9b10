"""A stored run (server/services/stored_run.py) holds exactly the engine's lines, for any
month: every rule kind, n/a lines, caps, personal targets, stale values, excluded and zeroed
data, adjustments, forced distribution and bands. Read back through the JSON text the
database keeps, the lines are the result's values as `to_jsonable` writes them, and the
history's view of the stored run (`run_snapshot`) is the one of the result itself."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import orjson
from hypothesis import given
from hypothesis import strategies as st

from server.db import json_text
from server.scoring import engine
from server.scoring.model import GradeBand, GradingMethod
from server.services import runs, stored_run
from server.services.history import run_snapshot
from server.services.history_record import score_snapshot
from server.services.periods import to_jsonable
from tests.scoring.test_fast_paths import FAST, accepted, adjustments_for, months

BANDS = (GradeBand("A", 90), GradeBand("B", 60), GradeBand("C", 0))


@FAST
@given(months(), st.randoms(use_true_random=False), st.booleans(),
       st.sampled_from(["en", "zh"]))
def test_a_stored_run_reads_back_as_the_engines_lines(bare, rnd, bands, lang):
    inp = accepted(bare, adjustments_for(bare, rnd, rnd.randint(0, 6)))
    if bands:
        inp = dataclasses.replace(inp, rules=dataclasses.replace(
            inp.rules, grading=GradingMethod.BANDS, bands=BANDS, quotas=()))
    result = engine.score(inp, lang)
    stored = orjson.loads(json_text(stored_run.encode_lines(result.lines)))
    expected = to_jsonable(list(result.lines))
    assert stored_run.line_dicts(stored) == expected
    assert stored_run.line_count(stored) == len(result.lines)
    columns = stored_run.line_columns(stored)
    assert columns == {k: [ln[k] for ln in expected] for k in stored_run.FIELDS}
    run = SimpleNamespace(lines=stored, totals=runs.jsonable(result.employees))
    want = score_snapshot(inp, result)
    got = run_snapshot(run)
    assert got.lines == want.lines and got.totals == want.totals
