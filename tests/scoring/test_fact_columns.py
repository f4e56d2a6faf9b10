"""A FactColumns (kb_data read column by column) is the tuple of its Facts to every reader:
equal, hashed, indexed, sliced, copied, pickled and fingerprinted the same, as is a
ScoreInput holding it."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from server.scoring.model import FACT_FIELDS, Fact, FactColumns, RuleSet, ScoreInput
from server.services.periods import digest, fingerprint_json

facts = st.lists(st.builds(
    Fact,
    st.sampled_from(["E1", "E2", "员工3"]),
    st.sampled_from(["OUT", "TEAM"]),
    st.one_of(st.decimals(allow_nan=False, allow_infinity=False, places=3),
              st.sampled_from([Decimal("1"), Decimal("1.0"), Decimal("-0.0"), "A", "★★☆",
                               ""])),
    st.sampled_from(["actual", "total", ""]),
    st.sampled_from(["", "erp", "手工"]),
    st.booleans()), max_size=12)


def _columns(items: list[Fact]) -> FactColumns:
    return FactColumns(*([getattr(f, name) for f in items] for name in FACT_FIELDS))


@settings(max_examples=200, deadline=None)
@given(items=facts)
def test_fact_columns_are_the_tuple_of_their_facts(items) -> None:
    plain = tuple(items)
    columns = _columns(items)
    assert isinstance(columns, tuple)
    assert columns == plain and plain == columns
    assert (columns != plain) is False
    assert hash(columns) == hash(plain)
    assert len(columns) == len(plain) and list(columns) == items
    assert list(reversed(columns)) == items[::-1]
    assert columns[1:] == plain[1:] and type(columns[1:]) is tuple
    for i, item in enumerate(items):
        assert columns[i] == item and columns[i - len(items)] == item
        assert item in columns and columns.index(item) == plain.index(item)
        assert columns.count(item) == plain.count(item)
    for name in FACT_FIELDS:  # each column holds that field of each fact, in order
        assert list(columns.column(name)) == [getattr(f, name) for f in items]
    for other in (copy.copy(columns), copy.deepcopy(columns),
                  pickle.loads(pickle.dumps(columns))):
        assert type(other) is FactColumns and other == plain
        assert list(map(list, other.columns)) == list(map(list, columns.columns))
    # a ScoreInput holding them is the ScoreInput holding the tuple, to == and to digests
    with_columns = ScoreInput(RuleSet(()), (), columns)
    with_tuple = ScoreInput(RuleSet(()), (), plain)
    assert with_columns == with_tuple and hash(with_columns) == hash(with_tuple)
    assert dataclasses.replace(with_columns, adjustments=()).facts is columns
    assert fingerprint_json(columns) == fingerprint_json(plain)
    assert fingerprint_json(with_columns) == fingerprint_json(with_tuple)
    assert digest(with_columns) == digest(with_tuple)


@settings(max_examples=100, deadline=None)
@given(values=st.lists(st.one_of(st.none(), st.integers(-3, 3), st.booleans(),
                                 st.floats(allow_nan=False, allow_infinity=False),
                                 st.decimals(allow_nan=False, allow_infinity=False, places=2),
                                 st.text(max_size=2)), min_size=1, max_size=6))
def test_any_value_fingerprints_as_in_the_tuple(values) -> None:
    """Values the workbook never gives a fact (None, numbers, True) still fingerprint as
    the tuple of the same facts does."""
    items = [Fact("E1", "OUT", v, "actual", "", False) for v in values]  # type: ignore[arg-type]
    assert fingerprint_json(_columns(items)) == fingerprint_json(tuple(items))


def test_columns_of_unequal_length_are_refused() -> None:
    try:
        FactColumns(["E1"], [], [], [], [], [])
    except ValueError:
        return
    raise AssertionError("FactColumns took columns of unequal length")
