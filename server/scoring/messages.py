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

