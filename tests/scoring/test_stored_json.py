"""The score run's stored JSON (lines, totals) holds exactly `periods.to_jsonable`, produced
by the faster helpers in server/services/runs.py and server/services/stored_run.py; its
digests fingerprint the whole input."""

from __future__ import annotations

import copy
import dataclasses
import sys
from pathlib import Path

import orjson

from server.db import json_text
from server.scoring import engine
from server.services import runs, stored_run
from server.services.periods import digest, fingerprint_json, to_jsonable
from tests.scoring.factories import adjust, emp, fact, ind, rules, target

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import workload  # noqa: E402


def _check(inp, lang: str) -> None:
    result = engine.score(inp, lang)
    for obj in (inp, inp.rules, list(result.lines), list(result.employees)):
        assert runs.jsonable(obj) == to_jsonable(obj)
    # the stored lines (by column) read back as exactly the values of to_jsonable, through
    # the JSON text the database holds, keys in the same order
    stored = orjson.loads(json_text(stored_run.encode_lines(result.lines)))
    assert [list(d) for d in stored_run.line_dicts(stored)] == \
        [list(d) for d in to_jsonable(list(result.lines))]
    assert stored_run.line_dicts(stored) == to_jsonable(list(result.lines))
    assert stored_run.line_columns(stored) == stored_run.line_columns(
        to_jsonable(list(result.lines)))
    # the fingerprint holds the data of to_jsonable, records as field names and rows
    assert _records_as_dicts(orjson.loads(fingerprint_json(inp))) == to_jsonable(inp)
    assert digest(inp) == digest(copy.deepcopy(inp)) and digest(inp) != digest(inp.rules)


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


def _records_as_dicts(data: object) -> object:
    if isinstance(data, dict) and set(data) == {"fields", "rows"}:
        return [{k: _records_as_dicts(v) for k, v in zip(data["fields"], row, strict=True)}
                for row in data["rows"]]
    if isinstance(data, dict):
        return {k: _records_as_dicts(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_records_as_dicts(v) for v in data]
    return data


def test_the_input_digest_changes_with_every_part_of_the_input() -> None:
    inp = workload.generate(30, 10).score_input()
    base = digest(inp)
    fact0 = inp.facts[0]
    changed = [
        dataclasses.replace(inp, facts=(dataclasses.replace(fact0, stale=not fact0.stale),
                                        *inp.facts[1:])),
        dataclasses.replace(inp, facts=inp.facts[1:]),
        dataclasses.replace(inp, employees=inp.employees[::-1]),
        dataclasses.replace(inp, employees=(dataclasses.replace(inp.employees[0], name="x"),
                                            *inp.employees[1:])),
        dataclasses.replace(inp, overrides=inp.overrides[1:]),
        dataclasses.replace(inp, adjustments=(adjust("x", "y", "1.00", "r"),)),
        dataclasses.replace(inp, rules=dataclasses.replace(
            inp.rules, indicators=(dataclasses.replace(inp.rules.indicators[0],
                                                       departments=frozenset({"d"})),
                                   *inp.rules.indicators[1:]))),
    ]
    digests = [digest(other) for other in changed]
    assert base not in digests and len(set(digests)) == len(digests)


def test_an_inputs_digest_is_worked_out_once_and_forgotten_with_it() -> None:
    import gc
    import hashlib

    from server.services import periods

    inp = workload.generate(20, 10).score_input()
    fresh = hashlib.sha256(fingerprint_json(inp)).hexdigest()
    assert digest(inp) == fresh == digest(inp)
    assert periods._INPUT_DIGESTS[id(inp)] == fresh
    other = dataclasses.replace(inp, adjustments=(adjust("E1", "REV", "1.00"),))
    assert digest(other) != fresh  # another object: its own digest
    key = id(inp)
    del inp
    gc.collect()
    assert key not in periods._INPUT_DIGESTS


def test_an_input_with_other_adjustments_reuses_the_json_of_its_unchanged_parts() -> None:
    """The Score button digests the workbook's input, then its run with the adjustments of
    record: the second digest writes only the adjustments again, to the same bytes."""
    import hashlib

    from server.services import periods

    inp = workload.generate(20, 10).score_input()
    assert periods._input_fingerprint(inp) == fingerprint_json(inp)
    digest(inp)
    ref, parts = periods._LAST_PARTS
    assert ref() is inp and set(parts) == {"employees", "facts", "overrides", "rules"}
    calls = []
    real = periods.fingerprint_json

    def counted(obj):
        calls.append(obj)
        return real(obj)

    periods.fingerprint_json = counted
    try:
        other = dataclasses.replace(inp, adjustments=(adjust("E1", "REV", "1.00"),))
        got = digest(other)
    finally:
        periods.fingerprint_json = real
    assert got == hashlib.sha256(fingerprint_json(other)).hexdigest()
    assert inp.facts not in calls and inp.rules not in calls  # reused, not written again
    changed = dataclasses.replace(other, facts=other.facts[1:])  # another part: written
    assert periods._input_fingerprint(changed) == fingerprint_json(changed)
    assert periods._input_fingerprint(dataclasses.replace(inp)) == fingerprint_json(inp)
    del inp, other, changed, ref
    import gc

    gc.collect()
    assert periods._LAST_PARTS == (None, {})  # forgotten with the input
