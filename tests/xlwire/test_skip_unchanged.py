"""TableWrite.skip_unchanged: columns the table already holds are not sent again."""

from __future__ import annotations

from server.xlwire.actions import plan_to_actions
from server.xlwire.plan import TableWrite, WritePlan
from tests.xlwire.test_actions import ROWS3, _book

COLUMNS = ["employee_id", "points", "status"]


def _writes(rows, skip=True, book_rows=ROWS3):
    plan = WritePlan(tables=[TableWrite("kb_scores", list(COLUMNS), rows,
                                        row_fills=["#FCE4B6"] * len(rows),
                                        skip_unchanged=skip)])
    actions = plan_to_actions(_book(book_rows), plan)
    return actions, [(a["start_column"], a["column_count"], a["values"]) for a in actions
                     if a["func"] == "setValues"]


def test_a_column_the_table_holds_is_not_sent_again_but_still_coloured() -> None:
    actions, writes = _writes([["E1", 9.5, "x"], ["E2", 8, "y"], ["E3", 7, "z"]])
    # employee_id (col 0) and status (col 3) are what the sheet has: only points goes
    assert writes == [(2, 1, [[9.5], [8], [7]])]
    colours = [a for a in actions if a["func"] == "setRangeColor"]
    assert {(a["start_column"], a["column_count"]) for a in colours} == {(0, 1), (2, 2)}


def test_without_the_flag_everything_is_sent() -> None:
    _, writes = _writes([["E1", 1, "x"], ["E2", 2, "y"], ["E3", 3, "z"]], skip=False)
    assert [(c, n) for c, n, _ in writes] == [(0, 1), (2, 2)]


def test_a_bool_equal_to_a_number_is_sent() -> None:
    # True == 1, but Excel would turn the number cell into TRUE: sent
    _, writes = _writes([["E1", True, "x"], ["E2", 2, "y"], ["E3", 3, "z"]])
    assert writes == [(2, 1, [[True], [2], [3]])]
    _, writes = _writes([["E1", 1.0, "x"], ["E2", 2, "y"], ["E3", 3, "z"]],
                        book_rows=[ROWS3[0], ["E1", "", True, "x"], *ROWS3[2:]])
    assert writes == [(2, 1, [[1.0], [2], [3]])]


def test_a_whole_float_is_the_number_the_client_sends_back() -> None:
    # Excel has one kind of number: a cell written as 1.0 comes back from Office.js as 1
    # (JSON.stringify(1.0) is "1"), and from openpyxl as 1: the same cell, not sent again
    _, writes = _writes([["E1", 1.0, "x"], ["E2", 2.0, "y"], ["E3", 3, "z"]])
    assert writes == []


def test_one_different_cell_sends_the_column() -> None:
    _, writes = _writes([["E1", 1, "x"], ["E2", 2, "y"], ["E3", 3, "changed"]])
    assert writes == [(3, 1, [["'x"], ["'y"], ["'changed"]])]  # points (1, 2, 3) are held


def test_a_table_that_grows_or_shrinks_gets_every_column() -> None:
    _, writes = _writes([["E1", 1, "x"], ["E2", 2, "y"]])
    assert [(c, n) for c, n, _ in writes] == [(0, 1), (2, 2)]
    _, writes = _writes([["E1", 1, "x"], ["E2", 2, "y"], ["E3", 3, "z"], ["E4", 4, "w"]])
    assert [(c, n) for c, n, _ in writes] == [(0, 1), (2, 2)]


def test_a_trimmed_row_is_never_the_same() -> None:
    # the client trimmed the trailing blanks of the last row: status and points are absent
    rows = [*ROWS3[:3], ["E3", "n3"]]
    _, writes = _writes([["E1", 1, "x"], ["E2", 2, "y"], ["E3", None, None]], book_rows=rows)
    assert (2, 2, [[1, "'x"], [2, "'y"], ["", ""]]) in writes


def test_numbers_of_one_type_with_blanks_are_held() -> None:
    rows = [ROWS3[0], ["E1", "", 1.5, None], ["E2", "", None, "y"], ["E3", "", 3.25, "z"]]
    _, writes = _writes([["E1", 1.5, None], ["E2", None, "y"], ["E3", 3.25, "z"]],
                        book_rows=rows)
    assert writes == []


def test_equal_numbers_of_swapped_types_are_held_but_bools_are_not() -> None:
    # both sides hold an int and a float, on different rows: the same Excel numbers
    rows = [ROWS3[0], ["E1", "", 1, "x"], ["E2", "", 2.0, "y"], ["E3", "", 3, "z"]]
    _, writes = _writes([["E1", 1.0, "x"], ["E2", 2, "y"], ["E3", 3, "z"]], book_rows=rows)
    assert writes == []
    # a bool among numbers of both kinds, equal to the 1 that replaces it: cell by cell
    rows = [ROWS3[0], ["E1", "", True, "x"], ["E2", "", 2.0, "y"], ["E3", "", 3, "z"]]
    _, writes = _writes([["E1", 1, "x"], ["E2", 2, "y"], ["E3", 3.0, "z"]], book_rows=rows)
    assert writes == [(2, 1, [[1], [2], [3.0]])]


def test_a_single_column_is_compared_too() -> None:
    plan = WritePlan(tables=[TableWrite("kb_scores", ["points"], [[1], [2], [3]],
                                        skip_unchanged=True)])
    assert not [a for a in plan_to_actions(_book(ROWS3), plan) if a["func"] == "setValues"]
    plan = WritePlan(tables=[TableWrite("kb_scores", ["points"], [[1], [2], [4]],
                                        skip_unchanged=True)])
    assert [a["values"] for a in plan_to_actions(_book(ROWS3), plan)
            if a["func"] == "setValues"] == [[[1], [2], [4]]]
