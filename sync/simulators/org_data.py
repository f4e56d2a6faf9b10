"""One organisation, served by every platform simulator in its own API shapes
(sync/simulators/dingtalk.py, feishu.py, wecom.py).

Departments have integer ids with the root 1 (DingTalk and WeCom use these; Feishu shows the
root as "0" and the others as department_id text). People have one user id on every platform
and HR's 工号 as DingTalk `job_number` / Feishu `employee_no` (WeCom: the userid itself is
often the 工号; `wecom_userid_is_job_number` decides).

`demo_org()` is the demo's manufacturing roster (server/demo.py) as the platforms know it;
`demo_changes()` then moves one manager, lets one leave, hires one and takes one department
out of the app's permission scope — what `kpibook demo`'s org sync shows HR.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(slots=True)
class SimDepartment:
    id: int
    name: str
    parent: int  # 0 for the root


@dataclass(slots=True)
class SimPerson:
    userid: str
    name: str
    job_number: str
    departments: list[int]
    title: str = ""
    manager: str = ""  # the manager's userid
    email: str = ""
    left_at: dt.datetime | None = None  # set: the person left (gone from every list)
    leave_reason: str = "oapi"  # DingTalk leaveReason: oapi/cancel/leave/delete/unknown


@dataclass(slots=True)
class OrgData:
    departments: list[SimDepartment] = field(default_factory=list)
    people: list[SimPerson] = field(default_factory=list)
    hidden: set[int] = field(default_factory=set)  # outside the app's scope: never listed
    denied: set[int] = field(default_factory=set)  # listed, but members refused (no privilege)

    def department(self, dept_id: int) -> SimDepartment | None:
        return next((d for d in self.departments if d.id == dept_id), None)

    def visible(self, dept_id: int) -> bool:
        dept = self.department(dept_id)
        while dept is not None:
            if dept.id in self.hidden:
                return False
            dept = self.department(dept.parent)
        return True

    def children(self, parent: int, recursive: bool = False) -> list[SimDepartment]:
        out = []
        for d in self.departments:
            if d.parent == parent and self.visible(d.id):
                out.append(d)
                if recursive:
                    out.extend(self.children(d.id, True))
        return out

    def members(self, dept_id: int) -> list[SimPerson]:
        return [p for p in self.people if p.left_at is None and dept_id in p.departments]

    def person(self, userid: str) -> SimPerson | None:
        return next((p for p in self.people if p.userid == userid), None)

    def visible_person(self, userid: str) -> bool:
        p = self.person(userid)
        return p is not None and any(self.visible(d) and d not in self.denied
                                     for d in p.departments)

    def leavers(self, start: dt.datetime, end: dt.datetime) -> list[SimPerson]:
        return [p for p in self.people if p.left_at is not None and start <= p.left_at <= end]


def userid_of(employee_id: str) -> str:
    """The demo's platform user ids look different from HR's 工号 (dtm1001 for M1001)."""
    return "dt" + employee_id.lower()


def demo_org(*templates: str) -> OrgData:
    """The managers of the shipped `templates` (default: manufacturing) and their general
    manager, as the platforms list them before anything changed (the same values the demo's
    roster holds). `kpibook demo` lists its three October scorecards' managers."""
    from server.workbook.template_content import TEMPLATES

    roster = [m for key in (templates or ("manufacturing",)) for m in TEMPLATES[key].roster]
    # manufacturing's departments first: demo_changes names 三车间 (12) and 质量部 (13)
    depts = list(dict.fromkeys(m.department for m in roster))
    org = OrgData([SimDepartment(1, "公司", 0), SimDepartment(2, "总经办", 1)]
                  + [SimDepartment(10 + i, name, 1) for i, name in enumerate(depts)])
    org.people.append(SimPerson("dtg0001", "周建国", "G0001", [2], "总经理",
                                email="zhou.jianguo@example.com"))
    org.people.append(SimPerson("dta0001", "孙丽华", "A0001", [2], "审计",
                                manager="dtg0001", email="sun.lihua@example.com"))
    by_name = {p.name: p.userid for p in org.people}
    for m in roster:
        by_name[m.name] = userid_of(m.employee_id)
    for m in roster:
        org.people.append(SimPerson(
            userid_of(m.employee_id), m.name, m.employee_id, [10 + depts.index(m.department)],
            m.position, by_name.get(m.manager, ""), m.email))
    return org


DEMO_LEFT_AT = dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.UTC)


def demo_changes(org: OrgData) -> OrgData:
    """What happened since the demo's roster was loaded: 黄俊 (M1008) moved to 三车间 under
    李强, 陈静 (M1006) left on 2026-11-20, 吴刚 (M1009) joined 一车间 under 张伟, and 质量部
    was taken out of the app's visibility (刘洋 M1005 vanishes without a leave record)."""
    mover = org.person(userid_of("M1008"))
    assert mover is not None
    mover.departments, mover.manager = [12], userid_of("M1003")
    leaver = org.person(userid_of("M1006"))
    assert leaver is not None
    leaver.left_at = DEMO_LEFT_AT
    org.people.append(SimPerson(userid_of("M1009"), "吴刚", "M1009", [10], "班组长",
                                userid_of("M1001"), "wu.gang@example.com"))
    org.hidden.add(13)  # 质量部
    return org
