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
    newPeriodHelp: "填写要新建的考核期间（如 2026-11，也可 2026-Q4 或 2026），再点击“新建期间”。",
    server_label: "服务器：",
    ok: "确定",
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
    newPeriodHelp: "Type the period to create (e.g. 2026-11; 2026-Q4 or 2026 work too), then press New period.",
    server_label: "Server: ",
    ok: "OK",
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
