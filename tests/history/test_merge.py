"""Three-way cell merge: cases and properties."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from server.ledger import CellValue, apply_edits, edits_between, merge

from .conftest import adj

A, B, C = ("E1", "K1"), ("E1", "K2"), ("E2", "K1")


def test_non_overlapping_edits_merge():
    base = {A: adj("1")}
    ours = {A: adj("1"), B: adj("2")}
    theirs = {A: adj("1"), C: adj("3")}
    result = merge(base, ours, theirs)
    assert result.conflicts == ()
    assert result.merged == {A: adj("1"), B: adj("2"), C: adj("3")}


def test_same_change_on_both_sides_is_not_a_conflict():
    result = merge({A: adj("1")}, {A: adj("2.00", "x")}, {A: adj("2", "x")})
    assert result.conflicts == ()
    assert result.merged == {A: adj("2", "x")}


def test_different_changes_conflict_and_keep_the_branch_value():
    result = merge({A: adj("1")}, {A: adj("2")}, {A: adj("3")})
    assert [c.cell for c in result.conflicts] == [A]
    c = result.conflicts[0]
    assert (c.base, c.head, c.submitted) == (adj("1"), adj("2"), adj("3"))
    assert result.merged == {A: adj("2")}


def test_reason_only_change_counts_as_a_change():
    result = merge({A: adj("1", "a")}, {A: adj("1", "b")}, {A: adj("1", "c")})
    assert len(result.conflicts) == 1


def test_delete_versus_change_conflicts_both_ways():
    base = {A: adj("1")}
    r1 = merge(base, {}, {A: adj("2")})
    r2 = merge(base, {A: adj("2")}, {})
    assert [c.cell for c in r1.conflicts] == [A] and r1.merged == {}
    assert [c.cell for c in r2.conflicts] == [A] and r2.merged == {A: adj("2")}
    assert r1.conflicts[0].head is None and r2.conflicts[0].submitted is None


def test_delete_on_one_side_only_merges():
    base = {A: adj("1"), B: adj("2")}
    result = merge(base, {A: adj("1"), B: adj("5")}, {B: adj("2")})
    assert result.conflicts == () and result.merged == {B: adj("5")}


def test_both_add_same_cell_differently_conflicts():
    result = merge({}, {A: adj("1")}, {A: adj("2")})
    assert len(result.conflicts) == 1 and result.conflicts[0].base is None


def test_edits_between_and_apply_edits_round_trip():
    base = {A: adj("1"), B: adj("2")}
    submitted = {A: adj("1"), C: adj("3")}
    edits = edits_between(base, submitted)
    assert edits == {B: None, C: adj("3")}
    assert apply_edits(base, edits) == submitted


# ---- properties ------------------------------------------------------------------------

cells_keys = st.tuples(st.sampled_from(["E1", "E2", "E3"]), st.sampled_from(["K1", "K2"]))
values = st.builds(CellValue, st.sampled_from([Decimal(-1), Decimal("0.5"), Decimal(2)]),
                   st.sampled_from(["a", "b"]))
states = st.dictionaries(cells_keys, values, max_size=6)


@given(states, states)
def test_merging_an_unchanged_submission_keeps_the_branch(base, x):
    result = merge(base, x, base)
    assert result.conflicts == () and result.merged == x


@given(states, states)
def test_merging_into_an_unchanged_branch_takes_the_submission(base, y):
    result = merge(base, base, y)
    assert result.conflicts == () and result.merged == y


@given(states, states, states)
def test_non_conflicting_merges_commute(base, x, y):
    xy, yx = merge(base, x, y), merge(base, y, x)
    assert {c.cell for c in xy.conflicts} == {c.cell for c in yx.conflicts}
    if not xy.conflicts:
        assert xy.merged == yx.merged


@given(states, states, states)
def test_every_cell_is_merged_or_reported(base, x, y):
    result = merge(base, x, y)
    conflicted = {c.cell for c in result.conflicts}
    for cell in set(base) | set(x) | set(y):
        if cell in conflicted:
            assert result.merged.get(cell) == x.get(cell)  # the branch is never overwritten
        elif y.get(cell) != base.get(cell):
            assert result.merged.get(cell) == y.get(cell)  # their change landed
        else:
            assert result.merged.get(cell) == x.get(cell)
