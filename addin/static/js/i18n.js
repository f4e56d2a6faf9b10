/**
 * Bilingual texts of the add-in. Chinese when Office's display language is Chinese (HR's
 * default), English otherwise.
 * @module i18n
 */

const TEXTS = {
  zh: {
    title: "KPI 绩效考核",
    signedInAs: "当前用户",
    notSignedIn: "尚未登录：请粘贴个人访问令牌。",
    role: "角色",
    token: "个人访问令牌",
    tokenHelp: "在 kpibook 网站“个人设置 → 访问令牌”中生成，粘贴到此处。令牌只保存在本机。",
    save: "保存",
    clear: "清除",
    tokenSaved: "令牌已保存。",
    tokenCleared: "令牌已清除。",
    period: "考核期间",
    periodUnknown: "（本工作簿尚无考核期间）",
    actions: "操作",
    lastResult: "上次结果",
    none: "无",
    working: "正在处理…",
    reading: "正在读取工作簿…",
    sending: "正在发送到服务器…",
    applying: "正在写入结果…",
    done: "完成：已应用 {n} 项更改。",
    error: "错误",
    busy: "上一个操作尚未完成，请稍候。",
    no_token: "尚未设置访问令牌：请打开任务窗格粘贴令牌。",
    unauthorized: "令牌无效或已过期：请在任务窗格重新粘贴令牌。",
    network: "无法连接服务器",
    server: "服务器",
    btn_new_period: "新建期间",
    btn_pull: "拉取数据",
    btn_score: "计算得分",
    btn_check: "检查",
    btn_submit: "提交",
    btn_refresh: "刷新结果",
    btn_review: "打开审核页面",
    newPeriodMonth: "新建期间的月份",
    newPeriodScorecard: "考核表（可选）",
    newPeriodScorecardHelp: "同一个月可有多张考核表（如制造、研发、销售）。留空则使用本工作簿模板的代码；同一模板的第二本工作簿请另起代码，如 plant2。",
    newPeriodHelp: "填写要新建的考核期间（如 2026-11，也可 2026-Q4 或 2026），再点击“新建期间”。",
    applyReason: "应用我的规则和名单更改（理由）",
    applyReasonHelp: "仅人力资源部：工作簿的规则、目标或名单与服务器记录不同时，填写理由后按“计算得分”即应用并记录；留空则按服务器记录计算。",
    server_label: "服务器：",
    ok: "确定",
    line: "选中的行",
    lineHint: "选中“得分明细”“调整”或“源数据”表中的任一单元格，这里显示该行的说明、调整记录和数据出处。",
    lineLoading: "正在读取…",
    lineNeedsPeriod: "本工作簿尚无考核期间，无法查询该行。",
    points: "得分",
    explanation: "计算说明",
    history: "调整记录",
    historyEmpty: "尚无调整。",
    historyItem: "{who} · {when}：{old} → {new}",
    none_value: "无",
    provenance: "数据出处",
    factsEmpty: "没有源系统数据（手工录入或缺数据）。",
    staleTag: "过期",
    adjustRange: "您的调整权限",
    adjustRangeText: "可将调整分设为 {min} 至 {max}（当前 {current}：最多再加 {more}、再减 {less}）。",
    noLimit: "不限",
    notAdjustable: "您不能调整该行：{reasons}",
    reason: "调整理由",
    reasonHelp: "写入“调整”表中该行的理由单元格（作为文本）。",
    saveReason: "写入工作簿",
    reasonSaved: "理由已写入 {sheet} 第 {row} 行。",
    noReasonRow: "“调整”表中没有该行，无法写入理由。",
    openCell: "调整记录页",
    openPerson: "个人结果页",
    openFacts: "源数据页",
    fnBadEmployee: "工号必须是文本或整数。",
    fnNeedIndicator: "请给出指标代码。",
    fnBadIndicator: "指标代码必须是文本。",
    fnBadPeriod: "期间必须是文本（如 2026-10）或日期。",
    fnBadFlag: "第二个参数必须是 TRUE 或 FALSE。",
    fnUnknownEmployee: "期间 {period} 没有您可查看的员工 {employee}。",
    fnUnknownLine: "{employee} 没有指标 {indicator}。",
    fnNoTotal: "{employee} 没有总分（{status}）。",
    fnNoPoints: "{employee} 的指标 {indicator} 没有得分。",
    fnNoGrade: "{employee} 没有等级。",
    fnNoRank: "{employee} 没有排名。",
  },
  en: {
    title: "KPI scoring",
    signedInAs: "Signed in as",
    notSignedIn: "Not signed in: paste your personal access token.",
    role: "Role",
    token: "Personal access token",
    tokenHelp: "Create one on the kpibook website under Profile → Access tokens and paste it here. It is stored on this computer only.",
    save: "Save",
    clear: "Clear",
    tokenSaved: "Token saved.",
    tokenCleared: "Token cleared.",
    period: "Period",
    periodUnknown: "(this workbook has no period yet)",
    actions: "Actions",
    lastResult: "Last result",
    none: "None",
    working: "Working…",
    reading: "Reading the workbook…",
    sending: "Sending to the server…",
    applying: "Writing the results…",
    done: "Done: {n} changes applied.",
    error: "Error",
    busy: "The previous operation is still running, please wait.",
    no_token: "No access token yet: open the task pane and paste your token.",
    unauthorized: "The token is invalid or expired: paste a new one in the task pane.",
    network: "Cannot reach the server",
    server: "Server",
    btn_new_period: "New period",
    btn_pull: "Pull data",
    btn_score: "Score",
    btn_check: "Check",
    btn_submit: "Submit",
    btn_refresh: "Refresh",
    btn_review: "Open review page",
    newPeriodMonth: "Month for New period",
    newPeriodScorecard: "Scorecard (optional)",
    newPeriodScorecardHelp: "A month can hold several scorecards (e.g. manufacturing, R&D, sales). Empty: this workbook's template code; a second workbook of the same template needs its own code, e.g. plant2.",
    newPeriodHelp: "Type the period to create (e.g. 2026-11; 2026-Q4 or 2026 work too), then press New period.",
    applyReason: "Apply my rule and roster changes (reason)",
    applyReasonHelp: "HR only: when the workbook's rules, targets or roster differ from the server's records, type why and press Score to apply and record them; left empty, Score uses the records.",
    server_label: "Server: ",
    ok: "OK",
    line: "Selected line",
    lineHint: "Select any cell of the Scores, Adjustments or Source data table to see that line's explanation, adjustment history and where its data came from.",
    lineLoading: "Loading…",
    lineNeedsPeriod: "This workbook has no period yet, so the line cannot be looked up.",
    points: "Score",
    explanation: "Explanation",
    history: "Adjustment history",
    historyEmpty: "No adjustments yet.",
    historyItem: "{who} · {when}: {old} → {new}",
    none_value: "none",
    provenance: "Where the data came from",
    factsEmpty: "No source-system values (entered by hand or missing).",
    staleTag: "stale",
    adjustRange: "Your authority",
    adjustRangeText: "You may set the adjustment from {min} to {max} (now {current}: up to {more} more or {less} less).",
    noLimit: "no limit",
    notAdjustable: "You may not adjust this line: {reasons}",
    reason: "Reason",
    reasonHelp: "Written into this line's reason cell of the Adjustments table (as text).",
    saveReason: "Write to workbook",
    reasonSaved: "Reason written to {sheet}, row {row}.",
    noReasonRow: "The Adjustments table has no row for this line: the reason cannot be written.",
    openCell: "Adjustment history page",
    openPerson: "Result page",
    openFacts: "Source data page",
    fnBadEmployee: "The employee ID must be text or a whole number.",
    fnNeedIndicator: "Give an indicator code.",
    fnBadIndicator: "The indicator code must be text.",
    fnBadPeriod: "The period must be text (e.g. 2026-10) or a date.",
    fnBadFlag: "The second argument must be TRUE or FALSE.",
    fnUnknownEmployee: "Period {period} has no employee {employee} you may see.",
    fnUnknownLine: "{employee} has no indicator {indicator}.",
    fnNoTotal: "{employee} has no total ({status}).",
    fnNoPoints: "{employee} has no score for {indicator}.",
    fnNoGrade: "{employee} has no grade.",
    fnNoRank: "{employee} has no rank.",
  },
};

/**
 * @param {string|undefined} displayLanguage e.g. "zh-CN", "en-US"
 * @returns {"zh"|"en"}
 */
export function pickLanguage(displayLanguage) {
  return String(displayLanguage ?? "").toLowerCase().startsWith("zh") ? "zh" : "en";
}

let current = "zh";

/** @param {"zh"|"en"} language */
export function setLanguage(language) {
  current = TEXTS[language] ? language : "en";
}

/** @returns {"zh"|"en"} */
export function language() {
  return current;
}

/**
 * The text for `key` in the current language, with {placeholders} filled in.
 * @param {string} key @param {Record<string, string|number>} [values] @returns {string}
 */
export function t(key, values = {}) {
  const text = TEXTS[current][key] ?? TEXTS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
}

/** Every key exists in both languages (checked by the tests). */
export const LANGUAGES = TEXTS;
