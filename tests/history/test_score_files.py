"""Score files (`layout.dump_scores`): the cached writer gives exactly the text of formatting
every field of every line, reads back to the same values, and still refuses what a score
file cannot hold."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.ledger import layout
from server.ledger.layout import LayoutError, dump_scores, format_points, load_scores
from server.ledger.model import ScoreLine

points = st.decimals(min_value=-1000, max_value=1000, places=3, allow_nan=False)
lines = st.builds(ScoreLine, st.none() | points, points, st.none() | points)
codes = st.from_regex(r"[A-Z][A-Z0-9_]{0,11}", fullmatch=True)


def _reference(scores: dict[str, ScoreLine]) -> bytes:
    return "".join(f"{code}\t{format_points(s.base)}\t{format_points(s.adjustment, signed=True)}"
                   f"\t{format_points(s.points)}\n"
                   for code, s in sorted(scores.items())).encode("utf-8")


@given(st.dictionaries(codes, lines, max_size=12))
def test_the_cached_writer_writes_what_formatting_each_field_writes(scores) -> None:
    assert dump_scores(scores) == _reference(scores)
    assert load_scores(dump_scores(scores)) == scores  # equal values (1.5 == 1.50)


def test_equal_values_of_other_exponents_share_one_text() -> None:
    a = {"Q": ScoreLine(Decimal("1.5"), Decimal("0"), Decimal("1.5"))}
    b = {"Q": ScoreLine(Decimal("1.50"), Decimal("-0.00"), Decimal("1.500"))}
    assert dump_scores(a) == dump_scores(b) == b"Q\t1.50\t0.00\t1.50\n"


@pytest.mark.parametrize("bad", [
    {"": ScoreLine(Decimal(1), Decimal(0), Decimal(1))},
    {" Q": ScoreLine(Decimal(1), Decimal(0), Decimal(1))},
    {"Q": ScoreLine(Decimal("NaN"), Decimal(0), Decimal(1))},
    {"Q": ScoreLine(Decimal("sNaN"), Decimal(0), Decimal(1))},
    {"Q": ScoreLine(Decimal(1), Decimal("Infinity"), Decimal(1))},
])
def test_what_a_score_file_cannot_hold_is_refused(bad) -> None:
    with pytest.raises(LayoutError):
        dump_scores(bad)
    with pytest.raises(LayoutError):  # and again, once anything is cached
        layout.dump_scores(bad)
