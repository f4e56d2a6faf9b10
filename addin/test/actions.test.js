import assert from "node:assert/strict";
import { test } from "node:test";

import { ProtectedSheetError, SUPPORTED_ACTIONS, applyActions, sheetsWrittenBy } from "../static/js/actions.js";
import { DEFAULT_PROTECTION_OPTIONS, cellAt, fakeExcel, protectSheet, sheetModel, valueAt } from "./helpers/fake-excel.js";

/** A two-sheet book: Data (with a table) and Notes. */
function book() {
  const data = sheetModel("Data", [["Name", "Score"], ["A", 1], ["B", 2]]);
  data.tables.push({ name: "Table1", address: "A1:B3", showHeaders: true, showTotals: false, style: "TableStyleLight1", showFilterButton: true });
  const notes = sheetModel("Notes", [["x"]]);
  notes.names.push({ name: "local", type: "Range", sheet: 1, address: "A1" });
  return { name: "Book.xlsx", activeSheet: 0, selection: "A1", sheets: [data, notes], names: [{ name: "global", type: "Range", sheet: 0, address: "A1:B3" }] };
}

/** An action addressing a block on a sheet. */
const at = (func, args, [sheet, row, column, rows, columns], extra = {}) => ({
  func, args, sheet_position: sheet, start_row: row, start_column: column, row_count: rows, column_count: columns, ...extra,
});
const bookLevel = (func, args) => ({ func, args, sheet_position: null, start_row: null, start_column: null, row_count: null, column_count: null });

async function apply(model, actions) {
  const fake = fakeExcel(model);
  const result = await applyActions(fake.context, actions);
  return { model, result, fake };
}

test("setValues writes values; null clears; ISO dates become dated serials; apostrophe text kept", async () => {
  const { model } = await apply(book(), [
    at("setValues", [null], [0, 1, 0, 2, 3], { values: [["张三", null, "2024-03-01T00:00:00.000Z"], ["'00123", true, "2024-03-01T08:30:00Z"]] }),
  ]);
  const sheet = model.sheets[0];
  assert.equal(valueAt(sheet, 1, 0), "张三");
  assert.equal(valueAt(sheet, 1, 1), "");
  assert.equal(valueAt(sheet, 1, 2), 45352);
  assert.equal(cellAt(sheet, 1, 2).numberFormat, "yyyy-mm-dd");
  assert.equal(valueAt(sheet, 2, 0), "'00123"); // Excel turns the prefix into "store as text"
  assert.equal(valueAt(sheet, 2, 1), true);
  assert.ok(Math.abs(valueAt(sheet, 2, 2) - (45352 + 8.5 / 24)) < 1e-9);
  assert.equal(cellAt(sheet, 2, 2).numberFormat, "yyyy-mm-dd hh:mm:ss");
});

test("clear actions clear contents, formats or both", async () => {
  const model = book();
  cellAt(model.sheets[0], 1, 1).fill = "#ff0000";
  cellAt(model.sheets[0], 2, 1).fill = "#ff0000";
  await apply(model, [
    at("rangeClearContents", [], [0, 1, 0, 1, 1]),
    at("rangeClearFormats", [], [0, 1, 1, 1, 1]),
    at("rangeClear", [], [0, 2, 1, 1, 1]),
  ]);
  const sheet = model.sheets[0];
  assert.equal(valueAt(sheet, 1, 0), "");
  assert.equal(valueAt(sheet, 1, 1), 1);
  assert.equal(cellAt(sheet, 1, 1).fill, null);
  assert.equal(valueAt(sheet, 2, 1), "");
  assert.equal(cellAt(sheet, 2, 1).fill, null);
});

test("addSheet inserts at the position; later actions address sheets by the new positions", async () => {
  const { model } = await apply(book(), [
    bookLevel("addSheet", [1, "得分"]),
    at("setValues", [null], [1, 0, 0, 1, 1], { values: [["new"]] }),
    at("setSheetName", ["Renamed"], [2, null, null, null, null]),
  ]);
  assert.deepEqual(model.sheets.map((s) => s.name), ["Data", "得分", "Renamed"]);
  assert.equal(valueAt(model.sheets[1], 0, 0), "new");
});

test("formatting actions: autofit, colour, number format, hyperlink", async () => {
  const { model } = await apply(book(), [
    at("setAutofit", ["columns"], [0, 0, 0, 1, 2]),
    at("setAutofit", ["rows"], [0, 1, 0, 1, 1]),
    at("setRangeColor", ["#FFEEAA"], [0, 1, 1, 2, 1]),
    at("setNumberFormat", ["0.00"], [0, 1, 1, 2, 1]),
    at("addHyperlink", ["https://kpi.example/review", "审核", "Open"], [0, 0, 3, 1, 1]),
  ]);
  const sheet = model.sheets[0];
  assert.equal(cellAt(sheet, 0, 1).autofit, "columns");
  assert.equal(cellAt(sheet, 1, 0).autofit, "rows");
  assert.equal(cellAt(sheet, 2, 1).fill, "#FFEEAA");
  assert.equal(cellAt(sheet, 1, 1).numberFormat, "0.00");
  assert.deepEqual(cellAt(sheet, 0, 3).hyperlink, { address: "https://kpi.example/review", textToDisplay: "审核", screenTip: "Open" });
});

test("setRangeColor with null removes the fill", async () => {
  const model = book();
  cellAt(model.sheets[0], 0, 0).fill = "#123456";
  await apply(model, [at("setRangeColor", [null], [0, 0, 0, 1, 1])]);
  assert.equal(cellAt(model.sheets[0], 0, 0).fill, null);
});

test("activateSheet activates by 0-based index", async () => {
  const { model } = await apply(book(), [bookLevel("activateSheet", [1])]);
  assert.equal(model.activeSheet, 1);
});

test("alert is returned for the task pane, in order", async () => {
  const { result } = await apply(book(), [
    bookLevel("alert", ["已计算 12 人", "完成", "ok", "info", ""]),
    bookLevel("alert", ["第二条", "", "ok", "critical", ""]),
  ]);
  assert.deepEqual(result.alerts, [
    { prompt: "已计算 12 人", title: "完成", buttons: "ok", mode: "info" },
    { prompt: "第二条", title: "", buttons: "ok", mode: "critical" },
  ]);
});

test("names: setRangeName, namesAdd (book and sheet scope), nameDelete (both arg layouts)", async () => {
  const { model } = await apply(book(), [
    at("setRangeName", ["kb_anchor"], [0, 0, 0, 1, 1]),
    bookLevel("namesAdd", ["kb_period", "=Data!$A$1"]),
    at("namesAdd", ["kb_local", "=Notes!$A$1"], [1, null, null, null, null]),
    bookLevel("nameDelete", ["global", "=Data!$A$1:$B$3", "global", 0, true, null]),
    bookLevel("nameDelete", ["Notes!local", "=Notes!$A$1"]),
  ]);
  assert.deepEqual(model.names.map((n) => n.name), ["kb_anchor", "kb_period"]);
  assert.equal(model.names[0].rangeAddress, "Data!A1");
  assert.equal(model.names[1].refersTo, "=Data!$A$1");
  assert.deepEqual(model.sheets[1].names.map((n) => n.name), ["kb_local"]);
});

test("tables: addTable, setTableName, resizeTable", async () => {
  const { model } = await apply(book(), [
    at("addTable", ["D1:E3", true, "TableStyleMedium2", "kb_new"], [0, null, null, null, null]),
    at("setTableName", [0, "kb_scores"], [0, null, null, null, null]),
    at("resizeTable", [0, "$A$1:$B$5"], [0, null, null, null, null]),
  ]);
  const tables = model.sheets[0].tables;
  assert.deepEqual(tables.map((t) => [t.name, t.address, t.style]), [
    ["kb_scores", "A1:B5", "TableStyleLight1"],
    ["kb_new", "D1:E3", "TableStyleMedium2"],
  ]);
});

test("every action of the safe set is implemented", () => {
  assert.deepEqual([...SUPPORTED_ACTIONS].sort(), [
    "activateSheet", "addHyperlink", "addSheet", "addTable", "alert", "nameDelete", "namesAdd",
    "rangeClear", "rangeClearContents", "rangeClearFormats", "resizeTable", "setAutofit",
    "setNumberFormat", "setRangeColor", "setRangeName", "setSheetName", "setTableName", "setValues",
  ]);
});

test("an unsupported action refuses the whole list before touching the workbook", async () => {
  const model = book();
  const fake = fakeExcel(model);
  await assert.rejects(
    applyActions(fake.context, [at("setValues", [null], [0, 0, 0, 1, 1], { values: [["changed"]] }), bookLevel("runMacro", ["x"])]),
    /runMacro/,
  );
  assert.equal(valueAt(model.sheets[0], 0, 0), "Name");
});

test("value writes are batched into one sync; structural actions sync at once", async () => {
  const writes = Array.from({ length: 20 }, (_, i) => at("setValues", [null], [0, i, 0, 1, 1], { values: [[i]] }));
  const { fake } = await apply(book(), writes);
  assert.equal(fake.syncCount, 3); // list the sheets, read their protection, all writes
  const { fake: structural } = await apply(book(), [bookLevel("addSheet", [2, "A"]), bookLevel("addSheet", [3, "B"])]);
  assert.equal(structural.syncCount, 3);
});

test("an Excel error names the failing action", async () => {
  await assert.rejects(
    apply(book(), [bookLevel("nameDelete", ["missing", "=A1", "missing", 0, true, null])]),
    /action 1 of 1 \(nameDelete\).*ItemNotFound/,
  );
});

// --- protected sheets ------------------------------------------------------------------------

/** The options kpibook's templates protect with (server/workbook/templates.py). */
const TEMPLATE_OPTIONS = { allowAutoFilter: true, allowSort: true, allowFormatColumns: true, allowFormatCells: false };

/** book() with Data protected as the templates do, Notes protected too but never written. */
function protectedBook({ password = null } = {}) {
  const model = book();
  protectSheet(model.sheets[0], { password, options: TEMPLATE_OPTIONS });
  protectSheet(model.sheets[1], { options: { allowFormatRows: true } });
  return model;
}

const expectedOptions = (options) => ({ ...DEFAULT_PROTECTION_OPTIONS, ...options });

test("a sheet protected without a password is unprotected for the writes and protected again with the same options", async () => {
  const model = protectedBook();
  const { result } = await apply(model, [
    at("setValues", [null], [0, 1, 1, 2, 1], { values: [[95], [88]] }),
    at("setNumberFormat", ["0.00"], [0, 1, 1, 2, 1]),
    at("setRangeColor", ["#FFEEAA"], [0, 1, 1, 1, 1]),
    at("resizeTable", [0, "A1:B4"], [0, null, null, null, null]),
    bookLevel("alert", ["完成", "", "ok", "info", ""]),
  ]);
  const [data, notes] = model.sheets;
  assert.equal(result.applied, 5);
  assert.equal(valueAt(data, 1, 1), 95);
  assert.equal(cellAt(data, 2, 1).numberFormat, "0.00");
  assert.equal(data.tables[0].address, "A1:B4");
  assert.deepEqual(data.protection, { protected: true, password: null, options: expectedOptions(TEMPLATE_OPTIONS) });
  assert.deepEqual(data.protectionLog, ["unprotect", "protect"]);
  // A protected sheet the actions do not write to is left alone.
  assert.deepEqual(notes.protectionLog, []);
  assert.equal(notes.protection.protected, true);
});

test("without the unprotect step Excel refuses the write (the fake enforces protection)", async () => {
  const model = protectedBook();
  const fake = fakeExcel(model);
  fake.context.workbook.worksheets.getItem("Data").getRangeByIndexes(0, 0, 1, 1).values = [["x"]];
  await assert.rejects(fake.context.sync(), /AccessDenied/);
  assert.equal(valueAt(model.sheets[0], 0, 0), "Name");
});

test("protection is restored when applying the actions fails", async () => {
  const model = protectedBook();
  await assert.rejects(
    apply(model, [
      at("setValues", [null], [0, 1, 1, 1, 1], { values: [[95]] }),
      bookLevel("nameDelete", ["missing", "=A1", "missing", 0, true, null]),
    ]),
    /nameDelete.*ItemNotFound/,
  );
  const data = model.sheets[0];
  assert.deepEqual(data.protection, { protected: true, password: null, options: expectedOptions(TEMPLATE_OPTIONS) });
  assert.deepEqual(data.protectionLog, ["unprotect", "protect"]);
});

test("protection is restored when an action fails synchronously (no such sheet)", async () => {
  const model = protectedBook();
  await assert.rejects(
    apply(model, [
      at("setValues", [null], [0, 1, 1, 1, 1], { values: [[95]] }),
      at("setValues", [null], [7, 0, 0, 1, 1], { values: [[1]] }),
    ]),
    /No sheet at position 7/,
  );
  assert.equal(model.sheets[0].protection.protected, true);
  assert.deepEqual(model.sheets[0].protection.options, expectedOptions(TEMPLATE_OPTIONS));
});

test("a sheet protected with a password stops everything before any write, with a bilingual message naming it", async () => {
  const model = protectedBook();
  protectSheet(model.sheets[0], { password: "secret", options: TEMPLATE_OPTIONS });
  const notesOptions = { ...model.sheets[1].protection.options };
  const error = await applyActions(fakeExcel(model).context, [
    at("setValues", [null], [1, 0, 0, 1, 1], { values: [["notes changed"]] }),
    at("setValues", [null], [0, 1, 1, 1, 1], { values: [["data changed"]] }),
  ]).then(() => null, (failure) => failure);
  assert.ok(error instanceof ProtectedSheetError, String(error));
  assert.equal(error.sheetName, "Data");
  assert.match(error.message, /工作表“Data”设置了密码保护/);
  assert.match(error.message, /The sheet "Data" is protected with a password/);
  assert.match(error.message, /未做任何更改[\s\S]*Nothing was changed/);
  const [data, notes] = model.sheets;
  assert.equal(valueAt(data, 1, 1), 1);
  assert.equal(valueAt(notes, 0, 0), "x");
  // The password sheet was never unprotected; the other one is protected again as it was.
  assert.deepEqual(data.protection, { protected: true, password: "secret", options: expectedOptions(TEMPLATE_OPTIONS) });
  assert.deepEqual(data.protectionLog, []);
  assert.equal(notes.protection.protected, true);
  assert.deepEqual(notes.protection.options, notesOptions);
});

test("unprotected sheets cost no protection calls; reading only (alerts) loads no protection", async () => {
  const model = book();
  const { fake } = await apply(model, [bookLevel("alert", ["hi", "", "ok", "", ""])]);
  assert.equal(fake.syncCount, 2); // list the sheets, the (empty) batch; no protection read
  await apply(model, [at("setValues", [null], [0, 0, 0, 1, 1], { values: [["y"]] })]);
  assert.deepEqual(model.sheets[0].protectionLog, []);
});

test("sheetsWrittenBy maps positions back through addSheet", () => {
  const actions = [
    at("setValues", [null], [2, 0, 0, 1, 1], { values: [[1]] }),
    bookLevel("addSheet", [0, "新"]),
    at("setValues", [null], [0, 0, 0, 1, 1], { values: [[1]] }), // the new sheet
    at("setRangeColor", ["#fff"], [2, 0, 0, 1, 1]), // was position 1
    bookLevel("activateSheet", [3]),
    at("setSheetName", ["x"], [3, null, null, null, null]),
  ];
  assert.deepEqual(sheetsWrittenBy(actions, 3), [1, 2]);
});
