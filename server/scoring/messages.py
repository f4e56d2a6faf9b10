"""Every problem message of the engine and the workbook contract, in Chinese and English.

One catalogue, one way to word a problem:

* `CATALOGUE[key] = (en, zh)`: `str.format` templates with named fields;
* `msg(key, lang, **params)`: the text in one language ("zh" or "en"; anything starting with
  "zh" is Chinese, everything else English);
* `Message(key, params)`: the same, kept unrendered, so a problem found before the reader's
  language is known (e.g. while locating tables) can still be shown in it:
  `Message.text(lang)`. A `Problem` carries its `Message` in `why` next to `message` (the text
  in the language it was produced in); `server.workbook.render` re-renders `why` in the
  language of the answer;
* `MessageError(key, **params)`: a ValueError whose `str()` is the English text and whose
  `.why` is the Message, for reasons raised deep inside (a number that is not one, a rating
  off the scale) and worded by whoever catches them (`why_of(exc)`).

Field values may themselves be Messages or MessageErrors (rendered in the same language), or
`Seq` lists (joined with ", " in English and "、" in Chinese, optionally quoted).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

LANGS = ("en", "zh")


def lang_of(lang: object) -> str:
    """"zh", "zh-CN", "zh_Hans" -> "zh"; everything else (None, "en", "en-US") -> "en"."""
    return "zh" if str(lang or "").strip().lower().startswith("zh") else "en"


CATALOGUE: dict[str, tuple[str, str]] = {
    # -- glue ---------------------------------------------------------------------------------
    "about": ("{who}: {what}", "{who}：{what}"),  # "SALES: target must be above 0"
    "none": ("none", "无"),
    "kind.quantitative": ("quantitative", "定量"),
    "kind.qualitative": ("qualitative", "定性"),
    "kind.bonus": ("bonus", "加分"),
    "kind.penalty": ("penalty", "扣分"),
    "glue.clauses": ("; ", "；"),  # reasons in a row: "a; b" / "a；b"
    "glue.list": (", ", "、"),  # names in a row: "a, b" / "a、b"
    "glue.comma": (", ", "，"),
    "field.reason": ("the reason", "理由"),
    # -- the web pages, exports and notifications (server/display.py) ------------------------
    "appeal.open": ("waiting for HR's answer", "等待人力资源部答复"),
    "appeal.answered": ("answered by HR, waiting for the manager's confirmation",
                        "人力资源部已答复，待经理确认"),
    "appeal.confirmed": ("closed: the manager confirmed the answer", "已结束：经理已确认答复"),
    "provenance.ask": ("asked", "查询了"),
    "provenance.send": ("sent a request to", "提交请求至"),
    "provenance.http": ("{verb} {place}", "{verb} {place}"),
    "provenance.http_with": ("{verb} {place} for {params}", "{verb} {place}，条件：{params}"),
    "provenance.sql": ("database query on {place}: {query}", "数据库 {place} 上的查询：{query}"),
    "provenance.sql_with": ("database query on {place}: {query} (with {params})",
                            "数据库 {place} 上的查询：{query}（参数：{params}）"),
    "provenance.jira": ("Jira search on {place} for the issues {jql}",
                        "在 Jira（{place}）中检索问题：{jql}"),
    "provenance.attendance": ("attendance records of {users} people from {start} to {end} "
                              "on {place}",
                              "{place} 上 {users} 人在 {start} 至 {end} 的考勤记录"),
    "provenance.push": ("records the source system sent for period {period} "
                        "({n} people or items)",
                        "源系统为期间 {period} 推送的记录（{n} 个人员或条目）"),
    "provenance.files": ("the uploaded file(s) {files}", "上传的文件 {files}"),
    "notify.at": ("at {when}", "时间：{when}"),
    # the button of a card (DingTalk / Feishu / WeCom), per kind of notification
    "notify.button.adjustments_to_approve": ("Review and approve", "去审批"),
    "notify.button.approvals_reminder": ("Review and approve", "去审批"),
    "notify.button.result_to_acknowledge": ("View my result", "查看结果"),
    "notify.button.appeal_to_answer": ("Answer the appeal", "去答复"),
    "notify.button.answer_to_confirm": ("Read the answer", "查看答复"),
    "notify.button.open": ("Open", "打开页面"),
    "notify.reminder.subject": ("{n} people's adjustments wait for your approval",
                                "待审批 {n} 人"),
    "notify.reminder.body": ("The adjustments of {n} people wait for your approval "
                             "({periods}). {when}",
                             "有 {n} 人的分数调整等待您审批（{periods}）。{when}"),
    "pull.queued": ("waiting", "排队中"),
    "pull.running": ("running", "进行中"),
    "pull.mapping": ("reading the records", "正在读取记录"),
    "pull.done": ("done", "已完成"),
    "pull.failed": ("failed", "失败"),
    # -- numbers and parameter cells (server.scoring.numbers, .params) ------------------------
    "number.not_finite": ("'{value}' is not a finite number", "“{value}”不是有限的数值"),
    "number.invalid": ("'{value}' is not a number", "“{value}”不是数字"),
    "number.empty": ("empty value is not a number", "空值不是数字"),
    "number.decimal_comma": ("'{value}' is not a number (use '.' for decimals)",
                             "“{value}”不是数字（小数点请用“.”）"),
    "number.out_of_range": ("'{value}' is out of range (less than {limit} in size)",
                            "“{value}”超出范围（绝对值须小于 {limit}）"),
    "number.decimals": ("'{value}' has more than {places} decimals",
                        "“{value}”的小数位超过 {places} 位"),
    # -- text (server.xlwire.textsafe.checked_text) -------------------------------------------
    "text.value": ("the text", "文本"),
    "text.control": ("{what} contains a control character ({char}); remove it",
                     "{what}含有控制字符（{char}），请删除"),
    "text.line_break": ("{what} must be one line", "{what}只能是一行"),
    "text.too_long": ("{what} is too long ({length} characters, at most {limit})",
                      "{what}太长（{length} 个字符，最多 {limit} 个）"),
    "params.no_equals": ("'{item}' has no '=' (write key=value)",
                         "“{item}”缺少“=”（请写成 参数名=值）"),
    "params.bad_name": ("'{name}' is not a parameter name (in '{item}')",
                        "“{name}”不是参数名（在“{item}”中）"),
    "params.twice": ("parameter '{key}' is given twice", "参数“{key}”填写了两次"),
    "params.no_value": ("parameter '{key}' has no value", "参数“{key}”没有值"),
    "table.no_colon": ("'{entry}' in '{key}' has no ':' (write key:value, key:value)",
                       "“{key}”中的“{entry}”缺少“:”（请写成 键:值, 键:值）"),
    "table.no_key": ("'{entry}' in '{key}' has no key before ':'",
                     "“{key}”中的“{entry}”在“:”前没有键"),
    "table.not_number": ("'{value}' in '{key}' is not a number", "“{key}”中的“{value}”不是数字"),
    "table.empty": ("parameter '{key}' has an empty table", "参数“{key}”的表为空"),
    "table.shape": ("'{key}' must be a table like 'key:value, key:value'",
                    "“{key}”必须是“键:值, 键:值”形式的表"),
    # -- formulas (server.scoring.formula) ----------------------------------------------------
    "formula.div0": ("division by zero in formula '{text}'", "公式“{text}”中出现除以零"),
    "formula.cannot": ("formula '{text}' cannot be computed ({error})",
                       "公式“{text}”无法计算（{error}）"),
    "formula.needs": ("formula '{text}' needs a value for {name}", "公式“{text}”缺少 {name} 的值"),
    "formula.bool": ("formula '{text}' gives true/false, not a number",
                     "公式“{text}”的结果是真/假，不是数字"),
    "formula.empty": ("the formula is empty", "公式为空"),
    "formula.too_long": ("the formula is longer than {most} characters",
                         "公式超过 {most} 个字符"),
    "formula.syntax": ("formula '{text}' is not a valid expression ({error})",
                       "公式“{text}”不是有效的表达式（{error}）"),
    "formula.invalid": ("formula '{text}' is not a valid expression",
                        "公式“{text}”不是有效的表达式"),
    "formula.too_large": ("the formula is too large ({n} parts, at most {most})",
                          "公式过长（{n} 个部分，最多 {most} 个）"),
    "formula.numbers_only": ("'{value}' is not allowed in a formula (numbers only)",
                             "公式中不能使用“{value}”（只能用数字）"),
    "formula.bad_number": ("'{value}' is not a usable number", "“{value}”不是可用的数字"),
    "formula.call_it": ("'{name}' is a function; call it like {name}(...)",
                        "“{name}”是函数，请写成 {name}(...)"),
    "formula.not_callable": ("'{name}' cannot be called in a formula (only {allowed})",
                             "公式中不能调用“{name}”（只能用 {allowed}）"),
    "formula.no_keywords": ("{name}() takes no named arguments", "{name}() 不接受命名参数"),
    "formula.arg_count": ("{name}() takes {least}..{most} arguments",
                          "{name}() 需要 {least}..{most} 个参数"),
    "formula.not_allowed": ("'{part}' is not allowed in a formula", "公式中不能使用“{part}”"),
    "formula.round_places": ("round() takes a whole number of places",
                             "round() 的小数位数必须是整数"),
    # -- values scored by a rule (server.scoring.rules) ---------------------------------------
    "value.count_negative": ("a count cannot be negative ({n})", "次数不能为负数（{n}）"),
    "value.count_whole": ("a count must be a whole number ({n})", "次数必须是整数（{n}）"),
    "value.reverse_negative": ("a lower-is-better value cannot be negative ({value})",
                               "越低越好的指标，数值不能为负数（{value}）"),
    "value.rating_off_scale": ("rating '{label}' is not on the scale ({allowed})",
                               "评级“{label}”不在评级表中（可用：{allowed}）"),
    "value.stars_off_scale": ("'{n}' stars is not on the scale ({allowed})",
                              "“{n}”星不在星级表中（可用：{allowed}）"),
    # -- rule parameters (server.scoring.rules checks) ----------------------------------------
    "rule.target_above_0": ("target must be above 0 for a ratio (is {value})",
                            "比率类规则的目标值必须大于 0（现为 {value}）"),
    "rule.cap_above_0_is": ("cap must be above 0 (is {value})", "封顶必须大于 0（现为 {value}）"),
    "rule.cap_above_0": ("cap must be above 0", "封顶必须大于 0"),
    "rule.floor_above_target": (
        "floor must be above target (lower is better: full at target, 0 at floor), "
        "is {floor} vs {target}",
        "底线值必须高于目标值（越低越好：达到目标得满分，达到底线得 0），现为 {floor} 与 {target}"),
    "rule.floor_below_target": (
        "floor must be below target (0 at floor, full at target), is {floor} vs {target}",
        "底线值必须低于目标值（底线得 0，目标得满分），现为 {floor} 与 {target}"),
    "rule.tolerance_negative": ("tolerance cannot be negative", "tolerance 不能为负数"),
    "rule.zero_at_beyond": ("zero_at must be beyond tolerance (is {zero_at} vs {tolerance})",
                            "zero_at 必须大于 tolerance（现为 {zero_at} 与 {tolerance}）"),
    "rule.table_empty": ("'{key}' is empty", "“{key}”为空"),
    "rule.table_negative": ("'{key}' has a negative percentage", "“{key}”中有负的百分比"),
    "rule.steps_of": ("of must be 'ratio' or 'actual' (is '{of}')",
                      "of 必须是 ratio 或 actual（现为“{of}”）"),
    "rule.steps_need_target": ("steps of the ratio need a target", "按完成率分档需要目标值"),
    "rule.step_not_number": ("step threshold '{threshold}' is not a number",
                             "阶梯门槛“{threshold}”不是数字"),
    "rule.steps_twice": ("steps has the same threshold twice", "阶梯表中有重复的门槛"),
    "rule.per_negative": ("per must not be negative (it is the points taken off each time)",
                          "per 不能为负数（它是每次扣的分数）"),
    "rule.not_negative": ("{key} must not be negative", "{key} 不能为负数"),
    "rule.scale_twice": ("scale has the same rating twice", "评级表中有重复的评级"),
    "rule.star_whole": ("star count '{n}' must be a whole number", "星数“{n}”必须是整数"),
    "rule.formula_uses": ("the formula uses {name} but no {name} is given",
                          "公式用到了 {name}，但没有填写 {name}"),
    "rule.unknown": ("unknown rule '{rule}' (known: {known})",
                     "未知的计分规则“{rule}”（可用：{known}）"),
    "rule.unknown_params": ("rule {rule} does not take {unknown} (its parameters: {allowed})",
                            "规则 {rule} 没有参数 {unknown}（可用参数：{allowed}）"),
    "rule.needs": ("rule {rule} needs {key}", "规则 {rule} 需要 {key}"),
    "rule.item_points_cap": ("a bonus/penalty item with rule points needs a cap",
                             "计分规则为 points 的加分/扣分项需要封顶值"),
    "rule.kind_mismatch": ("rule {rule} does not fit a {kind} indicator (it is for {allowed})",
                           "规则 {rule} 不适用于{kind}指标（适用于：{allowed}）"),
    "rule.weight_above_0": ("weight must be above 0 (is {value})",
                            "权重必须大于 0（现为 {value}）"),
    "rule.item_weight": ("a {kind} item sits outside the 100 weights; leave its weight 0 and "
                         "use cap",
                         "{kind}项不占 100 分权重：权重请留空或填 0，用封顶限制分数"),
    # -- the engine's checks (server.scoring.engine) ------------------------------------------
    "rules.no_code": ("an indicator has no code", "有指标没有填写指标代码"),
    "rules.code_twice": ("indicator code '{code}' is used twice", "指标代码“{code}”重复"),
    "rules.weights_sum": ("the weights of the weighted indicators add up to {total}, not 100",
                          "计权指标的权重合计为 {total}，不是 100"),
    "rules.no_weighted": ("there is no weighted indicator", "没有计权指标（定量或定性）"),
    "settings.bands_falling": ("grade bands must be listed best first with falling minimum "
                               "scores, e.g. S 95, A 85, B 70, C 0",
                               "等级分数线须从最好的等级写起、最低分依次递减，例如 S 95, A 85, "
                               "B 70, C 0"),
    "settings.band_twice": ("a grade appears twice in the grade bands", "等级分数线中有重复的等级"),
    "settings.quotas_needed": ("forced distribution needs grade quotas, e.g. A 20%, B 70%, C 10%",
                               "强制分布需要等级比例，例如 A 20%, B 70%, C 10%"),
    "settings.quota_negative": ("a grade quota cannot be negative", "等级比例不能为负数"),
    "settings.quotas_sum": ("grade quotas add up to {total}%, not 100%",
                            "等级比例合计为 {total}%，不是 100%"),
    "settings.quota_twice": ("a grade appears twice in the grade quotas", "等级比例中有重复的等级"),
    "settings.bad_group": ("'{group}' is not a roster column to group by ({allowed})",
                           "“{group}”不是可用于分组的名单列（可用：{allowed}）"),
    "settings.total_cap": ("the total cap must be above 0", "总分封顶必须大于 0"),
    "roster.no_id": ("'{name}' has no employee ID", "“{name}”没有工号"),
    "roster.id_twice": ("employee ID '{eid}' is listed twice", "工号“{eid}”重复"),
    "roster.nothing_applies": ("no weighted indicator applies to {eid} (department "
                               "'{department}', position '{position}')",
                               "没有计权指标适用于 {eid}（部门“{department}”，岗位“{position}”）"),
    "data.not_on_roster": ("employee '{eid}' is not on the roster", "员工“{eid}”不在人员名单中"),
    "data.not_in_rules": ("indicator '{code}' is not in the rules", "指标“{code}”不在考核规则中"),
    "data.given_twice": ("'{name}' is given twice", "“{name}”填写了两次"),
    "data.only_actual": ("rule {rule} reads only 'actual', not '{name}'",
                         "规则 {rule} 只读取“actual”，不读取“{name}”"),
    "targets.twice": ("personal target given twice", "个人目标填写了两次"),
    "targets.not_applicable": ("indicator does not apply to this employee",
                               "该指标不适用于此员工"),
    "adjust.not_applicable": ("indicator does not apply to this employee; nothing to adjust",
                              "该指标不适用于此员工，没有可调整的得分"),
    "adjust.needs_reason": ("an adjustment needs a reason", "调整必须填写理由"),
    "adjust.decimals": ("adjustment {points} has more than 2 decimals",
                        "调整分 {points} 超过 2 位小数"),
    "adjust.no_score": ("there is no score to adjust (no data)", "没有可调整的得分（无数据）"),
    "adjust.outside": ("adjusted score {points} is outside {low}..{high}",
                       "调整后得分 {points} 超出范围 {low}..{high}"),
    "adjust.more_than": ("adjustment {delta} is more than the allowed {limit}",
                         "调整 {delta} 超过允许的 {limit}"),
    # -- the workbook contract (server.workbook.contract) -------------------------------------
    "book.no_table": ("the workbook has no table {name} (sheet {zh} / {en}): restore the sheet "
                      "from the template or name its table {name} (Table Design > Table Name)",
                      "工作簿中没有表格 {name}（工作表 {zh} / {en}）：请从模板恢复该工作表，"
                      "或将其表格命名为 {name}（表设计 > 表名称）"),
    "book.hidden_header": ("table {name} hides its header row; turn on Table Design > Header Row",
                           "表格 {name} 隐藏了标题行：请勾选 表设计 > 标题行"),
    "book.both_mean": ("columns '{first}' ({first_cell}) and '{second}' ({second_cell}) both "
                       "mean {caption}; rename or delete one of them",
                       "列“{first}”（{first_cell}）和列“{second}”（{second_cell}）都表示"
                       "“{caption}”：请重命名或删除其中一列"),
    "book.no_column": ("table {name} on sheet '{sheet}' has no column {caption}; accepted "
                       "captions: {accepted}",
                       "工作表“{sheet}”上的表格 {name} 缺少列“{caption}”；"
                       "可用的列标题：{accepted}"),
    "cell.excel_error": ("the cell shows the Excel error {code}; fix the formula or type a value",
                         "单元格显示 Excel 错误 {code}：请修正公式或直接填写数值"),
    "cell.blank": ("this cell must not be blank", "此单元格不能为空"),
    "cell.blank_number": ("this cell must not be blank; type a number",
                          "此单元格不能为空，请填写数字"),
    "cell.date_not_number": ("expected a number, found the date {date}",
                             "应填写数字，但单元格是日期 {date}"),
    "cell.expected_number": ("expected a number: {reason}", "应填写数字：{reason}"),
    "cell.not_a_date": ("'{value}' is not a date; write 2026-10-31 or 2026-10-31 08:00",
                        "“{value}”不是日期，请写成 2026-10-31 或 2026-10-31 08:00"),
    "rows.twice": ("{what} {shown} appears twice: rows {first} and {second}; keep one row",
                   "{what} {shown} 出现了两次：第 {first} 行和第 {second} 行，请只保留一行"),
    "what.code": ("indicator code", "指标代码"),
    "what.employee": ("employee id", "工号"),
    "what.target": ("target for", "个人目标"),
    "what.value": ("value for", "数据"),
    "what.adjustment": ("adjustment of", "调整"),
    "settings.unknown": ("unknown setting '{label}'; known settings: {known}",
                         "未知的设置“{label}”；可用的设置：{known}"),
    "settings.twice": ("setting '{label}' is given twice (rows {first} and {second})",
                       "设置“{label}”填写了两次（第 {first} 行和第 {second} 行）"),
    "settings.unknown_grading": ("unknown grading method '{text}'; use {known}",
                                 "未知的评级方式“{text}”，可用：{known}"),
    "settings.unknown_missing": ("unknown missing-data policy '{text}'; use {known}",
                                 "未知的缺数据处理方式“{text}”，可用：{known}"),
    "settings.unknown_group": ("unknown distribution group '{text}'; use department (部门), "
                               "position (岗位), scorecard (考核表) or company (公司)",
                               "未知的分布分组“{text}”，可用：部门 (department)、"
                               "岗位 (position)、考核表 (scorecard) 或 公司 (company)"),
    "rules.weight_negative": ("a weight cannot be negative", "权重不能为负数"),
    "rules.unknown_kind": ("unknown kind '{text}'; use {known}",
                           "未知的指标类型“{text}”，可用：{known}"),
    "rules.unknown_rule": ("unknown rule '{text}'; use one of {known}",
                           "未知的计分规则“{text}”，可用：{known}"),
    "rules.bad_params": ("cannot read the parameters: {reason}", "无法读取规则参数：{reason}"),
    "rules.param_conflict": ("{key} is {value} here but {other} in the parameters; keep one",
                             "此处 {key} 为 {value}，但规则参数中为 {other}：请只保留一处"),
    "refs.no_employee": ("employee {eid} is not in the roster", "工号 {eid} 不在人员名单中"),
    "refs.no_indicator": ("indicator {code} is not in the KPI rules", "指标 {code} 不在考核规则中"),
    "data.wrong_period": ("this value is for {row_period} but the workbook scores {period}",
                          "此数据属于期间 {row_period}，但本工作簿考核的是 {period}"),
    "adjust.reason_needed": ("an adjustment of {points} points needs a reason",
                             "调整 {points} 分必须填写理由"),
    # -- the Score button (server/services/score.py) ------------------------------------------
    "score.unsent": (
        "Scored. {n} adjustment(s) typed in the workbook but never submitted were replaced by "
        "the server's values; type adjustments after scoring and press Submit.",
        "已计算。工作簿中有 {n} 项未提交的调整已替换为服务器记录的值；"
        "调整请在计算后输入并按“提交”。"),
    # -- workbook bindings (server/services/periods.py, docs/records.md) ---------------------
    "binding.missing": (
        "This workbook is not bound to period {period} by this server (kb_meta has no "
        "binding): HR presses New period for {period} on it once, then every button works. "
        "Nothing was stored.",
        "本工作簿未经本服务器绑定到期间 {period}（kb_meta 没有 binding）：请人力资源部对本工作簿"
        "按一次“新建期间”（期间 {period}），之后各按钮即可使用。未保存任何内容。"),
    "binding.other": (
        "This workbook says period {period}, but it was bound to another period (or another "
        "server) by its kb_meta binding: it cannot be pressed against {period}. Use the "
        "workbook of period {period}, or press New period for it. Nothing was stored.",
        "本工作簿写的是期间 {period}，但它的 kb_meta binding 属于另一个期间（或另一台服务器）："
        "不能用于期间 {period}。请使用期间 {period} 的工作簿，或为其按“新建期间”。"
        "未保存任何内容。"),
    "binding.elsewhere": (
        "This workbook says {said}, but the server bound it to {bound}: a workbook of another "
        "scorecard or period cannot be pressed against {said}. Open the workbook of {said}, "
        "or use this one for {bound}. Nothing was stored.",
        "本工作簿写的是 {said}，但服务器把它绑定在 {bound}：其他考核表或期间的工作簿不能用于 "
        "{said}。请打开 {said} 的工作簿，或把本工作簿用于 {bound}。未保存任何内容。"),
    # -- periods and scorecards (server/services/periods.py, docs/records.md) ----------------
    "period.unlinked": (
        "The workbook is not linked to a period yet: press 'New period' first.",
        "工作簿尚未关联考核期间：请先点击「新建期间」。"),
    "period.unknown": (
        "Period {period} does not exist on the server: press 'New period' first.",
        "服务器上没有期间 {period}：请先点击「新建期间」。"),
    "period.closed": (
        "Period {period} is {state}; it can no longer be changed.",
        "期间 {period} 已关闭（状态 {state}），不能再修改。"),
    "period.closed_create": (
        "Period {period} is closed; it cannot be created again.",
        "期间 {period} 已关闭，不能重新创建。"),
    "scorecard.choose": (
        "Period {period} holds several scorecards ({scorecards}): choose one.",
        "期间 {period} 有多张考核表（{scorecards}）：请选择一张。"),
    "scorecard.unbound": (
        "Period {period} holds several scorecards ({scorecards}) and this workbook is bound "
        "to none of them: HR presses New period on it with its scorecard once. Nothing was "
        "stored.",
        "期间 {period} 有多张考核表（{scorecards}），本工作簿未绑定其中任何一张：请人力资源部"
        "对本工作簿按一次“新建期间”并选择考核表。未保存任何内容。"),
    "scorecard.bad_code": (
        "'{text}' is not a scorecard code: a lower-case letter, then letters, digits, '-' or "
        "'_' (at most 40), e.g. rnd.",
        "“{text}”不是考核表代码：以小写字母开头，由字母、数字、“-”或“_”组成（最多 40 个），"
        "如 rnd。"),
    "scorecard.other_template": (
        "Scorecard {period} already exists with template {theirs}, not this workbook's "
        "template {ours}: give this workbook its own scorecard at New period.",
        "考核表 {period} 已使用模板 {theirs} 创建，与本工作簿的模板 {ours} 不同：请在“新建期间”"
        "时为本工作簿指定另一张考核表。"),
    "scorecard.taken": (
        "{employee} is already scored on scorecard {other} of period {period}: a manager "
        "belongs to one scorecard a month. Remove the row, or move them on the roster first.",
        "{employee} 已在期间 {period} 的考核表 {other} 中考核：每位管理者每月只属于一张考核表。"
        "请删除该行，或先在花名册中调整。"),
    # -- inputs of record (server/services/records.py, docs/records.md) -------------------------
    "records.none_yet": (
        "Period {period} has no rules and roster of record yet: HR must press Score first.",
        "期间 {period} 还没有服务器记录的规则和人员名单：请人力资源部先按“计算得分”。"),
    "records.adopted_reason": (
        "first Score of the period: the workbook's rules and roster became the record",
        "本期间第一次计算：工作簿的规则和人员名单成为服务器记录"),
    "records.bad_reason": (
        "The reason for applying changes to the records must be at most 500 characters of "
        "text without control characters.",
        "应用记录更改的理由最多 500 个字符，且不能包含控制字符。"),
    "records.differs": ("{what}: record {record}, this workbook {workbook}",
                        "{what}：服务器记录为 {record}，本工作簿为 {workbook}"),
    "records.refused": (
        "{what}: differs from the rules of record ({record}); only HR changes rules, settings "
        "and targets, so this workbook's value ({workbook}) was refused",
        "{what}：与服务器记录的规则不同（记录为 {record}）；规则、设置和目标只能由人力资源部修改，"
        "本工作簿的值（{workbook}）被拒绝"),
    "records.applied": ("Applied {n} change(s) to the rules and roster of record:",
                        "已将 {n} 处更改应用到服务器记录的规则和人员名单："),
    "records.pending": (
        "{n} difference(s) between this workbook and the rules and roster of record were not "
        "applied; the record was scored. To apply them, press Score with a reason (task "
        "pane: Apply my changes; headless: kpibook xl score --apply-records REASON):",
        "本工作簿与服务器记录的规则和人员名单有 {n} 处不同，未应用，计算使用的是服务器记录。"
        "如需应用，请填写理由后再按“计算得分”（任务窗格“应用我的更改”；命令行 "
        "kpibook xl score --apply-records 理由）："),
    "records.ignored": (
        "{n} value(s) in this workbook differ from the server's records and were ignored: the "
        "records were scored and written back:",
        "本工作簿有 {n} 个值与服务器记录不同，已忽略：计算使用服务器记录，并已写回工作簿："),
    # -- period codes (server.periodcode) ------------------------------------------------------
    "period.code_missing": ("no period given: write a month like 2026-11, a quarter like "
                            "2026-Q4 or a year like 2026",
                            "没有填写考核期间：请写月份（如 2026-11）、季度（如 2026-Q4）或年份"
                            "（如 2026）"),
    "period.code_shape": ("'{code}' is not a period: write a month like 2026-11, a quarter like "
                          "2026-Q4 or a year like 2026",
                          "“{code}”不是考核期间：请写月份（如 2026-11）、季度（如 2026-Q4）或年份"
                          "（如 2026）"),
    "period.code_year": ("'{code}' is not a period: the year must be {low} to {high}",
                         "“{code}”不是考核期间：年份须在 {low} 到 {high} 之间"),
    "period.code_month": ("'{code}' is not a period: the month must be 01 to 12",
                          "“{code}”不是考核期间：月份须为 01 到 12"),
    "period.code_quarter": ("'{code}' is not a period: the quarter must be Q1 to Q4",
                            "“{code}”不是考核期间：季度须为 Q1 到 Q4"),
    # -- Submit (server/services/submit.py, docs/history.md) ----------------------------------
    "submit.no_adjustment": ("no adjustment", "无调整"),
    "submit.cell_value": ("{points} ({reason})", "{points}（{reason}）"),
    "submit.row_twice": ("more than one row for this employee and indicator",
                         "同一员工和指标有多行调整"),
    "submit.bad_points": ("points: {why}", "调整分：{why}"),
    "submit.not_on_roster": ("{eid} is not on the roster", "{eid} 不在人员名单中"),
    "submit.not_applicable": ("indicator {code} does not apply to {eid}",
                              "指标 {code} 不适用于 {eid}"),
    "submit.unknown_base": (
        "Sheet '_kpibook', kb_meta base_version ({base}) is not a version of this server's "
        "history: press Pull or Score to get the current version, then type the adjustments "
        "again.\n",
        "工作表“_kpibook”kb_meta 的 base_version（{base}）不是本服务器历史中的版本："
        "请先按“获取数据”或“计算得分”取得最新版本，再输入调整。\n"),
    "submit.outside_authority": ("These adjustments are outside your authority; nothing was "
                                 "saved:", "以下调整超出您的权限，未保存任何内容："),
    "submit.withdrawn": ("adjustment withdrawn", "撤销调整"),
    "submit.approved": ("Period {period} is approved; the history refuses adjustments: HR must "
                        "reopen it.",
                        "期间 {period} 已审批，历史记录拒绝调整：请人力资源部重新打开期间。"),
    "submit.changed_by": ("{name} <{email}> at {when:%Y-%m-%d %H:%M} UTC",
                          "{name} <{email}>，{when:%Y-%m-%d %H:%M} UTC"),
    "submit.conflict": ("conflict: {by} changed this first to {head}; your {submitted} was not "
                        "saved and the cell shows the server's value again.",
                        "冲突：{by} 已先将此项改为 {head}；您提交的 {submitted} 未保存，"
                        "单元格已恢复为服务器值。"),
    "submit.accepted": ("accepted ({old} -> {new})", "已接受（{old} → {new}）"),
    "submit.computed_cell": (
        "Sheet '{sheet}' cell {cell} ({caption}) is computed and cannot be typed over: it was "
        "restored to the server's value. To change a score, enter points and a reason in "
        "kb_adjustments and Submit.",
        "工作表“{sheet}”单元格 {cell}（{caption}）是计算结果，不能直接修改：已恢复为服务器的值。"
        "调整请在“调整”表（kb_adjustments）填写调整分和理由后提交。"),
    "submit.counts": ("Adjustments of period {period}: {accepted} accepted, {rejected} rejected, "
                      "{conflicts} conflict(s).",
                      "期间 {period} 的调整：接受 {accepted}，拒绝 {rejected}，冲突 {conflicts}。"),
    "submit.duplicate": ("This submission ({sid}) was already recorded; nothing was recorded "
                         "twice.", "该提交（{sid}）已处理过，本次未重复记录。"),
    "submit.nothing": ("There was nothing to submit.", "没有需要提交的更改。"),
    "submit.authoritative": ("The totals are the server's authoritative result (run {run}, "
                             "version {version}).",
                             "总分以服务器结果为准（第 {run} 次计算，版本 {version}）。"),
    "submit.title": ("Submit", "提交"),
    "submit.more": ("... and {n} more", "……另有 {n} 项"),
    "submit.more_restored": ("... and {n} more computed cells restored",
                             "……另有 {n} 个计算单元格已恢复"),
    # -- web adjustments and reverts (server/services/adjust.py) ------------------------------
    "web_adjust.no_record": ("Period {period} has no inputs of record yet: HR must press Score "
                             "first.",
                             "期间 {period} 还没有记录在案的计算输入："
                             "请人力资源部先按“计算得分”。"),
    "web_adjust.refused_points": ("Points ({where}): {why}", "调整分（{where}）：{why}"),
    "web_adjust.nothing_saved": ("Nothing was saved: {lines}", "调整未保存：{lines}"),
    "web_adjust.unchanged": ("The cell already holds this value or was just changed by someone "
                             "else: reload and try again.",
                             "该单元格已是此值，或刚被他人修改：请刷新后重试。"),
    "revert.needs_reason": ("A revert needs a reason.", "撤销必须填写原因。"),
    "revert.no_commit": ("No commit {commit} in the history.", "历史中没有提交 {commit}。"),
    "revert.not_adjustment": ("Commit {commit} is not an adjustment of period {period}.",
                              "提交 {commit} 不是期间 {period} 的调整。"),
    "revert.why": ("revert {commit}: {reason}", "撤销 {commit}：{reason}"),
    "revert.changed_since": ("These cells were changed again since; nothing reverted: {cells}",
                             "这些单元格在该版本之后又被修改过，未撤销：{cells}"),
    "revert.approved": ("Period {period} is approved; nothing can be reverted.",
                        "期间 {period} 已审批，不能撤销。"),
    "revert.cell_changed": ("changed since", "之后已被修改"),
    # -- appeals, acknowledgements and web adjustments (server/services/feedback.py) ----------
    "web_adjust.needs_reason": ("An adjustment needs a reason.", "调整必须填写原因。"),
    "web_adjust.no_result": ("There is no score result to adjust.", "尚无计算结果，无法调整。"),
    "web_adjust.no_indicator": ("{employee_id} has no indicator {indicator}.",
                                "{employee_id} 没有指标 {indicator}。"),
    "result.none_of_yours": ("There is no result of yours in this period.",
                             "本期间没有您的考核结果。"),
    "acknowledge.appeal_open": ("Your appeal is still open: confirm the answer first.",
                                "您的申诉尚未结束：请先确认答复。"),
    "acknowledge.already": ("You have already acknowledged this result.", "您已确认过该结果。"),
    "appeal.needs_reason": ("An appeal needs a reason.", "申诉必须填写理由。"),
    "appeal.already_open": ("You already have an open appeal.", "您已有一个未结束的申诉。"),
    "appeal.acknowledged": ("You acknowledged this result; it can no longer be appealed.",
                            "您已确认该结果，不能再申诉。"),
    "appeal.already_answered": ("This appeal is already answered.", "该申诉已答复。"),
    "appeal.needs_answer": ("Write an answer.", "请填写答复。"),
    "appeal.not_answered": ("This appeal is not answered yet or already confirmed.",
                            "该申诉尚未答复或已确认。"),
    "web_adjust.bad_points": ("Points must be a number with at most 2 decimals: {why}",
                              "分数必须是数字，最多两位小数：{why}"),
    "authority.outside": ("Outside your authority to adjust: {reasons}.",
                          "超出您的调整权限：{reasons}。"),
    "authority.other_people": ("You may not {action} for another department or person.",
                               "您无权查看或处理其他部门/其他人的数据（{action}）。"),
    "authority.role_may_not": ("Your role ({role}) may not {action}.",
                               "您的角色（{role}）不能{action}。"),
    "authority.role_adjusts_not": ("role {role} may not adjust scores",
                                   "角色 {role} 不能调整分数"),
    "authority.adjustable_by": ("indicator {code} may only be adjusted by {roles}",
                                "指标 {code} 只能由 {roles} 调整"),
    "authority.nothing_saved": ("Outside your authority to adjust; nothing was saved: {cells}.",
                                "超出您的调整权限，未保存任何内容：{cells}。"),
    "review.refusals": ("{reasons}.", "{reasons}。"),
    "review.period_approvers": ("only {who} may approve a period", "只有{who}可以审批整个期间"),
    "review.outside_scope": ("your scope does not cover: {departments}",
                             "您的授权范围不包含：{departments}"),
    # -- authority (server/policy.py, docs/roles.md) ------------------------------------------
    "authority.own_result": ("you may not adjust your own result", "不能调整自己的考核结果"),
    "authority.not_in_rules": ("indicator {code} is not in the period's rules of record (Score "
                               "first)",
                               "指标 {code} 不在本期间的规则记录中（请先计算得分）"),
    "authority.rules_limits": ("outside the rules table's limits (+{up} / -{down})",
                               "超出规则表允许的调整范围（+{up} / -{down}）"),
    "authority.no_departments": ("your account has no departments", "您的账户没有授权部门"),
    "authority.not_on_roster": ("the employee is not on the server's roster (Score first)",
                                "该员工不在服务器的人员名单中（请先计算得分）"),
    "authority.outside_departments": ("the employee is outside your departments",
                                      "该员工不在您的授权部门内"),
    "authority.indicator": ("you may not adjust indicator {code}", "您无权调整指标 {code}"),
    "authority.limit_up": ("more than your limit of +{up} points", "加分超过您的上限 +{up} 分"),
    "authority.limit_down": ("more than your limit of -{down} points",
                             "减分超过您的上限 -{down} 分"),
    "authority.inactive": ("the account is inactive", "账户已停用"),
    "review.role_may_not": ("your role may not review adjustments", "您的角色不能审批调整"),
    "review.only_executive": ("only an executive may approve adjustments", "只有高管可以批准调整"),
    "review.own_submission": ("you may not approve a submission you authored",
                              "不能批准自己提交的调整"),
    # -- the period workflow (server/workflow.py) ---------------------------------------------
    "workflow.frozen": ("Period {period} is {state}: {operation} is not allowed ({why}). To "
                        "change it, HR must reopen the period with a reason.",
                        "期间 {period} 当前状态为「{state}」，不能{operation}：{why}。"
                        "如需更改，请人力资源部重新打开期间并注明原因。"),
    "workflow.unknown_action": ("Unknown action {action}.", "未知操作 {action}。"),
    "workflow.only_roles": ("Only {who} may {action}.", "「{action}」只能由{who}执行。"),
    "workflow.not_from_state": ("Period {period} is {state}; it cannot be moved by '{action}'.",
                                "期间 {period} 当前为「{state}」，不能{action}。"),
    "workflow.needs_reason": ("'{action}' needs a reason.", "「{action}」必须填写原因。"),
    "workflow.may_not_approve": ("You may not approve this period: {reasons}",
                                 "不能审批该期间：{reasons}"),
    "workflow.needs_confirmation": ("'{action}' needs a confirmation.", "「{action}」需要先确认。"),
    "workflow.reopen_target": ("Choose the state to go back to.", "请选择要回到的状态。"),
    "workflow.nothing_to_publish": ("There is no score result to publish.",
                                    "尚无计算结果，不能发布。"),
    "workflow.appeals_open": ("{n} appeal(s) are still open; the period cannot be closed.",
                              "还有 {n} 个申诉未结束，不能关闭期间。"),

    # -- Pull and source facts (server/services/facts.py) -------------------------------------
    "facts.stale_because": ("{stale} / {why}; value from {when}",
                            "{stale} / {why}；沿用 {when} 的数据"),
    "facts.stale": ("{stale} / value from {when}", "{stale} / 沿用 {when} 的数据"),
    "facts.wrote": ("Wrote {n} source values for period {period}.",
                    "已为期间 {period} 写入 {n} 条源数据。"),
    "facts.wrote_stale": ("Wrote {n} source values for period {period}; {stale} are stale.",
                          "已为期间 {period} 写入 {n} 条源数据，其中 {stale} 条过期。"),
    "facts.pull_title": ("Pull", "获取数据"),
    "facts.left_out": ("\n{n} stored values are for indicators or people this workbook does not "
                       "have; not written (see the web page).",
                       "\n{n} 个服务器上的值不属于本工作簿的指标或人员，未写入（见网页）。"),
    "facts.source_line": ("· {source}: {values} values, {problems} problems",
                          "· {source}：{values} 个值，{problems} 个问题"),
    "facts.source_failed": ("· {source}: FAILED, last good values kept and marked stale: {error}",
                            "· {source}：失败，保留上次数据（标记为过期）：{error}"),
    "facts.kept_stale": ("Old values kept and marked stale: {kept_stale}",
                         "保留并标记过期的旧值：{kept_stale} 个"),
    "facts.not_asked": ("· {source}: not asked ({codes} not in this scorecard's rules)",
                        "· {source}：未获取（{codes} 不在本考核表的规则中）"),
    "facts.pulled": ("pulled {when}", "获取于 {when}"),
    "facts.pulled_by": ("pulled {when} by {who}", "获取于 {when}（{who}）"),
    "restated.refused": (
        "The sources restated {n} values of this scored period, but the engine refuses them: "
        "{error}",
        "来源系统更正了已计算期间的 {n} 个数值，但按新数值无法计算：{error}"),
    "restated.summary": (
        "The sources restated data of this scored period: {scores} scores would change "
        "({totals} totals) when you press Score. Nothing on the server changes before that.",
        "来源系统更正了已计算的数据：重新计算后将有 {scores} 个得分改变（{totals} 人的总分）。"
        "按「计算得分」即采用新数据；在此之前服务器上的得分不变。"),
    "restated.points": (" (points {before} → {after})", "（得分 {before} → {after}）"),
    "restated.total": ("total {before} → {after}", "总分 {before} → {after}"),
    "digest.need_values": (
        "Sheet(s) {names} differ from what the server last wrote: send their values again "
        "(kpibook's clients retry by themselves).",
        "工作表 {names} 与服务器上次写入的内容不同，请重新发送其数据"
        "（kpibook 客户端会自动重试）。"),
    "facts.row_problems": ("Row problems ({n}):", "逐行问题（{n}）："),
    "facts.more_problems": ("  … {n} more on the web page", "  … 另有 {n} 个，见网页"),
    "pull.already_running": ("A pull of period {code} is already running (by {by}, since "
                             "{since}); try again shortly.",
                             "期间 {code} 正在获取数据（{by}，开始于 {since}），请稍后再试。"),
    "pull.frozen": ("Period {code} is {state}: its facts are frozen and a pull cannot change "
                    "them.",
                    "期间 {code} 已{state}，源数据已冻结，不能再获取。"),
    # -- the Refresh button (server/services/refresh.py) --------------------------------------
    "refresh.no_results": ("Period {period} has no results yet: press Score first.",
                           "期间 {period} 还没有计算结果：请先点击“计算得分”。"),
    "refresh.done": ("Refreshed the results of record of period {period} (run {run_no}, state "
                     "{state}); nothing was changed on the server.",
                     "已刷新期间 {period} 的最终结果（第 {run_no} 次计算，状态 {state}）；服务器"
                     "上没有任何更改。"),
    "refresh.hidden": ("{hidden} manager(s) outside your scope were left out.",
                       "您的权限范围外的 {hidden} 人未写入。"),
    "refresh.unsent": ("{unsent} adjustment(s) typed in the workbook but never submitted were "
                       "replaced by the server's values.",
                       "工作簿中有 {unsent} 项未提交的调整已替换为服务器记录的值。"),
    "refresh.title": ("Refresh", "刷新"),
    # -- figures API (server/services/figures.py) ---------------------------------------------
    "figures.no_period": ("Period {code} does not exist or has no result.",
                          "期间 {code} 不存在或没有结果。"),
    "figures.no_result": ("There is no score result yet.", "还没有计算结果。"),
    "figures.no_employee": ("Name at least one employee (employee=...).",
                            "请给出工号（employee=...）。"),
    "figures.too_many": ("At most {most} employees per request.",
                         "一次最多 {most} 个工号。"),
    "figures.no_result_of_period": ("Period {period} has no score result yet.",
                                    "期间 {period} 还没有计算结果。"),
    # -- a line's detail (server/services/line_detail.py) -------------------------------------
    "line.frozen": ("the period is {state}", "期间当前状态为「{state}」，不能调整"),
    "line.no_period": ("Period {period} does not exist.", "期间 {period} 不存在。"),
    "line.not_published": ("Period {period} has no published result.",
                           "期间 {period} 没有已发布的结果。"),
    "line.no_line": ("Period {period} has no line {employee_id} / {indicator}.",
                     "期间 {period} 没有 {employee_id} 的指标 {indicator}。"),
    # -- passwords and sign-in (server/auth.py) -----------------------------------------------
    "password.too_short": ("The password needs at least {least} characters (a "
                           "phrase works well).",
                           "密码至少需要 {least} 个字符（可以是一句话）。"),
    "password.too_long": ("The password may have at most {most} characters.",
                          "密码不能超过 {most} 个字符。"),
    "password.common": ("This password is common or appeared in a data breach; choose another.",
                        "该密码是常见密码或已在数据泄露中出现，请换一个。"),
    "signin.throttled": ("Too many attempts: try again in {seconds} second(s).",
                         "尝试次数过多，请 {seconds} 秒后再试。"),
    "signin.wrong": ("Wrong user name or password.", "用户名或密码错误。"),
    # -- the workbook answer (server/services/answer.py, workbook.py) -------------------------
    "answer.no_limit": ("no limit", "不限"),
    "answer.not_allowed": ("— ({reasons})", "—（{reasons}）"),
    "workbook.problems": ("The workbook has {n} problem(s); nothing was changed:",
                          "工作簿有 {n} 处问题，未做任何更改："),
    # -- the ribbon buttons (server/blueprints/xl.py) -----------------------------------------
    "xl.no_meta": ("The workbook has no kb_meta table (sheet _kpibook): start from a kpibook "
                   "template.",
                   "工作簿没有 kb_meta 表（工作表 _kpibook）：请使用 kpibook 模板。"),
    "xl.new_period_needs_month": ("New period needs the month you choose: type it in the task "
                                  "pane's Period field (e.g. 2026-11) and press New period; "
                                  "headless: kpibook xl new_period WORKBOOK --period 2026-11.",
                                  "新建期间需要您选择月份：在任务窗格的“考核期间”中填写（如 2026-"
                                  "11）后点击“新建期间”；无界面客户端请用 kpibook xl new_period "
                                  "工作簿 --period 2026-11。"),
    "xl.bad_submission_id": ("The submission id (Idempotency-Key or kb_meta submission_id) may "
                             "contain only letters, digits and ._:@+-, at most 80 characters.",
                             "提交编号（Idempotency-Key 或 kb_meta 的 submission_id）只能包含字母"
                             "、数字和 ._:@+-，最多 80 个字符。"),
    "new_period.created": ("Created period {code}, scorecard {scorecard} (template {template}).",
                           "已创建考核期间 {code} 的考核表 {scorecard}（模板 {template}）。"),
    "new_period.relinked": ("Period {code}, scorecard {scorecard}, already exists; the workbook "
                            "is linked to it again.",
                            "期间 {code} 的考核表 {scorecard} 已存在，工作簿已重新关联。"),
    "new_period.was_linked": ("The workbook was linked to {before}; it is now linked to {code}.",
                              "工作簿原先关联的期间 {before} 已改为 {code}。"),
    "new_period.rows_filled": ("The period of {n} source data row(s) was set to {code}.",
                               "源数据表中 {n} 行的期间已填为 {code}。"),
    "new_period.rows_other": ("{n} source data row(s) belong to another period: press 'Pull "
                              "data' to replace them.",
                              "源数据表中有 {n} 行属于其他期间：请点击「拉取数据」替换。"),
    "new_period.title": ("New period", "新建期间"),
    "check.no_problems": ("No problems found.", "检查通过，未发现问题。"),
    "check.title": ("Check", "检查"),
    # -- the server's own failures, in every client's words (server/app.py) ---------------------
    "http.404": ("Not found.", "找不到该地址。"),
    "http.405": ("Method not allowed.", "该地址不接受此请求方法。"),
    "http.413": ("The workbook is too large (limit {limit}). Remove sheets you do not need and "
                 "retry.",
                 "上传的工作簿太大（上限 {limit}）。请删除不需要的工作表后重试。"),
    "server.too_deep": ("The request body is nested too deeply.", "请求内容嵌套层数过多。"),
    "server.database_down": ("The database is unavailable right now. Please try again in a "
                             "moment; retrying never records anything twice.",
                             "数据库暂时不可用，请稍后重试；重试不会重复记录。"),
    "server.disk_full": ("The server's disk is full; nothing was saved. Please tell your "
                         "administrator.",
                         "服务器磁盘已满，本次操作未保存任何内容，请通知管理员。"),
    "server.internal": ("Internal server error (request id {rid}). Please give this id to your "
                        "administrator.",
                        "服务器内部错误（请求编号 {rid}）。请把该编号告诉管理员。"),
    "web.sign_in_first": ("Please sign in first.", "请先登录。"),
    "workbook.none": ("The request carries no workbook.", "请求中没有工作簿数据。"),
    "rollup.not_a_window": ("'{code}' is not a quarter (e.g. 2026-Q4) or a year (e.g. 2026).",
                            "“{code}”不是季度（如 2026-Q4）或年度（如 2026）。"),
    # -- notifications sent again by hand (server/services/cards.py) -------------------------
    "notification.none": ("No such notification.", "找不到该通知。"),
    "notification.sent_already": ("This notification was sent already.", "该通知已发送。"),
    "notification.no_payload": ("This notification cannot be sent again (recorded before "
                                "retries existed).",
                                "该通知没有可重发的内容（升级前的记录）。"),
    "notification.sending": ("This notification is being sent right now; refresh in a moment.",
                             "该通知正在发送中，请稍后刷新。"),
    # -- roster sync (server/services/orgsync.py, docs/sync.md) -------------------------------
    "orgsync.no_single_source": ("No single org source matches (configured: {known}); name one "
                                 "with [[org]] in the connectors file (docs/sync.md).",
                                 "组织同步源不唯一或不存在（已配置：{known}）。"),
    "orgsync.failed": ("Org sync failed: {why}", "组织同步失败：{why}"),
    "orgsync.no_change": ("No roster change #{id}.", "找不到名单变更 #{id}。"),
    "orgsync.decided": ("Roster change #{id} is already {state}.",
                        "名单变更 #{id} 已是 {state} 状态。"),
    "orgsync.decided_just_now": ("Roster change #{id} was just decided by someone else.",
                                 "名单变更 #{id} 刚被他人处理。"),
    "orgsync.needs_reason": ("Give a reason.", "请填写原因。"),
    "orgsync.stale": ("The roster changed after this proposal was made; run the sync again.",
                      "名单在提议之后已被修改，请重新同步。"),
    # -- the web pages: flashes, errors, export captions (server/blueprints, server/web.py) ---
    "web.csrf": ("The form expired or did not come from this site (CSRF check failed); "
                 "nothing was changed. Reload the page and try again.",
                 "表单已过期或来源不可信（CSRF 校验失败），未做任何更改。请刷新页面后重试。"),
    "web.no_appeal": ("No such appeal.", "找不到该申诉。"),
    "web.no_result_of_yours": ("Period {period} has no result of yours.",
                               "期间 {period} 没有您的结果。"),
    "web.no_result_for": ("Period {period} has no result for {employee_id}.",
                          "期间 {period} 没有 {employee_id} 的结果。"),
    "web.format": ("The format is csv or xlsx.", "格式只能是 csv 或 xlsx。"),
    "addin.no_manifest": ("The add-in manifest (addin/manifest.xml) is missing.",
                          "加载项清单尚未安装。"),
    "me.acknowledged": ("Result acknowledged.", "已确认考核结果。"),
    "me.appealed": ("Appeal sent; HR will answer it.", "申诉已提交，人力资源部将答复。"),
    "me.answer_confirmed": ("Answer confirmed; the appeal is closed.", "已确认答复，申诉结束。"),
    "periods.bad_codes": ("These periods have invalid codes and cannot be opened "
                          "(kpibook verify lists them): {codes}",
                          "以下期间的代码无效，无法打开（kpibook verify 会列出）：{codes}"),
    "periods.scorecard_exists": ("Period {code} already has scorecard {scorecard}.",
                                 "期间 {code} 的考核表 {scorecard} 已存在。"),
    "periods.created": ("Created period {code} (draft).", "已创建期间 {code}（草稿）。"),
    "periods.moved": ("Period {code}: {action}; now {state}.",
                      "期间 {code}：{action}，现为「{state}」。"),
    "periods.adjusted": ("Adjusted {indicator} of {employee_id} by {points} points.",
                         "已调整 {employee_id} 的 {indicator}：{points} 分。"),
    "periods.adjusted_already": ("{indicator} of {employee_id} already holds {points} points "
                                 "with this reason; nothing was recorded again.",
                                 "{employee_id} 的 {indicator} 已是 {points} 分（同一理由），"
                                 "未重复记录。"),
    "periods.appeal_answered": ("Answer saved; waiting for the manager's confirmation.",
                                "已答复申诉，等待经理确认。"),
    # the columns and sheets of the CSV / xlsx exports (periods.py, review.py)
    "column.employee_id": ("Employee ID", "工号"),
    "column.name": ("Name", "姓名"),
    "column.department": ("Department", "部门"),
    "column.total": ("Total", "总分"),
    "column.grade": ("Grade", "等级"),
    "column.rank": ("Rank", "排名"),
    "column.status": ("Status", "状态"),
    "column.company_rank": ("Company rank", "公司排名"),
    "column.scorecard": ("Scorecard", "考核表"),
    "column.indicator": ("Indicator", "指标"),
    "column.old_points": ("Old points", "原分数"),
    "column.old_reason": ("Old reason", "原因（原）"),
    "column.new_points": ("New points", "新分数"),
    "column.reason": ("Reason", "原因"),
    "column.changed_by": ("Changed by", "修改人"),
    "column.submission": ("Submission", "提交编号"),
    "column.old_total": ("Old total", "原总分"),
    "column.new_total": ("New total", "新总分"),
    "column.change": ("Change", "变化"),
    "column.old_rank": ("Old rank", "原排名"),
    "column.new_rank": ("New rank", "新排名"),
    "column.rank_change": ("Rank change", "名次变化"),
    "column.by": ("By", "修改人"),
    "column.email": ("E-mail", "邮箱"),
    "column.kind": ("Kind", "类型"),
    "column.version": ("Version", "版本"),
    "column.old": ("Old", "原分数"),
    "column.new": ("New", "新分数"),
    "column.when": ("When ({zone})", "时间 ({zone})"),
    "sheet.changed_cells": ("Changed cells", "变更单元格"),
    "sheet.totals": ("Totals and ranks", "总分与排名"),
    "sheet.history": ("History", "调整历史"),
    "chart.trend": ("Total over periods", "总分趋势"),
    "chart.breakdown": ("Points per indicator", "各指标得分"),
    "chart.all_departments": ("All visible departments", "全部可见部门"),
    # the review pages (server/blueprints/review.py, review_data.py)
    "review.no_department": ("(no department)", "（未知部门）"),
    "review.no_version": ("No such version.", "找不到该版本。"),
    "review.bad_version_id": ("Not a version id: {what}.", "版本号格式不对：{what}。"),
    "review.other_period": ("That version belongs to another period.", "该版本不属于此期间。"),
    "review.choose_version": ("Choose a version.", "请选择一个版本。"),
    "review.other_department": ("You may not view another department's adjustments.",
                                "您无权查看其他部门的调整。"),
    "review.no_adjustments": ("That version holds no adjustments.", "该版本没有调整。"),
    "review.revert_needs_reason": ("A revert needs a reason.", "撤销必须填写原因。"),
    "review.partly_reverted": ("Partly reverted; {n} cell(s) were changed again since and kept.",
                               "已部分撤销；{n} 个单元格之后又被修改过，保留现值。"),
    "review.reverted": ("Reverted version {version}.", "已撤销版本 {version}。"),
    "review.unknown_decision": ("Unknown decision.", "未知操作。"),
    "review.return_needs_reason": ("Sending back needs a reason.", "退回必须填写原因。"),
    "review.closed_to_review": ("The period is {state}; submissions can no longer be reviewed "
                                "one by one.",
                                "期间已「{state}」，不能再逐条审批。"),
    # what a decision did, in a sentence (and the reason of an approval given none) ...
    "review.done.approve": ("approved", "批准"),
    "review.done.return": ("sent back", "退回"),
    # ... and as a state on the pages
    "review.decision.approve": ("approved", "已批准"),
    "review.decision.return": ("sent back", "已退回"),
    "review.already_decided": ("Version {version} was already {done} by {by} at {when}; "
                               "nothing recorded again.",
                               "版本 {version} 已由 {by} 于 {when} {done}，未重复记录。"),
    "review.approved": ("Approved version {version}.", "已批准版本 {version}。"),
    "review.sent_back": ("Sent back version {version}.", "已退回版本 {version}。"),
    # users, clients, notifications and the roster (server/blueprints/admin.py, roster.py)
    "admin.no_user": ("No such user.", "找不到该用户。"),
    "admin.max_up": ("Max up", "最多加分"),
    "admin.max_down": ("Max down", "最多减分"),
    "admin.points_range": ("{what}: between 0 and 100.", "{what}必须在 0 到 100 之间。"),
    "admin.choose_role": ("Choose a role.", "请选择角色。"),
    "admin.cannot_create_user": ("Cannot create the user: {why}", "无法创建用户：{why}"),
    "admin.user_created": ("Created user {name}.", "已创建用户 {name}。"),
    "admin.bound": ("Bound.", "已绑定。"),
    "admin.binding_removed": ("The binding was removed.", "已解除绑定。"),
    "admin.not_yourself": ("You cannot change your own role or deactivate yourself.",
                           "不能更改自己的角色或停用自己。"),
    "admin.saved": ("Saved.", "已保存。"),
    "admin.password_set": ("New password set; the user's sign-ins were ended and tokens "
                           "revoked.",
                           "已设置新密码，该用户的登录已全部结束，访问令牌已撤销。"),
    "admin.unlocked": ("Unlocked.", "已解锁。"),
    "admin.mfa_removed": ("The user's authenticator was removed and their sign-ins ended.",
                          "已移除该用户的验证器，其登录已全部结束。"),
    "admin.choose_scope": ("Choose at least one scope.", "请至少选择一个权限范围。"),
    "admin.no_client": ("No such client.", "找不到该客户端。"),
    "admin.client_revoked": ("Client {client} revoked; its tokens stop working now.",
                             "客户端 {client} 已停用，其令牌立即失效。"),
    "admin.notification_sent": ("Notification #{id} was sent.", "通知 #{id} 已发送。"),
    "admin.notification_failed": ("Notification #{id} still failed: {error}",
                                  "通知 #{id} 仍未送达：{error}"),
    "import.choose_workbook": ("Choose an .xlsx workbook.", "请选择一个 .xlsx 工作簿。"),
    "import.unreadable": ("The file cannot be read: upload an Excel .xlsx workbook.",
                          "无法读取该文件：请上传 Excel .xlsx 工作簿。"),
    "import.no_roster": ("The workbook has no roster table (kb_roster).",
                         "工作簿中没有人员名单表（kb_roster）。"),
    "import.row_skipped": ("row {row}: no employee ID or name", "第 {row} 行：缺少工号或姓名"),
    "roster.no_change": ("No roster change given.", "缺少名单变更编号。"),
    "roster.in_step": ("The roster matches the platform: no changes.",
                       "名单与平台一致，没有变更。"),
    "roster.proposed": ("Roster change #{id} proposed: review it, then apply.",
                        "已生成名单变更 #{id}，请审核后应用。"),
    "roster.bad_date": ("Effective date: write it as 2026-12-01.", "生效日期格式应为 2026-12-01。"),
    "roster.applied": ("Roster change #{id} applied: {written} records written, {flagged} left "
                       "for you to check.",
                       "已应用名单变更 #{id}：{written} 人的记录已更新，{flagged} 人待人工核实。"),
    "roster.discarded": ("Roster change #{id} discarded.", "已放弃名单变更 #{id}。"),
    # one's own account and signing in (server/blueprints/account.py, signin.py, server/auth.py)
    "account.unbound": ("The binding was removed: that platform account no longer signs you in.",
                        "已解除绑定：该平台账号不能再登录您的账户。"),
    "account.password_wrong": ("The password is wrong.", "密码不正确。"),
    "account.current_password_wrong": ("The current password is wrong.", "当前密码不正确。"),
    "account.passwords_differ": ("The new passwords differ.", "两次输入的新密码不一致。"),
    "account.password_changed": ("Password changed; other sign-ins were ended and every access "
                                 "token was revoked.",
                                 "密码已更改，其他设备上的登录已结束，访问令牌已全部撤销。"),
    "account.no_session": ("No such sign-in.", "找不到该登录。"),
    "account.session_ended": ("That sign-in was ended.", "已结束该登录。"),
    "account.others_ended": ("Your other sign-ins were ended.", "其他设备上的登录已结束。"),
    "account.no_token": ("No such token.", "找不到该令牌。"),
    "account.token_revoked": ("Token {prefix}… revoked.", "令牌 {prefix}… 已撤销。"),
    "mfa.wrong_code_clock": ("Wrong code: check your phone's clock and try again.",
                             "验证码不正确：请核对手机时间后重试。"),
    "mfa.wrong_code": ("Wrong or already used code.", "验证码不正确或已使用。"),
    "mfa.few_recovery_codes": ("Only {n} recovery codes are left: enrol your authenticator "
                               "again on the account page.",
                               "只剩 {n} 个恢复码：请在账户页面重新绑定验证器。"),
    "signin.bound": ("Bound the {platform} account {account}.", "已绑定{platform}账号 {account}。"),
    "signin.welcome": ("Welcome, {name}.", "欢迎，{name}。"),
    "signin.signed_out": ("You are signed out.", "您已退出登录。"),
    "signin.required": ("Sign-in required: set your access token in the KPI add-in "
                        "(Authorization: Bearer <token>).",
                        "需要登录：请在 KPI 加载项中填写访问令牌 "
                        "(Authorization: Bearer <token>)。"),
    "signin.https_only": ("Sign-in is accepted over HTTPS only: use the https:// address.",
                          "只能通过 HTTPS 登录：请使用 https:// 地址。"),
    "token.invalid": ("The access token is invalid, expired or revoked.",
                      "访问令牌无效、已过期或已撤销。"),
    "token.lacks_scope": ("This access token lacks the '{scope}' scope: create a token with it "
                          "on your account page.",
                          "该访问令牌没有「{scope}」权限范围：请在账户页面创建带此范围的令牌。"),
    "token.https_only": ("Tokens are accepted over HTTPS only: use the https:// address and "
                         "revoke this token on your account page (it was sent in clear text).",
                         "访问令牌只能通过 HTTPS 发送：请使用 https:// 地址，并在账户页面撤销该令牌"
                         "（它已以明文传输）。"),
    "role.may_not": ("Your role ({role}) may not {action}.",
                     "您的角色（{role}）不能执行「{action}」。"),
    # sign-in through DingTalk / Feishu / WeCom / OIDC (server/services/platform_signin.py)
    "platform.no_method": ("There is no sign-in method called '{name}'.",
                           "没有名为「{name}」的登录方式。"),
    "platform.request_invalid": ("This sign-in request is invalid or was used already: "
                                 "sign in again.",
                                 "登录请求无效或已使用，请重新登录。"),
    "platform.request_expired": ("The sign-in request expired: sign in again.",
                                 "登录请求已过期，请重新登录。"),
    "platform.state_mismatch": ("The sign-in request's state does not match (possibly a "
                                "forged link): sign in again.",
                                "登录请求的 state 不符（可能是伪造的链接），请重新登录。"),
    "platform.several_accounts": ("Employee id {employee_id} belongs to several kpibook "
                                  "accounts: ask HR to bind your {platform} account on the "
                                  "user's page.",
                                  "工号 {employee_id} 对应多个 kpibook 账户，无法确定登录哪一个："
                                  "请人力资源部在用户页面绑定{platform}账号。"),
    "platform.unbound": ("This {platform} account ({who}) is not bound to any kpibook account. "
                         "Sign in with your user name and password and bind {platform} on your "
                         "account page, or ask HR to bind it for you.",
                         "该{platform}账号（{who}）没有绑定任何 kpibook 账户。请先用用户名和密码"
                         "登录，在「我的账户」页面绑定{platform}；或请人力资源部为您绑定。"),
    "platform.account_disabled": ("This kpibook account is disabled: contact HR.",
                                  "该 kpibook 账户已停用，请联系人力资源部。"),
    "platform.bind_invalid": ("This binding request is invalid: bind again from your account "
                              "page.",
                              "绑定请求无效，请在账户页面重新绑定。"),
    "platform.enter_subject": ("Enter the platform user id.", "请填写平台用户 ID。"),
    "platform.bound_elsewhere": ("This {platform} account is bound to another kpibook account: "
                                 "remove that binding first.",
                                 "该{platform}账号已绑定到另一个 kpibook 账户：请先解除那个绑定。"),
    "platform.no_binding": ("No such binding.", "找不到该绑定。"),
    "platform.unavailable": ("{platform} sign-in is unavailable right now: try again later or "
                             "sign in with your password.",
                             "{platform}登录暂时不可用，请稍后再试或用密码登录。"),
    "platform.refused": ("{platform} refused this sign-in ({why}): sign in again.",
                         "{platform}拒绝了这次登录（{why}），请重新登录。"),
    "platform.no_code": ("no authorization code", "没有授权码"),
    "platform.not_in_dingtalk": ("Your DingTalk account ({nick}) is not a member of the "
                                 "company's DingTalk organisation.",
                                 "您的钉钉账号（{nick}）不是本公司钉钉组织的成员，无法登录。"),
    "platform.not_in_wecom": ("Your WeCom account is not a member of the company.",
                              "您的企业微信账号不是本企业的成员，无法登录。"),
}


@dataclass(frozen=True, slots=True)
class Seq:
    """A list shown in running text: "a, b" in English, "a、b" in Chinese; `quoted` adds
    'a' / “a” around each item."""

    items: tuple[object, ...]
    quoted: bool = False

    def text(self, lang: str) -> str:
        zh = lang == "zh"
        shown = [_field(item, lang) for item in self.items]
        if self.quoted:
            shown = [f"“{s}”" if zh else f"'{s}'" for s in shown]
        return ("、" if zh else ", ").join(shown)


def seq(items: Iterable[object], quoted: bool = False) -> Seq:
    return Seq(tuple(items), quoted)


@dataclass(frozen=True, slots=True)
class Message:
    """A catalogue key with its fields, rendered on demand in either language."""

    key: str
    params: tuple[tuple[str, object], ...] = ()

    def text(self, lang: str = "en") -> str:
        lang = lang_of(lang)
        en, zh = CATALOGUE[self.key]
        template = zh if lang == "zh" else en
        if not self.params:
            return template
        return template.format(**{k: _field(v, lang) for k, v in self.params})

    def __str__(self) -> str:
        return self.text("en")


def message(key: str, /, **params: object) -> Message:
    """A Message; raises KeyError at once for a key not in the catalogue."""
    if key not in CATALOGUE:
        raise KeyError(f"no message '{key}' in the catalogue")
    return Message(key, tuple(params.items()))


def msg(key: str, /, lang: str = "en", **params: object) -> str:
    """The text of catalogue entry `key` in `lang` ("zh" or "en")."""
    return message(key, **params).text(lang)


def both(key: str, /, **params: object) -> str:
    """Catalogue entry `key` in Chinese, then English on the next line: how the web pages
    word an error when they do not know the reader's language."""
    return f"{msg(key, 'zh', **params)}\n{msg(key, 'en', **params)}"


def word(zh_en: tuple[str, str], lang: str) -> str:
    """One entry of a word table of names (roles, states, actions: policy.ROLE_WORDS,
    workflow.STATE_WORDS, ...), kept as (zh, en) pairs, in `lang`."""
    return zh_en[0] if lang_of(lang) == "zh" else zh_en[1]


def about(who: object, what: object) -> Message:
    """"{who}: {what}", e.g. the indicator code or "E1 SALES" before the reason."""
    return message("about", who=who, what=what)


class MessageError(ValueError):
    """A ValueError worded by the catalogue: `str()` is English, `.why` renders any language."""

    def __init__(self, key: str, /, **params: object):
        self.why = message(key, **params)
        super().__init__(self.why.text("en"))


def why_of(reason: object) -> Message | str:
    """The Message behind a reason (a Message, a MessageError), or its plain text."""
    if isinstance(reason, Message):
        return reason
    why = getattr(reason, "why", None)
    if isinstance(why, Message):
        return why
    return str(reason)


def text_of(reason: object, lang: str = "en") -> str:
    """A reason (Message, MessageError, other exception or text) in `lang`."""
    why = why_of(reason)
    return why.text(lang) if isinstance(why, Message) else why


def _field(value: object, lang: str) -> object:
    if isinstance(value, Message | Seq):
        return value.text(lang)
    why = getattr(value, "why", None) if isinstance(value, BaseException) else None
    if isinstance(why, Message):
        return why.text(lang)
    return value

