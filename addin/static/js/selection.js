/**
 * Which kpibook line the selected cell belongs to, and the line's reason cell.
 *
 * A "line" is one employee x indicator: a row of kb_scores or kb_adjustments, or a row of
 * kb_data (one field of it). Tables are found by name, columns by their captions, with the
 * aliases of the workbook contract (server/workbook/schema.py; tests/addin/test_contract_js.py
 * keeps COLUMN_NAMES equal to it).
 * @module selection
 */

/** The tables whose rows are lines. */
export const LINE_TABLES = Object.freeze(["kb_scores", "kb_adjustments", "kb_data"]);

/** Accepted captions of the columns the pane needs (generated from schema.py's Column.names()). */
export const COLUMN_NAMES = Object.freeze({
  kb_scores: {
    employee_id: ["employee_id", "工号", "Employee ID", "员工编号", "id"],
    indicator: ["indicator", "指标代码", "Indicator", "code"],
  },
  kb_adjustments: {
    employee_id: ["employee_id", "工号", "Employee ID", "员工编号", "id"],
    indicator: ["indicator", "指标代码", "Indicator", "code"],
    points: ["points", "调整分", "Adjustment", "adjustment points", "调整"],
    reason: ["reason", "调整理由", "Reason", "理由", "原因"],
  },
  kb_data: {
    employee_id: ["employee_id", "工号", "Employee ID", "员工编号", "id"],
    indicator: ["indicator", "指标代码", "Indicator", "code", "indicator code"],
    field: ["field", "字段", "Field", "input"],
  },
});

/** schema.fold: lower case, no spaces or punctuation. */
export function fold(caption) {
  return String(caption ?? "").replace(/[\s_\-:：()（）%.·]+/g, "").toLowerCase();
}

/** schema.caption_parts: a caption and, for "工号 / Employee ID", each part. */
export function captionParts(caption) {
  const text = String(caption ?? "");
  return [text, ...text.split(/\s*[/\n|]\s*/)].filter((p) => p && p.trim()).map(fold);
}

/**
 * Column index of each wanted key in a header row (-1 when missing).
 * @param {string} table @param {any[]} headers @returns {Record<string, number>}
 */
export function columnsOf(table, headers) {
  const out = {};
  for (const [key, names] of Object.entries(COLUMN_NAMES[table])) {
    const folded = new Set(names.map(fold));
    out[key] = headers.findIndex((caption) => captionParts(caption).some((part) => folded.has(part)));
  }
  return out;
}

/** Ids and codes are text; Excel may hold them as numbers (1001). */
function keyText(value) {
  if (value === null || value === undefined) return "";
  return String(value).trim();
}

/**
 * @typedef {object} SelectedLine
 * @property {string} table kb_scores | kb_adjustments | kb_data
 * @property {string} sheet the sheet's name
 * @property {number} row 0-based sheet row of the selected line
 * @property {string} employee
 * @property {string} indicator
 * @property {string} [field] kb_data only ("actual" when blank)
 */

/**
 * The line under the top-left cell of the selection, or null (outside the line tables, on a
 * header, a blank key, several areas).
 * @param {Excel.RequestContext} context @returns {Promise<SelectedLine|null>}
 */
export async function readSelectedLine(context) {
  const selected = context.workbook.getSelectedRange();
  selected.load("rowIndex,columnIndex");
  selected.worksheet.load("name");
  const tables = LINE_TABLES.map((name) => {
    const table = context.workbook.tables.getItemOrNullObject(name);
    table.load("isNullObject");
    return { name, table };
  });
  try {
    await context.sync();
  } catch {
    return null; // not a single range (a chart, several areas)
  }
  const present = tables.filter((t) => !t.table.isNullObject).map((t) => {
    const range = t.table.getRange();
    range.load("rowIndex,columnIndex,rowCount,columnCount");
    range.worksheet.load("name");
    return { ...t, range };
  });
  if (!present.length) return null;
  await context.sync();
  const row = selected.rowIndex;
  const column = selected.columnIndex;
  const hit = present.find(({ range }) => range.worksheet.name === selected.worksheet.name
    && row > range.rowIndex && row < range.rowIndex + range.rowCount
    && column >= range.columnIndex && column < range.columnIndex + range.columnCount);
  if (!hit) return null;
  const header = hit.table.getHeaderRowRange();
  header.load("values");
  const line = selected.worksheet.getRangeByIndexes(row, hit.range.columnIndex, 1, hit.range.columnCount);
  line.load("values");
  await context.sync();
  const columns = columnsOf(hit.name, header.values[0]);
  if (columns.employee_id < 0 || columns.indicator < 0) return null;
  const values = line.values[0];
  const employee = keyText(values[columns.employee_id]);
  const indicator = keyText(values[columns.indicator]);
  if (!employee || !indicator) return null;
  const out = { table: hit.name, sheet: selected.worksheet.name, row, employee, indicator };
  if (hit.name === "kb_data") out.field = keyText(values[columns.field]) || "actual";
  return out;
}

/**
 * @typedef {object} ReasonCell
 * @property {string} sheet
 * @property {number} row 0-based sheet row
 * @property {number} column 0-based sheet column of the reason
 * @property {string} reason its text now
 * @property {any} points the adjustment cell's value
 */

/**
 * The kb_adjustments row of (employee, indicator) and its reason cell, or null.
 * @param {Excel.RequestContext} context @param {string} employee @param {string} indicator
 * @returns {Promise<ReasonCell|null>}
 */
export async function findReasonCell(context, employee, indicator) {
  const table = context.workbook.tables.getItemOrNullObject("kb_adjustments");
  table.load("isNullObject");
  await context.sync();
  if (table.isNullObject) return null;
  const header = table.getHeaderRowRange();
  header.load("values");
  const body = table.getDataBodyRange();
  body.load("values,rowIndex,columnIndex");
  body.worksheet.load("name");
  await context.sync();
  const columns = columnsOf("kb_adjustments", header.values[0]);
  if (columns.employee_id < 0 || columns.indicator < 0 || columns.reason < 0) return null;
  const index = body.values.findIndex((values) => keyText(values[columns.employee_id]) === employee
    && keyText(values[columns.indicator]) === indicator);
  if (index < 0) return null;
  const values = body.values[index];
  return {
    sheet: body.worksheet.name,
    row: body.rowIndex + index,
    column: body.columnIndex + columns.reason,
    reason: values[columns.reason] === null || values[columns.reason] === undefined ? "" : String(values[columns.reason]),
    points: columns.points >= 0 ? values[columns.points] : "",
  };
}

/**
 * A reason as the value to assign: always text, never a formula, number or date. Excel
 * treats a leading apostrophe in an assigned value like a typed one (docs/addin.md), so it
 * stores the rest as text. Line breaks are kept (LF, as Excel's Alt+Enter).
 * @param {string} text @returns {string}
 */
export function reasonValue(text) {
  const clean = String(text ?? "").replace(/\r\n?/g, "\n").replace(/\s+$/, "");
  return clean === "" ? "" : `'${clean}`;
}

/**
 * Writes `text` into the reason cell. The cell is an input column of kb_adjustments (the
 * templates leave it unlocked on the protected sheet), so no unprotecting is needed; a locked
 * cell on a protected sheet makes Excel refuse the write, and that error is reported.
 * @param {Excel.RequestContext} context @param {ReasonCell} cell @param {string} text
 */
export async function writeReason(context, cell, text) {
  const sheet = context.workbook.worksheets.getItem(cell.sheet);
  const range = sheet.getRangeByIndexes(cell.row, cell.column, 1, 1);
  range.values = [[reasonValue(text)]];
  await context.sync();
}
