"""Datasets for the simulated source systems.

`demo_data()` reproduces the shipped templates' demo figures exactly (manufacturing and R&D):
each figure is split into the raw records a real system would hold (daily production, orders
in 元, attendance checks, Jira issues, merge requests), so the connectors and the mapping
recompute the very values the hand-checked scores are based on.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

WORKDAYS = 20


@dataclass(slots=True)
class SimData:
    period: str = "2026-10"
    erp_production: list[dict[str, Any]] = field(default_factory=list)  # cursor pages
    crm_deliveries: list[dict[str, Any]] = field(default_factory=list)  # page numbers
    merge_requests: list[dict[str, Any]] = field(default_factory=list)  # Link header
    jira_issues: list[dict[str, Any]] = field(default_factory=list)
    attendance: list[dict[str, Any]] = field(default_factory=list)  # DingTalk records
    # files the demo drops (name -> rows, first row the header); written by write_files
    files: dict[str, list[list[Any]]] = field(default_factory=dict)


def staff_no(employee_id: str) -> str:
    """ERP staff numbers look different from HR's ids (mapped in the connectors file)."""
    return "E" + employee_id[1:].rjust(6, "0")


def dingtalk_user(employee_id: str) -> str:
    return "dt" + employee_id.lower()


def _days(period: str) -> list[dt.date]:
    year, month = map(int, period.split("-"))
    day, out = dt.date(year, month, 1), []
    while len(out) < WORKDAYS:
        if day.weekday() < 5:
            out.append(day)
        day += dt.timedelta(days=1)
    return out


def _ms(day: dt.date, hour: int = 9) -> int:
    return int(dt.datetime(day.year, day.month, day.day, hour, tzinfo=dt.UTC).timestamp()
               * 1000)


def add_production(data: SimData, employee_id: str, ratio: Decimal) -> None:
    """Daily output against a plan of 100 a day; output / plan over the month = ratio."""
    days = _days(data.period)
    total = int(ratio * 100 * len(days))
    for i, day in enumerate(days):
        qty = total // len(days) + (total % len(days) if i == len(days) - 1 else 0)
        data.erp_production.append({"staff_no": staff_no(employee_id), "day": day.isoformat(),
                                    "output_qty": qty, "planned_qty": 100, "unit": "件"})


def add_deliveries(data: SimData, employee_id: str, wan_yuan: Decimal) -> None:
    """Orders in 元 summing to the figure in 万元."""
    yuan = int(wan_yuan * 10000)
    parts = [yuan // 4] * 3 + [yuan - 3 * (yuan // 4)]
    for j, amount in enumerate(parts):
        data.crm_deliveries.append({"salesperson": staff_no(employee_id),
                                    "order_no": f"SO-{employee_id}-{j + 1}",
                                    "amount_yuan": amount, "currency": "CNY",
                                    "delivered_on": f"{data.period}-{10 + j}"})


def add_attendance(data: SimData, employee_id: str, late: int) -> None:
    for i, day in enumerate(_days(data.period)):
        data.attendance.append({
            "id": len(data.attendance) + 1, "userId": dingtalk_user(employee_id),
            "workDate": _ms(day, 0), "checkType": "OnDuty",
            "timeResult": "Late" if i < late else "Normal", "userCheckTime": _ms(day, 9)})


def add_reviews(data: SimData, employee_id: str, rate: Decimal) -> None:
    reviewed = int(rate * 100)
    for i in range(100):
        data.merge_requests.append({"iid": len(data.merge_requests) + 1,
                                    "author_username": employee_id.lower(),
                                    "reviewed": 1 if i < reviewed else 0,
                                    "merged_at": f"{data.period}-15T10:00:00Z"})


def _issue(data: SimData, employee_id: str, kind: str, **fields: Any) -> None:
    n = len(data.jira_issues) + 1
    done = fields.pop("done", True)
    f = {"assignee": {"name": employee_id, "accountId": f"acc-{employee_id}"},
         "status": {"name": "Done" if done else "In Progress",
                    "statusCategory": {"key": "done" if done else "indeterminate"}},
         "resolution": {"name": "Done"} if done else None,
         "resolutiondate": f"{data.period}-20T18:00:00.000+0800" if done else None,
         "issuetype": {"name": kind}, "priority": {"name": fields.pop("priority", "P3")},
         "labels": fields.pop("labels", []), "created": f"{data.period}-02T09:00:00.000+0800",
         "duedate": fields.pop("duedate", None), "customfield_10016": fields.pop("points", None)}
    data.jira_issues.append({"key": f"RD-{n}", "fields": f})


def add_jira(data: SimData, employee_id: str, progress: Decimal, escape: Decimal,
             on_time: Decimal, incidents: int) -> None:
    done_points = int(progress * 100)
    planned_done = min(done_points, 100)
    for chunk in _chunks(planned_done):
        _issue(data, employee_id, "Story", points=chunk, labels=["planned"])
    for chunk in _chunks(100 - planned_done):
        _issue(data, employee_id, "Story", points=chunk, labels=["planned"], done=False)
    for chunk in _chunks(done_points - planned_done):
        _issue(data, employee_id, "Story", points=chunk, labels=["unplanned"])
    for i in range(100):
        _issue(data, employee_id, "Bug", labels=["escaped"] if i < int(escape * 100) else [])
    for i in range(100):
        late = i >= int(on_time * 100)
        _issue(data, employee_id, "Task", duedate=f"{data.period}-{'15' if late else '25'}")
    for _ in range(incidents):
        _issue(data, employee_id, "Incident", priority="P1")


def _chunks(total: int, size: int = 10) -> list[int]:
    return [size] * (total // size) + ([total % size] if total % size else [])


def demo_data(period: str = "2026-10") -> SimData:
    """Records behind the manufacturing and R&D templates' demo figures."""
    from server.workbook.template_content import MANUFACTURING, RND

    data = SimData(period)
    d = lambda v: Decimal(repr(v)) if isinstance(v, float) else Decimal(v)  # noqa: E731
    qms = [["工号", "月份", "检验数", "不良数", "质量事故起数", "备注"]]
    ratings = [["工号", "姓名", "团队协作评价", "安全表彰次数"]]
    rnd_ratings = [["工号", "姓名", "团队协作评价", "专利与创新项数"]]
    for m in MANUFACTURING.roster:
        v = MANUFACTURING.values[m.employee_id]
        add_production(data, m.employee_id, d(v["PROD_EFF"]))
        add_deliveries(data, m.employee_id, d(v["SALES"]))
        add_attendance(data, m.employee_id, int(v["ATTEND"]))
        qms.append([m.employee_id, period, 1000, int(d(v["QUALITY"]) * 1000),
                    v["QUALITY_INCIDENT"], "月度质量报表"])
        ratings.append([m.employee_id, m.name, v["TEAMWORK"], v.get("SAFETY_AWARD")])
    for m in RND.roster:
        v = RND.values[m.employee_id]
        add_jira(data, m.employee_id, d(v["PROJ_PROGRESS"]), d(v["DEFECT_ESCAPE"]),
                 d(v["ON_TIME"]), int(v["PROD_INCIDENT"]))
        add_reviews(data, m.employee_id, d(v["CODE_REVIEW"]))
        rnd_ratings.append([m.employee_id, m.name, v["TEAMWORK"], v["PATENT"]])
    data.files[f"QMS_质量月报_{period}.csv"] = qms
    data.files[f"部门月度评价表_制造_{period}.xlsx"] = ratings
    data.files[f"部门月度评价表_研发_{period}.xlsx"] = rnd_ratings
    return data


def write_files(data: SimData, folder: str) -> list[str]:
    """The file drops: CSV in GB18030 (as Chinese ERP/QMS exports are), XLSX as Excel saves."""
    import csv
    import io
    from pathlib import Path

    import openpyxl

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, rows in data.files.items():
        path = out / name
        if name.endswith(".csv"):
            buf = io.StringIO()
            csv.writer(buf).writerows(rows)
            path.write_bytes(buf.getvalue().encode("gb18030"))
        else:
            wb = openpyxl.Workbook()
            ws = wb.active
            for row in rows:
                ws.append(row)
            wb.save(path)
        written.append(str(path))
    return written


def synthetic_data(managers: int, period: str = "2026-10") -> SimData:
    """Benchmark load: `managers` people, one monthly record per person per source."""
    data = SimData(period)
    for n in range(managers):
        eid = f"B{n:06d}"
        data.erp_production.append({"staff_no": staff_no(eid), "day": f"{period}-31",
                                    "output_qty": 1800 + n % 400, "planned_qty": 2000,
                                    "unit": "件"})
        data.crm_deliveries.append({"salesperson": staff_no(eid), "order_no": f"SO-{n}",
                                    "amount_yuan": 4_000_000 + n, "currency": "CNY",
                                    "delivered_on": f"{period}-15"})
        data.merge_requests.append({"iid": n, "author_username": eid.lower(),
                                    "reviewed": n % 5 != 0, "merged_at": f"{period}-15"})
        _issue(data, eid, "Story", points=5, labels=["planned"], done=n % 3 != 0)
        data.attendance.append({"id": n, "userId": dingtalk_user(eid),
                                "workDate": _ms(dt.date(2026, 10, 1), 0), "checkType": "OnDuty",
                                "timeResult": "Late" if n % 7 == 0 else "Normal"})
    return data
