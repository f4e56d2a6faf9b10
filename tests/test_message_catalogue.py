"""One message catalogue (server/scoring/messages.py, issue #13): the server's Python words
its messages through `msg(key, lang, ...)`, never as an inline Chinese/English pair picked
by a language test (`"…" if zh else "…"`, `if lang == "zh": … else: …`). Every catalogue
entry has both languages with the same fields (tests/scoring/test_messages.py)."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

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


def test_no_inline_language_pairs_in_the_server():
    offenders = []
    for path in sorted((ROOT / "server").rglob("*.py")):
        rel = path.relative_to(ROOT)
        if "migrations" in rel.parts or rel.as_posix() == "server/scoring/messages.py":
            continue
        offenders += [f"{rel}:{line}: {text!r}"
                      for line, text in inline_pairs(path.read_text(encoding="utf-8"))]
    assert not offenders, (
        "inline Chinese/English pairs; add an entry to CATALOGUE in server/scoring/messages.py "
        "and call msg(key, lang, ...):\n" + "\n".join(offenders))


def test_every_msg_call_names_an_entry_with_the_fields_it_gives():
    """msg("key", lang, field=...) with a literal key: the key exists and the fields given
    are the template's (a missing one is a KeyError at run time, an extra one a typo)."""
    wrong = []
    for path in sorted((ROOT / "server").rglob("*.py")):
        rel = path.relative_to(ROOT)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id == "msg" and node.args
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
