"""ScoreResult as pandas DataFrames, for benches and web pages.

Numbers stay Decimal (object columns) so nothing is re-rounded through floats; call
`.astype(float)` on a column when a chart needs floats.
"""

from __future__ import annotations

import pandas as pd

from server.scoring.model import ScoreResult, line_columns

LINE_COLUMNS = ("employee_id", "indicator", "actual", "target", "weight", "base_points",
                "adjustment", "points", "explanation", "status", "stale")
EMPLOYEE_COLUMNS = ("employee_id", "total", "grade", "rank", "group_rank", "status", "missing")


def result_frames(result: ScoreResult) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(lines, employees): one row per IndicatorScore and per EmployeeResult, in result order.

    `status` of a line is its text value ("ok", "n/a", ...); `missing` is the indicator codes
    joined with ", ".
    """
    columns = dict(zip(LINE_COLUMNS, line_columns(result.lines, *LINE_COLUMNS), strict=True))
    columns["status"] = [s.value for s in columns["status"]]
    lines = pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in columns.items()},
                         columns=list(LINE_COLUMNS))
    lines["stale"] = lines["stale"].astype(bool)
    employees = pd.DataFrame.from_records(
        [(e.employee_id, e.total, e.grade, e.rank, e.group_rank, e.status, ", ".join(e.missing))
         for e in result.employees],
        columns=list(EMPLOYEE_COLUMNS),
    )
    # Ranks are None for blocked employees: keep them as nullable integers, not floats.
    for column in ("rank", "group_rank"):
        employees[column] = employees[column].astype("Int64")
    return lines, employees
