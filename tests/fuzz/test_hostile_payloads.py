"""Hostile xlwings payloads on every ribbon button: valid shapes with hostile contents
(huge/negative/NaN numbers, deep nesting, wrong types, broken table ranges, Chinese, emoji,
control characters, formula-like strings, missing keys). Never a 500, never a stack trace or
a file path in the answer, and a refused request changes nothing (row counts of every table,
the history branch)."""

from __future__ import annotations

import copy
import io
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.conftest import assert_safe, db_state

BUTTONS = ("check", "score", "submit", "pull", "new_period?period=2026-10")

FORMULAS = ["=1+1", "=cmd|' /C calc'!A0", "+SUM(A1:A9)", "-2+3", "@A1", "=HYPERLINK(\"x\")",
            "=kb_data!A1", "'=1"]
ODD_TEXT = ["中文名称", "😀" * 20, "\x00\x01\x1f\x7f", "\u202eevil", "a\r\nb\tc", "' OR 1=1 --",
            "<script>alert(1)</script>", "../../etc/passwd", "%s%n", "\ud800" * 0 + "𠀀𪚥",
            " ", "", "NaN", "Infinity", "1e309", "0x10", "１２３"]
RANGES = ["", "A1", "ZZZ", "$A$1:$A$0", "$XFD$1048576:$A$1", "$A$1:$ZZZZ$99999999", "A1:B",
          "$A$0:$B$2", "-1", "$A$1:$B$2:$C$3", "Sheet1!$A$1:$B$2", "中文!A1:B2", "$A$1048577"]
NUMBERS = [1e308, -1e308, float("nan"), float("inf"), float("-inf"), 2**70, -(2**70), -1,
           0.1 + 0.2, 5e-324, -0.0, 10**400]

scalars = st.one_of(
    st.sampled_from(NUMBERS), st.sampled_from(FORMULAS), st.sampled_from(ODD_TEXT),
    st.floats(), st.integers(), st.booleans(), st.none(),
    st.text(st.characters(codec="utf-8"), max_size=40),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(),
                                                        max_size=2))


def _paths(node, prefix=()):
    """Every (path) inside the payload, for picking a place to break."""
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node[:30]):  # the first rows/cells are enough
            yield from _paths(v, (*prefix, i))


def _parent(doc, path):
    for key in path[:-1]:
        doc = doc[key]
    return doc


@st.composite
def hostile(draw, base: dict):
    doc = copy.deepcopy(base)
    paths = [p for p in _paths(doc) if p]
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["cell", "cell", "replace", "delete", "range", "deep",
                                     "huge", "table_cell"]))
        if kind == "table_cell":
            sheets = [s for s in doc.get("sheets", []) if isinstance(s, dict)
                      and isinstance(s.get("values"), list) and s["values"]]
            if sheets:
                sheet = draw(st.sampled_from(sheets))
                row = draw(st.integers(0, len(sheet["values"]) - 1))
                if isinstance(sheet["values"][row], list) and sheet["values"][row]:
                    col = draw(st.integers(0, len(sheet["values"][row]) - 1))
                    sheet["values"][row][col] = draw(scalars)
            continue
        path = draw(st.sampled_from(paths))
        try:
            parent = _parent(doc, path)
            key = path[-1]
            if kind in ("cell", "replace"):
                parent[key] = draw(scalars)
            elif kind == "delete":
                del parent[key]
            elif kind == "range":
                parent[key] = draw(st.sampled_from(RANGES))
            elif kind == "deep":
                nested: object = 1
                for _ in range(draw(st.integers(50, 400))):
                    nested = [nested]
                parent[key] = nested
            elif kind == "huge":
                parent[key] = draw(st.sampled_from(["x" * 200_000, list(range(50_000))]))
        except (KeyError, IndexError, TypeError):
            continue
        paths = [p for p in _paths(doc) if p]
        if not paths:
            break
    return doc


@pytest.fixture(scope="module")
def base_payload():
    headless = pytest.importorskip("addin.headless")
    from tests.fuzz.conftest import TEMPLATE

    if not TEMPLATE.is_file():
        pytest.skip("no templates")
    return headless.workbook_to_payload(TEMPLATE)


def test_hostile_payloads_on_every_button(app, client, opened, base_payload):
    @settings(max_examples=40, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(doc=hostile(base_payload), button=st.sampled_from(BUTTONS))
    def run(doc, button):
        body = json.dumps(doc, ensure_ascii=False, allow_nan=True).encode("utf-8",
                                                                          "surrogatepass")
        before = db_state(app)
        resp = client.post(f"/xl/{button}", data=body, headers=opened,
                           content_type="application/json")
        assert_safe(resp)
        if resp.status_code != 200:
            assert resp.mimetype == "text/plain", resp.mimetype
            assert db_state(app) == before, (button, resp.get_data(as_text=True)[:300])

    run()


@pytest.mark.parametrize("raw", [
    b"", b"null", b"[]", b"\"text\"", b"{", b"{\"client\": NaN}", b"[" * 100_000 + b"]" * 100_000,
    b"{\"a\":" * 50_000 + b"1" + b"}" * 50_000, b"\xff\xfe\x00garbage", "中文".encode("gbk"),
    b"{\"client\": \"x\", \"version\": \"1\", \"book\": {\"name\": \"b\", "
    b"\"active_sheet_index\": 99999999999999999999999}, \"sheets\": [{}]}",
])
@pytest.mark.parametrize("button", BUTTONS)
def test_broken_bodies(app, client, opened, raw, button):
    before = db_state(app)
    resp = client.post(f"/xl/{button}", data=raw, headers=opened,
                       content_type="application/json")
    assert_safe(resp)
    assert resp.status_code in (400, 413, 422), resp.status_code
    assert db_state(app) == before


@pytest.fixture
def app_config(app_config):
    return {**app_config, "MAX_CONTENT_LENGTH": 256 * 1024}


@pytest.mark.parametrize("path", ["/xl/score", "/xl/pull", "/api/v1/facts"])
def test_oversized_bodies_are_refused_with_413(app, client, opened, path):
    big = b"{\"x\": \"" + b"a" * (300 * 1024) + b"\"}"
    before = db_state(app)
    declared = client.post(path, data=big, headers=opened, content_type="application/json")
    assert declared.status_code == 413
    assert_safe(declared)
    # chunked: no Content-Length, the server finds out while reading
    chunked = client.post(path, input_stream=io.BytesIO(big), headers={
        **opened, "Transfer-Encoding": "chunked", "Content-Type": "application/json"},
        environ_overrides={"wsgi.input_terminated": True})
    assert chunked.status_code == 413, chunked.get_data(as_text=True)[:300]
    assert_safe(chunked)
    assert db_state(app) == before
