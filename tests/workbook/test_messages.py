"""The contract words every problem in Chinese or English, located the same way in both."""

from __future__ import annotations

import re

import pytest

from server.scoring.model import ValidationError
from server.workbook.contract import read_tables, to_score_input
from server.workbook.render import problem_text, problems_message
from server.workbook.schema import RULES
from tests.workbook.books import edited_template
from tests.workbook.test_contract import small_book

CJK = re.compile(r"[\u4e00-\u9fff]")
ENGLISH_GLUE = re.compile(r"\b(is|not|the|must|needs?|twice|no|has|appears|rows|unknown)\b")


def problems(book, lang):
    with pytest.raises(ValidationError) as caught:
        to_score_input(read_tables(book, lang=lang), lang=lang)
    return caught.value.problems


def without(text, *data):
    """The message without the data it quotes (sheet names, captions, cell values)."""
    for d in data:
        text = text.replace(d, "")
    return text


def missing_table():
    book = small_book()
    book.sheets = [s for s in book.sheets if s.name != RULES.zh]
    return book


CASES = {
    "missing table": (missing_table, ("考核规则", RULES.zh),
                      "the workbook has no table kb_rules", "工作簿中没有表格 kb_rules"),
    "renamed column": (lambda: small_book(headers={"kb_roster": ["Employee ID", "Name", "Abt"]}),
                       ("人员名单", "部门 / Department", "部门"),
                       "has no column 部门 / Department", "缺少列“部门 / Department”"),
    "duplicate ids": (lambda: small_book(roster=[["E1", "张三", "一车间"],
                                                 ["E1", "李四", "二车间"]],
                                         data=[["E1", "OUT", 90], ["E1", "TEAM", "A"]]),
                      (), "employee id E1 appears twice: rows 2 and 3",
                      "工号 E1 出现了两次：第 2 行和第 3 行"),
    "text in a number cell": (
        lambda: small_book(data=[["E1", "OUT", "abc"], ["E1", "TEAM", "A"],
                                 ["E2", "OUT", 1], ["E2", "TEAM", "B"]]),
        (), "expected a number: 'abc' is not a number", "应填写数字：“abc”不是数字"),
    "rating off the scale": (
        lambda: small_book(data=[["E1", "OUT", 90], ["E1", "TEAM", "E"],
                                 ["E2", "OUT", 1], ["E2", "TEAM", "B"]]),
        (), "rating 'E' is not on the scale (A, B, C, D)",
        "评级“E”不在评级表中（可用：A、B、C、D）"),
    "weights not 100": (
        lambda: small_book(rules=[["OUT", "Output", "quantitative", 60, "erp", "ratio", 100, None],
                                  ["TEAM", "Team", "qualitative", 30, "rating", "rating", None,
                                   None]]),
        (), "add up to 90, not 100", "权重合计为 90，不是 100"),
    "unknown rule": (
        lambda: small_book(rules=[["OUT", "Output", "quantitative", 100, "erp", "magic", 100,
                                   None]], data=[]),
        (), "unknown rule 'magic'", "未知的计分规则“magic”"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_contract_problems_in_chinese_and_english(case):
    build, data, en_fragment, zh_fragment = CASES[case]
    in_english, in_chinese = problems(build(), "en"), problems(build(), "zh")
    assert len(in_english) == len(in_chinese) == 1, (in_english, in_chinese)
    en, zh = in_english[0], in_chinese[0]
    assert (en.table, en.sheet, en.row, en.column, en.cell) == \
        (zh.table, zh.sheet, zh.row, zh.column, zh.cell)
    assert en_fragment in en.message, en.message
    assert not CJK.search(without(en.message, *data)) and ENGLISH_GLUE.search(en.message)
    assert zh_fragment in zh.message, zh.message
    assert CJK.search(zh.message) and not ENGLISH_GLUE.search(without(zh.message, *data))
    # whichever language a problem was found in, render shows it in the reader's
    assert problem_text(en, "zh").endswith(zh.message)
    assert problem_text(zh, "en").endswith(en.message)


def test_missing_reason_in_chinese(tmp_path):
    def edit(wb):
        wb["调整"]["G2"] = 2  # points on the first generated row, reason left blank

    book = edited_template(tmp_path, edit)
    (zh,) = problems(book, "zh")
    assert (zh.sheet, zh.row, zh.cell) == ("调整", 2, "H2")
    assert "调整 2 分必须填写理由" in zh.message and not ENGLISH_GLUE.search(zh.message)
    assert "needs a reason" in zh.text("en")


def test_tables_located_before_the_language_is_known_are_worded_in_it():
    tables = read_tables(missing_table())  # the server locates tables first (default zh)
    assert CJK.search(tables.problems[0].message)
    with pytest.raises(ValidationError) as caught:
        to_score_input(tables, "en")
    assert caught.value.problems[0].message.startswith("the workbook has no table kb_rules")
    assert "the workbook has no table" in problems_message(tables.problems, "en")
