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

from server.models import Period, PeriodState, Template, User, scorecard_code
from server.periodcode import PeriodCodeError, month_of, parse_period_code
from server.scoring.messages import both, msg, word
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
        found = hashlib.sha256(_input_fingerprint(obj)).hexdigest()
        if _INPUT_DIGESTS.setdefault(key, found) is found:
            weakref.finalize(obj, _INPUT_DIGESTS.pop, key, None)
    return found


# The JSON of the last digested input's parts, by part: (a weak reference to that input,
# part name -> bytes). The Score button digests the workbook's input, then stores the run
# of that input with the adjustments of record (`dataclasses.replace`: the same rules,
# roster and facts objects), whose digest then reuses the unchanged parts' JSON instead of
# writing 45,000 facts again (~45 ms at 5,000 managers). One input's parts only (a few MB),
# dropped with that input; a part is reused only when it is the very same object as the
# living input's, so no id can have been reused. One tuple, replaced whole (threads).
_LAST_PARTS: tuple[weakref.ref | None, dict[str, bytes]] = (None, {})
_REUSED = ("employees", "facts", "overrides", "rules")


def _input_fingerprint(inp: ScoreInput) -> bytes:
    """Exactly `fingerprint_json(inp)` (tested), from the JSON of each of its fields, the
    unchanged ones of the last digested input reused."""
    global _LAST_PARTS
    ref, parts = _LAST_PARTS
    before = ref() if ref is not None else None
    mine: dict[str, bytes] = {}
    pieces = []
    for name in sorted(f.name for f in dataclasses.fields(ScoreInput)):  # OPT_SORT_KEYS
        value = getattr(inp, name)
        piece = parts.get(name) if before is not None and getattr(before, name) is value \
            else None
        if piece is None:
            piece = fingerprint_json(value)
        if name in _REUSED:
            mine[name] = piece
        pieces.append(b'"%s":%s' % (name.encode(), piece))
    _LAST_PARTS = (weakref.ref(inp, _forget_parts), mine)
    return b"{" + b",".join(pieces) + b"}"


def _forget_parts(ref: weakref.ref) -> None:
    global _LAST_PARTS
    if _LAST_PARTS[0] is ref:
        _LAST_PARTS = (None, {})


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
        why = exc.why
        zh, en = (msg("about", x, who=word(what, x), what=why) if what else why.text(x)
                  for x in ("zh", "en"))
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


class ChooseScorecard(Conflict):
    """A month holds several scorecards and the request did not say which (409). The pages
    answer with the month's page instead; Excel clients show the message."""

    def __init__(self, code: str, scorecards: list[str]):
        self.code, self.scorecards = code, scorecards
        super().__init__(both("scorecard.choose", period=code,
                              scorecards=", ".join(scorecards)))


def periods_open_for(session: Session, operation: str) -> list[Period]:
    """Every period in which `operation` (server/workflow.py ALLOWED_IN, e.g. "pull") is
    allowed, oldest first: what a scheduled pull fills (server/services/schedule.py)."""
    from server.workflow import ALLOWED_IN

    states = [str(s) for s in ALLOWED_IN[operation]]
    return list(session.scalars(select(Period).where(Period.state.in_(states))
                                .order_by(Period.code, Period.id)))


def scorecards_of(session: Session, code: str) -> list[Period]:
    """The month's scorecards (its periods rows), by scorecard code."""
    return list(session.scalars(select(Period).where(Period.code == code)
                                .order_by(Period.scorecard)))


def find_period(session: Session, code: str, scorecard: str = "") -> Period | None:
    """The scorecard `scorecard` of the month `code`; without one, the month's only
    scorecard. None when there is none; ChooseScorecard when the month holds several and
    `scorecard` is empty."""
    if scorecard:
        return session.scalar(select(Period).where(Period.code == code,
                                                   Period.scorecard == scorecard))
    rows = scorecards_of(session, code)
    if len(rows) > 1:
        raise ChooseScorecard(code, [row.scorecard for row in rows])
    return rows[0] if rows else None


def describe(period: Period) -> str:
    """How messages name a scorecard of a month: "2026-10 rnd"."""
    return f"{period.code} {period.scorecard}"


def require_period(session: Session, code: str, lang: str, *, scorecard: str = "",
                   binding: str = "", writable: bool = True) -> Period:
    """The workbook's scorecard of its period, found by the server-issued `binding` it
    carries (kb_meta) and checked against the period and scorecard it names: 400 when
    kb_meta's code is not a period code, 409 when the period is unknown (New period not
    pressed), closed, or bound to another scorecard or period (naming both)."""
    if not code:
        raise Conflict(msg("period.unlinked", lang))
    code = valid_code(code, lang, what=IN_KB_META)
    scorecard = (scorecard or "").strip()
    binding = (binding or "").strip()
    bound = session.scalar(select(Period).where(Period.binding == binding)) if binding \
        else None
    if bound is not None and (bound.code != code or scorecard not in ("", bound.scorecard)):
        # The workbook names one scorecard but its binding belongs to another: a workbook
        # of another scorecard or month (or one whose kb_meta was edited).
        raise Conflict(msg("binding.elsewhere", lang, said=f"{code} {scorecard}".strip(),
                           bound=describe(bound)))
    period = bound
    if period is None:
        try:
            period = find_period(session, code, scorecard)
        except ChooseScorecard as exc:
            raise Conflict(msg("scorecard.unbound", lang, period=code,
                               scorecards=", ".join(exc.scorecards))) from None
        if period is None:
            raise Conflict(msg("period.unknown", lang, period=f"{code} {scorecard}".strip()))
        check_binding(period, binding, lang)
    if writable and period.state not in WRITABLE:
        raise Conflict(msg("period.closed", lang, period=describe(period), state=period.state))
    return period


def check_binding(period: Period, given: str, lang: str) -> None:
    """Refuse a workbook not bound to `period` by the server (409): its kb_meta binding must
    be the one the server issued when the scorecard was created. A workbook without one
    (made before bindings, or with the key removed) is bound by New period."""
    given = (given or "").strip()
    if given == period.binding:
        return
    if not given:
        raise Conflict(msg("binding.missing", lang, period=describe(period)))
    raise Conflict(msg("binding.other", lang, period=describe(period)))


def open_period(session: Session, code: str, template_code: str, user: User, lang: str,
                rules: Mapping[str, object] | None = None, scorecard: str = ""
                ) -> tuple[Period, bool]:
    """Create the month's scorecard `scorecard` (by default named after the template), or
    return it when it is still open with the same template (pressing New period twice is
    harmless). Returns (period, created)."""
    code = valid_code(code, lang)
    given = scorecard
    scorecard = scorecard_code(scorecard or template_code) or "main"
    if given and scorecard != given.strip():
        raise BadRequest(msg("scorecard.bad_code", lang, text=given))
    template = session.scalar(select(Template).where(Template.code == template_code)) \
        if template_code else None
    period = find_period(session, code, scorecard)
    if period is not None:
        if period.state not in WRITABLE:
            raise Conflict(msg("period.closed_create", lang, period=describe(period)))
        if template_code and period.template_code and period.template_code != template_code:
            raise Conflict(msg("scorecard.other_template", lang, period=describe(period),
                               theirs=period.template_code, ours=template_code))
        return period, False
    snapshot = dict(rules) if rules else (dict(template.rules) if template else {})
    period = Period(code=code, scorecard=scorecard, history_key=history_key_for(
        session, code, scorecard), template=template, template_code=template_code,
        state=PeriodState.OPEN.value, lang=lang, rules=snapshot, created_by=user.name)
    session.add(period)
    session.flush()
    return period, True


def history_key_for(session: Session, code: str, scorecard: str) -> str:
    """A new scorecard's history directory: the month's code when it is the month's first
    scorecard (as before scorecards), "<code>.<scorecard>" when the month has one already."""
    taken = session.scalar(select(Period.id).where(Period.history_key == code).limit(1))
    return code if taken is None else f"{code}.{scorecard}"
