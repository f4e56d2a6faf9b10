import assert from "node:assert/strict";
import { test } from "node:test";
import { OfficeMockObject } from "office-addin-mock";

import { TOKEN_KEY, getToken, postButton, serverBaseUrl, setToken, whoami } from "../static/js/api.js";
import { BUTTON_COMMANDS, COMMAND_NAMES, OPEN_REVIEW_COMMAND, commandHandler, registerCommands } from "../static/js/commands.js";
import { LANGUAGES, pickLanguage, setLanguage } from "../static/js/i18n.js";
import { readPeriod } from "../static/js/meta.js";
import { runButton } from "../static/js/runner.js";
import { createStatus } from "../static/js/status.js";
import { fakeExcel, valueAt } from "./helpers/fake-excel.js";
import { sampleWorkbook } from "./helpers/sample-workbook.js";

/** A fetch stand-in that records requests and answers with `reply`. */
function mockFetch(status, body, contentType = "application/json") {
  const calls = [];
  const fetchImpl = async (url, init) => {
    calls.push({ url, init });
    const text = typeof body === "string" ? body : JSON.stringify(body);
    return { status, statusText: status === 200 ? "OK" : "Error", headers: { get: () => contentType }, text: async () => text, json: async () => JSON.parse(text) };
  };
  return { fetchImpl, calls };
}

/** Minimal localStorage. */
function memoryStorage() {
  const data = new Map();
  return { getItem: (k) => data.get(k) ?? null, setItem: (k, v) => data.set(k, String(v)), removeItem: (k) => data.delete(k) };
}

test("the base URL is everything before /addin/", () => {
  assert.equal(serverBaseUrl({ href: "https://kpi.example.com/addin/taskpane.html?_host_Info=Excel" }), "https://kpi.example.com");
  assert.equal(serverBaseUrl({ href: "https://host/kpibook/addin/commands.html" }), "https://host/kpibook");
});

test("the token is trimmed, stored in localStorage and removable", () => {
  const storage = memoryStorage();
  setToken("  kb_abc \n", storage);
  assert.equal(storage.getItem(TOKEN_KEY), "kb_abc");
  assert.equal(getToken(storage), "kb_abc");
  setToken("", storage);
  assert.equal(getToken(storage), "");
});

test("postButton sends the payload as JSON with the bearer token and returns the actions", async () => {
  const { fetchImpl, calls } = mockFetch(200, { actions: [{ func: "alert", args: ["hi"] }] });
  const actions = await postButton("score", { client: "Office.js" }, { base: "https://kpi", token: "kb_t", fetchImpl });
  assert.deepEqual(actions, [{ func: "alert", args: ["hi"] }]);
  assert.equal(calls[0].url, "https://kpi/xl/score");
  assert.equal(calls[0].init.method, "POST");
  assert.equal(calls[0].init.headers.Authorization, "Bearer kb_t");
  assert.equal(calls[0].init.headers["Content-Type"], "application/json");
  assert.deepEqual(JSON.parse(calls[0].init.body), { client: "Office.js" });
});

test("a non-200 reply surfaces the server's text body as the error", async () => {
  const { fetchImpl } = mockFetch(422, "第 5 行：权重合计不是 100%\n", "text/plain");
  await assert.rejects(postButton("check", {}, { base: "https://kpi", token: "t", fetchImpl }),
    (error) => error.message === "第 5 行：权重合计不是 100%" && error.status === 422);
});

test("an empty error body falls back to the status; 401 is flagged; no token is refused locally", async () => {
  const { fetchImpl } = mockFetch(500, "");
  await assert.rejects(postButton("pull", {}, { base: "https://kpi", token: "t", fetchImpl }), /HTTP 500/);
  const unauthorized = mockFetch(401, "token expired");
  await assert.rejects(postButton("pull", {}, { base: "https://kpi", token: "t", fetchImpl: unauthorized.fetchImpl }),
    (error) => error.code === "unauthorized" && error.message === "token expired");
  const never = mockFetch(200, { actions: [] });
  await assert.rejects(postButton("pull", {}, { base: "https://kpi", token: "", fetchImpl: never.fetchImpl }), (e) => e.code === "no_token");
  assert.equal(never.calls.length, 0);
});

test("whoami sends the token to /api/v1/whoami", async () => {
  const { fetchImpl, calls } = mockFetch(200, { user: "li.lei", display_name: "李雷", role: "hr" });
  const me = await whoami({ base: "https://kpi", token: "kb_t", fetchImpl });
  assert.equal(me.display_name, "李雷");
  assert.equal(calls[0].url, "https://kpi/api/v1/whoami");
  assert.equal(calls[0].init.headers.Authorization, "Bearer kb_t");
});

test("runButton reads, posts and applies, recording the result", async () => {
  const model = sampleWorkbook();
  const fake = fakeExcel(model);
  const status = createStatus();
  const { fetchImpl, calls } = mockFetch(200, { actions: [
    { func: "setValues", args: [null], values: [["OK"]], sheet_position: 0, start_row: 0, start_column: 0, row_count: 1, column_count: 1 },
    { func: "alert", args: ["完成", "kpibook", "ok", "info", ""], sheet_position: null, start_row: null, start_column: null, row_count: null, column_count: null },
  ] });
  await runButton("score", { excel: fake.Excel, status, request: { base: "https://kpi", token: "t", fetchImpl } });
  assert.equal(JSON.parse(calls[0].init.body).book.name, "KPI_2024Q1.xlsx");
  assert.equal(valueAt(model.sheets[0], 0, 0), "OK");
  assert.equal(status.state.lastResult.applied, 2);
  assert.equal(status.state.alerts[0].prompt, "完成");
  assert.equal(status.state.busy, null);
});

test("handlers call event.completed() on success and on error, and errors reach the status", async () => {
  const associated = new Map();
  const office = new OfficeMockObject({
    actions: { associate: (name, handler) => associated.set(name, handler) },
    addin: { showAsTaskpane: async () => { office.shown = (office.shown ?? 0) + 1; } },
    context: { ui: { openBrowserWindow: (url) => { office.opened = url; } } },
  });
  const status = createStatus();
  const { fetchImpl } = mockFetch(400, "本期已提交，不能再计算。", "text/plain");
  registerCommands(office, { excel: fakeExcel(sampleWorkbook()).Excel, status, base: "https://kpi", request: { base: "https://kpi", token: "t", fetchImpl } });
  assert.deepEqual([...associated.keys()].sort(), [...COMMAND_NAMES].sort());

  let completed = 0;
  await associated.get("kpiScore")({ completed: () => completed++ });
  assert.equal(completed, 1);
  assert.equal(status.state.error.message, "本期已提交，不能再计算。");
  assert.equal(office.shown, 1);

  await associated.get(OPEN_REVIEW_COMMAND)({ completed: () => completed++ });
  assert.equal(completed, 2);
  assert.equal(office.opened, "https://kpi/review");

  await commandHandler(async () => { throw new Error("boom"); })({ completed: () => completed++ });
  assert.equal(completed, 3);
});

test("New period sends the month the person chose as ?period=", async () => {
  const { fetchImpl, calls } = mockFetch(200, { actions: [] });
  await runButton("new_period", { excel: fakeExcel(sampleWorkbook()).Excel, status: createStatus(),
    query: { period: "2026-11" }, request: { base: "https://kpi", token: "t", fetchImpl } });
  assert.equal(calls[0].url, "https://kpi/xl/new_period?period=2026-11");
  await runButton("refresh", { excel: fakeExcel(sampleWorkbook()).Excel, status: createStatus(),
    request: { base: "https://kpi", token: "t", fetchImpl } });
  assert.equal(calls[1].url, "https://kpi/xl/refresh");
});

test("the ribbon's New period asks for the month in the task pane instead of posting", async () => {
  const associated = new Map();
  let asked = 0;
  const office = new OfficeMockObject({
    actions: { associate: (name, handler) => associated.set(name, handler) },
    addin: { showAsTaskpane: async () => { office.shown = (office.shown ?? 0) + 1; } },
  });
  const fetchImpl = () => assert.fail("New period from the ribbon must not post without a month");
  registerCommands(office, { excel: fakeExcel(sampleWorkbook()).Excel, status: createStatus(),
    askPeriod: () => asked++, request: { base: "https://kpi", token: "t", fetchImpl } });
  let completed = 0;
  await associated.get("kpiNewPeriod")({ completed: () => completed++ });
  assert.equal(completed, 1);
  assert.equal(asked, 1);
  assert.equal(office.shown, 1);
});

test("a second click while a button runs is refused", async () => {
  const status = createStatus();
  status.update({ busy: "pull" });
  await assert.rejects(runButton("score", { excel: { run: () => assert.fail("must not run") }, status }));
});

test("each button maps to a server endpoint", () => {
  assert.deepEqual(Object.values(BUTTON_COMMANDS).sort(), ["check", "new_period", "pull", "refresh", "score", "submit"]);
});

test("texts exist in both languages; Chinese for zh display languages", () => {
  assert.deepEqual(Object.keys(LANGUAGES.zh).sort(), Object.keys(LANGUAGES.en).sort());
  assert.equal(pickLanguage("zh-CN"), "zh");
  assert.equal(pickLanguage("zh-TW"), "zh");
  assert.equal(pickLanguage("en-US"), "en");
  assert.equal(pickLanguage(undefined), "en");
  setLanguage("zh");
});

test("the period is read from the kb_meta table", async () => {
  const { context } = fakeExcel(sampleWorkbook());
  assert.equal(await readPeriod(context), "2024-Q1");
  const model = sampleWorkbook();
  model.sheets[1].tables = [];
  assert.equal(await readPeriod(fakeExcel(model).context), null);
});
