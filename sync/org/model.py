"""What an organisation sync delivers, the same for every platform."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class OrgDepartment:
    id: str  # the platform's id, as text ("1", "od-…")
    name: str
    parent_id: str  # "" for the root


@dataclass(frozen=True, slots=True)
class OrgPerson:
    user_id: str  # the platform's user id (DingTalk userid, Feishu user_id/open_id, WeCom userid)
    name: str
    employee_no: str  # the field named by the source's employee_key (HR's 工号), "" if none
    department_id: str  # main department
    position: str = ""
    manager_user_id: str = ""  # the platform user id of the direct manager, "" if none
    email: str = ""
    department_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Departure:
    """A person the platform confirms has left (DingTalk leave record, Feishu is_resigned,
    WeCom 60111 "UserID不存在")."""

    user_id: str
    name: str = ""
    left_on: dt.date | None = None
    evidence: str = ""  # e.g. "empLeaveRecords leaveReason=oapi"


@dataclass(slots=True)
class OrgSnapshot:
    platform: str
    source: str
    departments: dict[str, OrgDepartment] = field(default_factory=dict)
    people: dict[str, OrgPerson] = field(default_factory=dict)  # by user_id
    departed: dict[str, Departure] = field(default_factory=dict)  # by user_id
    # people we asked about whom the platform did not confirm as gone: user_id -> its answer
    unconfirmed: dict[str, str] = field(default_factory=dict)
    # parts of the organisation the app may not read (permission scope): for HR, not a leave
    scope_gaps: list[str] = field(default_factory=list)
    request: str = ""  # what was asked, for the change record (no secrets)
    pages: int = 0
    calls: int = 0  # HTTP requests made, retries included

    def department_name(self, dept_id: str) -> str:
        dept = self.departments.get(dept_id)
        return dept.name if dept else ""


# progress(pages_done, people_so_far)
OrgProgress = Callable[[int, int], None]


@dataclass(slots=True)
class OrgContext:
    # platform user ids of people the roster had from this source last time: whoever of them
    # is missing from the lists is looked up (left, or only out of the app's scope?)
    expected: set[str] = field(default_factory=set)
    since: dt.datetime | None = None  # leave records from here (default: 90 days back)
    now: dt.datetime | None = None
    progress: OrgProgress = field(default=lambda pages, people: None)
