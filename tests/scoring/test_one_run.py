"""validate + score share one run: the Score button validates while reading, then scores."""

import gc
from decimal import Decimal as D

import pytest

from server.scoring import engine
from server.scoring.model import ScoreInput, ValidationError
from tests.scoring.factories import emp, fact, ind, rules


def _month(value=80):
    return ScoreInput(rules(ind("R", "ratio", 100, "target=100")), (emp("E1"),),
                      (fact("E1", "R", value),))


def test_score_after_a_clean_validate_takes_that_run(monkeypatch):
    inp = _month()
    assert engine.validate(inp, "zh") == []
    runs = []
    monkeypatch.setattr(engine, "_Run", lambda *a: runs.append(a) or pytest.fail("ran twice"))
    result = engine.score(inp, "zh")
    assert result.employee("E1").total == D("80.00")
    assert runs == []


def test_the_kept_run_is_taken_once_and_per_language():
    inp = _month()
    assert engine.validate(inp, "en") == []
    zh = engine.score(inp, "zh")  # another language: scored afresh, in Chinese
    assert "完成率" in zh.line("E1", "R").explanation
    first = engine.score(inp, "en")
    again = engine.score(inp, "en")  # nothing kept any more: computed again, same figures
    assert first is not again and first == again
    assert "of target" in first.line("E1", "R").explanation


def test_an_invalid_input_keeps_nothing_and_score_still_raises():
    inp = _month("abc")
    assert engine.validate(inp) != []
    with pytest.raises(ValidationError):
        engine.score(inp)


def test_the_kept_run_goes_with_its_input():
    inp = _month()
    engine.validate(inp)
    key = id(inp)
    assert key in engine._SCORED
    del inp
    gc.collect()
    assert key not in engine._SCORED
