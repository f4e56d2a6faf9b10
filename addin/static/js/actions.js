/**
 * Applies the server's `{"actions": [...]}` to the workbook with Office.js.
 *
 * Only the "safe set" of actions that the VBA and Office Scripts clients also implement is
 * supported, with the same argument layout (`args` is a list; coordinates are 0-based).
 * A list containing anything else is refused before the workbook is touched, so a newer server
 * can never leave a half-written workbook behind on an older add-in.
 *
 * Batching: Office.js queues every property write and method call until `context.sync()`.
 * Value writes are grouped into one sync (up to CELLS_PER_SYNC cells); actions that change the
 * workbook's structure (sheets, tables, names) are synced at once because later actions address
 * sheets and tables by position, and because a failure then points at the action that caused it.
 * @module actions
 */

import { dateFormatFor, isoToExcelSerial } from "./protocol.js";

/** Cells written per sync: keeps each request to Excel (on the web: max ~5 MB) small. */
export const CELLS_PER_SYNC = 100_000;

/**
 * @typedef {object} Action
 * @property {string} func
 * @property {Array<any>} args
 * @property {Array<Array<any>>} [values]
 * @property {number|null} sheet_position
 * @property {number|null} start_row
 * @property {number|null} start_column
 * @property {number|null} row_count
 * @property {number|null} column_count
 */

/**
 * @typedef {object} Alert
 * @property {string} prompt
 * @property {string} title
 * @property {string} buttons "ok", "ok_cancel", ... (only an OK acknowledgement is offered)
 * @property {string} mode "info" | "critical" | ""
 */

/**
 * @typedef {object} ApplyResult
 * @property {number} applied number of actions applied
 * @property {Alert[]} alerts messages the server wants shown, in order
 */

/** The action handlers: (state, action) => void; `structural` ones are synced right away. */
const HANDLERS = {
  setValues: { run: setValues },
  rangeClearContents: { run: (state, action) => targetRange(state, action).clear("Contents") },
  rangeClearFormats: { run: (state, action) => targetRange(state, action).clear("Formats") },
  rangeClear: { run: (state, action) => targetRange(state, action).clear("All") },
  addSheet: { run: addSheet, structural: true },
  setSheetName: { run: (state, action) => { sheetAt(state, action.sheet_position).name = String(action.args[0]); }, structural: true },
  setAutofit: { run: setAutofit },
  setRangeColor: { run: setRangeColor },
  activateSheet: { run: (state, action) => sheetAt(state, Number(action.args[0])).activate() },
  addHyperlink: { run: addHyperlink },
  setNumberFormat: { run: setNumberFormat },
  alert: { run: collectAlert },
  setRangeName: { run: (state, action) => state.context.workbook.names.add(String(action.args[0]), targetRange(state, action)), structural: true },
  namesAdd: { run: namesAdd, structural: true },
  nameDelete: { run: nameDelete, structural: true },
  addTable: { run: addTable, structural: true },
  setTableName: { run: (state, action) => { tableAt(state, action).name = String(action.args[1]); }, structural: true },
  resizeTable: { run: (state, action) => tableAt(state, action).resize(String(action.args[1])), structural: true },
};

/** Names of the actions this client implements. */
export const SUPPORTED_ACTIONS = Object.freeze(Object.keys(HANDLERS));

/**
 * Applies `actions` in order.
 * @param {Excel.RequestContext} context
 * @param {Action[]} actions
 * @param {{onProgress?: (message: string) => void}} [options]
 * @returns {Promise<ApplyResult>}
 */
export async function applyActions(context, actions, options = {}) {
  const progress = options.onProgress ?? (() => {});
  if (!Array.isArray(actions)) throw new Error("The server reply has no actions list.");
  const unsupported = [...new Set(actions.map((a) => a?.func).filter((f) => !Object.hasOwn(HANDLERS, f)))];
  if (unsupported.length) {
    throw new Error(`The server asked for actions this add-in does not support: ${unsupported.join(", ")}. Nothing was changed; please update the add-in.`);
  }

  const worksheets = context.workbook.worksheets;
  worksheets.load("items/name");
  await context.sync();
  // Positions -> worksheet proxies, kept up to date by our own addSheet so that no extra
  // round trip is needed to find a sheet by position (WorksheetCollection has no getItemAt).
  const state = { context, sheets: [...worksheets.items], alerts: [] };

  let pendingCells = 0;
  let firstPending = 0;
  const flush = async (upTo) => {
    try {
      await context.sync();
    } catch (error) {
      const which = firstPending === upTo ? `action ${upTo + 1}` : `actions ${firstPending + 1}-${upTo + 1}`;
      const funcs = [...new Set(actions.slice(firstPending, upTo + 1).map((a) => a.func))].join(", ");
      throw new Error(`Excel refused ${which} of ${actions.length} (${funcs}): ${error.message ?? error}`);
    }
    pendingCells = 0;
    firstPending = upTo + 1;
  };

  for (let index = 0; index < actions.length; index++) {
    const action = actions[index];
    const handler = HANDLERS[action.func];
    handler.run(state, action);
    pendingCells += (action.row_count ?? 0) * (action.column_count ?? 0);
    if (handler.structural || pendingCells >= CELLS_PER_SYNC) {
      await flush(index);
      progress(`applying ${index + 1}/${actions.length}`);
    }
  }
  if (firstPending < actions.length) await flush(actions.length - 1);
  return { applied: actions.length, alerts: state.alerts };
}

/** @returns {Excel.Worksheet} the worksheet at a 0-based position */
function sheetAt(state, position) {
  const sheet = state.sheets[position];
  if (!sheet) throw new Error(`No sheet at position ${position} (the workbook has ${state.sheets.length}).`);
  return sheet;
}

/** @returns {Excel.Range} the action's block of cells */
function targetRange(state, action) {
  return sheetAt(state, action.sheet_position).getRangeByIndexes(
    action.start_row, action.start_column, action.row_count, action.column_count);
}

/** @returns {Excel.Table} the table that `args[0]` (0-based index on the sheet) designates */
function tableAt(state, action) {
  return sheetAt(state, action.sheet_position).tables.getItemAt(Number(action.args[0]));
}

/** A rows x columns grid filled with one value (Office.js wants 2-D arrays for formats). */
function grid(rows, columns, value) {
  return Array.from({ length: rows }, () => Array(columns).fill(value));
}

/**
 * Writes values. Three conversions, each mirroring what the VBA client does on desktop Excel:
 * - `null` becomes "" because Office.js treats null as "leave this cell alone", while the
 *   server means "empty" (VBA assigns Empty).
 * - ISO datetime strings become Excel serial dates with a date format (VBA parses them with
 *   ParseIso); otherwise Excel would store the "...T...Z" text.
 * - Text beginning with an apostrophe is written unchanged through `range.values`: Excel treats
 *   a leading apostrophe as "store the rest as text" exactly as when typed, so "'00123" stays the
 *   text 00123 (not the number 123), "'=1+1" is not a formula and "'2024-01" not a date. The
 *   server adds the apostrophe to untrusted or number-like text on purpose; stripping it, or
 *   writing through `range.formulas`, would defeat that.
 */
function setValues(state, action) {
  const range = targetRange(state, action);
  const dateCells = [];
  range.values = action.values.map((row, r) => row.map((value, c) => {
    if (value === null || value === undefined) return "";
    const serial = isoToExcelSerial(value);
    if (serial === null) return value;
    dateCells.push({ r, c, serial });
    return serial;
  }));
  for (const { r, c, serial } of dateCells) range.getCell(r, c).numberFormat = [[dateFormatFor(serial)]];
}

/** args: [position, name|null] — inserts a sheet at a 0-based position (as Office Scripts). */
function addSheet(state, action) {
  const [position, name] = action.args;
  const worksheets = state.context.workbook.worksheets;
  const sheet = name === null || name === undefined ? worksheets.add() : worksheets.add(String(name));
  const at = Math.min(Math.max(0, Number(position)), state.sheets.length);
  sheet.position = at;
  state.sheets.splice(at, 0, sheet);
}

/** args: ["columns" | "rows"] */
function setAutofit(state, action) {
  const format = targetRange(state, action).format;
  if (action.args[0] === "columns") format.autofitColumns();
  else format.autofitRows();
}

/** args: ["#rrggbb" | null]; null removes the fill. */
function setRangeColor(state, action) {
  const fill = targetRange(state, action).format.fill;
  if (action.args[0] === null || action.args[0] === undefined) fill.clear();
  else fill.color = String(action.args[0]);
}

/** args: [address, text_to_display, screen_tip] */
function addHyperlink(state, action) {
  const [address, textToDisplay, screenTip] = action.args;
  const hyperlink = { address: String(address) };
  if (textToDisplay !== null && textToDisplay !== undefined) hyperlink.textToDisplay = String(textToDisplay);
  if (screenTip !== null && screenTip !== undefined) hyperlink.screenTip = String(screenTip);
  targetRange(state, action).hyperlink = hyperlink;
}

/** args: [format] — applied to every cell of the block. */
function setNumberFormat(state, action) {
  targetRange(state, action).numberFormat = grid(action.row_count, action.column_count, String(action.args[0]));
}

/**
 * args: [prompt, title, buttons, mode, callback]. Office.js has no modal message box; the
 * caller shows alerts in the task pane. Callbacks (VBA macro names) cannot run here and are
 * ignored, as in the Office Scripts client.
 */
function collectAlert(state, action) {
  const [prompt, title, buttons, mode] = action.args;
  state.alerts.push({ prompt: String(prompt ?? ""), title: String(title ?? ""), buttons: String(buttons ?? "ok"), mode: String(mode ?? "") });
}

/** args: [name, refers_to]; book scope when sheet_position is null. */
function namesAdd(state, action) {
  const [name, refersTo] = action.args;
  const names = action.sheet_position === null || action.sheet_position === undefined
    ? state.context.workbook.names
    : sheetAt(state, action.sheet_position).names;
  names.add(String(name), String(refersTo));
}

/**
 * args: [full_name, refers_to, name, sheet_index, book_scope, scope_sheet_index] as the xlwings
 * server sends them (the VBA client uses the first two, Office Scripts the last four). A short
 * [name, refers_to] list is accepted too; "Sheet!name" then means a sheet-scoped name.
 */
function nameDelete(state, action) {
  const args = action.args;
  if (args.length >= 5) {
    const [, , name, , bookScope, scopeSheetIndex] = args;
    const names = bookScope ? state.context.workbook.names : sheetAt(state, Number(scopeSheetIndex)).names;
    names.getItem(String(name)).delete();
    return;
  }
  const fullName = String(args[0]);
  const bang = fullName.lastIndexOf("!");
  if (bang === -1) {
    state.context.workbook.names.getItem(fullName).delete();
  } else {
    const sheetName = fullName.slice(0, bang).replace(/^'(.*)'$/, "$1").replace(/''/g, "'");
    state.context.workbook.worksheets.getItem(sheetName).names.getItem(fullName.slice(bang + 1)).delete();
  }
}

/** args: [address, has_headers, style|null, name|null] */
function addTable(state, action) {
  const [address, hasHeaders, style, name] = action.args;
  const table = sheetAt(state, action.sheet_position).tables.add(String(address), Boolean(hasHeaders));
  if (style !== null && style !== undefined) table.style = String(style);
  if (name !== null && name !== undefined) table.name = String(name);
}
