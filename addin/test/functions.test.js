/**
 * =KPIBOOK.SCORE / GRADE / RANK / EXPLAIN as Excel calls them (registered through
 * CustomFunctions.associate), answered by the real kpibook server that the pytest wrapper
 * starts (helpers/live-server.js): figures, scoping, batching, Excel errors.
 */
import assert from "node:assert/strict";
import { test } from "node:test";

import { figures } from "../static/js/api.js";
import { CHUNK, createFigureSource, forgetWorkbookPeriod, registerFunctions, workbookPeriodReader } from "../static/js/functions.js";
import { language, setLanguage } from "../static/js/i18n.js";
import { fakeExcel } from "./helpers/fake-excel.js";
import { lineWorkbook } from "./helpers/line-workbook.js";
import { as, needsServer, server } from "./helpers/live-server.js";

/**
 * The part of Microsoft's CustomFunctions namespace the add-in uses (the runtime is not
 * available outside Excel): associate, Error, ErrorCode with Excel's error texts.
 */
function customFunctionsRuntime() {
  class CustomFunctionError extends Error {
    constructor(code, message) {
      super(message);
      this.code = code;
    }
  }
  const associated = {};
  return {
    associated,
    associate: (id, fn) => { associated[id] = fn; },
    Error: CustomFunctionError,
    ErrorCode: { invalidValue: "#VALUE!", notAvailable: "#N/A", invalidNumber: "#NUM!" },
  };
}

/** The functions as `role` sees them; `requests` records every GET /api/v1/figures. */
function excelAs(role, { base = server?.base, defaultPeriod } = {}) {
  const cf = customFunctionsRuntime();
  const requests = [];
  const source = createFigureSource({
    fetch: (employees, period) => {
      requests.push({ employees, period });
      return figures(employees, period, language(), { base, token: server?.tokens[role] ?? "none" });
    },
    defaultPeriod,
  });
  const fns = registerFunctions(cf, source);
  return { fns, cf, requests };
}

async function excelError(promise) {
  try {
    await promise;
  } catch (error) {
    return [error.code, error.message];
  }
  assert.fail("expected an Excel error");
}

test("bad arguments are #VALUE! before anything is asked of the server", async () => {
  setLanguage("en");
  const { fns, requests } = excelAs("hr_admin", { base: "http://127.0.0.1:9" });
  assert.deepEqual(await excelError(fns.SCORE(true, null, null)), ["#VALUE!", "The employee ID must be text or a whole number."]);
  assert.deepEqual(await excelError(fns.SCORE("", null, null)), ["#VALUE!", "The employee ID must be text or a whole number."]);
  assert.deepEqual(await excelError(fns.SCORE(12.5, null, null)), ["#VALUE!", "The employee ID must be text or a whole number."]);
  assert.deepEqual(await excelError(fns.SCORE("M1001", true, null)), ["#VALUE!", "The indicator code must be text."]);
  assert.deepEqual(await excelError(fns.EXPLAIN("M1001", null, null)), ["#VALUE!", "Give an indicator code."]);
  assert.deepEqual(await excelError(fns.RANK("M1001", "yes", null)), ["#VALUE!", "The second argument must be TRUE or FALSE."]);
  assert.deepEqual(await excelError(fns.GRADE("M1001", false)), ["#VALUE!", "The period must be text (e.g. 2026-10) or a date."]);
  assert.deepEqual(requests, []);
});

test("the server's figures of the latest score run", needsServer, async () => {
  const { fns, requests } = excelAs("hr_admin");
  const [total, line, grade, rank, deptRank, explain, byDate] = await Promise.all([
    fns.SCORE("M1001", null, null),
    fns.SCORE("M1001", "PROD_EFF", "2025-03"),
    fns.GRADE("M1002", null),
    fns.RANK("M1002", null, null),
    fns.RANK("M1002", true, null),
    fns.EXPLAIN("M1001", "QUALITY", null),
    fns.SCORE("M1002", "QUALITY", 45731), // a date cell in March 2025
  ]);
  assert.deepEqual([total, line, grade, rank, deptRank, explain, byDate], [90, 40, "B", 2, 1, "不良率 2%", 50]);
  // the seven cells were one request per period asked for
  assert.deepEqual(requests.map((r) => [r.period, [...r.employees].sort()]).sort(), [
    [null, ["M1001", "M1002"]], ["2025-03", ["M1001", "M1002"]],
  ].sort());
});

test("unknown managers, lines and periods are #N/A with a message", needsServer, async () => {
  setLanguage("en");
  const { fns } = excelAs("hr_admin");
  assert.deepEqual(await excelError(fns.SCORE("NOBODY", null, null)), ["#N/A", "Period 2025-03 has no employee NOBODY you may see."]);
  assert.deepEqual(await excelError(fns.SCORE("M1001", "NOPE", null)), ["#N/A", "M1001 has no indicator NOPE."]);
  const [code, message] = await excelError(fns.GRADE("M1001", "2031-01"));
  assert.equal(code, "#N/A");
  assert.match(message, /2031-01/);
});

test("another department's manager looks exactly like an unknown one", needsServer, async () => {
  setLanguage("zh");
  for (const role of ["dept_head", "executive"]) {
    const { fns } = excelAs(role);
    assert.equal(await fns.SCORE("M1001", null, null), 90);
    const hidden = await excelError(fns.SCORE("M1002", null, null));
    const unknown = await excelError(fns.SCORE("NOBODY2", null, null));
    assert.deepEqual(hidden, ["#N/A", "期间 2025-03 没有您可查看的员工 M1002。"]);
    assert.equal(hidden[0], unknown[0]);
    assert.ok(!hidden[1].includes(server.world.other_name));
  }
});

test("token and network failures are #N/A carrying the reason", needsServer, async () => {
  setLanguage("en");
  const wrong = excelAs("no-such-role");
  const [code, message] = await excelError(wrong.fns.SCORE("M1001", null, null));
  assert.equal(code, "#N/A");
  assert.match(message, /^The token is invalid or expired: paste a new one in the task pane\. \(访问令牌无效、已过期或已撤销。 The access token is invalid, expired or revoked\.\)$/);
  const unreachable = excelAs("hr_admin", { base: "http://127.0.0.1:9" });
  const [netCode, netMessage] = await excelError(unreachable.fns.GRADE("M1001", null));
  assert.equal(netCode, "#N/A");
  assert.match(netMessage, /^Cannot reach the server: http:\/\/127\.0\.0\.1:9: /);
  // without a token nothing is sent
  const cf = customFunctionsRuntime();
  const noToken = registerFunctions(cf, createFigureSource({ fetch: (employees, period) => figures(employees, period, "en", { base: server.base, token: "" }) }));
  assert.deepEqual(await excelError(noToken.SCORE("M1001", null, null)), ["#N/A", "No access token yet: open the task pane and paste your token."]);
  // a manager asking before the period is published: the server's 404 sentence
  const early = excelAs("employee");  // English: "There is no score result yet."
  assert.match((await excelError(early.fns.SCORE("M1001", null, null)))[1], /no score result|no result/i);
});

test("a recalculation of many cells is one request per 200 managers", needsServer, async () => {
  const { fns, requests } = excelAs("auditor");
  const ids = ["M1001", "M1002", ...Array.from({ length: CHUNK }, (_, i) => `X${i}`)];
  const results = await Promise.allSettled([...ids, "M1001", "M1002"].map((id) => fns.SCORE(id, null, "2025-03")));
  assert.equal(requests.length, 2);
  assert.deepEqual(requests.map((r) => r.employees.length), [CHUNK, 2]);
  assert.deepEqual(results.slice(0, 2).map((r) => r.value), [90, 85]);
  assert.deepEqual(results.slice(-2).map((r) => r.value), [90, 85]);
  assert.ok(results.slice(2, -2).every((r) => r.status === "rejected" && r.reason.code === "#N/A"));
});

test("without a period argument the workbook's kb_meta period is asked for", needsServer, async () => {
  forgetWorkbookPeriod();
  const fake = fakeExcel(lineWorkbook({ period: "2025-03" }));
  const { fns, requests } = excelAs("hr_admin", { defaultPeriod: workbookPeriodReader(fake.Excel) });
  assert.equal(await fns.SCORE("M1001", "QUALITY", null), 50);
  assert.equal(requests[0].period, "2025-03");
  // the reading is kept until a ribbon command may have changed it
  const syncs = fake.syncCount;
  assert.equal(await fns.GRADE("M1001", null), "A");
  assert.equal(fake.syncCount, syncs);
  forgetWorkbookPeriod();
  const none = fakeExcel(lineWorkbook({ period: null }));
  const latest = excelAs("hr_admin", { defaultPeriod: workbookPeriodReader(none.Excel) });
  assert.equal(await latest.fns.RANK("M1001", false, null), 1);
  assert.equal(latest.requests[0].period, null); // the server's newest scored period
  forgetWorkbookPeriod();
});
