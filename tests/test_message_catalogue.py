"""One message catalogue (server/scoring/messages.py, issue #13): the server's Python words
its messages through `msg(key, lang, ...)` (`both(key, ...)` for a two-line web error,
`server.web.say_msg(key, ...)` for a flash), never as an inline Chinese/English pair: not
picked by a language test (`"…" if zh else "…"`, `if lang == "zh": … else: …`), not handed
to a chooser (`t("中文", "English")`, `say("中文", "English")`), not written as one string
of a Chinese line and an English line (`"找不到。\nNot found."`). Every catalogue entry has
both languages with the same fields (tests/scoring/test_messages.py). The Jinja templates
keep their page text as `t("中文", "English")`: they are not Python and not read here."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

from server.scoring.messages import CATALOGUE, msg

ROOT = Path(__file__).resolve().parents[1]
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")  # hanzi and CJK punctuation


def _is_language_test(test: ast.expr) -> bool:
    """`zh`, `not zh`, `_zh(lang)`, `lang == "zh"`, `lang() != "zh"` and the like."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return _is_language_test(test.operand)
    if isinstance(test, ast.Name | ast.Attribute):
        return (test.id if isinstance(test, ast.Name) else test.attr) in ("zh", "is_zh")
    if isinstance(test, ast.Call):
        return isinstance(test.func, ast.Name) and test.func.id in ("_zh", "is_zh")
    if isinstance(test, ast.Compare):
        return any(isinstance(c, ast.Constant) and c.value == "zh"
                   for c in (test.left, *test.comparators))
    return False


def _chinese_literals(nodes: list[ast.AST]) -> list[str]:
    return [n.value for node in nodes for n in ast.walk(node)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and CJK.search(n.value)]


def inline_pairs(source: str) -> list[tuple[int, str]]:
    """(line, Chinese text) of every Chinese string literal in a branch chosen by a language
    test: a conditional expression or an if statement."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.IfExp | ast.If) and _is_language_test(node.test):
            branches = [node.body, node.orelse] if isinstance(node, ast.IfExp) else \
                [*node.body, *node.orelse]
            found += [(node.lineno, text) for text in _chinese_literals(branches)]
    return found


# Functions that pick one of a Chinese and an English argument by the page's language.
CHOOSERS = ("say", "t", "_say")


def _literal_text(node: ast.AST) -> str | None:
    """A string literal's text, an f-string's with "{}" for each replacement field."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    return None


def chooser_pairs(source: str) -> list[tuple[int, str]]:
    """(line, Chinese text) of every `say("中文…", "English…")`, `t("中文", "English")`,
    `_say(lang, "中文", "English")`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and len(node.args) >= 2):
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else \
            node.func.attr if isinstance(node.func, ast.Attribute) else ""
        texts = [_literal_text(arg) for arg in node.args]
        chinese = next((text for text in texts if text and CJK.search(text)), None)
        if name in CHOOSERS and chinese is not None:
            found.append((node.lineno, chinese))
    return found


def two_language_strings(source: str) -> list[tuple[int, str]]:
    """(line, text) of every string or f-string (not a docstring) that holds a Chinese line
    and, after it, an English line: a two-line web error written inline."""
    tree = ast.parse(source)
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef
                                | ast.AsyncFunctionDef)
                  and node.body and isinstance(node.body[0], ast.Expr)}
    parts = {id(v) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr)
             for v in node.values}
    found = []
    for node in ast.walk(tree):
        text = _literal_text(node)
        if text is None or id(node) in docstrings or id(node) in parts or "\n" not in text:
            continue
        lines = text.split("\n")
        first_chinese = next((i for i, line in enumerate(lines) if CJK.search(line)), None)
        if first_chinese is not None and any(
                re.search(r"[A-Za-z]{2,}", line) and not CJK.search(line)
                for line in lines[first_chinese + 1:]):
            found.append((node.lineno, text))
    return found


def _server_sources() -> list[tuple[Path, str]]:
    return [(path.relative_to(ROOT), path.read_text(encoding="utf-8"))
            for path in sorted((ROOT / "server").rglob("*.py"))
            if "migrations" not in path.relative_to(ROOT).parts
            and path.relative_to(ROOT).as_posix() != "server/scoring/messages.py"]


def test_the_finder_finds_the_pairs_it_is_for():
    assert inline_pairs('x = "无" if zh else "none"') == [(1, "无")]
    assert inline_pairs('x = f"期间 {c}" if lang == "zh" else f"Period {c}"') == [(1, "期间 ")]
    assert inline_pairs('x = "; " if not zh else "；"') == [(1, "；")]
    assert inline_pairs('if lang == "zh":\n    t = "提交"\nelse:\n    t = "Submit"') == \
        [(1, "提交")]
    # not pairs: a catalogue lookup, a word table, a language chosen for other reasons
    assert inline_pairs('x = msg("submit.title", lang)') == []
    assert inline_pairs('x = zh_word if lang == "zh" else en_word') == []
    assert inline_pairs('x = "数据" if fetched else "data"') == []


def test_the_chooser_finder_finds_the_calls_it_is_for():
    assert chooser_pairs('say("已保存。", "Saved.")') == [(1, "已保存。")]
    assert chooser_pairs('say(f"已创建 {n}。", f"Created {n}.", "error")') == [(1, "已创建 {}。")]
    assert chooser_pairs('x = t("工号", "Employee ID")') == [(1, "工号")]
    assert chooser_pairs('x = web.t("工号", "Employee ID")') == [(1, "工号")]
    assert chooser_pairs('x = _say(lang, "找不到。", "Not found.")') == [(1, "找不到。")]
    # not pairs: a catalogue entry, a text already in one language, a word table's variables
    assert chooser_pairs('say_msg("admin.saved")') == []
    assert chooser_pairs('flash(problem, "error")') == []
    assert chooser_pairs('x = t(zh, en)') == []


def test_the_two_line_finder_finds_the_strings_it_is_for():
    assert two_language_strings('raise NotFound("找不到该用户。\\nNo such user.")') == \
        [(1, "找不到该用户。\nNo such user.")]
    assert two_language_strings('e = f"期间 {c} 不存在。\\nPeriod {c} does not exist."') == \
        [(1, "期间 {} 不存在。\nPeriod {} does not exist.")]
    assert two_language_strings('e = ("找不到。\\n"\n     "Not found.")') == \
        [(1, "找不到。\nNot found.")]
    # not pairs: a docstring, one language over several lines, English before Chinese
    assert two_language_strings('def f():\n    """工号\n    the employee id."""') == []
    assert two_language_strings('x = "第一行\\n第二行"') == []
    assert two_language_strings('x = "Sheet\\n工作表"') == []
    assert two_language_strings('x = f"{zh}\\n{en}"') == []


@pytest.mark.parametrize(("finder", "instead"), [
    (inline_pairs, "msg(key, lang, ...)"),
    (chooser_pairs, "say_msg(key, ...) (server/web.py) or msg(key, lang(), ...)"),
    (two_language_strings, "both(key, ...) for a two-line error"),
], ids=["language-test", "say-or-t", "two-line-string"])
def test_no_inline_language_pairs_in_the_server(finder, instead):  # noqa: ANN001
    """No pair of any of the three kinds in server/'s Python (the Jinja templates' page text
    is not Python and stays as it is)."""
    offenders = [f"{rel}:{line}: {text!r}" for rel, source in _server_sources()
                 for line, text in finder(source)]
    assert not offenders, (
        "inline Chinese/English pairs; add an entry to CATALOGUE in server/scoring/messages.py "
        f"and call {instead}:\n" + "\n".join(offenders))


def test_every_msg_call_names_an_entry_with_the_fields_it_gives():
    """msg("key", lang, field=...) with a literal key (likewise both, message and
    server.web.say_msg): the key exists and the fields given are the template's (a missing
    one is a KeyError at run time, an extra one a typo)."""
    wrong = []
    for path in sorted((ROOT / "server").rglob("*.py")):
        rel = path.relative_to(ROOT)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in ("msg", "both", "message", "say_msg") and node.args
                    and isinstance(node.args[0], ast.Constant)):
                continue
            key = node.args[0].value
            if key not in CATALOGUE:
                wrong.append(f"{rel}:{node.lineno}: no entry {key!r}")
                continue
            if any(k.arg is None for k in node.keywords):
                continue  # **fields
            given = {k.arg for k in node.keywords}
            wanted = {name for _, name, _, _ in string.Formatter().parse(CATALOGUE[key][0])
                      if name}
            if given != wanted:
                wrong.append(f"{rel}:{node.lineno}: {key} takes {sorted(wanted)}, "
                             f"given {sorted(given)}")
    assert not wrong, "\n".join(wrong)


def test_every_catalogue_entry_renders_in_both_languages():
    for key, (en, zh) in CATALOGUE.items():
        assert en.strip() and zh.strip(), key
        names = {name for _, name, _, _ in string.Formatter().parse(en) if name}
        if names:
            continue  # rendered with fields by the callers' tests
        assert msg(key, "en") == en and msg(key, "zh") == zh, key
