"""Workbook snapshot -> located tables -> engine input, or every problem with its cell.

`read_tables` finds kpibook's tables (ListObjects with fixed names) in a `BookSnapshot` and
maps HR's header captions (Chinese, English or bilingual) onto the schema's column keys.
`to_score_input` converts every cell into the engine's dataclasses; each problem names the
sheet, Excel row, column caption as HR wrote it and the A1 cell. Nothing is half-converted:
either a complete `ScoreInput` comes back or a `ValidationError` carrying all problems.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import partial
from itertools import compress, repeat
from operator import call, eq, is_, is_not, itemgetter
from typing import TYPE_CHECKING, Any

from server.gcpause import cycle_collector_paused
from server.scoring.engine import validate
from server.scoring.messages import Message, MessageError, message, seq, text_of, why_of
from server.scoring.model import (
    Adjustment,
    Employee,
    Fact,
    GradeBand,
    GradeQuota,
    GradingMethod,
    Indicator,
    IndicatorKind,
    MissingPolicy,
    Problem,
    RuleSet,
    ScoreInput,
    TargetOverride,
    ValidationError,
)
from server.scoring.numbers import WORKBOOK_WHOLE_DIGITS, checked_decimal
from server.scoring.params import parse_params, parse_table
from server.scoring.rules import RULES, indicator_issues
from server.workbook.schema import TABLES, TableSpec, caption_parts, fold, match_column
from server.xlwire.snapshot import BookSnapshot, CellError, cell_address
from server.xlwire.textsafe import checked_text

if TYPE_CHECKING:
    import pandas as pd

SCORING_TABLES = ("kb_rules", "kb_roster", "kb_data")
"""Tables a workbook must have to be scored; the others fall back to defaults when absent."""


@dataclass(slots=True)
class TableFrame:
    """One kpibook table as found in the workbook, with where each value sits.

    `rows` are the table's non-blank body rows, the snapshot's own row lists (shared, never
    copied); `excel_rows[i]` is the 1-based Excel row of row `i`. `len(frame)` is the number
    of rows. A column is cut out of the rows on first use (`column`, `value`, `data`) in one
    C-level pass and kept, so columns nobody reads (the ones the server writes back, HR's
    notes) are never touched. (`frame` gives the same as a pandas DataFrame, built on first
    use: reading 100,000 cells one by one through pandas cost seconds, plain lists
    microseconds.) When the sheet is the server's copy of a sheet sent by digest, its
    columns are there already (`SheetSnapshot.columns`): a column is a slice of one.
    """

    spec: TableSpec
    sheet: str
    sheet_index: int
    header_row: int  # 0-based sheet row of the header
    first_col: int  # 0-based sheet column of the table's first column
    columns: dict[str, tuple[str, int]]  # key -> (caption as HR wrote it, 0-based sheet col)
    extra_columns: dict[str, int]  # HR's own columns: caption -> 0-based sheet col
    rows: list[list[object]]  # the non-blank body rows, whole sheet rows
    excel_rows: list[int]
    n_body_rows: int = 0  # data rows in the table, blank ones included
    # The sheet's own columns and the body's first sheet row, when `rows` are that sheet's
    # rows from there on, none left out (a stored copy without blank rows)
    sheet_columns: list[list[object]] | None = field(default=None, repr=False, compare=False)
    first_row: int = 0
    _columns: dict[str, list[object]] = field(default_factory=dict, repr=False, compare=False)
    _frame: Any = field(default=None, repr=False, compare=False)

    @property
    def data(self) -> dict[str, list[object]]:
        """key -> raw cell values (one per row) for every schema column found."""
        return {key: self.column(key) for key in self.columns}

    @property
    def name(self) -> str:
        return self.spec.name

    def __len__(self) -> int:
        return len(self.excel_rows)

    @property
    def frame(self) -> pd.DataFrame:
        """The table as a pandas DataFrame (object dtype, one column per key found)."""
        if self._frame is None:
            import pandas as pd

            data = self.data
            self._frame = pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in data.items()},
                                       columns=list(data), dtype=object)
        return self._frame

    def column(self, key: str) -> list[object]:
        """Raw values of column `key`, one per row (all None when the column is absent)."""
        values = self._columns.get(key)
        if values is None:
            values = self.passing_column(key)
            if key in self.columns:
                self._columns[key] = values
        return values

    def _cut(self, col: int) -> list[object]:
        """Sheet column `col` over the frame's rows."""
        source = self.sheet_columns
        if source is not None and col < len(source):
            return source[col][self.first_row: self.first_row + len(self.rows)]
        return _sheet_column(self.rows, col)

    def passing_column(self, key: str) -> list[object]:
        """`column(key)`, not kept when it was not cut out before: for a column read once
        (kb_data's periods, dates and statuses: 180,000 rows at 20,000 managers)."""
        values = self._columns.get(key)
        if values is not None:
            return values
        found = self.columns.get(key)
        if found is None:
            return [None] * len(self.excel_rows)
        return self._cut(found[1])

    def has(self, key: str) -> bool:
        return key in self.columns

    def caption(self, key: str) -> str:
        """The caption HR wrote for a column, or the template's caption when it is absent."""
        if key in self.columns:
            return self.columns[key][0]
        return self.spec.column(key).caption

    def cell(self, i: int, key: str) -> str | None:
        """A1 address of frame row `i`, column `key` (None when the column is absent)."""
        if key not in self.columns:
            return None
        return cell_address(self.excel_rows[i] - 1, self.columns[key][1])

    def value(self, i: int, key: str) -> object:
        """Raw value of row `i`, column `key`; None when the column is absent."""
        values = self._columns.get(key)
        if values is not None:
            return values[i]
        found = self.columns.get(key)
        if found is None:
            return None
        # Straight from the row: a few cells do not pay for cutting out the whole column.
        row, col = self.rows[i], found[1]
        return row[col] if len(row) > col else None

    def problem(self, i: int | None, key: str | None, why: Message | str,
                lang: str = "zh") -> Problem:
        """A problem located at frame row `i` (None: the whole table) and column `key`,
        worded in `lang`."""
        row = self.excel_rows[i] if i is not None else None
        column = self.caption(key) if key else None
        cell = self.cell(i, key) if i is not None and key else None
        return _problem(self.name, row, column, why, lang, sheet=self.sheet, cell=cell)


def _problem(table: str, row: int | None, column: str | None, why: Message | str, lang: str,
             **where: object) -> Problem:
    """A Problem whose message is `why` in `lang`, keeping `why` when it is a Message."""
    return Problem(table, row, column, text_of(why, lang), **where,  # type: ignore[arg-type]
                   why=why if isinstance(why, Message) else None)


def in_language(problem: Problem, lang: str) -> Problem:
    """The same problem with its message in `lang` (unchanged when it has no Message)."""
    if problem.why is None:
        return problem
    return replace(problem, message=problem.why.text(lang))


@dataclass(slots=True)
class Tables:
    """The kpibook tables of one workbook, and the problems found while locating them."""

    frames: dict[str, TableFrame] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def __contains__(self, name: str) -> bool:
        return name in self.frames

    def __getitem__(self, name: str) -> TableFrame:
        return self.frames[name]

    def get(self, name: str) -> TableFrame | None:
        return self.frames.get(name)


def _is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def read_tables(book: BookSnapshot, required: Iterable[str] = SCORING_TABLES,
                lang: str = "zh") -> Tables:
    """Locate every kpibook table in `book`; problems for missing tables and columns, worded
    in `lang` ("zh" or "en"; `to_score_input` re-words them in its own language).

    Tables not in `required` are read when present. A table whose required columns are missing
    is reported and left out of `frames`, so later steps never see a half-understood table.
    """
    with cycle_collector_paused():
        return _read_tables(book, tuple(required), lang)


def _read_tables(book: BookSnapshot, required: tuple[str, ...], lang: str) -> Tables:
    tables = Tables()
    for name, spec in TABLES.items():
        found = book.find_table(name)
        if found is None:
            if name in required:
                tables.problems.append(_problem(
                    name, None, None,
                    message("book.no_table", name=name, zh=spec.zh, en=spec.en), lang))
            continue
        sheet, table = found
        if table.header is None:
            tables.problems.append(_problem(
                name, None, None, message("book.hidden_header", name=name), lang,
                sheet=sheet.name))
            continue
        frame, problems = _read_table(spec, sheet.name, sheet.index, sheet, table, lang)
        tables.problems.extend(problems)
        if frame is not None:
            tables.frames[name] = frame
    return tables


def _read_table(spec, sheet_name, sheet_index, sheet, table, lang: str = "zh"
                ) -> tuple[TableFrame | None, list]:
    header_ref = table.header
    captions = sheet.block(header_ref)[0]
    columns: dict[str, tuple[str, int]] = {}
    extra: dict[str, int] = {}
    problems: list[Problem] = []
    for offset, caption in enumerate(captions):
        col = header_ref.col + offset
        text = "" if caption is None else str(caption).strip()
        column = match_column(spec, text) if text else None
        if column is None:
            extra[text or cell_address(header_ref.row, col)] = col
            continue
        if column.key in columns:
            first_caption, first_col = columns[column.key]
            problems.append(_problem(
                spec.name, header_ref.row + 1, text,
                message("book.both_mean", first=first_caption,
                        first_cell=cell_address(header_ref.row, first_col), second=text,
                        second_cell=cell_address(header_ref.row, col), caption=column.caption),
                lang, sheet=sheet_name, cell=cell_address(header_ref.row, col)))
            continue
        columns[column.key] = (text, col)
    for column in spec.columns:
        if column.required and column.key not in columns:
            accepted = seq(dict.fromkeys(
                (column.caption, column.zh, column.en, *column.aliases)), quoted=True)
            problems.append(_problem(
                spec.name, header_ref.row + 1, column.caption,
                message("book.no_column", name=spec.name, sheet=sheet_name,
                        caption=column.caption, accepted=accepted),
                lang, sheet=sheet_name))
    if problems:
        return None, problems

    body = table.body
    n_body = body.n_rows if body is not None else 0
    first = body.row if body is not None else 0
    rows = sheet.values[first: first + n_body]  # rows the client did not send are blank
    # HR's extra columns count too: a row with only a note in it is not blank.
    cols = [*(col for _, col in columns.values()), *extra.values()]
    # a stored copy's columns are as long as its rows, each row as wide as the widest
    copied = sheet.columns if sheet.columns is not None and len(rows) == n_body else None
    blank, first_column = _blank_rows(
        rows, cols, copied[cols[0]][first: first + n_body] if copied and cols
        and cols[0] < len(copied) else None)
    if blank:  # wholly blank rows are spacing, not data
        keep = [i for i in range(len(rows)) if i not in blank]
        rows = [rows[i] for i in keep]
        excel_rows = [first + 1 + i for i in keep]
    else:
        excel_rows = list(range(first + 1, first + 1 + len(rows)))
    frame = TableFrame(spec, sheet_name, sheet_index, header_ref.row, table.range.col,
                       columns, extra, rows, excel_rows, n_body,
                       sheet_columns=None if blank else copied, first_row=first)
    if not blank and columns and first_column is not None:
        # the first column, cut out to find blank rows, is the frame's column as it is
        frame._columns[next(iter(columns))] = first_column
    return frame, _text_problems(frame, lang)


# Tables the server reads from the workbook, and the String(n) columns (server/models.py)
# their text goes to; kb_scores and kb_summary are the server's own output.
_READ_TABLES = frozenset({"kb_meta", "kb_settings", "kb_rules", "kb_roster", "kb_targets",
                          "kb_data", "kb_adjustments"})
_KEY_LIMITS = {"employee_id": 50, "indicator": 50, "manager": 50}
_TEXT_LIMITS = {
    "kb_rules": {"code": 50, "unit": 20},
    "kb_roster": {"name": 200, "department": 200, "position": 200, "email": 200},
    "kb_data": {"field": 50, "unit": 20, "source": 50, "value": 200},
}
_MAX_TEXT_PROBLEMS = 20  # per column: the first ones locate the trouble
# The big tables' columns the server reads (the rest it writes back and never stores): a
# 5,000-manager kb_adjustments is 43,000 rows, and cutting out every column cost ~0.3 s.
_READ_COLUMNS = {
    "kb_data": frozenset({"employee_id", "indicator", "field", "value", "unit", "source"}),
    "kb_adjustments": frozenset({"employee_id", "indicator", "points", "reason"}),
}


def _text_problems(frame: TableFrame, lang: str) -> list[Problem]:
    """Every text cell of a table the server reads is text the database and git can hold
    (server/xlwire/textsafe.py `checked_text`: no NUL or other control character, line breaks
    allowed as Excel's Alt+Enter makes them; no longer than its column), or a located
    problem. A column that is fine is told so by its distinct texts, checked at once; only a
    column with a problem is walked cell by cell to locate it."""
    if frame.name not in _READ_TABLES:
        return []
    limits = {**_KEY_LIMITS, **_TEXT_LIMITS.get(frame.name, {})}
    problems: list[Problem] = []
    read = _READ_COLUMNS.get(frame.name)
    for key in frame.columns:
        if read is not None and key not in read:
            continue
        values = frame.column(key)
        try:  # a column's distinct texts are few (ids: the roster's; units, sources: a handful)
            distinct: list[object] = list(set(values))
        except TypeError:  # an unhashable cell, in a snapshot built in code
            distinct = values
        texts = _texts(distinct)
        limit = limits.get(key)
        try:
            checked_text("\n".join(texts))
            if limit is None or max(map(len, texts), default=0) <= limit:
                continue
        except ValueError:
            pass
        caption = frame.caption(key)
        for i, value in enumerate(values):
            if value.__class__ is not str:
                continue
            try:
                checked_text(value.strip(), caption, limit=limit)
            except ValueError as exc:
                problems.append(frame.problem(i, key, why_of(exc), lang))  # type: ignore[arg-type]
                if len(problems) >= _MAX_TEXT_PROBLEMS:
                    return problems
    return problems


def _texts(values: list[object]) -> list[str]:
    """The str cells of `values` (C speed)."""
    return list(compress(values, map(is_, map(type, values), repeat(str))))


def _has_blank(distinct: set[object]) -> bool:
    """Whether None or blank text is among a column's distinct values (C speed)."""
    return None in distinct or "" in distinct or any(map(str.isspace, _texts(list(distinct))))


def _sheet_column(rows: list[list[object]], col: int) -> list[object]:
    """Column `col` of `rows` (C speed); None where the client trimmed a row's trailing
    blanks."""
    try:
        return list(map(itemgetter(col), rows))
    except IndexError:
        return [row[col] if len(row) > col else None for row in rows]


def _blank_rows(rows: list[list[object]], cols: list[int], first: list[object] | None = None
                ) -> tuple[set[int], list[object] | None]:
    """Indexes of the rows whose cells in `cols` are all None or blank text, and column
    `cols[0]` of `rows` (None when `cols` is empty).

    When the first column has no blank value (the usual case: every row has its key) its
    distinct values tell so, found at C speed; otherwise each column only narrows down the
    rows still blank so far."""
    if not cols:
        return set(range(len(rows))), None
    if first is None:
        first = _sheet_column(rows, cols[0])
    try:
        if not _has_blank(set(first)):
            return set(), first
    except TypeError:  # an unhashable cell, in a snapshot built in code: look at every row
        pass
    candidates = [i for i, v in enumerate(first)
                  if v is None or (v.__class__ is str and not v.strip())]
    for col in cols[1:]:
        if not candidates:
            break
        candidates = [i for i in candidates
                      if (v := rows[i][col] if len(rows[i]) > col else None) is None
                      or (v.__class__ is str and not v.strip())]
    return set(candidates), first


def read_meta(tables: Tables) -> dict[str, str]:
    """kb_meta as plain strings (empty when the workbook has no metadata sheet)."""
    meta: dict[str, str] = {}
    frame = tables.get("kb_meta")
    if frame is None:
        return meta
    for i in range(len(frame)):
        key = frame.value(i, "key")
        if _is_blank(key) or isinstance(key, CellError):
            continue
        value = frame.value(i, "value")
        meta[str(key).strip()] = "" if value is None else _plain_text(value)
    return meta


def workbook_language(tables: Tables) -> str | None:
    """The settings table's Language ("zh"/"en"), None when not set or not recognised."""
    frame = tables.get("kb_settings")
    if frame is None:
        return None
    for i in range(len(frame)):
        if _lookup(SETTING_KEYS, frame.value(i, "key") or "") == "language":
            text = _folded(frame.value(i, "value"))
            if text.startswith(("zh", "中文", "cn")):
                return "zh"
            if text.startswith(("en", "英文")):
                return "en"
    return None


def _plain_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _folded(value: object) -> str:
    return fold(_plain_text(value)) if value is not None else ""


# --- cell conversion ---------------------------------------------------------------------

KIND_WORDS: dict[IndicatorKind, tuple[str, ...]] = {
    IndicatorKind.QUANTITATIVE: ("quantitative", "quant", "定量", "量化", "定量指标"),
    IndicatorKind.QUALITATIVE: ("qualitative", "qual", "定性", "定性指标", "评价"),
    IndicatorKind.BONUS: ("bonus", "加分", "加分项"),
    IndicatorKind.PENALTY: ("penalty", "扣分", "扣分项", "减分", "减分项"),
}
MISSING_WORDS: dict[MissingPolicy, tuple[str, ...]] = {
    MissingPolicy.BLOCK: ("block", "阻断", "不计总分", "暂停"),
    MissingPolicy.ZERO: ("zero", "记零", "计零", "零分", "记0分", "0"),
    MissingPolicy.EXCLUDE: ("exclude", "排除", "剔除", "不考核"),
}
GRADING_WORDS: dict[GradingMethod, tuple[str, ...]] = {
    GradingMethod.BANDS: ("bands", "分数段", "区间", "等级区间"),
    GradingMethod.FORCED: ("forced", "强制分布", "比例分布"),
}
RULE_WORDS: dict[str, tuple[str, ...]] = {
    "ratio": ("比率", "完成率", "达成率"),
    "reverse_ratio": ("反向比率", "反比"),
    "reverse_linear": ("反向线性",),
    "linear": ("线性", "线性插值"),
    "band": ("区间", "目标区间", "偏差区间"),
    "steps": ("阶梯", "分档", "档位"),
    "deduction": ("扣分", "按次扣分"),
    "rating": ("评级", "等级评价", "评分等级"),
    "stars": ("星级",),
    "per_item": ("按项", "逐项", "按次"),
    "points": ("点数", "直接得分", "分值"),
    "formula": ("公式",),
}
GROUP_WORDS = {"department": ("department", "dept", "部门"), "position": ("position", "岗位"),
               "scorecard": ("scorecard", "考核表", "全表"),
               "company": ("company", "公司", "全公司")}
STALE_WORDS = ("stale", "过期", "旧数据", "沿用")
LIST_SEPARATORS = re.compile(r"[,，;；、\n]+")

SETTING_KEYS: dict[str, tuple[str, ...]] = {
    "grading": ("grading", "grading method", "评级方式", "评级方法"),
    "grade_bands": ("grade bands", "bands", "等级分数线", "等级区间"),
    "quotas": ("quotas", "distribution quotas", "强制分布比例", "等级比例"),
    "distribution_group": ("distribution group", "分布分组", "排名分组"),
    "missing_default": ("missing data default", "missing default", "缺数据默认处理", "缺数据处理"),
    "total_cap": ("total cap", "总分封顶", "总分上限"),
    "language": ("language", "lang", "语言"),
    "weight_tolerance": ("weight tolerance", "权重容差"),
}


def _lookup(words: dict, value: object):
    """The key of `words` whose synonyms (or the key itself) match a cell, else None."""
    try:
        return _LOOKUPS[(id(words), value)]
    except (KeyError, TypeError):
        pass
    found = _lookup_uncached(words, value)
    if isinstance(value, str) and id(words) in _WORD_TABLES:
        if len(_LOOKUPS) > 10_000:  # cell texts are HR's: keep the memo bounded
            _LOOKUPS.clear()
        _LOOKUPS[(id(words), value)] = found
    return found


def _lookup_uncached(words: dict, value: object):
    wanted = set(caption_parts(_plain_text(value)))
    for key, names in words.items():
        if wanted & {fold(str(key)), *(fold(n) for n in names)}:
            return key
    return None


_STALE = {"stale": STALE_WORDS}
# The module's constant word tables, whose look-ups may be memoised by identity.
_WORD_TABLES = {id(t) for t in (KIND_WORDS, MISSING_WORDS, GRADING_WORDS, RULE_WORDS,
                                GROUP_WORDS, SETTING_KEYS, _STALE)}
_LOOKUPS: dict[tuple[int, object], object] = {}


def _known(words: dict) -> object:
    return seq(f"{key} ({'/'.join(n for n in names if not n.isascii())})"
               for key, names in words.items())


def _split_list(value: object) -> frozenset[str]:
    if _is_blank(value):
        return frozenset()
    return frozenset(p.strip() for p in LIST_SEPARATORS.split(_plain_text(value)) if p.strip())


class _Reader:
    """Converts cells of one TableFrame, collecting located problems instead of stopping."""

    def __init__(self, frame: TableFrame, problems: list[Problem], lang: str = "zh"):
        self.frame = frame
        self.problems = problems
        self.lang = lang

    def fail(self, i: int | None, key: str | None, why: Message | str, /,
             **params: object) -> None:
        """Report a problem at row `i`, column `key`: a catalogue key with its fields, or a
        Message."""
        if isinstance(why, str):
            why = message(why, **params)
        self.problems.append(self.frame.problem(i, key, why, self.lang))

    def raw(self, i: int, key: str) -> object:
        """The cell value; Excel error cells are reported here once and read as blank."""
        value = self.frame.value(i, key)
        if isinstance(value, CellError):
            self.fail(i, key, "cell.excel_error", code=value.code)
            return None
        return value

    def text(self, i: int, key: str, required: bool = False) -> str:
        value = self.raw(i, key)
        if _is_blank(value):
            if required and not isinstance(self.frame.value(i, key), CellError):
                self.fail(i, key, "cell.blank")
            return ""
        if isinstance(value, bool):
            return "TRUE" if value else "FALSE"
        return _plain_text(value)

    def number(self, i: int, key: str, required: bool = False) -> Decimal | None:
        value = self.raw(i, key)
        if _is_blank(value):
            if required and not isinstance(self.frame.value(i, key), CellError):
                self.fail(i, key, "cell.blank_number")
            return None
        if isinstance(value, datetime | date):
            self.fail(i, key, "cell.date_not_number", date=f"{value:%Y-%m-%d}")
            return None
        try:  # the one number check: finite, and fits Numeric(20, 6) once stored
            return checked_decimal(value, places=None, whole=WORKBOOK_WHOLE_DIGITS)
        except ValueError as exc:
            self.fail(i, key, "cell.expected_number", reason=why_of(exc))
            return None

    def when(self, i: int, key: str) -> datetime | None:
        """A date/time cell: a real date, an Excel serial number or ISO text."""
        value = self.raw(i, key)
        moment = _moment(value)
        if moment is _BAD:
            self.fail(i, key, "cell.not_a_date", value=_plain_text(value))
            return None
        return moment  # type: ignore[return-value]

    def period(self, i: int, key: str) -> str:
        """A period as "YYYY-MM": text, or a date cell that Excel made of "2026-10"."""
        value = self.raw(i, key)
        if _is_blank(value):
            return ""
        if isinstance(value, datetime | date):
            return f"{value:%Y-%m}"
        if isinstance(value, int | float) and not isinstance(value, bool):
            moment = self.when(i, key)
            return f"{moment:%Y-%m}" if moment else ""
        return _plain_text(value)


_EXCEL_EPOCH = datetime(1899, 12, 30)  # serial 1 = 1900-01-01 with Excel's leap-year bug
_BAD = object()  # a cell that the reader's method would report as a problem
_PLAIN_CELLS = (str, float, int, datetime, type(None))


def _moment(value: object) -> object:
    """`_Reader.when` without reporting: a datetime, None for blank, or _BAD."""
    if _is_blank(value):
        return None
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, int | float) and not isinstance(value, bool):
        if 1 <= value < 2958466:  # Excel's serial range, 1900-01-01 .. 9999-12-31
            return _EXCEL_EPOCH + timedelta(days=float(value))
    elif isinstance(value, str):
        try:
            return datetime.fromisoformat(value.strip().replace("/", "-"))
        except ValueError:
            pass
    return _BAD


def _clean_text(value: object) -> str | None:
    """What `_Reader.text` gives for a cell it has nothing to report about ("" for blank),
    or None for the cells it must look at itself (errors, dates, ...)."""
    cls = value.__class__
    if cls is str:
        return value.strip()  # type: ignore[attr-defined]
    if value is None:
        return ""
    if cls is float:
        return str(int(value)) if value.is_integer() else str(value)  # type: ignore[attr-defined]
    if cls is int:
        return str(value)
    return None


def period_text(value: object) -> str | None:
    """A kb_data period cell as the code it reads as ("" when blank; a date Excel made of
    "2026-10" reads "2026-10"), None when it cannot be read (an error, true/false)."""
    return _clean_period(value)


def _clean_period(value: object) -> str | None:
    """What `_Reader.period` gives for a cell it has nothing to report about, else None."""
    if value.__class__ is str or value is None:
        return _clean_text(value)
    if isinstance(value, datetime | date):
        return f"{value:%Y-%m}"
    if isinstance(value, int | float) and not isinstance(value, bool):
        moment = _moment(value)
        return None if moment is _BAD else f"{moment:%Y-%m}"
    return None


# --- clean tables -------------------------------------------------------------------------
# The big tables (kb_data above all) are nearly always clean. Each `_clean_*` reader reads a
# clean table and builds the engine's objects; at the first doubt (a blank key, an error or a
# date where text belongs, a value given twice, an unknown employee ...) it gives up and
# returns None, and the per-cell reader runs instead: every problem is reported by the same
# code, in the same words and order, as before.
#
# Each is read column by column: each distinct value is checked and converted once, ids and
# codes are checked with set operations, duplicates told by the size of a dict of keys, and
# the objects are built by zipping (or mapping over) the columns, at C speed. kb_data, the
# biggest table (45,000 rows at 5,000 managers), was read in one pass over its rows until
# 2026-12-08: a dozen column passes *inside that loop's structure* cost ~30 ms more, but
# without any Python work per row (`_clean_data`, `_data_values`) it takes ~60 ms instead
# of ~90 (docs/benchmarks.md).

_NONE_TYPE = type(None)
_TEXT_CELLS = frozenset({str, int, float, _NONE_TYPE})  # what `_clean_text` reads as text
_PLAIN_CLASSES = frozenset({str, int, float, datetime, _NONE_TYPE})  # = _PLAIN_CELLS
_UNMERGED = frozenset({str, datetime, _NONE_TYPE})  # no two of these are equal across classes


def _classes(column: list[object], distinct: set[object]) -> set[type]:
    """The classes of a column's cells. Those of its distinct values suffice unless numbers
    are among them: a set keeps one of True, 1 and 1.0, and a bool is a problem where a
    number is fine."""
    classes = set(map(type, distinct))
    if not classes <= _UNMERGED:
        classes = set(map(type, column))
    return classes


def _text_column(column: list[object]) -> tuple[list[str], set[str]] | None:
    """What `_clean_text` gives for each cell, and the distinct texts; None when a cell is
    not plain text or a number (an error, a date, TRUE ...: the per-cell reader decides).
    Equal numbers of two classes (1 and 1.0) read the same ("1"), so a set's one of them
    speaks for both."""
    distinct = set(column)
    classes = _classes(column, distinct)
    if not classes <= _TEXT_CELLS:
        return None
    if classes == {str}:  # the usual column: text, stripped at C speed
        values = list(distinct)
        stripped = list(map(str.strip, values))  # type: ignore[arg-type]
        if stripped == values:
            return column, distinct  # type: ignore[return-value]  # already stripped
        memo = dict(zip(values, stripped, strict=True))
    else:
        memo = {v: _clean_text(v) for v in distinct}
    return list(map(memo.__getitem__, column)), set(memo.values())  # type: ignore[arg-type]


def _key_column(frame: TableFrame, key: str, known: set[str] | None) -> list[str] | None:
    """A key column (employee id, indicator code) as text, when no cell is blank, none is
    anything but text or a number, and every one is in `known` (when given)."""
    found = _text_column(frame.column(key))
    if found is None:
        return None
    column, distinct = found
    if "" in distinct or (known is not None and not distinct <= known):
        return None
    return column


_NEGATIVE_ZERO_KEYS = ((float, 0.0),)


def _mapped(keys: list[tuple], convert: Callable[[tuple], object]) -> list[object] | None:
    """`convert` of each key ((class, cell) pairs), once per distinct key; None when it gives
    _BAD for any. -0.0 and 0.0 make one key but two Decimals: those cells are converted one
    by one."""
    memo = {k: convert(k) for k in set(keys)}
    if _BAD in memo.values():
        return None
    out = list(map(memo.__getitem__, keys))
    for zero in _NEGATIVE_ZERO_KEYS:
        if zero in memo:
            for i in compress(range(len(keys)), map(eq, keys, repeat(zero))):
                out[i] = convert(keys[i])
    return out


def _number_column(column: list[object]) -> list[object] | None:
    """`_number_reader` of each cell (a Decimal, or None for an empty cell); None when a cell
    would be reported. Keyed by class: Decimal(1) and Decimal("1.0") differ."""
    number = _number_reader()
    return _mapped(list(zip(map(type, column), column, strict=True)), lambda k: number(k[1]))


def _number_reader() -> Callable[[object], object]:
    """What `_Reader.number` gives for a cell with nothing to report: a Decimal, or None for
    an empty cell; _BAD for any other cell. Each distinct number is converted once (floats
    through repr, so 0.1 stays 0.1), which pays when one value fills a whole column."""
    floats: dict[float, Decimal] = {}
    ints: dict[int, Decimal] = {}

    def number(v: object) -> object:
        cls = v.__class__
        if cls is float:  # floats and ints apart: Decimal(1) and Decimal("1.0") differ
            found = floats.get(v)  # type: ignore[call-overload]
            if found is None:
                if v - v != 0 or not -_TOO_BIG < v < _TOO_BIG:  # type: ignore[operator]
                    return _BAD  # NaN, infinity, 1e308: `_Reader.number` reports it
                found = Decimal(repr(v))
                if v:  # 0.0 == -0.0 would share a key but not a repr
                    floats[v] = found  # type: ignore[index]
            return found
        if cls is int:
            found = ints.get(v)  # type: ignore[call-overload]
            if found is None:
                if not -_TOO_BIG < v < _TOO_BIG:  # type: ignore[operator]
                    return _BAD
                found = ints[v] = Decimal(v)  # type: ignore[arg-type]
            return found
        return None if v is None else _BAD

    return number


_TOO_BIG = 10 ** WORKBOOK_WHOLE_DIGITS  # what `checked_decimal` refuses in a workbook


def _first_rows(frame: TableFrame, keys: list[tuple], what: str, key_column: str,
                problems: list[Problem], lang: str = "zh") -> dict[tuple, int]:
    """Frame row of each key; a duplicate is reported naming both Excel rows. A None key (a
    row without one, e.g. an adjustment row nobody typed in) is skipped at C speed."""
    first: dict[tuple, int] = {}
    for i in compress(range(len(keys)), map(is_not, keys, repeat(None))):
        key = keys[i]
        if not all(key):
            continue
        if key in first:
            shown = " / ".join(key)
            problems.append(frame.problem(
                i, key_column,
                message("rows.twice", what=message(what), shown=shown,
                        first=frame.excel_rows[first[key]], second=frame.excel_rows[i]), lang))
            continue
        first[key] = i
    return first


@dataclass(slots=True)
class _Located:
    """Where engine objects came from, so engine problems can be pointed at a cell (and the
    language the contract words its problems in)."""

    lang: str = "zh"
    settings: dict[tuple, int] = field(default_factory=dict)
    rules: dict[tuple, int] = field(default_factory=dict)
    roster: dict[tuple, int] = field(default_factory=dict)
    targets: dict[tuple, int] = field(default_factory=dict)
    data: dict[tuple, int] = field(default_factory=dict)
    adjustments: dict[tuple, int] = field(default_factory=dict)


def to_score_input(tables: Tables, lang: str = "zh") -> ScoreInput:
    """Convert located tables into the engine's input, or raise every problem at once.

    Runs the engine's own `validate` too and points its problems at the rows they concern
    (a clean run is kept for the `engine.score` that follows: one engine run per click).
    Every problem is worded in `lang` ("zh" or "en"), those found by `read_tables` included.
    """
    with cycle_collector_paused():
        return _to_score_input(tables, lang)


def _to_score_input(tables: Tables, lang: str) -> ScoreInput:
    problems = [in_language(p, lang) for p in tables.problems]
    where = _Located(lang)
    meta = read_meta(tables)
    settings = _read_settings(tables.get("kb_settings"), problems, where)
    indicators = _read_rules(tables.get("kb_rules"), problems, where)
    employees = _read_roster(tables.get("kb_roster"), problems, where)
    codes = {ind.code: ind for ind in indicators}
    # References are checked against every code/id written down, even on rows with problems
    # of their own (so one typo is one problem), and only when that table was readable.
    known_codes = {key[0] for key in where.rules} if "kb_rules" in tables else None
    known_ids = {key[0] for key in where.roster} if "kb_roster" in tables else None
    overrides = _read_targets(tables.get("kb_targets"), known_codes, known_ids, problems, where)
    facts = _read_data(tables.get("kb_data"), codes, known_codes, known_ids,
                       meta.get("period", ""), problems, where)
    adjustments = _read_adjustments(tables.get("kb_adjustments"), known_codes, known_ids,
                                    problems, where)
    rules = RuleSet(indicators=tuple(indicators), **settings)
    inp = ScoreInput(rules, tuple(employees), facts if isinstance(facts, tuple) else tuple(facts),
                     tuple(overrides), tuple(adjustments))  # `_clean_data`: a tuple already
    if problems:
        # Every problem at once (issue #14): the engine's checks of what did parse go in the
        # same report, except those a cell problem already explains.
        problems += [_locate(p, tables, where) for p in _also_found(
            inp, problems, known_codes or set(), known_ids or set(), lang)]
        raise ValidationError(_in_sheet_order(problems))
    engine_problems = [_locate(p, tables, where) for p in validate(inp, lang)]
    if engine_problems:
        raise ValidationError(_in_sheet_order(engine_problems))
    return inp


# Engine problems about the whole of the roster or rules: a row of the rules table that could
# not be read makes them say nothing true (e.g. "nothing applies to M1001" when the rule that
# applies is the unreadable row).
_NEEDS_WHOLE_RULES = frozenset({"roster.nothing_applies"})


def _also_found(inp: ScoreInput, problems: list[Problem], written_codes: set[str],
                written_ids: set[str], lang: str) -> list[Problem]:
    """The engine's problems with the part of the workbook that could be read, less those a
    cell problem already explains: a table-wide problem (weights adding up, say) of a table
    with an unreadable row, and problems about an indicator or person whose own row could not
    be read (their data would otherwise all be "unknown"). None when a whole table could not
    be read (a missing column): then the cells come first."""
    if any(p.row is None or (p.why is not None and p.why.key.startswith("book."))
           for p in problems):
        return []  # a table that could not be read at all: everything would follow from it
    try:
        found = validate(inp, lang)
    except Exception:  # noqa: BLE001 - a partial input the engine cannot take: cells first
        return []
    broken_tables = {p.table for p in problems}
    lost_codes = written_codes - {i.code for i in inp.rules.indicators}
    lost_ids = written_ids - {e.employee_id for e in inp.employees}
    lost = lost_codes | lost_ids
    out = []
    for p in found:
        key = tuple(p.key or ())
        if not key and p.table in broken_tables:
            continue
        if lost & set(key):
            continue
        if "kb_rules" in broken_tables and p.why is not None and \
                p.why.key in _NEEDS_WHOLE_RULES:
            continue
        out.append(p)
    return out


_TABLE_ORDER = {name: n for n, name in enumerate(TABLES)}


def _in_sheet_order(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (_TABLE_ORDER.get(p.table, 99), p.row or 0))


def _read_settings(frame: TableFrame | None, problems: list[Problem], where: _Located
                   ) -> dict[str, object]:
    settings: dict[str, object] = {}
    if frame is None:
        return settings
    read = _Reader(frame, problems, where.lang)
    seen: dict[str, int] = {}
    for i in range(len(frame)):
        label = read.text(i, "key")
        if not label:
            continue
        key = _lookup(SETTING_KEYS, label)
        if key is None:
            read.fail(i, "key", "settings.unknown", label=label,
                      known=seq(names[-1] for names in SETTING_KEYS.values()))
            continue
        if key in seen:
            read.fail(i, "key", "settings.twice", label=label,
                      first=frame.excel_rows[seen[key]], second=frame.excel_rows[i])
            continue
        seen[key] = i
        where.settings[(_SETTING_FIELDS.get(key, key),)] = i
        raw = read.raw(i, "value")
        if _is_blank(raw):
            continue  # blank: the default applies
        try:
            value = _setting_value(key, raw)
        except ValueError as exc:
            read.fail(i, "value", why_of(exc))
            continue
        if value is not None:
            settings[_SETTING_FIELDS.get(key, key)] = value
    return settings


_SETTING_FIELDS = {"grading": "grading", "grade_bands": "bands", "quotas": "quotas",
                   "distribution_group": "distribution_group",
                   "missing_default": "missing_default", "total_cap": "total_cap",
                   "weight_tolerance": "weight_tolerance"}


def _setting_value(key: str, raw: object) -> object:
    """One settings value, parsed; ValueError with the reason when it cannot be."""
    text = _plain_text(raw)
    if key == "grading":
        method = _lookup(GRADING_WORDS, text)
        if method is None:
            raise MessageError("settings.unknown_grading", text=text,
                               known=_known(GRADING_WORDS))
        return method
    if key == "missing_default":
        policy = _lookup(MISSING_WORDS, text)
        if policy is None:
            raise MessageError("settings.unknown_missing", text=text,
                               known=_known(MISSING_WORDS))
        return policy
    if key == "distribution_group":
        group = _lookup(GROUP_WORDS, text)
        if group is None:
            raise MessageError("settings.unknown_group", text=text)
        return group
    if key in ("total_cap", "weight_tolerance"):
        return checked_decimal(raw, places=None, whole=WORKBOOK_WHOLE_DIGITS)
    if key == "grade_bands":
        return tuple(GradeBand(grade, score) for grade, score in parse_table("bands", text))
    if key == "quotas":
        pairs = parse_table("quotas", text)
        total = sum(share for _, share in pairs)
        scale = Decimal(1) if total <= Decimal("1.0001") else Decimal(100)  # 0.1 or 10%
        return tuple(GradeQuota(grade, share / scale) for grade, share in pairs)
    return None  # language is not engine input: see workbook_language


def _read_rules(frame: TableFrame | None, problems: list[Problem], where: _Located
                ) -> list[Indicator]:
    if frame is None:
        return []
    read = _Reader(frame, problems, where.lang)
    codes = [(read.text(i, "code", required=True),) for i in range(len(frame))]
    where.rules = _first_rows(frame, codes, "what.code", "code", problems, where.lang)
    parsed: list[tuple[int, dict]] = []
    for i in range(len(frame)):
        if where.rules.get(codes[i]) != i:
            continue  # blank or duplicate code, already reported
        row = _read_rule_row(read, i, codes[i][0])
        if row is not None:
            parsed.append((i, row))
    # Weights typed as a percent-formatted cell arrive as 0.3; all of them, or none, are.
    weighted = [r["weight"] for _, r in parsed if r["kind"] in _WEIGHTED and r["weight"]]
    as_fraction = bool(weighted) and sum(weighted) <= Decimal("1.0001")
    indicators: list[Indicator] = []
    for i, row in parsed:
        if as_fraction and row["kind"] in _WEIGHTED:
            row["weight"] = row["weight"] * 100
        ind = Indicator(**row)
        issues = indicator_issues(ind)
        for column, why in issues:
            # the engine names the column a parameter would have; fall back to Parameters
            key = next((k for k in (column, "params", "rule") if frame.has(k)), None)
            read.fail(i, key, why)
        if not issues:
            indicators.append(ind)
    return indicators


_WEIGHTED = (IndicatorKind.QUANTITATIVE, IndicatorKind.QUALITATIVE)


def _read_rule_row(read: _Reader, i: int, code: str) -> dict | None:
    """The keyword arguments of one Indicator, or None when a cell is wrong (reported)."""
    before = len(read.problems)
    name = read.text(i, "name", required=True)
    kind_text = read.text(i, "kind", required=True)
    kind = _lookup(KIND_WORDS, kind_text) if kind_text else None
    if kind_text and kind is None:
        read.fail(i, "kind", "rules.unknown_kind", text=kind_text, known=_known(KIND_WORDS))
    weight = read.number(i, "weight", required=kind in _WEIGHTED)
    if weight is not None and weight < 0:
        read.fail(i, "weight", "rules.weight_negative")
    source = read.text(i, "source", required=True).lower()
    rule_text = read.text(i, "rule", required=True)
    rule = _rule_name(rule_text) if rule_text else None
    if rule_text and rule is None:
        read.fail(i, "rule", "rules.unknown_rule", text=rule_text, known=seq(RULES))
    params: dict[str, object] = {}
    params_text = read.text(i, "params")
    if params_text:
        try:
            params = parse_params(params_text)
        except ValueError as exc:
            read.fail(i, "params", "rules.bad_params", reason=why_of(exc))
    for key in ("target", "floor", "cap"):
        value = read.number(i, key)
        if value is None:
            continue
        if key in params and params[key] != value:
            read.fail(i, key, "rules.param_conflict", key=key, value=value, other=params[key])
        params[key] = value
    missing_text = read.text(i, "missing")
    missing = _lookup(MISSING_WORDS, missing_text) if missing_text else None
    if missing_text and missing is None:
        read.fail(i, "missing", "settings.unknown_missing", text=missing_text,
                  known=_known(MISSING_WORDS))
    max_up = read.number(i, "adjust_max_up")
    max_down = read.number(i, "adjust_max_down")
    if len(read.problems) > before:
        return None
    return dict(
        code=code, name=name, kind=kind, source=source, rule=rule, params=params,
        weight=weight if weight is not None and kind in _WEIGHTED else Decimal(0),
        departments=_split_list(read.raw(i, "departments")),
        positions=_split_list(read.raw(i, "positions")),
        missing=missing, unit=read.text(i, "unit"),
        adjust_roles=_split_list(read.raw(i, "adjust_by")),
        adjust_max_up=max_up, adjust_max_down=abs(max_down) if max_down is not None else None,
    )


def _rule_name(text: str) -> str | None:
    folded = fold(text)
    for name in RULES:
        if folded == fold(name):
            return name
    found = _lookup(RULE_WORDS, text)
    return found if found in RULES else None


def _employee_id(read: _Reader, i: int, key: str = "employee_id") -> str:
    """Employee ids are text: 1001 typed as a number and "1001" are the same person."""
    return read.text(i, key, required=True)


def _read_roster(frame: TableFrame | None, problems: list[Problem], where: _Located
                 ) -> list[Employee]:
    if frame is None:
        return []
    try:
        clean = _clean_roster(frame, where)
    except TypeError:  # an unhashable cell (a snapshot built in code): the reader decides
        clean = None
    if clean is not None:
        return clean
    read = _Reader(frame, problems, where.lang)
    ids = [(_employee_id(read, i),) for i in range(len(frame))]
    where.roster = _first_rows(frame, ids, "what.employee", "employee_id", problems, where.lang)
    employees = []
    for i in range(len(frame)):
        name = read.text(i, "name", required=True)
        department = read.text(i, "department", required=True)
        if ids[i][0] and name and department and where.roster.get(ids[i]) == i:
            employees.append(Employee(ids[i][0], name, department, read.text(i, "position"),
                                      read.text(i, "email")))
    return employees


def _clean_roster(frame: TableFrame, where: _Located) -> list[Employee] | None:
    """`_read_roster` of a roster with nothing to report; None otherwise."""
    ids = _key_column(frame, "employee_id", None)
    if ids is None:
        return None
    columns = [ids]
    for key, required in (("name", True), ("department", True), ("position", False),
                          ("email", False)):
        found = _text_column(frame.column(key))
        if found is None or (required and "" in found[1]):
            return None  # a blank or non-text cell
        columns.append(found[0])
    first = dict(zip(zip(ids), range(len(ids)), strict=True))
    if len(first) != len(ids):
        return None  # an employee listed twice
    where.roster = first
    return list(map(Employee, *columns))


def _check_refs(read: _Reader, i: int, employee_id: str, code: str,
                codes: dict | None, ids: set | None) -> bool:
    ok = True
    if ids is not None and employee_id and employee_id not in ids:
        read.fail(i, "employee_id", "refs.no_employee", eid=employee_id)
        ok = False
    if codes is not None and code and code not in codes:
        read.fail(i, "indicator", "refs.no_indicator", code=code)
        ok = False
    return ok and bool(employee_id) and bool(code)


def _read_targets(frame, codes, ids, problems, where) -> list[TargetOverride]:
    if frame is None:
        return []
    try:
        clean = _clean_targets(frame, codes, ids, where)
    except TypeError:  # an unhashable cell (a snapshot built in code): the reader decides
        clean = None
    if clean is not None:
        return clean
    read = _Reader(frame, problems, where.lang)
    keys = [(_employee_id(read, i), read.text(i, "indicator", required=True))
            for i in range(len(frame))]
    where.targets = _first_rows(frame, keys, "what.target", "indicator", problems, where.lang)
    overrides = []
    for i, (employee_id, code) in enumerate(keys):
        params = {k: v for k in ("target", "floor", "cap")
                  if (v := read.number(i, k)) is not None}
        if _check_refs(read, i, employee_id, code, codes, ids) and params \
                and where.targets.get(keys[i]) == i:
            overrides.append(TargetOverride(employee_id, code, params))
    return overrides


def _clean_targets(frame: TableFrame, codes: set[str] | None, ids: set[str] | None,
                   where: _Located) -> list[TargetOverride] | None:
    """`_read_targets` of a table with nothing to report; None otherwise."""
    eids = _key_column(frame, "employee_id", ids)
    code_col = _key_column(frame, "indicator", codes) if eids is not None else None
    if eids is None or code_col is None:
        return None  # a blank, non-text or unknown key
    first = dict(zip(zip(eids, code_col, strict=True), range(len(eids)), strict=True))
    if len(first) != len(eids):
        return None  # a target given twice
    given = []  # (key, its numbers) for the columns with any number in them
    for key in _TARGET_KEYS:
        if not frame.has(key):
            continue
        numbers = _number_column(frame.column(key))
        if numbers is None:
            return None
        if any(map(is_not, numbers, repeat(None))):
            given.append((key, numbers))
    overrides = []
    if len(given) == 1:  # the usual table: personal targets only, no dict built per key
        key, numbers = given[0]
        typed = compress(zip(eids, code_col, numbers, strict=True),
                         map(is_not, numbers, repeat(None)))
        overrides = [TargetOverride(eid, code, {key: value}) for eid, code, value in typed]
    elif given:
        names = [key for key, _ in given]
        given_columns = (numbers for _, numbers in given)
        for eid, code, *cells in zip(eids, code_col, *given_columns, strict=True):
            params = {k: v for k, v in zip(names, cells, strict=True) if v is not None}
            if params:
                overrides.append(TargetOverride(eid, code, params))
    where.targets = first
    return overrides


_TARGET_KEYS = ("target", "floor", "cap")
_DATA_KEYS = ("employee_id", "indicator", "field", "fetched_at", "period", "value", "status",
              "source")


def _clean_data(frame: TableFrame, indicators: dict[str, Indicator], codes: set[str] | None,
                ids: set[str] | None, period: str, where: _Located) -> tuple[Fact, ...] | None:
    """`_read_data` of a table with nothing to report; None otherwise.

    Column by column, no object per row until the facts: keys through `_key_column` (a
    distinct-value map, set differences for unknown ids and codes), a value given twice by
    the size of the key dict, dates, periods, statuses and sources checked once per
    distinct cell, numbers converted once per distinct number. A check made on every row
    where `_read_data` makes it only on the rows that become facts (status, source) can
    only send more tables to the per-cell reader, never let a problem through."""
    n = len(frame)
    eids = _key_column(frame, "employee_id", ids)
    code_col = _key_column(frame, "indicator", codes) if eids is not None else None
    found = _text_column(frame.column("field")) if code_col is not None else None
    if eids is None or code_col is None or found is None:
        return None  # a blank, non-text or unknown key, or a field that is not text
    names, distinct_names = found
    if "" in distinct_names:  # no field: the measured value
        names = [name or "actual" for name in names]
    first = dict(zip(zip(eids, code_col, names, strict=True), range(n), strict=True))
    if len(first) != n:
        return None  # a value given twice
    if frame.has("fetched_at") and not _fine_cells(frame.passing_column("fetched_at"),
                                                   _fine_moment):
        return None
    if not _fine_cells(frame.passing_column("period"), partial(_fine_period, period)):
        return None
    values = _data_values(frame.column("value"), list(map(_rule_kinds(indicators).get,
                                                          code_col)))
    if values is None:
        return None
    sources = _text_column(frame.column("source"))
    statuses = _text_column(frame.passing_column("status"))
    if sources is None or statuses is None:
        return None  # an error, a date, TRUE ...: the reader decides
    stale_of = {text: bool(text) and _lookup(_STALE, text) == "stale" for text in statuses[1]}
    # iterators, not lists: 180,000 rows at 20,000 managers, and the facts hold it all
    columns: list[Iterable] = [eids, code_col, values, names, sources[0],
                               map(stale_of.__getitem__, statuses[0])]
    if any(map(is_, values, repeat(None))):  # not `None in values`: a Decimal compared
        # with None asks numbers.Rational. Blank values, or rows of a rule that could not
        # be read: no fact.
        keep = list(map(is_not, values, repeat(None)))
        columns = [compress(column, keep) for column in columns]
    where.data = first
    return tuple(map(Fact, *columns))  # at C speed: no Python frame per fact


def _fine_cells(column: list[object], fine: Callable[[object], bool]) -> bool:
    """Whether `fine` holds for every cell of a column of plain cells, asked once per
    distinct cell (equal numbers give the same date or period whatever their class)."""
    distinct = set(column)
    return _classes(column, distinct) <= _PLAIN_CLASSES and all(map(fine, distinct))


def _fine_moment(cell: object) -> bool:
    return _moment(cell) is not _BAD


def _fine_period(period: str, cell: object) -> bool:
    row_period = _clean_period(cell)
    return row_period is not None and not (period and row_period and row_period != period)


def _rule_kinds(indicators: dict[str, Indicator]) -> dict[str, bool]:
    """Indicator code -> whether its values are ratings (labels, not numbers)."""
    return {code: ind.rule == "rating" for code, ind in indicators.items()}


_VALUE_CELLS = frozenset({float, int, str, _NONE_TYPE})


def _data_values(column: list[object], ratings: list[bool | None]) -> list[object] | None:
    """The value of each kb_data row as `_read_data` reads it -- a Decimal, a rating's label,
    or None for no fact (a blank cell; a row whose indicator's rule could not be read, whose
    cell is not even looked at: `ratings[i]` is None) -- or None when a cell would be
    reported. `ratings[i]`: whether row i's indicator is a rating.

    Numbers are converted once per distinct number (a month's 45,000 values hold ~7,500
    distinct ones), by one memo per class of cell (1 and 1.0 are one key of a dict but two
    Decimals), each cell looked up in its class's memo at C speed."""
    kinds = list(map(type, column))
    classes = set(kinds)
    if not classes <= _VALUE_CELLS:
        return None  # an error, a date, TRUE ...: the reader decides
    number = _number_reader()
    memos: dict[type, dict[object, object]] = {}
    for cls in classes:
        cells = set(column) if len(classes) == 1 else set(
            compress(column, map(is_, kinds, repeat(cls))))
        memos[cls] = {cell: number(cell) for cell in cells}
    getters = {cls: memo.__getitem__ for cls, memo in memos.items()}
    numbers = list(map(call, map(getters.__getitem__, kinds), column))
    if 0.0 in memos.get(float, ()):  # -0.0 and 0.0 make one key but two Decimals
        for i in compress(range(len(column)), map(eq, column, repeat(0.0))):
            numbers[i] = number(column[i])  # (an int 0 reads the same either way)
    rows = range(len(column))
    if True in ratings:  # labels (a few rows: only the rating indicators')
        for i in compress(rows, map(is_, ratings, repeat(True))):
            numbers[i] = _rating_value(column[i])
    if None in ratings:
        for i in compress(rows, map(is_, ratings, repeat(None))):
            numbers[i] = None
    values = numbers
    if any(map(is_, values, repeat(_BAD))):
        return None  # text where a number belongs, NaN, too big ...: the reader decides
    return values


def _rating_value(cell: object) -> object:
    """`_fact_value` of a rating cell with nothing to report: its label, None when blank;
    _BAD for an error, a date ..."""
    text = _clean_text(cell)
    return _BAD if text is None else text or None


def _read_data(frame, indicators, codes, ids, period, problems, where) -> Sequence[Fact]:
    if frame is None:
        return []
    try:
        clean = _clean_data(frame, indicators, codes, ids, period, where)
    except TypeError:  # an unhashable cell (a snapshot built in code): the reader decides
        clean = None
    if clean is not None:
        return clean
    read = _Reader(frame, problems, where.lang)
    # The biggest table (one row per person x indicator x field): every column is read once
    # as a list, and a cell goes through the reader's per-cell methods (which report
    # problems) only when it is not plainly fine, so problems come out exactly as before.
    id_col, code_col, field_col = (frame.column(k) for k in ("employee_id", "indicator",
                                                             "field"))
    keys = []
    for i, (eid, code, name) in enumerate(zip(id_col, code_col, field_col, strict=True)):
        eid = eid.strip() if eid.__class__ is str else _clean_text(eid)
        code = code.strip() if code.__class__ is str else _clean_text(code)
        name = name.strip() if name.__class__ is str else _clean_text(name)
        if eid and code and name is not None:
            keys.append((eid, code, name or "actual"))
        else:
            keys.append((_employee_id(read, i), read.text(i, "indicator", required=True),
                         read.text(i, "field") or "actual"))
    where.data = _first_rows(frame, keys, "what.value", "indicator", problems, where.lang)
    first_row = where.data
    has_fetched = frame.has("fetched_at")
    fetched_col, period_col, value_col, status_col, source_col = (
        frame.column(k) for k in ("fetched_at", "period", "value", "status", "source"))
    fine_moments: set[object] = set()  # fetched_at values already seen to be dates
    periods: dict[object, str] = {}  # period cell -> "YYYY-MM"
    stale_of: dict[str, bool] = {}  # status text -> stale?
    facts = []
    for i, (employee_id, code, field_name) in enumerate(keys):
        ok = _check_refs(read, i, employee_id, code, codes, ids)
        if has_fetched:
            moment = fetched_col[i]
            if moment.__class__ not in _PLAIN_CELLS:  # bool (True == 1), errors, ...
                read.when(i, "fetched_at")
            elif moment not in fine_moments:
                if _moment(moment) is _BAD:
                    read.when(i, "fetched_at")
                else:
                    fine_moments.add(moment)
        cell = period_col[i]
        plain = cell.__class__ in _PLAIN_CELLS
        row_period = periods.get(cell) if plain else None
        if row_period is None:
            row_period = _clean_period(cell)
            if row_period is None:
                row_period = read.period(i, "period")
            elif plain:
                periods[cell] = row_period
        if period and row_period and row_period != period:
            read.fail(i, "period", "data.wrong_period", row_period=row_period, period=period)
            ok = False
        ind = indicators.get(code)
        if ind is None:
            continue  # unknown code (reported) or unreadable rules: the value's type is unknown
        raw = value_col[i]
        cls = raw.__class__
        if cls is float and raw - raw == 0 and ind.rule != "rating":  # finite
            value: object = Decimal(repr(raw))  # as read.number would: 0.1 stays 0.1
        elif cls is int and ind.rule != "rating":
            value = Decimal(raw)
        else:
            value = _fact_value(read, i, ind)
        if value is None or not ok or first_row.get(keys[i]) != i:
            continue  # blank value: missing data, handled by the indicator's policy
        status = status_col[i]
        status = status.strip() if status.__class__ is str else _clean_text(status)
        if status is None:
            status = read.text(i, "status")
        stale = stale_of.get(status)
        if stale is None:
            stale = stale_of[status] = bool(status) and _lookup(_STALE, status) == "stale"
        source = source_col[i]
        source = source.strip() if source.__class__ is str else _clean_text(source)
        if source is None:
            source = read.text(i, "source")
        facts.append(Fact(employee_id, code, value, field_name, source, stale))
    return facts


def _fact_value(read: _Reader, i: int, ind: Indicator) -> Decimal | str | None:
    """Ratings stay labels ("A"), stars may be "★★★☆☆"; everything else is a number."""
    if ind.rule == "rating":
        return read.text(i, "value") or None
    raw = read.frame.value(i, "value")  # not read.raw: that would report an error cell twice
    if ind.rule == "stars" and isinstance(raw, str) and raw.strip() and set(raw.strip()) <= {
            "★", "☆"}:
        return raw.strip()
    return read.number(i, "value")


def _read_adjustments(frame, codes, ids, problems, where) -> list[Adjustment]:
    if frame is None:
        return []
    read = _Reader(frame, problems, where.lang)
    adjustments = []
    points_col, reason_col = frame.column("points"), frame.column("reason")
    # Rows are pre-generated for every (employee, indicator); most are the usual row nobody
    # typed in (no points, no error in the reason): no change, and only the others are read.
    keys: list[tuple | None] = [None] * len(frame)
    rows: Iterable[int] = range(len(frame))
    if not any(map(isinstance, reason_col, repeat(CellError))):  # at C speed, as below
        rows = compress(rows, map(is_not, points_col, repeat(None)))  # points not empty
    typed = [i for i in rows
             if not (((cell := points_col[i]) is None
                      or (cell.__class__ is str and not cell.strip())
                      or (cell.__class__ in (int, float) and cell == 0))
                     and not isinstance(reason_col[i], CellError))]
    for i in typed:
        points = read.number(i, "points")
        reason = read.text(i, "reason")
        if not points:  # rows are pre-generated for every indicator; blank or 0 is no change
            continue
        key = keys[i] = (_employee_id(read, i), read.text(i, "indicator", required=True))
        if not reason:
            read.fail(i, "reason", "adjust.reason_needed", points=points)
        if _check_refs(read, i, *key, codes, ids) and reason:
            adjustments.append((i, Adjustment(key[0], key[1], points, reason)))
    where.adjustments = _first_rows(frame, keys, "what.adjustment", "indicator", problems,
                                    where.lang)
    return [adj for i, adj in adjustments if where.adjustments.get(keys[i]) == i]


def _locate(problem: Problem, tables: Tables, where: _Located) -> Problem:
    """Fill in sheet, row, caption and cell for an engine problem from its key."""
    frame = tables.get(problem.table)
    if problem.row is not None or frame is None:
        return problem
    column = problem.column if problem.column in frame.spec.keys else None
    key = tuple(problem.key or ())
    rows = {"kb_settings": where.settings, "kb_rules": where.rules, "kb_roster": where.roster,
            "kb_targets": where.targets, "kb_data": where.data,
            "kb_adjustments": where.adjustments}.get(problem.table, {})
    if problem.table == "kb_data" and len(key) >= 2:
        key = (key[0], key[1], key[2] if len(key) > 2 else "actual")
    elif problem.table in ("kb_targets", "kb_adjustments"):
        key = key[:2]
    i = rows.get(key) if key else None
    if i is None:  # a table-level problem, e.g. weights not adding up to 100
        caption = frame.caption(column) if column else problem.column
        return replace(problem, sheet=frame.sheet, column=caption)
    located = frame.problem(i, column if column in frame.columns else None,
                            problem.why or problem.message, where.lang)
    return replace(located, column=located.column or problem.column, key=problem.key)
