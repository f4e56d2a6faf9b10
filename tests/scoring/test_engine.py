"""The engine end to end: weights, missing data, personal targets, adjustments, validation,
grades and ranks. Figures are small enough to check by hand."""

from decimal import Decimal as D

import pytest

from server.scoring.engine import competition_ranks, forced_grades, quota_counts, score, validate
from server.scoring.frames import result_frames
from server.scoring.model import (
    IndicatorKind,
    LineStatus,
    MissingPolicy,
    ScoreInput,
    ValidationError,
)
from tests.scoring.factories import adjust, emp, fact, ind, rules, target

BONUS = IndicatorKind.BONUS


def sales_and_quality(**rule_kwargs):
    return rules(ind("SALES", "ratio", 60, "target=100"),
                 ind("QUAL", "ratio", 40, "target=100"), **rule_kwargs)


def problems_of(inp):
    found = validate(inp)
    with pytest.raises(ValidationError) as err:
        score(inp)
    assert [str(p) for p in err.value.problems] == [str(p) for p in found]
    return found


def only_problem(inp):
    found = problems_of(inp)
    assert len(found) == 1, found
    return found[0]


# -- totals and weights ------------------------------------------------------------------------

def test_total_is_the_sum_of_the_rounded_lines():
    # 60 × 0.33333 = 19.9998 -> 20.00; 40 × 0.66667 = 26.6668 -> 26.67; total 46.67 not 46.6666
    inp = ScoreInput(sales_and_quality(), (emp("E1"),),
                     (fact("E1", "SALES", D("33.333")), fact("E1", "QUAL", D("66.667"))))
    result = score(inp)
    assert [ln.points for ln in result.lines] == [D("20.00"), D("26.67")]
    assert result.employee("E1").total == D("46.67")


def test_bonus_and_penalty_items_sit_on_top_and_total_cap_applies():
    rs = rules(ind("SALES", "ratio", 100, "target=100"),
               ind("AWD", "per_item", 0, "per=2; cap=5", kind=BONUS),
               ind("VIOL", "per_item", 0, "per=1; cap=3", kind=IndicatorKind.PENALTY),
               total_cap=103)
    facts = (fact("E1", "SALES", 90), fact("E1", "AWD", 2), fact("E1", "VIOL", 1),
             fact("E2", "SALES", 100), fact("E2", "AWD", 9), fact("E2", "VIOL", 0))
    result = score(ScoreInput(rs, (emp("E1"), emp("E2")), facts))
    assert result.employee("E1").total == D("93.00")  # 90 + 4 - 1
    assert result.employee("E2").total == D("103")  # 100 + 5 capped at 103


def test_weights_re_normalised_for_indicators_that_do_not_apply():
    rs = rules(ind("A", "ratio", 50, "target=100"),
               ind("B", "ratio", 25, "target=100", departments=frozenset({"Sales"})),
               ind("C", "ratio", 25, "target=100"))
    facts = (fact("E1", "A", 100), fact("E1", "C", 80), fact("E2", "A", 100), fact("E2", "B", 100),
             fact("E2", "C", 80))
    result = score(ScoreInput(rs, (emp("E1", "Ops"), emp("E2", "Sales")), facts))
    b = result.line("E1", "B")
    assert (b.status, b.points, b.weight) == (LineStatus.NOT_APPLICABLE, None, D(0))
    a = result.line("E1", "A")
    assert a.weight == D(50) * 100 / 75
    assert a.points == D("66.67")
    assert "50 × 100 / 75" in a.explanation
    assert result.line("E1", "C").points == D("26.67")  # 33.333… × 80% = 26.666…
    assert result.employee("E1").total == D("93.34")
    assert result.line("E2", "A").weight == D(50)  # everything applies: weights as written
    assert result.employee("E2").total == D("95.00")


def test_weights_must_add_up_to_100():
    bad = rules(ind("A", "ratio", 57, "target=1"), ind("B", "ratio", 40, "target=1"))
    problem = only_problem(ScoreInput(bad, (emp("E1"),), (fact("E1", "A", 1), fact("E1", "B", 1))))
    assert (problem.table, problem.column) == ("kb_rules", "weight")
    assert "97" in problem.message
    close = rules(ind("A", "ratio", "59.995", "target=1"), ind("B", "ratio", 40, "target=1"))
    assert validate(ScoreInput(close, (emp("E1"),), (fact("E1", "A", 1), fact("E1", "B", 1)))) == []


# -- missing data ------------------------------------------------------------------------------

def test_missing_data_blocks_the_total_by_default():
    rs = rules(ind("SALES", "ratio", 60, "target=100"), ind("QUAL", "ratio", 40, "target=100"),
               bands="A:90,B:0")
    facts = (fact("E1", "SALES", 80), fact("E2", "SALES", 90), fact("E2", "QUAL", 90))
    result = score(ScoreInput(rs, (emp("E1"), emp("E2")), facts))
    e1 = result.employee("E1")
    assert (e1.total, e1.grade, e1.rank, e1.missing) == (None, None, None, ("QUAL",))
    assert "QUAL" in e1.status
    line = result.line("E1", "QUAL")
    assert (line.status, line.points) == (LineStatus.MISSING, None)
    assert result.line("E1", "SALES").points == D("48.00")  # still shown
    assert result.employee("E2").rank == 1


def test_missing_data_zero_policy_says_so():
    rs = rules(ind("SALES", "ratio", 60, "target=100"),
               ind("QUAL", "ratio", 40, "target=100", missing=MissingPolicy.ZERO))
    result = score(ScoreInput(rs, (emp("E1"),), (fact("E1", "SALES", 80),)))
    line = result.line("E1", "QUAL")
    assert (line.status, line.points) == (LineStatus.ZEROED, D("0.00"))
    assert line.explanation == "no data -> 0 (policy: zero)"
    assert result.employee("E1").total == D("48.00")
    zh = score(ScoreInput(rs, (emp("E1"),), (fact("E1", "SALES", 80),)), "zh")
    assert "计零分" in zh.line("E1", "QUAL").explanation


def test_missing_data_exclude_policy_re_normalises():
    rs = sales_and_quality(missing=MissingPolicy.EXCLUDE)
    result = score(ScoreInput(rs, (emp("E1"),), (fact("E1", "SALES", 80),)))
    assert result.line("E1", "QUAL").status is LineStatus.EXCLUDED
    sales = result.line("E1", "SALES")
    assert (sales.weight, sales.points) == (D(100), D("80.00"))
    assert "60 × 100 / 60" in sales.explanation
    assert result.employee("E1").total == D("80.00")


def test_all_weighted_data_excluded_leaves_no_total():
    rs = sales_and_quality(missing=MissingPolicy.EXCLUDE)
    result = score(ScoreInput(rs, (emp("E1"), emp("E2")),
                              (fact("E2", "SALES", 1), fact("E2", "QUAL", 1))))
    assert result.employee("E1").total is None
    assert result.employee("E1").rank is None
    assert result.employee("E2").rank == 1


# -- personal targets --------------------------------------------------------------------------

def test_personal_target_replaces_the_indicator_target_for_that_employee():
    rs = sales_and_quality()
    facts = (fact("E1", "SALES", 80), fact("E1", "QUAL", 100),
             fact("E2", "SALES", 80), fact("E2", "QUAL", 100))
    result = score(ScoreInput(rs, (emp("E1"), emp("E2")), facts,
                              overrides=(target("E1", "SALES", "target=80"),)))
    mine = result.line("E1", "SALES")
    assert (mine.points, mine.target) == (D("60.00"), D(80))
    assert mine.explanation.endswith("(personal target)")
    assert result.line("E2", "SALES").points == D("48.00")


def test_personal_target_is_checked_like_the_rule():
    inp = ScoreInput(sales_and_quality(), (emp("E1"),),
                     (fact("E1", "SALES", 80), fact("E1", "QUAL", 100)),
                     overrides=(target("E1", "SALES", "target=0"),))
    problem = only_problem(inp)
    assert (problem.table, problem.column, problem.key) == \
        ("kb_targets", "target", ("E1", "SALES", "target"))


# -- adjustments -------------------------------------------------------------------------------

def adjusted(*adjustments, sales=80):
    inp = ScoreInput(sales_and_quality(), (emp("E1"), emp("E2")),
                     (fact("E1", "SALES", sales), fact("E1", "QUAL", 100),
                      fact("E2", "SALES", 100), fact("E2", "QUAL", 100)),
                     adjustments=tuple(adjustments))
    return inp


def test_adjustment_with_reason_is_added_after_rounding():
    result = score(adjusted(adjust("E1", "SALES", "2.5", "customer moved the order")))
    line = result.line("E1", "SALES")
    assert (line.base_points, line.adjustment, line.points) == (D("48.00"), D("2.5"), D("50.50"))
    assert "customer moved the order" in line.explanation
    assert result.employee("E1").total == D("90.50")


def test_several_adjustments_add_up():
    result = score(adjusted(adjust("E1", "SALES", 1, "a"), adjust("E1", "SALES", "-0.25", "b")))
    assert result.line("E1", "SALES").adjustment == D("0.75")
    assert result.line("E1", "SALES").points == D("48.75")


@pytest.mark.parametrize(("adjustment", "column", "fragment"), [
    (adjust("E1", "SALES", 1, "  "), "reason", "needs a reason"),
    (adjust("E1", "SALES", 13, "too much"), "points", "outside 0.00..60.00"),
    (adjust("E1", "SALES", -49, "too little"), "points", "outside 0.00..60.00"),
    (adjust("E9", "SALES", 1, "who"), "employee_id", "not on the roster"),
    (adjust("E1", "NOPE", 1, "what"), "indicator", "not in the rules"),
    (adjust("E1", "SALES", "0.125", "fine"), "points", "more than 2 decimals"),
])
def test_adjustment_problems(adjustment, column, fragment):
    problem = only_problem(adjusted(adjustment))
    assert (problem.table, problem.column) == ("kb_adjustments", column)
    assert fragment in problem.message
    assert problem.key[:2] == (adjustment.employee_id, adjustment.indicator)


def test_adjustment_up_to_the_cap_is_fine():
    assert score(adjusted(adjust("E1", "SALES", 12, "ok"))).line("E1", "SALES").points == D("60.00")


def test_adjustment_for_an_indicator_that_does_not_apply():
    rs = rules(ind("A", "ratio", 100, "target=1"),
               ind("B", "ratio", 10, "target=1", departments=frozenset({"Ops"})))
    problem = problems_of(ScoreInput(rs, (emp("E1", "Sales"),), (fact("E1", "A", 1),),
                                     adjustments=(adjust("E1", "B", 1),)))
    assert any("does not apply" in p.message for p in problem)


# -- validation --------------------------------------------------------------------------------

def test_every_problem_is_reported_with_its_key():
    rs = rules(ind("SALES", "ratio", 60, "target=0"), ind("SALES", "ratio", 40, "target=1"),
               ind("LATE", "deduction", 40, "per=1"))
    inp = ScoreInput(rs, (emp("E1"), emp("E1")),
                     (fact("E1", "LATE", -2), fact("E7", "LATE", 1), fact("E1", "GHOST", 1),
                      fact("E1", "SALES", "abc")))
    found = {(p.table, p.column, p.key) for p in problems_of(inp)}
    assert ("kb_rules", "target", ("SALES",)) in found
    assert ("kb_rules", "code", ("SALES",)) in found
    assert ("kb_roster", "employee_id", ("E1",)) in found
    assert ("kb_data", "employee_id", ("E7", "LATE")) in found
    assert ("kb_data", "indicator", ("E1", "GHOST")) in found
    assert ("kb_data", "value", ("E1", "LATE")) in found  # negative count
    assert all(p.row is None for p in validate(inp))


def test_text_for_a_number_names_the_value():
    rs = rules(ind("A", "ratio", 100, "target=1"))
    problem = only_problem(ScoreInput(rs, (emp("E1"),), (fact("E1", "A", "abc"),)))
    assert "'abc' is not a number" in problem.message
    assert problem.key == ("E1", "A")


def test_numeric_text_is_accepted_for_numbers():
    rs = rules(ind("A", "ratio", 100, "target=1"))
    assert score(ScoreInput(rs, (emp("E1"),), (fact("E1", "A", "80%"),))).employee("E1").total \
        == D("80.00")


@pytest.mark.parametrize(("kwargs", "fragment"), [
    ({"bands": "A:70,B:90"}, "falling"),
    ({"quotas": "A:20,B:70,C:20"}, "110%"),
    ({"quotas": "A:20,B:80", "group": "shoe_size"}, "not a roster column"),
])
def test_settings_problems(kwargs, fragment):
    rs = rules(ind("A", "ratio", 100, "target=1"), **kwargs)
    problem = only_problem(ScoreInput(rs, (emp("E1"),), (fact("E1", "A", 1),)))
    assert problem.table == "kb_settings"
    assert fragment in problem.message


# -- grades and ranks --------------------------------------------------------------------------

def test_competition_ranks_1224():
    assert competition_ranks([D(90), D(85), D(85), D(80)]) == [1, 2, 2, 4]
    assert competition_ranks([D(80), D(85), D(90), D(85)]) == [4, 2, 1, 2]


def test_quota_counts_largest_remainder():
    shares = [D("0.2"), D("0.7"), D("0.1")]
    assert quota_counts(10, [_q(s) for s in shares]) == [2, 7, 1]
    assert quota_counts(7, [_q(s) for s in shares]) == [1, 5, 1]  # 1.4 4.9 0.7
    # equal remainders (0.5 and 0.5): the better grade gets the seat
    assert quota_counts(5, [_q(D("0.1")), _q(D("0.1")), _q(D("0.8"))]) == [1, 0, 4]


def _q(share):
    from server.scoring.model import GradeQuota

    return GradeQuota(f"G{share}", share)


def forced(totals):
    from server.scoring.model import GradeQuota

    quotas = [GradeQuota("A", D("0.2")), GradeQuota("B", D("0.7")), GradeQuota("C", D("0.1"))]
    return forced_grades([D(t) for t in totals], quotas)


def test_forced_distribution_without_ties():
    assert forced([95, 90, 85, 80, 75, 70, 65, 60, 55, 50]) == list("AABBBBBBBC")


def test_forced_distribution_tie_at_the_a_boundary_shares_the_better_grade():
    # 2nd and 3rd tie at the A/B boundary: both A, B gives up the seat
    assert forced([95, 90, 90, 85, 80, 75, 70, 65, 60, 55]) == list("AAABBBBBBC")


def test_forced_distribution_tie_at_the_c_boundary():
    # the last two tie across the B/C boundary: both B, nobody gets C
    assert forced([95, 90, 85, 80, 75, 70, 65, 60, 50, 50]) == list("AABBBBBBBB")


def test_forced_distribution_everyone_equal():
    assert forced([70] * 10) == ["A"] * 10


def test_forced_distribution_in_any_order():
    assert forced([50, 95, 60, 90, 90, 55, 85, 80, 75, 70]) == list("CABAABBBBB")


def test_grades_and_group_ranks_within_departments():
    rs = rules(ind("A", "ratio", 100, "target=100"), quotas="A:50,B:50")
    people = (emp("S1", "Sales"), emp("S2", "Sales"), emp("O1", "Ops"), emp("O2", "Ops"))
    facts = (fact("S1", "A", 90), fact("S2", "A", 80), fact("O1", "A", 70), fact("O2", "A", 95))
    result = score(ScoreInput(rs, people, facts))
    got = {e.employee_id: (e.grade, e.rank, e.group_rank) for e in result.employees}
    assert got == {"S1": ("A", 2, 1), "S2": ("B", 3, 2), "O1": ("B", 4, 2), "O2": ("A", 1, 1)}


def test_grade_bands_inclusive_minimum():
    rs = rules(ind("A", "ratio", 100, "target=100; cap=2"), bands="S:95,A:85,B:70,C:0")
    people = tuple(emp(f"E{i}") for i in range(5))
    facts = tuple(fact(f"E{i}", "A", v) for i, v in enumerate([95, "94.99", 85, 70, 10]))
    result = score(ScoreInput(rs, people, facts))
    assert [e.grade for e in result.employees] == ["S", "A", "A", "B", "C"]


def test_frames():
    result = score(adjusted())
    lines, employees = result_frames(result)
    assert list(lines["points"]) == [ln.points for ln in result.lines]
    assert list(employees["employee_id"]) == ["E1", "E2"]
    assert employees["rank"].tolist() == [2, 1]
    assert set(lines["status"]) == {"ok"}


@pytest.mark.parametrize("empty", [None, "", "   "])
def test_an_empty_cell_is_missing_data_not_zero(empty):
    from server.scoring.model import Fact

    rs = sales_and_quality()
    inp = ScoreInput(rs, (emp("E1"),), (fact("E1", "SALES", 80), Fact("E1", "QUAL", empty)))
    result = score(inp)
    assert result.line("E1", "QUAL").status is LineStatus.MISSING
    assert result.employee("E1").total is None


def test_stale_values_are_marked():
    rs = rules(ind("A", "ratio", 100, "target=100"))
    line = score(ScoreInput(rs, (emp("E1"),), (fact("E1", "A", 90, stale=True),))).line("E1", "A")
    assert line.stale
    assert "last good value" in line.explanation


def test_chinese_explanations_use_the_same_numbers():
    rs = rules(ind("A", "ratio", 100, "target=100; cap=1.2"))
    inp = ScoreInput(rs, (emp("E1"),), (fact("E1", "A", 130),))
    assert score(inp, "zh").line("E1", "A").explanation == \
        "完成率 130.00%，封顶 120% × 100 = 120.00"
    assert score(inp, "en").line("E1", "A").explanation == \
        "130.00% of target, capped at 120% × 100 = 120.00"


def test_scorecard_group_ranks_and_grades_the_whole_scorecard():
    rs = rules(ind("A", "ratio", 100, "target=100"), quotas="A:50,B:50", group="scorecard")
    people = (emp("S1", "Sales"), emp("S2", "Sales"), emp("O1", "Ops"), emp("O2", "Ops"))
    facts = (fact("S1", "A", 90), fact("S2", "A", 80), fact("O1", "A", 70), fact("O2", "A", 95))
    result = score(ScoreInput(rs, people, facts))
    got = {e.employee_id: (e.grade, e.group_rank) for e in result.employees}
    assert got == {"O2": ("A", 1), "S1": ("A", 2), "S2": ("B", 3), "O1": ("B", 4)}


def test_company_group_ranks_and_grades_against_the_other_scorecards():
    """Distribution group "company": the month's other scorecards' totals (peers) take part
    in group ranks and quotas, and produce no result of their own."""
    rs = rules(ind("A", "ratio", 100, "target=100"), quotas="A:25,B:50,C:25", group="company")
    people = (emp("S1"), emp("S2"))
    facts = (fact("S1", "A", 90), fact("S2", "A", 70))
    alone = score(ScoreInput(rs, people, facts))
    assert [(e.grade, e.group_rank) for e in alone.employees] == [("A", 1), ("B", 2)]
    # two people of another scorecard scored 95 and 80: S1 is now second of four
    peers = (D("95.00"), D("80.00"))
    company = score(ScoreInput(rs, people, facts, peers=peers))
    assert [e.employee_id for e in company.employees] == ["S1", "S2"]
    assert [(e.grade, e.group_rank, e.rank) for e in company.employees] == [
        ("B", 2, 1), ("C", 4, 2)]
    # a tie with a peer shares the better grade and rank
    tied = score(ScoreInput(rs, people, facts, peers=(D("90.00"), D("10.00"))))
    assert [(e.grade, e.group_rank) for e in tied.employees] == [("A", 1), ("B", 3)]
