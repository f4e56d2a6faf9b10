"""Periods: creation from the New-period button, lookup by the workbook's kb_meta, state rules."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import weakref
from collections.abc import Mapping
from decimal import Decimal
from enum import Enum
from operator import attrgetter

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models import Period, PeriodState, Template, User
from server.periodcode import PeriodCodeError, month_of, parse_period_code
from server.scoring.model import ScoreInput
from server.services.errors import BadRequest, Conflict

# States in which a button may be used at all (closed periods are frozen); what each
# state freezes in detail is server/workflow.py's ALLOWED_IN.
WRITABLE = tuple(s.value for s in PeriodState if s != PeriodState.CLOSED)


def to_jsonable(obj: object) -> object:
    """Engine dataclasses -> JSON-safe data. Decimals become strings (no float rounding)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, Decimal):
        return str(obj)
    if isinstance(obj, (dt.date, dt.datetime)):
        return obj.isoformat()
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (frozenset, set)):
        return sorted(to_jsonable(v) for v in obj)  # type: ignore[type-var]
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    return obj


# The digest of each live ScoreInput, by identity: the Score button digests the workbook's
# input to compare it with the record, then stores the run of that same object (when no
# adjustment of record differs) with its digest again (~30 ms at 5,000 managers). Dropped
# when the input is collected, so an id is never reused for another input (as the engine's
# kept runs, server/scoring/engine.py _SCORED); inputs are immutable.
_INPUT_DIGESTS: dict[int, str] = {}


def digest(obj: object) -> str:
    """sha256 of `obj` as canonical JSON (`fingerprint_json`). A fingerprint only, which
    nothing re-derives: runs stored before 2026-12 carry digests of an earlier spelling
    (`to_jsonable` with sorted keys)."""
    if obj.__class__ is not ScoreInput:
        return hashlib.sha256(fingerprint_json(obj)).hexdigest()
    key = id(obj)
    found = _INPUT_DIGESTS.get(key)
    if found is None:
        found = hashlib.sha256(fingerprint_json(obj)).hexdigest()
        if _INPUT_DIGESTS.setdefault(key, found) is found:
            weakref.finalize(obj, _INPUT_DIGESTS.pop, key, None)
    return found


def fingerprint_json(obj: object) -> bytes:
    """`obj` as compact UTF-8 JSON, every value of `to_jsonable(obj)` in a fixed order:
    dataclasses by field (declaration order), a sequence of one dataclass as its field names
    and a row of values per item, dict keys sorted, Decimals and dates as text, sets as
    sorted lists. Rows because orjson writes a tuple ~10x faster than a slotted dataclass:
    45,000 facts took 53 ms (issue #3)."""
    return orjson.dumps(_rows_of_records(obj), default=_fingerprint_default,
                        option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)


def _rows_of_records(obj: object) -> object:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _rows_of_records(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (tuple, list)) and obj and len(kinds := set(map(type, obj))) == 1:
        (kind,) = kinds
        if dataclasses.is_dataclass(kind):
            names = [f.name for f in dataclasses.fields(kind)]
            pick = attrgetter(*names) if len(names) > 1 else (lambda item: (getattr(
                item, names[0]),))
            return {"fields": names, "rows": list(map(pick, obj))}
    return obj


def _fingerprint_default(value: object) -> object:
    # orjson calls this only for what it cannot write itself: ~50,000 Decimals for a
    # 5,000-manager input, at C speed around them (the dataclass walk of `to_jsonable` cost
    # 150 ms per Score there, issue #3).
    if value.__class__ is Decimal:
        return str(value)
    if isinstance(value, (frozenset, set)):
        return sorted(value)
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"not part of a fingerprint: {type(value).__name__}")


def current_month(time_zone: str = "Asia/Shanghai", now: dt.datetime | None = None) -> str:
    """This month's code in the company's time zone (KPIBOOK_TIMEZONE): what the task pane
    offers for New period. At 16:30 UTC on 31 October it is already 2026-11 in Shanghai."""
    from zoneinfo import ZoneInfo

    moment = now or dt.datetime.now(dt.UTC)
    return month_of(moment.astimezone(ZoneInfo(time_zone)).date())


def valid_code(text: object, lang: str | None = None, *,
               what: tuple[str, str] | None = None) -> str:
    """`text` as a period code (server/periodcode.py), or 400 saying why: in `lang`, or in
    both languages (Chinese line first, as the web pages word errors) when it is None.
    `what` = (zh, en) names where the code came from, e.g. the workbook's kb_meta."""
    try:
        return parse_period_code(text).code
    except PeriodCodeError as exc:
        zh, en = exc.why.text("zh"), exc.why.text("en")
        if what:
            zh, en = f"{what[0]}：{zh}", f"{what[1]}: {en}"
        raise BadRequest(zh if lang == "zh" else en if lang else f"{zh}\n{en}") from None


def bad_codes(session: Session) -> list[tuple[Period, str]]:
    """Periods stored before codes were checked whose code is not one, with the reason in
    English (`kpibook verify` and the periods page report them; they cannot be opened)."""
    out = []
    for period in session.scalars(select(Period).order_by(Period.id)):
        try:
            parse_period_code(period.code)
        except PeriodCodeError as exc:
            out.append((period, str(exc)))
    return out


IN_KB_META = ("工作簿的考核期间（kb_meta 表的 period）", "The workbook's period (kb_meta period)")


def find_period(session: Session, code: str) -> Period | None:
    return session.scalar(select(Period).where(Period.code == code))


def require_period(session: Session, code: str, lang: str, *, writable: bool = True) -> Period:
    """The workbook's period; 400 when kb_meta's code is not a period code, 409 when it is
    unknown (New period not pressed) or closed."""
    if not code:
        raise Conflict(
            "工作簿尚未关联考核期间：请先点击「新建期间」。" if lang == "zh" else
            "The workbook is not linked to a period yet: press 'New period' first.")
    code = valid_code(code, lang, what=IN_KB_META)
    period = find_period(session, code)
    if period is None:
        raise Conflict(
            f"服务器上没有期间 {code}：请先点击「新建期间」。" if lang == "zh" else
            f"Period {code} does not exist on the server: press 'New period' first.")
    if writable and period.state not in WRITABLE:
        raise Conflict(
            f"期间 {code} 已关闭（状态 {period.state}），不能再修改。" if lang == "zh" else
            f"Period {code} is {period.state}; it can no longer be changed.")
    return period


def check_binding(period: Period, given: str, workbook_period: str, lang: str) -> None:
    """Refuse a workbook not bound to `period` by the server (409, naming both): its kb_meta
    binding must be the one the server issued when the period was created. A workbook
    without one (made before bindings, or with the key removed) is bound by New period."""
    from server.scoring.messages import msg

    given = (given or "").strip()
    if given == period.binding:
        return
    if not given:
        raise Conflict(msg("binding.missing", lang, period=workbook_period))
    raise Conflict(msg("binding.other", lang, period=workbook_period))


def open_period(session: Session, code: str, template_code: str, user: User, lang: str,
                rules: Mapping[str, object] | None = None) -> tuple[Period, bool]:
    """Create the period, or return the existing one when it is still open for the same
    template (pressing New period twice is harmless). Returns (period, created)."""
    code = valid_code(code, lang)
    template = session.scalar(select(Template).where(Template.code == template_code)) \
        if template_code else None
    period = find_period(session, code)
    if period is not None:
        if period.state not in WRITABLE:
            raise Conflict(
                f"期间 {code} 已关闭，不能重新创建。" if lang == "zh" else
                f"Period {code} is closed; it cannot be created again.")
        if template_code and period.template_code and period.template_code != template_code:
            raise Conflict(
                f"期间 {code} 已使用模板 {period.template_code} 创建，与本工作簿的模板 "
                f"{template_code} 不同。" if lang == "zh" else
                f"Period {code} already exists with template {period.template_code}, not "
                f"this workbook's template {template_code}.")
        return period, False
    snapshot = dict(rules) if rules else (dict(template.rules) if template else {})
    period = Period(code=code, template=template, template_code=template_code,
                    state=PeriodState.OPEN.value, lang=lang, rules=snapshot,
                    created_by=user.name)
    session.add(period)
    session.flush()
    return period, True
