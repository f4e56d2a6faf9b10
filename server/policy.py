"""The one place that decides who may read and write what (docs/roles.md).

API:

* `can(user, action, resource=None) -> bool` — `action` is one of ACTIONS; `resource` narrows
  it to data: `Subject(employee_id=..., department=...)` for a manager's results and feedback,
  `Change(...)` for an adjustment. Without a resource the answer is the role-level one ("may
  this role ever do this?").
* `require(user, action, resource=None, lang="zh")` — the same, raising Forbidden (403) with
  a message people understand.
* `department_scope(user)` — the departments whose data the user may see (None: all);
  `visible(user, employee_id, department)`, `filter_rows(user, rows, department_of)` and
  `employee_filter(user, column)` filter lists and queries, so that lists, exports, searches,
  diffs and charts show nothing the user may not read.
* `adjustment_refusals(user, change, lang)` — why an adjustment is outside the user's
  authority (role, "Adjustable by", departments, indicators, max points up/down); the ribbon's
  Submit and the web pages use it alike. `adjustment_range(user, change, lang)` — the same
  rules read as the range the user may adjust a cell in (the add-in's task pane).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from server.models import Role, User
from server.scoring.messages import msg, word
from server.services.errors import Forbidden

HR = Role.HR_ADMIN.value
EXEC = Role.EXECUTIVE.value
DEPT = Role.DEPT_HEAD.value
EMP = Role.EMPLOYEE.value
AUD = Role.AUDITOR.value
ALL = frozenset({HR, EXEC, DEPT, EMP, AUD})
STAFF = frozenset({HR, EXEC, DEPT, AUD})  # everyone who works with other people's results

# action -> roles that may ever do it. Data-level limits (departments, own results,
# authority) are applied on top in `can` when a resource is given.
ACTIONS: dict[str, frozenset[str]] = {
    "account.own": ALL,  # own password, own tokens, own profile
    "api.read": ALL,  # whoami and the period list of the API (results are filtered)
    "period.view": STAFF,  # period list/status, period page (results filtered by department)
    "period.create": frozenset({HR}),
    "period.transition": frozenset({HR, EXEC}),  # which transition: server/workflow.py
    "period.pull": frozenset({HR}),
    # Source facts cover every department and are not filtered per manager: HR and audit only.
    "facts.view": frozenset({HR, AUD}),
    "period.score": frozenset({HR, EXEC, DEPT}),
    "period.submit": frozenset({HR, EXEC, DEPT}),
    "period.check": ALL,
    "result.view": ALL,  # one manager's result: resource needed (own dept / self)
    "result.export": STAFF,
    "adjustment.make": frozenset({HR, EXEC, DEPT}),
    # per-submission review on /review: executives approve, executives and HR send back
    # (the period's own approval stays the workflow's "approve"; docs/review.md)
    "adjustment.review": frozenset({HR, EXEC}),
    "feedback.respond": frozenset({EMP}),  # acknowledge / appeal / confirm: own result only
    "appeal.view": ALL,  # resource needed
    "appeal.list": STAFF,
    "appeal.answer": frozenset({HR}),
    "users.view": frozenset({HR, AUD}),
    "users.manage": frozenset({HR}),
    "clients.manage": frozenset({HR}),
    "notifications.view": frozenset({HR, AUD}),
    "notifications.retry": frozenset({HR}),  # send a failed notification again now
    # org sync (DingTalk/Feishu/WeCom): proposals are read by HR and audit, decided by HR
    "roster.view": frozenset({HR, AUD}),
    "roster.apply": frozenset({HR}),  # run a sync, apply or discard its proposal
}

# Actions whose resource is a manager (Subject): department scope or self applies.
_SUBJECT_ACTIONS = {"result.view", "result.export", "appeal.view", "adjustment.make",
                    "feedback.respond", "period.view", "appeal.list"}


@dataclass(frozen=True, slots=True)
class Subject:
    """A manager whose result or feedback is asked for."""

    employee_id: str
    department: str | None  # None: unknown (not in the roster) - only "all departments" sees it


@dataclass(frozen=True, slots=True)
class Change:
    """An adjustment someone wants to make."""

    employee_id: str
    department: str | None
    indicator: str
    points: Decimal
    adjust_roles: frozenset[str] = frozenset()  # the indicator's "Adjustable by" cell
    max_up: Decimal | None = None  # the rules table's "Max up" (None: no limit)
    max_down: Decimal | None = None  # the rules table's "Max down", as a positive number
    known: bool = True  # False: the indicator is not in the period's rules of record


# --- data scope --------------------------------------------------------------------------------


def department_scope(user: User) -> frozenset[str] | None:
    """Departments whose results the user may read; None = every department.

    HR and auditors read everything. An executive reads the departments of their authority
    (none listed: all). A department head reads their authority's departments only (none
    listed: none). Employees read no department, only themselves (see `visible`)."""
    if user.role in (HR, AUD):
        return None
    departments = frozenset(str(d) for d in (user.authority or {}).get("departments") or ())
    if user.role == EXEC:
        return departments or None
    if user.role == DEPT:
        return departments
    return frozenset()


def visible(user: User, employee_id: str, department: str | None) -> bool:
    if user.role == EMP:
        return bool(user.employee_id) and user.employee_id == employee_id
    scope = department_scope(user)
    return scope is None or (department is not None and department in scope)


def filter_rows(user: User, rows: Iterable[Any], department_of: Callable[[Any], str | None],
                employee_of: Callable[[Any], str]) -> list[Any]:
    """The rows (totals, lines, adjustments, appeals...) the user may read."""
    return [r for r in rows if visible(user, employee_of(r), department_of(r))]


def employee_filter(user: User, employee_id_column: Any, department_column: Any) -> Any:
    """A SQL condition restricting a query to what the user may read (None: no limit)."""
    from sqlalchemy import false

    if user.role == EMP:
        return employee_id_column == user.employee_id if user.employee_id else false()
    scope = department_scope(user)
    if scope is None:
        return None
    return department_column.in_(sorted(scope)) if scope else false()


# --- decisions -----------------------------------------------------------------------------


def can(user: User | None, action: str, resource: Subject | Change | None = None) -> bool:
    if user is None or not user.active:
        return False
    roles = ACTIONS.get(action)
    if roles is None:
        raise KeyError(f"unknown policy action {action!r}")
    if user.role not in roles:
        return False
    if resource is None:
        return True
    if isinstance(resource, Change):
        return visible(user, resource.employee_id, resource.department) and not \
            adjustment_refusals(user, resource, "en")
    if action == "feedback.respond":
        return bool(user.employee_id) and user.employee_id == resource.employee_id
    if action in _SUBJECT_ACTIONS:
        return visible(user, resource.employee_id, resource.department)
    return True


def require(user: User | None, action: str, resource: Subject | Change | None = None,
            lang: str = "zh") -> None:
    """`can` or 403 with a message naming what was refused (and nothing of the data)."""
    if can(user, action, resource):
        return
    if isinstance(resource, Change) and user is not None:
        reasons = adjustment_refusals(user, resource, lang)
        if reasons:
            raise Forbidden(msg("authority.outside", lang,
                                reasons=msg("glue.clauses", lang).join(reasons)))
    role = user.role if user is not None else "-"
    doing = permission_word(action, lang)
    if resource is not None and user is not None and user.role in ACTIONS.get(action, ()):
        raise Forbidden(msg("authority.other_people", lang, action=doing))
    raise Forbidden(msg("authority.role_may_not", lang, role=role_word(role, lang),
                        action=doing))


# --- adjustment authority ------------------------------------------------------------------

# What HR writes in the rules table's "Adjustable by" column for each role. An executive
# may do what a department head may (the general manager outranks directors).
ROLE_NAMES = {
    HR: {"hr_admin", "hr", "人力资源部", "人力资源", "人事部"},
    DEPT: {"dept_head", "部门总监", "部门负责人", "部门经理", "部门主管",
           "department head", "director"},
    EXEC: {"executive", "总经理", "高管", "副总经理", "general manager", "ceo"},
}


def names_of(user: User) -> set[str]:
    """Every name an 'Adjustable by' cell may use for this user (compared case-folded)."""
    names = {user.role, user.name, user.display_name, *ROLE_NAMES.get(user.role, ())}
    if user.role == EXEC:
        names |= ROLE_NAMES[DEPT]
    names |= set((user.authority or {}).get("titles") or ())
    return {n.strip().casefold() for n in names if n}


def _points(value: object) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return abs(Decimal(str(value)))
    except InvalidOperation:
        return None


def authority_limits(user: User) -> tuple[Decimal | None, Decimal | None]:
    """(max up, max down) in points from the user's authority; None: no personal limit."""
    auth = user.authority or {}
    both = _points(auth.get("max_points"))
    up = _points(auth.get("max_up"))
    down = _points(auth.get("max_down"))
    return (up if up is not None else both), (down if down is not None else both)


def adjustment_refusals(user: User, change: Change, lang: str = "zh") -> list[str]:
    """Why `user` may not make `change` (empty: allowed).

    Nobody adjusts a line of their own result (`User.employee_id`). Everyone is bounded by
    the rules table's "Max up"/"Max down" of the indicator. HR admins are otherwise
    unbounded; others need their role or name in the indicator's "Adjustable by" (when it
    is set) and, from the authority stored on the user, the employee's department, the
    indicator and the maximum points up and down. Build `change` from records only
    (`change_refusals` does)."""
    reasons = []
    code = change.indicator
    if user.employee_id and user.employee_id == change.employee_id:
        reasons.append(msg("authority.own_result", lang))
    if not change.known:
        reasons.append(msg("authority.not_in_rules", lang, code=code))
    up, down = change.max_up, change.max_down
    if (change.points > 0 and up is not None and change.points > up) or (
            change.points < 0 and down is not None and -change.points > down):
        reasons.append(msg("authority.rules_limits", lang, up=_limit(up), down=_limit(down)))
    if user.role == HR:
        return reasons
    if user.role not in (EXEC, DEPT):
        return [msg("authority.role_adjusts_not", lang, role=role_word(user.role, lang))]
    if change.adjust_roles and not (
            names_of(user) & {r.strip().casefold() for r in change.adjust_roles}):
        roles = sorted(change.adjust_roles)
        reasons.append(msg("authority.adjustable_by", lang, code=code,
                           roles=msg("glue.list", lang).join(roles)))
    auth = user.authority or {}
    departments = set(auth.get("departments") or ())
    if user.role == DEPT and not departments:
        reasons.append(msg("authority.no_departments", lang))
    elif departments and change.department is None:
        reasons.append(msg("authority.not_on_roster", lang))
    elif departments and change.department not in departments:
        reasons.append(msg("authority.outside_departments", lang))
    indicators = set(auth.get("indicators") or ())
    if indicators and code not in indicators:
        reasons.append(msg("authority.indicator", lang, code=code))
    up, down = authority_limits(user)
    if change.points > 0 and up is not None and change.points > up:
        reasons.append(msg("authority.limit_up", lang, up=up))
    if change.points < 0 and down is not None and -change.points > down:
        reasons.append(msg("authority.limit_down", lang, down=down))
    return reasons


def _limit(value: Decimal | None) -> str:
    return "∞" if value is None else f"{value}"


Key = tuple[str, str]  # (employee_id, indicator)


def changes_of_record(db: Any, period: Any, points: Mapping[Key, Decimal]) -> dict[Key, Change]:
    """The changes as policy judges them, from records only: the department from the
    server's roster (employees), "Adjustable by" and "Max up/down" from the period's rules
    of record (`Period.rules`, what its latest score run was scored with) — never from a
    workbook or a form."""
    from server.services.roster import departments_of

    rules = {str(ind.get("code")): ind for ind in (period.rules or {}).get("indicators") or ()
             if isinstance(ind, dict) and ind.get("code")}
    departments = departments_of(db, sorted({eid for eid, _ in points}))
    out = {}
    for (eid, code), value in points.items():
        rule = rules.get(code)
        out[(eid, code)] = Change(
            eid, departments.get(eid) or None, code, Decimal(value),
            frozenset((rule or {}).get("adjust_roles") or ()),
            _points(_signed_limit((rule or {}).get("adjust_max_up"))),
            _points(_signed_limit((rule or {}).get("adjust_max_down"))), rule is not None)
    return out


def _signed_limit(value: object) -> object:
    return None if value in (None, "", "None") else value


def change_refusals(db: Any, user: User, period: Any, points: Mapping[Key, Decimal],
                    lang: str = "zh") -> dict[Key, list[str]]:
    """THE authority check of every change to an adjustment: ribbon Submit, web adjustment,
    appeal answer and revert all call this (docs/roles.md). `points`: (employee, indicator)
    -> the value the cell would hold (a removal: the value being removed; a revert: the
    value being restored). Returns the refused cells with their reasons (empty: all
    allowed)."""
    if user is None or not user.active:
        return {key: [msg("authority.inactive", lang)]
                for key in points}
    out = {}
    for key, change in changes_of_record(db, period, points).items():
        reasons = adjustment_refusals(user, change, lang)
        if reasons:
            out[key] = reasons
    return out


def require_changes(db: Any, user: User, period: Any, points: Mapping[Key, Decimal],
                    lang: str = "zh") -> None:
    """`change_refusals` or 403 naming each refused cell and why (nothing is changed)."""
    refused = change_refusals(db, user, period, points, lang)
    if not refused:
        return
    cells = msg("glue.clauses", lang).join(
        msg("about", lang, who=f"{eid} {code}", what=msg("glue.list", lang).join(r))
        for (eid, code), r in sorted(refused.items()))
    raise Forbidden(msg("authority.nothing_saved", lang, cells=cells))


# --- separation of duties (docs/roles.md) ------------------------------------------------------


def submission_review_refusals(user: User, decision: str, authored: bool,
                               lang: str = "zh") -> list[str]:
    """Why `user` may not approve / send back one submission (empty: allowed). Only
    executives approve a submission, and nobody approves one they authored (sending one's
    own back is allowed: it asks for less, not more). Department scope: the caller has
    checked that the user may read every cell (`visible`)."""
    if user is None or not user.active or user.role not in ACTIONS["adjustment.review"]:
        return [msg("review.role_may_not", lang)]
    reasons = []
    if decision == "approve":
        if user.role != EXEC:
            reasons.append(msg("review.only_executive", lang))
        if authored:
            reasons.append(msg("review.own_submission", lang))
    return reasons


def period_approval_refusals(user: User, departments: Iterable[str | None],
                             approver_roles: Iterable[str], lang: str = "zh") -> list[str]:
    """Why `user` may not approve a whole period (empty: allowed): their role must be one of
    `approver_roles` (KPIBOOK_PERIOD_APPROVERS, HR by default) and their department scope
    must cover every department in the period (`departments`, from the roster of record;
    None: a manager not on the roster, covered only by an unlimited scope)."""
    roles = tuple(approver_roles)
    reasons = []
    if user.role not in roles:
        who = msg("glue.list", lang).join(role_word(r, lang) for r in roles)
        reasons.append(msg("review.period_approvers", lang, who=who))
    scope = department_scope(user)
    if scope is not None:
        outside = sorted({d or "?" for d in departments if d is None or d not in scope})
        if outside:
            reasons.append(msg("review.outside_scope", lang,
                               departments=msg("glue.list", lang).join(outside)))
    return reasons


@dataclass(frozen=True, slots=True)
class AdjustmentRange:
    """How far a user may set one cell's adjustment, by their authority alone (the rules
    table's own limits come on top). `max_up` / `max_down`: points, None = no personal limit."""

    allowed: bool
    max_up: Decimal | None = None
    max_down: Decimal | None = None
    reasons: tuple[str, ...] = ()


def adjustment_range(user: User, change: Change, lang: str = "zh") -> AdjustmentRange:
    """The range `adjustment_refusals` lets `user` adjust `change`'s cell in (its points are
    ignored): what the add-in shows beside a selected line, from the same rules."""
    reasons = adjustment_refusals(user, dataclasses.replace(change, points=Decimal(0)), lang)
    if reasons:
        return AdjustmentRange(False, reasons=tuple(reasons))
    if user.role == HR:  # bounded by the rules table only (see adjustment_refusals)
        return AdjustmentRange(True)
    up, down = authority_limits(user)
    return AdjustmentRange(True, up, down)


# Personal access token scopes (docs/security.md): a token may do what its user's role may,
# and only within its scopes. Opening periods and pulling data is administration.
_ADMIN_ACTIONS = frozenset({"period.create", "period.pull", "period.transition",
                            "users.manage", "clients.manage", "appeal.answer",
                            "notifications.retry"})
_READ_ACTIONS = frozenset({"account.own", "api.read", "period.view", "facts.view",
                           "period.check", "result.view", "result.export", "appeal.view",
                           "appeal.list", "users.view", "notifications.view"})


def token_scope(action: str | None, method: str = "GET") -> str:
    """The token scope a request needs: "read", "submit" or "admin"."""
    if action in _ADMIN_ACTIONS or (action == "account.own" and method not in ("GET", "HEAD")):
        return "admin"  # a token that may change its own account may make more tokens
    if action in _READ_ACTIONS or (action is None and method in ("GET", "HEAD")):
        return "read"
    return "submit"


# --- words -------------------------------------------------------------------------------------

ROLE_WORDS = {
    HR: ("人力资源管理员", "HR admin"),
    EXEC: ("高管", "executive"),
    DEPT: ("部门负责人", "department head"),
    EMP: ("员工（被考核经理）", "employee"),
    AUD: ("审计（只读）", "auditor (read-only)"),
}

ACTION_WORDS = {
    "account.own": ("管理自己的账户", "manage your account"),
    "api.read": ("读取接口", "read the API"),
    "period.view": ("查看考核期间", "view periods"),
    "period.create": ("新建期间", "create periods"),
    "period.transition": ("推进期间流程", "move periods through the workflow"),
    "period.pull": ("获取数据", "pull data"),
    "facts.view": ("查看源系统数据", "view source-system facts"),
    "period.score": ("计算得分", "score"),
    "period.submit": ("提交调整", "submit adjustments"),
    "period.check": ("检查", "check"),
    "result.view": ("查看考核结果", "view results"),
    "result.export": ("导出结果", "export results"),
    "adjustment.make": ("调整分数", "adjust scores"),
    "adjustment.review": ("审批或退回调整", "approve or send back adjustments"),
    "feedback.respond": ("确认或申诉结果", "acknowledge or appeal results"),
    "appeal.view": ("查看申诉", "view appeals"),
    "appeal.list": ("查看申诉列表", "list appeals"),
    "appeal.answer": ("答复申诉", "answer appeals"),
    "users.view": ("查看用户", "view users"),
    "users.manage": ("管理用户", "manage users"),
    "clients.manage": ("管理接口客户端", "manage API clients"),
    "notifications.view": ("查看通知记录", "view notifications"),
    "notifications.retry": ("重发失败的通知", "retry failed notifications"),
    "roster.view": ("查看组织同步", "view org sync"),
    "roster.apply": ("同步并应用名单变更", "sync and apply roster changes"),
}


def role_word(role: str, lang: str) -> str:
    """A role's name in `lang` (ROLE_WORDS; an unknown role as it is)."""
    return word(ROLE_WORDS.get(role, (role, role)), lang)


def permission_word(action: str, lang: str) -> str:
    """What a permission lets one do, in `lang` (ACTION_WORDS; an unknown action as it is)."""
    return word(ACTION_WORDS.get(action, (action, action)), lang)
