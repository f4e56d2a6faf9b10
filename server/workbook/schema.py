"""The workbook contract in code: kpibook's table names and the columns each table has.

A KPI workbook holds Excel tables (ListObjects) with these fixed names. Sheet names and header
captions are free: HR may write them in Chinese or English. A header is recognised when it
matches any alias of a column (case, spaces and punctuation ignored); a bilingual caption such
as "工号 / Employee ID" matches when either part does. docs/workbook.md describes the same
contract for people.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TEMPLATE_FORMAT_VERSION = "1"


@dataclass(frozen=True, slots=True)
class Column:
    key: str  # canonical name used in frames and code
    zh: str  # caption written by templates (Chinese)
    en: str  # caption written by templates (English)
    required: bool = True  # a table without this column is refused
    aliases: tuple[str, ...] = ()  # further accepted captions

    @property
    def caption(self) -> str:
        """The bilingual caption templates write."""
        return f"{self.zh} / {self.en}"

    def names(self) -> tuple[str, ...]:
        return (self.key, self.zh, self.en, *self.aliases)


@dataclass(frozen=True, slots=True)
class TableSpec:
    name: str  # the ListObject name, fixed
    zh: str  # default sheet name in templates
    en: str
    columns: tuple[Column, ...]
    editable: tuple[str, ...] = ()  # column keys HR/executives type into; the rest is locked

    def column(self, key: str) -> Column:
        for col in self.columns:
            if col.key == key:
                return col
        raise KeyError(key)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(c.key for c in self.columns)


def C(key: str, zh: str, en: str, *aliases: str, required: bool = True) -> Column:  # noqa: N802
    return Column(key, zh, en, required, aliases)


META = TableSpec(
    "kb_meta", "_kpibook", "_kpibook",
    (C("key", "键", "Key"), C("value", "值", "Value")),
)

SETTINGS = TableSpec(
    "kb_settings", "设置", "Settings",
    (C("key", "项目", "Setting", "key", "键"), C("value", "值", "Value"),
     C("note", "说明", "Note", required=False)),
    editable=("value",),
)

RULES = TableSpec(
    "kb_rules", "考核规则", "KPI rules",
    (
        C("code", "指标代码", "Code", "indicator code", "代码"),
        C("name", "指标名称", "Indicator", "name", "名称"),
        C("kind", "类型", "Kind", "type", "指标类型"),
        C("weight", "权重", "Weight", "权重(%)", "weight (%)"),
        C("source", "数据来源", "Source", "data source", "来源"),
        C("rule", "计分规则", "Rule", "scoring rule", "规则"),
        C("target", "目标值", "Target", "目标", required=False),
        C("floor", "底线值", "Floor", "floor value", "下限", required=False),
        C("cap", "封顶", "Cap", "上限", "封顶比例", required=False),
        C("params", "规则参数", "Parameters", "params", "参数", required=False),
        C("unit", "单位", "Unit", required=False),
        C("departments", "适用部门", "Departments", "applies to departments", required=False),
        C("positions", "适用岗位", "Positions", "applies to positions", required=False),
        C("missing", "缺数据处理", "If missing", "missing data", "missing", required=False),
        C("adjust_by", "可调整人", "Adjustable by", "adjust by", required=False),
        C("adjust_max_up", "最多上调", "Max up", "max adjustment up", required=False),
        C("adjust_max_down", "最多下调", "Max down", "max adjustment down", required=False),
        C("description", "说明", "Description", "note", required=False),
    ),
    editable=("name", "weight", "target", "floor", "cap", "params", "description"),
)

ROSTER = TableSpec(
    "kb_roster", "人员名单", "Roster",
    (
        C("employee_id", "工号", "Employee ID", "员工编号", "id", "staff id"),
        C("name", "姓名", "Name"),
        C("department", "部门", "Department", "dept"),
        C("position", "岗位", "Position", "职位", "title", required=False),
        C("email", "邮箱", "E-mail", "email", required=False),
        C("manager", "直属上级", "Manager", "上级", required=False),
    ),
    editable=("name", "department", "position", "email", "manager"),
)

TARGETS = TableSpec(
    "kb_targets", "个人目标", "Targets",
    (
        C("employee_id", "工号", "Employee ID", "员工编号", "id"),
        C("indicator", "指标代码", "Indicator", "code", "indicator code"),
        C("target", "目标值", "Target", "目标", required=False),
        C("floor", "底线值", "Floor", "下限", required=False),
        C("cap", "封顶", "Cap", "上限", required=False),
        C("note", "说明", "Note", required=False),
    ),
    editable=("target", "floor", "cap", "note"),
)

DATA = TableSpec(
    "kb_data", "源数据", "Source data",
    (
        C("employee_id", "工号", "Employee ID", "员工编号", "id"),
        C("indicator", "指标代码", "Indicator", "code", "indicator code"),
        C("field", "字段", "Field", "input", required=False),
        C("value", "数值", "Value", "实际值", "actual"),
        C("unit", "单位", "Unit", required=False),
        C("source", "数据来源", "Source", "来源", required=False),
        C("period", "期间", "Period", required=False),
        C("fetched_at", "获取时间", "Fetched at", required=False),
        C("status", "状态", "Status", required=False),
        C("provenance", "出处", "Provenance", "origin", required=False),
    ),
    editable=("value",),
)

SCORES = TableSpec(
    "kb_scores", "得分明细", "Scores",
    (
        C("employee_id", "工号", "Employee ID", "员工编号", "id"),
        C("name", "姓名", "Name"),
        C("department", "部门", "Department"),
        C("indicator", "指标代码", "Indicator", "code"),
        C("indicator_name", "指标名称", "Indicator name"),
        C("actual", "实际值", "Actual"),
        C("target", "目标值", "Target"),
        C("weight", "权重", "Weight"),
        C("base_points", "规则得分", "Rule score", "base score"),
        C("adjustment", "调整分", "Adjustment"),
        C("points", "得分", "Score", "points"),
        C("explanation", "计算说明", "Explanation"),
        C("status", "状态", "Status"),
    ),
)

SUMMARY = TableSpec(
    "kb_summary", "汇总", "Summary",
    (
        C("employee_id", "工号", "Employee ID", "员工编号", "id"),
        C("name", "姓名", "Name"),
        C("department", "部门", "Department"),
        C("position", "岗位", "Position"),
        C("total", "总分", "Total"),
        C("grade", "等级", "Grade"),
        C("rank", "总排名", "Rank"),
        C("group_rank", "部门排名", "Dept. rank", "department rank"),
        C("status", "状态", "Status"),
    ),
)
"""Per-indicator score columns (captioned by indicator code) sit between position and total."""

ADJUSTMENTS = TableSpec(
    "kb_adjustments", "调整", "Adjustments",
    (
        C("employee_id", "工号", "Employee ID", "员工编号", "id"),
        C("name", "姓名", "Name", required=False),
        C("department", "部门", "Department", required=False),
        C("indicator", "指标代码", "Indicator", "code"),
        C("indicator_name", "指标名称", "Indicator name", required=False),
        C("base_points", "规则得分", "Rule score", required=False),
        C("points", "调整分", "Adjustment", "adjustment points", "调整"),
        C("reason", "调整理由", "Reason", "理由", "原因"),
        C("adjusted", "调整后得分", "Adjusted score", required=False),
        C("status", "状态", "Status", required=False),
        # written for the person who pressed: how far they may adjust the line
        C("allowed", "可调整范围", "Allowed range", required=False),
    ),
    editable=("points", "reason"),
)

TABLES: dict[str, TableSpec] = {
    t.name: t for t in (META, SETTINGS, RULES, ROSTER, TARGETS, DATA, SCORES, SUMMARY, ADJUSTMENTS)
}
"""Every kpibook table by ListObject name. Nothing outside these is ever rewritten."""

INPUT_TABLES = ("kb_settings", "kb_rules", "kb_roster", "kb_targets", "kb_data", "kb_adjustments")
OUTPUT_TABLES = ("kb_scores", "kb_summary")

_FOLD = re.compile(r"[\s_\-:：()（）%.·]+")


def fold(caption: str) -> str:
    """Normalise a header caption for matching: lower case, no spaces or punctuation."""
    return _FOLD.sub("", str(caption)).lower()


def caption_parts(caption: str) -> list[str]:
    """A caption and, for bilingual captions like "工号 / Employee ID", each of its parts."""
    text = str(caption)
    parts = [text, *re.split(r"\s*[/\n|]\s*", text)]
    return [fold(p) for p in parts if p and p.strip()]


def match_column(spec: TableSpec, caption: str) -> Column | None:
    """The column of `spec` a header caption names, or None when it names none of them."""
    wanted = set(caption_parts(caption))
    for col in spec.columns:
        if wanted & {fold(n) for n in col.names()}:
            return col
    return None
