/**
 * The selection handler: which line a selected cell belongs to (kb_scores, kb_adjustments,
 * kb_data found by table name and caption), its reason cell, the reason written as text, the
 * onSelectionChanged registration, and the line's detail fetched from the real server (the
 * pytest wrapper starts it; see helpers/live-server.js) with the keys the workbook gave.
 */
import assert from "node:assert/strict";
import { test } from "node:test";

import { lineDetail } from "../static/js/api.js";
import { setLanguage } from "../static/js/i18n.js";
import { readSelection, watchSelection } from "../static/js/linepane.js";
import { COLUMN_NAMES, captionParts, columnsOf, findReasonCell, readSelectedLine, reasonValue, writeReason } from "../static/js/selection.js";
import { fakeExcel, protectSheet, valueAt } from "./helpers/fake-excel.js";
import { lineWorkbook } from "./helpers/line-workbook.js";
import { as, needsServer, server } from "./helpers/live-server.js";

async function lineAt(sheet, address, model = lineWorkbook()) {
  const fake = fakeExcel(model);
  model.activeSheet = model.sheets.findIndex((s) => s.name === sheet);
  model.selection = address;
  return fake.Excel.run((context) => readSelectedLine(context));
}

test("captions are matched like the workbook contract: bilingual, case and punctuation ignored", () => {
  assert.deepEqual(captionParts("工号 / Employee ID"), ["工号/employeeid", "工号", "employeeid"]);
  assert.deepEqual(columnsOf("kb_adjustments", ["调整理由 / Reason", "INDICATOR", "employee-id", "调整分", "备注"]),
    { employee_id: 2, indicator: 1, points: 3, reason: 0 });
  assert.deepEqual(columnsOf("kb_data", ["x"]), { employee_id: -1, indicator: -1, field: -1 });
  assert.deepEqual(Object.keys(COLUMN_NAMES), ["kb_scores", "kb_adjustments", "kb_data"]);
});

test("a cell of kb_scores, kb_adjustments or kb_data names its line", async () => {
  assert.deepEqual(await lineAt("得分明细", "F4"), { table: "kb_scores", sheet: "得分明细", row: 3, employee: "M1001", indicator: "QUALITY" });
  // several cells: the top-left one counts
  assert.deepEqual(await lineAt("得分明细", "B5:E6"), { table: "kb_scores", sheet: "得分明细", row: 4, employee: "M1002", indicator: "PROD_EFF" });
  assert.deepEqual(await lineAt("调整", "A3"), { table: "kb_adjustments", sheet: "调整", row: 2, employee: "M1001", indicator: "QUALITY" });
  assert.deepEqual(await lineAt("源数据", "E3"), { table: "kb_data", sheet: "源数据", row: 2, employee: "M1001", indicator: "PROD_EFF", field: "actual" });
  // a blank field is the measured value
  assert.equal((await lineAt("源数据", "C4")).field, "actual");
  // an id typed as a number is text
  assert.equal((await lineAt("得分明细", "A6")).employee, "1001");
});

test("headers, cells outside the tables, other sheets and blank keys name no line", async () => {
  assert.equal(await lineAt("得分明细", "A2"), null); // header
  assert.equal(await lineAt("得分明细", "A1"), null); // title above the table
  assert.equal(await lineAt("得分明细", "G3"), null); // right of the table
  assert.equal(await lineAt("源数据", "A3"), null); // left of the table
  assert.equal(await lineAt("说明", "A3"), null); // looks like a line, is not a kpibook table
  // HR's own column inside the table still names the line
  assert.deepEqual(await lineAt("调整", "E2"), { table: "kb_adjustments", sheet: "调整", row: 1, employee: "M1001", indicator: "PROD_EFF" });
  const model = lineWorkbook();
  model.sheets[0].cells.get("3,0").value = "";
  assert.equal(await lineAt("得分明细", "D4", model), null);
  const noSelection = lineWorkbook();
  noSelection.selection = null;
  const fake = fakeExcel(noSelection);
  assert.equal(await fake.Excel.run((context) => readSelectedLine(context)), null);
});

test("the reason cell of a line is found in kb_adjustments by employee and indicator", async () => {
  const fake = fakeExcel(lineWorkbook());
  const cell = await fake.Excel.run((context) => findReasonCell(context, "M1001", "QUALITY"));
  assert.deepEqual(cell, { sheet: "调整", row: 2, column: 0, reason: "旧理由", points: -1 });
  assert.equal(await fake.Excel.run((context) => findReasonCell(context, "M1001", "NOPE")), null);
});

test("a reason is written as text: never a formula, number or date; line breaks kept", async () => {
  assert.equal(reasonValue("=HYPERLINK(\"http://x\")"), "'=HYPERLINK(\"http://x\")");
  assert.equal(reasonValue("2026-10"), "'2026-10");
  assert.equal(reasonValue("返工已由供应商承担\r\n见邮件 10/28  \n"), "'返工已由供应商承担\n见邮件 10/28");
  assert.equal(reasonValue("   "), "");
  const model = lineWorkbook();
  const fake = fakeExcel(model);
  const cell = await fake.Excel.run((context) => findReasonCell(context, "M1001", "PROD_EFF"));
  await fake.Excel.run((context) => writeReason(context, cell, "+1 大客户续约\n=SUM(A1)"));
  assert.equal(valueAt(model.sheets[1], 1, 0), "'+1 大客户续约\n=SUM(A1)");
  assert.equal(valueAt(model.sheets[1], 1, 4), "HR 自己的列"); // HR's own column untouched
  assert.equal(valueAt(model.sheets[1], 2, 0), "旧理由");
});

test("Excel's refusal (a locked cell on a protected sheet) is reported, nothing is written", async () => {
  const model = lineWorkbook();
  protectSheet(model.sheets[1]);
  const fake = fakeExcel(model);
  const cell = await fake.Excel.run((context) => findReasonCell(context, "M1001", "PROD_EFF"));
  await assert.rejects(fake.Excel.run((context) => writeReason(context, cell, "x")), /protected/);
  assert.equal(valueAt(model.sheets[1], 1, 0), "");
});

test("onSelectionChanged is registered once and every selection change is handled", async () => {
  const model = lineWorkbook();
  const fake = fakeExcel(model);
  const handled = [];
  await watchSelection(fake.Excel, () => { handled.push(fake.Excel.run(readSelection)); });
  assert.equal(fake.selectionHandlers, 1);
  await fake.select("得分明细", "E3");
  await fake.select("说明", "A3");
  await fake.select("源数据", "E5");
  const seen = await Promise.all(handled);
  assert.equal(seen.length, 3);
  assert.deepEqual(seen[0].line, { table: "kb_scores", sheet: "得分明细", row: 2, employee: "M1001", indicator: "PROD_EFF" });
  assert.equal(seen[0].period, "2025-03");
  assert.deepEqual(seen[0].reasonCell, { sheet: "调整", row: 1, column: 0, reason: "", points: "" });
  assert.deepEqual(seen[1], { line: null, period: null, reasonCell: null });
  assert.equal(seen[2].line.employee, "M1002");
});

test("the selected line's detail comes from the server, scoped to the caller", needsServer, async () => {
  setLanguage("en");
  const model = lineWorkbook();
  const fake = fakeExcel(model);
  model.activeSheet = 2;
  model.selection = "E3";
  const { line, period } = await fake.Excel.run(readSelection);
  const detail = await lineDetail(period, line.employee, line.indicator, "en", as("executive"));
  assert.equal(detail.explanation, "达成率 98%");
  assert.equal(detail.facts[0].request, "GET /erp/output?dept=一车间&month=2025-03");
  assert.deepEqual([detail.adjust.min, detail.adjust.max], ["-3.00", "+3.00"]);
  assert.equal(detail.history[0].reason, "再次核对后上调");
  assert.ok(detail.links.review.endsWith(`/review/2025-03/cell/M1001?indicator=PROD_EFF`));
  // another department's line: the server refuses, its text is the error
  model.selection = "E5";
  const other = await fake.Excel.run(readSelection);
  await assert.rejects(lineDetail(period, other.line.employee, other.line.indicator, "en", as("dept_head")),
    (error) => error.status === 403 && /another department/.test(error.message) && !error.message.includes(server.world.other_name));
});
