"""A reference contender for bench/bench_goals.py: the Score button as an xlwings Server app.

What a user would write instead of kpibook: read the tables of the payload the client sent into
pandas with xlwings' remote engine (`xw.Book(json=...)`), score vectorised (linear rule between
floor and target, capped, weighted; personal targets win), write kb_scores and kb_summary back
and answer `book.json()`. `raw=True` is the expert variant that bypasses xlwings' converters
(`raw_value` to read and write). No validation, no explanations, floats.

xlwings' remote engine is PolyForm-Noncommercial: it is used here, in bench/, as a reference
only, never by the product (pyproject: a test dependency).
"""

from __future__ import annotations

import json
import os

os.environ.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import xlwings as xw  # noqa: E402


def _table(book, name: str):
    for sheet in book.sheets:
        for table in sheet.tables:
            if table.name == name:
                return sheet, table
    raise KeyError(name)


def _frame(book, name: str, raw: bool) -> pd.DataFrame:
    _sheet, table = _table(book, name)
    if raw:
        rows = table.range.raw_value
        return pd.DataFrame(rows[1:], columns=[str(c).split(" / ")[0] for c in rows[0]])
    df = table.range.options(pd.DataFrame, index=False).value
    df.columns = [str(c).split(" / ")[0] for c in df.columns]
    return df


def _num(series: pd.Series) -> pd.Series:
    return pd.to_numeric(series.replace("", np.nan), errors="coerce")


def _write(book, name: str, df: pd.DataFrame, raw: bool) -> None:
    sheet, table = _table(book, name)
    top = table.range[0, 0]
    n, width = len(df), table.range.shape[1]
    table.resize(sheet.range(top, top.offset(n, width - 1)))
    body = top.offset(1, 0)
    if raw:
        values = df.astype(object).where(df.notna(), "").to_numpy().tolist()
        sheet.range(body, body.offset(n - 1, df.shape[1] - 1)).raw_value = values
    else:
        body.options(index=False, header=False).value = df


def score_button(payload: dict, raw: bool = False) -> bytes:
    """The answer of the app's Score button: the actions as JSON bytes."""
    book = xw.Book(json=payload)
    rules = _frame(book, "kb_rules", raw)
    roster = _frame(book, "kb_roster", raw)
    data = _frame(book, "kb_data", raw)
    targets = _frame(book, "kb_targets", raw)

    rules = rules.assign(weight=_num(rules["权重"]).fillna(0), target=_num(rules["目标值"]),
                         floor=_num(rules["底线值"]).fillna(0), cap=_num(rules["封顶"]))
    rules = rules[["指标代码", "指标名称", "weight", "target", "floor", "cap"]]
    actual = data[data["字段"].isin(["actual", "实际值"]) | (data["字段"] == "")]
    actual = actual.assign(actual=_num(actual["数值"]))[["工号", "指标代码", "actual"]]
    personal = targets.assign(personal=_num(targets["目标值"]))[["工号", "指标代码", "personal"]]
    lines = (roster[["工号", "姓名", "部门", "岗位"]].merge(rules, how="cross")
             .merge(actual, on=["工号", "指标代码"], how="left")
             .merge(personal, on=["工号", "指标代码"], how="left"))
    target = lines["personal"].fillna(lines["target"])
    span = (target - lines["floor"]).replace(0, np.nan)
    ratio = ((lines["actual"] - lines["floor"]) / span).clip(lower=0)
    ratio = ratio.where(lines["cap"].isna(), np.minimum(ratio, lines["cap"] / 100))
    lines["points"] = (ratio.fillna(0) * lines["weight"]).round(2)

    scores = pd.DataFrame({
        "工号": lines["工号"], "姓名": lines["姓名"], "部门": lines["部门"],
        "指标代码": lines["指标代码"], "指标名称": lines["指标名称"], "实际值": lines["actual"],
        "目标值": target, "权重": lines["weight"], "规则得分": lines["points"],
        "调整分": 0.0, "得分": lines["points"], "计算说明": "", "状态": "ok"})
    _write(book, "kb_scores", scores, raw)

    wide = lines.pivot_table(index="工号", columns="指标代码", values="points", aggfunc="sum")
    summary = roster[["工号", "姓名", "部门", "岗位"]].merge(wide, left_on="工号",
                                                            right_index=True, how="left")
    summary["总分"] = wide.sum(axis=1).reindex(summary["工号"]).to_numpy()
    summary["等级"] = pd.cut(summary["总分"], [-np.inf, 60, 75, 90, np.inf],
                           labels=["D", "C", "B", "A"]).astype(str)
    summary["总排名"] = summary["总分"].rank(ascending=False, method="min")
    summary["部门排名"] = summary.groupby("部门")["总分"].rank(ascending=False, method="min")
    summary["状态"] = "ok"
    _write(book, "kb_summary", summary, raw)
    return json.dumps(book.json(), ensure_ascii=False, default=str).encode()
