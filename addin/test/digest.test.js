/**
 * Sheet digests in the Office.js client (static/js/digest.js): the same SHA-256 as the server's
 * (server/xlwire/digest.py), the listed sheets sent by digest, and the 409 round trip that sends
 * the sheets the server asks for again with their values. Excel is office-addin-mock based.
 */
import assert from "node:assert/strict";
import { test } from "node:test";

import { buildPayload } from "../static/js/payload.js";
import { DIGESTS_HEADER, NEED_VALUES_HEADER, digestSheets, formatDigests, parseDigests, sheetDigest } from "../static/js/digest.js";
import { runButton } from "../static/js/runner.js";
import { createStatus } from "../static/js/status.js";
import { cellAt, fakeExcel } from "./helpers/fake-excel.js";
import { sampleWorkbook } from "./helpers/sample-workbook.js";

test("the digest is the server's (values from tests/headless: Python's sheet_digest)", async () => {
  const values = [["工号 / Employee ID", "得分", ""], ["E001", 91.5, ""], ["'00123", true, ""], ["=1+1", -3, ""], ["", "", ""]];
  const tables = [{ name: "kb_scores", range_address: "$A$1:$B$4", show_headers: true, show_totals: false }];
  assert.equal(await sheetDigest(values, tables), "c517efa9f63fcd6a65a7b493149f3e0eb603c71024a4e014507e78176cfebe05");
  assert.equal(await sheetDigest([[]], []), "643d5437104296e21d906ecb15b2c96ad278f20cfc4af53b12bb6069bd853726");
});

test("digests header: names are encoded, '-' means none", () => {
  assert.equal(formatDigests({}), "-");
  const text = formatDigests({ "得分 & 明细": "ab".repeat(32), b: "cd".repeat(32) });
  assert.deepEqual(parseDigests(text), { "得分 & 明细": "ab".repeat(32), b: "cd".repeat(32) });
});

/** The sample workbook whose kb_meta lists 考核表 (it holds kb_scores) in sheet_digests. */
function stampedWorkbook() {
  const model = sampleWorkbook();
  const meta = model.sheets[1];
  cellAt(meta, 3, 0).value = "sheet_digests";
  cellAt(meta, 3, 1).value = `${encodeURIComponent("考核表")}=${"0".repeat(64)}`;
  meta.tables[0].address = "A1:B4";
  return model;
}

/** A fetch stand-in answering each call with the next of `replies` ({status, body, headers}). */
function scriptedFetch(replies) {
  const calls = [];
  const fetchImpl = async (url, init) => {
    calls.push({ url, init, payload: JSON.parse(init.body) });
    const { status, body, headers = {} } = replies[calls.length - 1];
    const text = typeof body === "string" ? body : JSON.stringify(body);
    const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
    return { status, statusText: "", headers: { get: (name) => lower[name.toLowerCase()] ?? null }, text: async () => text, json: async () => JSON.parse(text) };
  };
  return { fetchImpl, calls };
}

const sheetOf = (payload, name) => payload.sheets.find((sheet) => sheet.name === name);

test("a listed sheet goes by digest, HR's sheets with their values", async () => {
  const { context } = fakeExcel(stampedWorkbook());
  const full = await buildPayload(context);
  const expected = await sheetDigest(sheetOf(full, "考核表").values, sheetOf(full, "考核表").tables);
  const sent = structuredClone(full);
  assert.deepEqual(await digestSheets(sent), { 考核表: expected });
  assert.deepEqual(sheetOf(sent, "考核表"), { name: "考核表", values: [[]], pictures: [], tables: [] });
  assert.deepEqual(sheetOf(sent, "_kpibook"), sheetOf(full, "_kpibook"));
});

test("runButton: one request without the output sheet's values when the server holds it", async () => {
  const { context } = fakeExcel(stampedWorkbook());
  const excel = { run: (fn) => fn(context) };
  const { fetchImpl, calls } = scriptedFetch([{ status: 200, body: { actions: [] } }]);
  await runButton("score", { excel, status: createStatus(), request: { base: "https://kpi", token: "t", fetchImpl } });
  assert.equal(calls.length, 1);
  assert.deepEqual(sheetOf(calls[0].payload, "考核表").values, [[]]);
  assert.deepEqual(Object.keys(parseDigests(calls[0].init.headers[DIGESTS_HEADER])), ["考核表"]);
});

test("runButton: 409 naming the sheet -> sent again with its values and tables", async () => {
  const { context } = fakeExcel(stampedWorkbook());
  const excel = { run: (fn) => fn(context) };
  const { fetchImpl, calls } = scriptedFetch([
    { status: 409, body: "工作表 考核表 与服务器上次写入的内容不同", headers: { [NEED_VALUES_HEADER]: encodeURIComponent("考核表"), "Content-Type": "text/plain" } },
    { status: 200, body: { actions: [{ func: "alert", args: ["ok", "kpibook", "ok", "info", ""], values: null, sheet_position: null, start_row: null, start_column: null, row_count: null, column_count: null }] } },
  ]);
  const status = createStatus();
  const result = await runButton("submit", { excel, status, request: { base: "https://kpi", token: "t", fetchImpl } });
  assert.equal(calls.length, 2);
  const again = sheetOf(calls[1].payload, "考核表");
  assert.equal(again.values[4][1], "E001");
  assert.equal(again.tables[0].name, "kb_scores");
  assert.equal(calls[1].init.headers[DIGESTS_HEADER], "-");
  assert.equal(status.state.error, null);
  assert.equal(result.alerts.length, 1);
});

test("a 409 without the header is an error shown as the server's text", async () => {
  const { context } = fakeExcel(stampedWorkbook());
  const excel = { run: (fn) => fn(context) };
  const { fetchImpl, calls } = scriptedFetch([{ status: 409, body: "冲突", headers: {} }]);
  const status = createStatus();
  await assert.rejects(runButton("submit", { excel, status, request: { base: "https://kpi", token: "t", fetchImpl } }), /冲突/);
  assert.equal(calls.length, 1);
});
