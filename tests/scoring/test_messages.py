"""Problem messages in Chinese and English: one catalogue, the engine words every problem in
the requested language and each problem can be re-worded in the other."""

from __future__ import annotations

import re
import string

import pytest

from server.scoring.engine import validate
from server.scoring.messages import CATALOGUE, MessageError, msg, text_of
from server.scoring.model import IndicatorKind, ScoreInput
from server.scoring.numbers import parse_number
from tests.scoring.factories import adjust, emp, fact, ind, rules

CJK = re.compile(r"[\u4e00-\u9fff]")
ENGLISH_GLUE = re.compile(r"\b(is|not|the|must|needs?|given|twice|no|unknown|add up|on the)\b")


def chinese(text: str) -> bool:
    return bool(CJK.search(text)) and not ENGLISH_GLUE.search(text)


def english(text: str) -> bool:
    return not CJK.search(text) and bool(ENGLISH_GLUE.search(text))


def fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize("key", sorted(CATALOGUE))
def test_every_message_has_both_languages_with_the_same_fields(key):
    en, zh = CATALOGUE[key]
    assert fields(en) == fields(zh), key
    # real words, not pure glue (fields, with their format specs, are not words)
    if re.search(r"[a-z]{3}", re.sub(r"\{\w+(:[^{}]*)?\}", "", en)):
        assert CJK.search(zh), (key, zh)
        assert not CJK.search(re.sub(r"\((部门|岗位|考核表|公司)\)", "", en)), (key, en)


def test_msg_picks_the_language():
    assert msg("rules.weights_sum", "en", total="97") == (
        "the weights of the weighted indicators add up to 97, not 100")
    assert msg("rules.weights_sum", "zh", total="97") == "计权指标的权重合计为 97，不是 100"
    assert msg("rules.weights_sum", "zh-CN", total="97") == msg("rules.weights_sum", "zh",
                                                               total="97")


def test_a_message_error_is_a_value_error_in_english_and_renders_in_chinese():
    with pytest.raises(MessageError) as caught:
        parse_number("abc")
    assert isinstance(caught.value, ValueError)
    assert str(caught.value) == "'abc' is not a number"
    assert text_of(caught.value, "zh") == "“abc”不是数字"
    assert text_of(ValueError("plain"), "zh") == "plain"


def one_rule(*extra, **kwargs):
    return rules(ind("A", "ratio", 100, "target=1"), *extra, **kwargs)


CASES = {
    "weights not 100": (
        ScoreInput(rules(ind("A", "ratio", 97, "target=1")), (emp("E1"),), (fact("E1", "A", 1),)),
        "add up to 97, not 100", "权重合计为 97，不是 100"),
    "unknown rule": (
        ScoreInput(rules(ind("A", "magic", 100, "")), (emp("E1"),), ()),
        "unknown rule 'magic'", "未知的计分规则“magic”"),
    "text in a number": (
        ScoreInput(one_rule(), (emp("E1"),), (fact("E1", "A", "abc"),)),
        "E1 A: 'abc' is not a number", "E1 A：“abc”不是数字"),
    "duplicate ids": (
        ScoreInput(one_rule(), (emp("E1"), emp("E1")), (fact("E1", "A", 1),)),
        "employee ID 'E1' is listed twice", "工号“E1”重复"),
    "missing reason": (
        ScoreInput(one_rule(), (emp("E1"),), (fact("E1", "A", 1),),
                   adjustments=(adjust("E1", "A", 1, "  "),)),
        "E1 A: an adjustment needs a reason", "E1 A：调整必须填写理由"),
    "rating off scale": (
        ScoreInput(rules(ind("A", "ratio", 60, "target=1"),
                         ind("T", "rating", 40, "", kind=IndicatorKind.QUALITATIVE)),
                   (emp("E1"),), (fact("E1", "A", 1), fact("E1", "T", "E"))),
        "rating 'E' is not on the scale (A, B, C, D)", "评级“E”不在评级表中（可用：A、B、C、D）"),
    "bad parameter": (
        ScoreInput(rules(ind("A", "ratio", 100, "target=0")), (emp("E1"),), ()),
        "A: target must be above 0 for a ratio (is 0)",
        "A：比率类规则的目标值必须大于 0（现为 0）"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_validate_words_problems_in_the_requested_language(case):
    inp, en_fragment, zh_fragment = CASES[case]
    in_english, in_chinese = validate(inp, "en"), validate(inp, "zh")
    assert len(in_english) == len(in_chinese) == 1, (in_english, in_chinese)
    en, zh = in_english[0], in_chinese[0]
    assert en_fragment in en.message and english(en.message), en.message
    assert zh_fragment in zh.message and chinese(zh.message), zh.message
    # the same problem, located the same way; either can be re-worded in the other language
    assert (en.table, en.column, en.key) == (zh.table, zh.column, zh.key)
    assert en.text("zh") == zh.message and zh.text("en") == en.message
    assert validate(inp) == in_english  # English stays the engine's default
