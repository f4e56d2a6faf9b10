"""Generate the shipped KPI workbooks (workbook_templates/*.xlsx) from code.

Every table is a real Excel table (ListObject) with kpibook's fixed name and bilingual
captions, so the add-in and the server find it whatever HR later renames the sheet to.
Layout only lives here; the rules, demo managers and figures are in `template_content`.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill, Protection
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.table import Table, TableStyleInfo
from openpyxl.worksheet.worksheet import Worksheet

from server.workbook.schema import (
    ADJUSTMENTS,
    DATA,
    META,
    ROSTER,
    RULES,
    SCORES,
    SETTINGS,
    SUMMARY,
    TARGETS,
    TEMPLATE_FORMAT_VERSION,
    TableSpec,
)
from server.workbook.template_content import (
    SETTINGS as DEFAULT_SETTINGS,
)
from server.workbook.template_content import (
    TEMPLATES,
    Template,
)

TEMPLATE_VERSION = "2026.12"  # 2026.12: no period (New period writes it)
FONT = "Microsoft YaHei"  # renders Chinese well on Windows; Excel/LibreOffice substitute
INPUT_STYLE = "TableStyleMedium2"  # blue: tables HR maintains
OUTPUT_STYLE = "TableStyleMedium7"  # green: tables the server writes
EDITABLE_FILL = PatternFill("solid", fgColor="FFF8E1")  # pale yellow: "type here"
KIND_CHOICES = "定量,定性,加分,扣分"
MISSING_CHOICES = "阻断,记零,排除"
RULE_CHOICES = ("ratio,reverse_ratio,reverse_linear,linear,band,steps,deduction,rating,stars,"
                "per_item,points,formula")
PERCENT_FORMAT = "0.0%"
RESERVED_ROWS = 300  # validation and unlocked cells reach this far below the header
META_PERIOD_ROW = 2  # kb_meta's first row is the period (`_meta_sheet`); the guide shows it

BUTTONS = (
    ("检查 / Check", "检查所有表格，列出需要修正的单元格（工作表、行、列）。",
     "Checks every table and lists the cells to fix (sheet, row, column)."),
    ("计算得分 / Score", "由服务器按考核规则计算，写入 得分明细、汇总 和 调整 表。",
     "The server scores the workbook and writes Scores, Summary and Adjustments."),
    ("拉取数据 / Pull data", "从 ERP、QMS、CRM 等系统取数，写入 源数据 表。",
     "Fetches values from ERP, QMS, CRM ... into the Source data table."),
)

SHEET_HELP: tuple[tuple[TableSpec, str, str], ...] = (
    (RULES, "每行一个考核指标：类型、权重（定量+定性合计 100）、数据来源、计分规则与参数、"
            "适用部门/岗位、缺数据处理、调整权限。",
     "One row per KPI: kind, weight (quantitative + qualitative add up to 100), source, "
     "scoring rule and parameters, departments/positions, missing-data policy, who may adjust."),
    (ROSTER, "参加考核的中层管理者：工号唯一。", "The managers being scored; employee IDs are "
                                               "unique."),
    (TARGETS, "个别人员的目标值、底线值或封顶，覆盖考核规则表中的数值。",
     "Per-person target, floor or cap replacing the value in the rules table."),
    (DATA, "每人每个指标一行的实际值（可由系统拉取或手工填写）；评级类指标填 A/B/C/D。",
     "Actual values, one row per person and indicator (pulled or typed); ratings take A/B/C/D."),
    (ADJUSTMENTS, "仅可填写黄色的 调整分 与 调整理由 两列；非零调整必须写理由。",
     "Only the yellow Adjustment and Reason columns are editable; a non-zero adjustment needs a "
     "reason."),
    (SCORES, "服务器写入：每人每个指标的得分与计算说明，请勿手工修改。",
     "Written by the server: each person's score per indicator and how it was reached."),
    (SUMMARY, "服务器写入：各指标得分、总分、等级与排名。",
     "Written by the server: indicator scores, total, grade and ranks."),
    (SETTINGS, "评级方式、等级分数线、强制分布比例、缺数据默认处理、总分封顶。",
     "Grading method, grade bands, quotas, missing-data default, total cap."),
)


def build_workbook(template: Template) -> Workbook:
    """The complete workbook for one template."""
    wb = Workbook()
    wb.properties.creator = "kpibook"
    wb.properties.title = f"{template.title_zh} / {template.title_en}"
    fixed = datetime(2026, 11, 1)  # constant so regenerated files differ only in content
    wb.properties.created = wb.properties.modified = fixed
    _instructions(wb.active, template)
    _rules_sheet(wb, template)
    _table_sheet(wb, ROSTER, [_roster_row(m) for m in template.roster], freeze="C2")
    _table_sheet(wb, TARGETS, [dict(zip(("employee_id", "indicator", "target", "floor", "cap",
                                         "note"), t, strict=True)) for t in template.targets],
                 freeze="C2", formats=_target_formats(template))
    _data_sheet(wb, template)
    _adjustments_sheet(wb, template)
    _table_sheet(wb, SCORES, [], style=OUTPUT_STYLE, protect=True, freeze="E2",
                 widths={"explanation": 60})
    _summary_sheet(wb, template)
    _table_sheet(wb, SETTINGS, [dict(zip(("key", "value", "note"), s, strict=True))
                                for s in DEFAULT_SETTINGS], widths={"key": 34, "value": 34,
                                                                    "note": 50})
    _meta_sheet(wb, template)
    return wb


def write_templates(out_dir: Path) -> list[Path]:
    """Write every template as `<key>.xlsx` into `out_dir`; the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for key, template in TEMPLATES.items():
        path = out_dir / f"{key}.xlsx"
        build_workbook(template).save(path)
        paths.append(path)
    return paths


# --- sheets ------------------------------------------------------------------------------


def _instructions(ws: Worksheet, template: Template) -> None:
    ws.title = "说明"
    ws.sheet_view.showGridLines = False
    ws.column_dimensions["A"].width = 24
    ws.column_dimensions["B"].width = 70
    ws.column_dimensions["C"].width = 70
    ws["A1"] = template.title_zh
    ws["A1"].font = Font(name=FONT, size=18, bold=True, color="1F4E78")
    ws["A2"] = template.title_en
    ws["A2"].font = Font(name=FONT, size=12, color="595959")
    # The template carries no period: the line shows kb_meta's period (row 2 of the very
    # hidden sheet), which New period writes with the month the person chose.
    ws["A3"] = f'="考核期间 / Period: "&\'{META.zh}\'!$B${META_PERIOD_ROW}'
    ws["A3"].font = Font(name=FONT, size=11)
    row = 5
    row = _help_heading(ws, row, "工作表 / Sheets", "中文说明", "English")
    for spec, zh, en in SHEET_HELP:
        row = _help_line(ws, row, f"{spec.zh} / {spec.en}", zh, en)
    row += 1
    row = _help_heading(ws, row, "按钮 / Buttons", "作用", "What it does")
    for button, zh, en in BUTTONS:
        row = _help_line(ws, row, button, zh, en)
    row += 1
    row = _help_heading(ws, row, "填写提示 / Tips", "", "")
    tips = (
        ("数值 / Numbers", "可填 85、85% 或文本“85%”；“abc”会被指出具体单元格。",
         "85, 85% or the text \"85%\" are all read; \"abc\" is reported with its cell."),
        ("参数 / Parameters", "规则参数写成 key=value; key=value，例如 steps=0.8:60,1:80,1.2:100。",
         "Rule parameters read key=value; key=value, e.g. steps=0.8:60,1:80,1.2:100."),
        ("表名 / Table names", "可改工作表名和列标题，请勿修改表格名称（kb_ 开头）。",
         "Sheet names and captions may change; keep the table names (kb_...)."),
        ("自定义列 / Own columns", "可在表格右侧添加自己的列，服务器不会改动。",
         "Columns you add to a table are kept; the server never writes them."),
    )
    for label, zh, en in tips:
        row = _help_line(ws, row, label, zh, en)
    ws.protection.sheet = True  # read-only guide; no password, it only prevents slips


def _help_heading(ws: Worksheet, row: int, *texts: str) -> int:
    for col, text in enumerate(texts, start=1):
        cell = ws.cell(row, col, text or None)
        cell.font = Font(name=FONT, bold=True, color="FFFFFF")
        cell.fill = PatternFill("solid", fgColor="1F4E78")
    return row + 1


def _help_line(ws: Worksheet, row: int, label: str, zh: str, en: str) -> int:
    for col, text in enumerate((label, zh, en), start=1):
        cell = ws.cell(row, col, text)
        cell.font = Font(name=FONT, bold=col == 1)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    return row + 1


def _roster_row(m) -> dict[str, object]:
    return {"employee_id": m.employee_id, "name": m.name, "department": m.department,
            "position": m.position, "email": m.email, "manager": m.manager}


def _target_formats(template: Template) -> list[dict[str, str]]:
    units = {r.code: r.unit for r in template.rules}
    return [{k: PERCENT_FORMAT for k in ("target", "floor")} if units.get(t[1]) == "%" else {}
            for t in template.targets]


def _rules_sheet(wb: Workbook, template: Template) -> None:
    rows = [r.as_row() for r in template.rules]
    formats = [{k: PERCENT_FORMAT for k in ("target", "floor")} if r.unit == "%" else {}
               for r in template.rules]
    for fmt in formats:
        fmt["cap"] = "0%"
    ws = _table_sheet(wb, RULES, rows, freeze="C2", formats=formats,
                      widths={"params": 34, "description": 48, "departments": 22})
    last = RESERVED_ROWS + 1
    for key, choices in (("kind", KIND_CHOICES), ("rule", RULE_CHOICES),
                         ("missing", MISSING_CHOICES)):
        letter = get_column_letter(RULES.keys.index(key) + 1)
        _drop_down(ws, [f"{letter}2:{letter}{last}"], choices, allow_other=True)


def _data_sheet(wb: Workbook, template: Template) -> None:
    rules = {r.code: r for r in template.rules}
    rows, formats = [], []
    for manager in template.roster:
        for code, value in template.values.get(manager.employee_id, {}).items():
            rule = rules[code]
            stale = (manager.employee_id, code) in template.stale
            rows.append({
                "employee_id": manager.employee_id, "indicator": code, "field": "actual",
                # period blank: New period fills it with the month chosen (xl.new_period)
                "value": value, "unit": rule.unit, "source": rule.source, "period": None,
                "fetched_at": None, "status": "stale" if stale else "ok",
                "provenance": template.provenance.get(rule.source, ""),
            })
            formats.append({"value": PERCENT_FORMAT} if rule.unit == "%" else {})
    ws = _table_sheet(wb, DATA, rows, freeze="C2", formats=formats, editable=("value",),
                      widths={"provenance": 24, "fetched_at": 18})
    # A drop-down on exactly the value cells of rating indicators: A/B/C/D, nothing else.
    value_col = get_column_letter(DATA.keys.index("value") + 1)
    for code, rule in rules.items():
        if rule.rule != "rating":
            continue
        cells = [f"{value_col}{n + 2}" for n, row in enumerate(rows) if row["indicator"] == code]
        if cells:
            _drop_down(ws, cells, _scale_labels(rule.params), allow_other=False)


def _scale_labels(params: str) -> str:
    scale = params.split("scale=", 1)[1].split(";")[0] if "scale=" in params else "A,B,C,D"
    return ",".join(item.split(":")[0].strip() for item in scale.split(","))


def _applies(rule, manager) -> bool:
    departments = {d.strip() for d in rule.departments.replace("、", ",").split(",") if d.strip()}
    return not departments or manager.department in departments


def _adjustments_sheet(wb: Workbook, template: Template) -> None:
    rows = [{"employee_id": m.employee_id, "name": m.name, "department": m.department,
             "indicator": r.code, "indicator_name": r.name}
            for m in template.roster for r in template.rules if _applies(r, m)]
    _table_sheet(wb, ADJUSTMENTS, rows, style=OUTPUT_STYLE, protect=True, freeze="E2",
                 editable=ADJUSTMENTS.editable, widths={"reason": 40},
                 formats=[{"points": "0.00", "base_points": "0.00", "adjusted": "0.00"}
                          for _ in rows])


def _summary_sheet(wb: Workbook, template: Template) -> None:
    keys = list(SUMMARY.keys)
    at = keys.index("total")
    codes = [r.code for r in template.rules]
    columns = keys[:at] + codes + keys[at:]
    captions = {code: code for code in codes}  # per-indicator columns are captioned by code
    _table_sheet(wb, SUMMARY, [], style=OUTPUT_STYLE, protect=True, freeze="C2",
                 columns=columns, captions=captions)


def _meta_sheet(wb: Workbook, template: Template) -> None:
    rows = [{"key": k, "value": v} for k, v in (
        ("period", ""), ("template", template.key), ("template_version", TEMPLATE_VERSION),
        ("format_version", TEMPLATE_FORMAT_VERSION), ("server_version", ""),
        ("workbook_id", ""), ("base_version", ""), ("scored_at", ""), ("engine_version", ""),
    )]
    ws = _table_sheet(wb, META, rows, protect=True)
    ws.sheet_state = "veryHidden"  # only the add-in and server read it


# --- tables ------------------------------------------------------------------------------


def _table_sheet(wb: Workbook, spec: TableSpec, rows: list[dict[str, object]], *,
                 style: str = INPUT_STYLE, protect: bool = False, freeze: str | None = "A2",
                 formats: list[dict[str, str]] | None = None, editable: tuple[str, ...] = (),
                 widths: dict[str, float] | None = None, columns: list[str] | None = None,
                 captions: dict[str, str] | None = None) -> Worksheet:
    """A sheet holding one kpibook table at A1 with its rows; returns the sheet."""
    ws = wb.create_sheet(spec.zh)
    columns = columns or list(spec.keys)
    captions = captions or {}
    header_font = Font(name=FONT, bold=True)
    body_font = Font(name=FONT)
    for c, key in enumerate(columns, start=1):
        cell = ws.cell(1, c, captions.get(key) or spec.column(key).caption)
        cell.font = header_font
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    body = rows or [{}]  # an Excel table needs at least one data row
    for r, row in enumerate(body, start=2):
        row_formats = formats[r - 2] if formats and r - 2 < len(formats) else {}
        for c, key in enumerate(columns, start=1):
            value = row.get(key)
            cell = ws.cell(r, c, value if value != "" else None)
            cell.font = body_font
            if key in row_formats:
                cell.number_format = row_formats[key]
    ws.row_dimensions[1].height = 34
    last = f"{get_column_letter(len(columns))}{len(body) + 1}"
    table = Table(displayName=spec.name, ref=f"A1:{last}")
    table.tableStyleInfo = TableStyleInfo(name=style, showRowStripes=True)
    ws.add_table(table)
    for c, key in enumerate(columns, start=1):
        caption = str(ws.cell(1, c).value)
        longest = max([_display_width(caption) / 2 + 2] + [
            _display_width(str(row.get(key))) + 2 for row in rows if row.get(key) is not None])
        width = (widths or {}).get(key, min(max(longest, 10), 40))
        ws.column_dimensions[get_column_letter(c)].width = width
    if freeze:
        ws.freeze_panes = freeze
    if editable:
        _mark_editable(ws, columns, editable, len(body), unlock=protect)
    if protect:
        # No password: protection guards against slips, the server is the authority anyway.
        ws.protection.sheet = True
        ws.protection.autoFilter = False
        ws.protection.sort = False
        ws.protection.formatColumns = False
    return ws


def _mark_editable(ws: Worksheet, columns: list[str], editable: tuple[str, ...], n_rows: int,
                   unlock: bool) -> None:
    for key in editable:
        c = columns.index(key) + 1
        for r in range(2, max(n_rows + 1, RESERVED_ROWS) + 1 if unlock else n_rows + 2):
            cell = ws.cell(r, c)
            if r <= n_rows + 1:
                cell.fill = EDITABLE_FILL
            if unlock:
                cell.protection = Protection(locked=False)


def _drop_down(ws: Worksheet, cells: list[str], choices: str, allow_other: bool) -> None:
    """A list validation; `allow_other` only warns, so synonyms like 'quantitative' pass."""
    dv = DataValidation(type="list", formula1=f'"{choices}"', allow_blank=True,
                        showDropDown=False)  # openpyxl's False means "show the arrow"
    if allow_other:
        dv.errorStyle = "warning"
    dv.error = "请从列表选择 / Please pick from the list"
    dv.errorTitle = "kpibook"
    ws.add_data_validation(dv)
    for ref in cells:
        dv.add(ref)


def _display_width(text: str) -> float:
    """Column width Excel needs: CJK characters take two cells' width."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)
