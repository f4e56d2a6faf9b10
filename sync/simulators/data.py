"""Datasets for the simulated source systems.

`demo_data()` reproduces the shipped templates' demo figures exactly (manufacturing, R&D and
sales): each figure is split into the raw records a real system would hold (daily production,
orders in 元, attendance checks, Jira issues, merge requests, the CRM's customer report, the
finance system's receivables), so the connectors and the mapping recompute the very values
the hand-checked scores are based on.
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
    # CRM customer report: one row per (owner, customer) of the month; ?team= picks the rows
    crm_customers: list[dict[str, Any]] = field(default_factory=list)  # offset/limit
    receivables: list[dict[str, Any]] = field(default_factory=list)  # finance, page numbers
    # files the demo drops (name -> rows, first row the header); written by write_files
    files: dict[str, list[list[Any]]] = field(default_factory=dict)


def staff_no(employee_id: str) -> str:
    """ERP staff numbers look different from HR's ids (mapped in the connectors file)."""
    return "E" + employee_id[1:].rjust(6, "0")


def dingtalk_user(employee_id: str) -> str:
    return "dt" + employee_id.lower()


# 客户复购率 of the manufacturing managers: not in the manufacturing template; HR adds the
# indicator to October's rules after scoring started (docs/records.md "A changing month"),
# and the CRM's customer report already holds the figures it will be pulled from.
MANUFACTURING_REPURCHASE: dict[str, Decimal] = {
    "M1001": Decimal("0.32"), "M1002": Decimal("0.41"), "M1003": Decimal("0.24"),
    "M1004": Decimal("0.3"), "M1005": Decimal("0.36"), "M1006": Decimal("0.28"),
    "M1007": Decimal("0.45"), "M1008": Decimal("0.2")}
EXISTING_CUSTOMERS = 100  # customers of an owner who had bought before the month
INVOICES = 10  # receivables due in the month per sales manager


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


def add_customers(data: SimData, employee_id: str, team: str, repurchase: Decimal,
                  new_customers: int = 0, paid_wan_yuan: Decimal = Decimal(0),
                  complaints: int = 0) -> None:
    """The CRM's customer report for one owner: EXISTING_CUSTOMERS customers who had bought
    before, `repurchase` of them buying again this month, `new_customers` first purchases,
    payments received in 元 summing to `paid_wan_yuan` 万元 and `complaints` valid complaints
    (one per customer)."""
    rows = []
    again = int(repurchase * EXISTING_CUSTOMERS)
    for i in range(EXISTING_CUSTOMERS):
        rows.append({"customer_type": "existing", "repurchased": 1 if i < again else 0})
    rows += [{"customer_type": "new", "repurchased": 0} for _ in range(new_customers)]
    buyers = [r for r in rows if r["repurchased"] or r["customer_type"] == "new"] or rows
    yuan = int(paid_wan_yuan * 10000)
    for j, row in enumerate(buyers):
        row["paid_yuan"] = yuan // len(buyers) + (yuan % len(buyers) if j == 0 else 0)
    for j, row in enumerate(rows):
        n = len(data.crm_customers) + 1
        data.crm_customers.append({
            "owner": staff_no(employee_id), "team": team, "customer_id": f"C{n:06d}",
            "customer_name": f"客户{n:06d}", "customer_type": row["customer_type"],
            "repurchased": row["repurchased"], "paid_yuan": row.get("paid_yuan", 0),
            "currency": "CNY", "complaints": 1 if j < complaints else 0,
            "month": data.period})


def add_receivables(data: SimData, employee_id: str, rate: Decimal) -> None:
    """INVOICES invoices of 100,000 元 due in the month; `rate` of the total received."""
    due = 100_000
    received = int(rate * due * INVOICES)
    for i in range(INVOICES):
        got = min(due, max(0, received - i * due))
        data.receivables.append({
            "sales_rep": employee_id, "invoice_no": f"AR-{employee_id}-{i + 1:02d}",
            "due_date": f"{data.period}-{10 + i:02d}", "due_amount": f"{due:.2f}",
            "received_amount": f"{got:.2f}", "currency": "CNY", "period": data.period})


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
    """Records behind the manufacturing, R&D and sales templates' demo figures (and the
    manufacturing managers' 客户复购率, MANUFACTURING_REPURCHASE)."""
    from server.workbook.template_content import MANUFACTURING, RND, SALES

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
        add_customers(data, m.employee_id, "manufacturing",
                      MANUFACTURING_REPURCHASE[m.employee_id])
    for m in RND.roster:
        v = RND.values[m.employee_id]
        add_jira(data, m.employee_id, d(v["PROJ_PROGRESS"]), d(v["DEFECT_ESCAPE"]),
                 d(v["ON_TIME"]), int(v["PROD_INCIDENT"]))
        add_reviews(data, m.employee_id, d(v["CODE_REVIEW"]))
        rnd_ratings.append([m.employee_id, m.name, v["TEAMWORK"], v["PATENT"]])
    sales_ops = [["工号", "姓名", "战略客户签约数", "合规违规起数", "备注"]]
    for m in SALES.roster:
        v = SALES.values[m.employee_id]
        add_customers(data, m.employee_id, "sales", d(v["REPURCHASE"]),
                      int(v["NEW_CUSTOMERS"]), d(v["REVENUE"]), int(v["COMPLAINTS"]))
        add_receivables(data, m.employee_id, d(v["COLLECTION"]))
        sales_ops.append([m.employee_id, m.name, v["KEY_ACCOUNT"], v["COMPLIANCE"],
                          "销售运营部月度通报"])
    data.files[f"QMS_质量月报_{period}.csv"] = qms
    data.files[f"部门月度评价表_制造_{period}.xlsx"] = ratings
    data.files[f"部门月度评价表_研发_{period}.xlsx"] = rnd_ratings
    data.files[f"销售运营部通报_{period}.xlsx"] = sales_ops
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
