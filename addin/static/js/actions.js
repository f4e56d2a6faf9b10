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
 *
 * Protected sheets: kpibook's templates protect the output sheets (得分明细, 汇总, 调整) without a
 * password, so that HR cannot overwrite computed cells by mistake. Excel refuses every write to
 * such a sheet, also from an add-in. The sheets the actions write to are therefore unprotected
 * first and protected again afterwards with the same options, also when applying fails. A sheet
 * protected with a password is never touched: the whole reply is refused before anything is
 * written (see `unprotectSheets`).
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

/**
 * The action handlers: (state, action) => void. `structural` ones are synced right away;
 * `writesSheet` ones change cells or tables of the sheet at `sheet_position`, which Excel refuses
 * on a protected sheet.
 */
const HANDLERS = {
  setValues: { run: setValues, writesSheet: true },
  rangeClearContents: { run: (state, action) => targetRange(state, action).clear("Contents"), writesSheet: true },
  rangeClearFormats: { run: (state, action) => targetRange(state, action).clear("Formats"), writesSheet: true },
  rangeClear: { run: (state, action) => targetRange(state, action).clear("All"), writesSheet: true },
  addSheet: { run: addSheet, structural: true },
  setSheetName: { run: (state, action) => { sheetAt(state, action.sheet_position).name = String(action.args[0]); }, structural: true },
  setAutofit: { run: setAutofit, writesSheet: true },
  setRangeColor: { run: setRangeColor, writesSheet: true },
  activateSheet: { run: (state, action) => sheetAt(state, Number(action.args[0])).activate() },
  addHyperlink: { run: addHyperlink, writesSheet: true },
  setNumberFormat: { run: setNumberFormat, writesSheet: true },
  alert: { run: collectAlert },
  setRangeName: { run: (state, action) => state.context.workbook.names.add(String(action.args[0]), targetRange(state, action)), structural: true },
  namesAdd: { run: namesAdd, structural: true },
  nameDelete: { run: nameDelete, structural: true },
  addTable: { run: addTable, structural: true, writesSheet: true },
  setTableName: { run: (state, action) => { tableAt(state, action).name = String(action.args[1]); }, structural: true, writesSheet: true },
  resizeTable: { run: (state, action) => tableAt(state, action).resize(String(action.args[1])), structural: true, writesSheet: true },
};

/**
 * A sheet protected with a password: kpibook cannot (and must not) unprotect it. The message is
 * bilingual because it is shown as it is, from the task pane or a ribbon command.
 */
export class ProtectedSheetError extends Error {
  /** @param {string} sheetName @param {any} [cause] Excel's own error */
  constructor(sheetName, cause) {
    super(
      `工作表“${sheetName}”设置了密码保护，kpibook 无法写入，本次未做任何更改。` +
      "请在 Excel 中撤销该工作表的保护（审阅 → 撤销工作表保护）后重试。\n" +
      `The sheet "${sheetName}" is protected with a password, so kpibook cannot write to it. ` +
      "Nothing was changed. Unprotect it in Excel (Review → Unprotect Sheet) and try again.",
      { cause },
    );
    this.name = "ProtectedSheetError";
    this.code = "sheet_password";
    this.sheetName = sheetName;
  }
}

/**
 * @typedef {object} UnprotectedSheet a sheet kpibook unprotected and must protect again
 * @property {Excel.Worksheet} sheet
 * @property {string} name
 * @property {Excel.WorksheetProtectionOptions} options the protection options it had
 */

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

  const written = sheetsWrittenBy(actions, state.sheets.length).map((position) => state.sheets[position]);
  const unprotected = await unprotectSheets(context, written);
  let result;
  try {
    result = await applyInOrder(state, actions, progress);
  } catch (error) {
    const restoreError = await restoreProtection(context, unprotected);
    if (restoreError) error.message = `${error.message}\n${restoreError.message}`;
    throw error;
  }
  const restoreError = await restoreProtection(context, unprotected);
  if (restoreError) throw restoreError;
  return result;
}

/**
 * The 0-based positions, in the workbook as it is before the actions run, of the sheets whose
 * cells or tables the actions change. `addSheet` shifts the positions later actions use; the
 * sheets it adds are new and never protected, so they are not listed.
 * @param {Action[]} actions
 * @param {number} sheetCount number of sheets before the actions run
 * @returns {number[]} sorted positions
 */
export function sheetsWrittenBy(actions, sheetCount) {
  // At each step: position now -> position before the actions (null for sheets added here).
  const original = Array.from({ length: sheetCount }, (_, position) => position);
  const written = new Set();
  for (const action of actions) {
    if (action.func === "addSheet") {
      const at = Math.min(Math.max(0, Number(action.args[0])), original.length);
      original.splice(at, 0, null);
    } else if (HANDLERS[action.func]?.writesSheet) {
      const before = original[action.sheet_position];
      if (before !== null && before !== undefined) written.add(before);
    }
  }
  return [...written].sort((a, b) => a - b);
}

/**
 * Unprotects those of `sheets` that are protected, remembering their protection options.
 * Only sheets protected without a password can be unprotected; if one has a password Excel
 * refuses, every sheet unprotected here is protected again and a ProtectedSheetError naming it
 * is thrown, before any action has written anything.
 * @param {Excel.RequestContext} context
 * @param {Excel.Worksheet[]} sheets sheets the actions write to (names loaded)
 * @returns {Promise<UnprotectedSheet[]>} the sheets to protect again afterwards
 */
async function unprotectSheets(context, sheets) {
  if (!sheets.length) return [];
  for (const sheet of sheets) sheet.protection.load("protected,options");
  await context.sync();
  const locked = sheets
    .filter((sheet) => sheet.protection.protected)
    .map((sheet) => ({ sheet, name: sheet.name, options: { ...sheet.protection.options } }));
  if (!locked.length) return [];
  for (const { sheet } of locked) sheet.protection.unprotect();
  try {
    await context.sync();
    return locked;
  } catch (error) {
    // Excel runs the batch in order and stops at the failure: the sheets before the failing one
    // are unprotected now, the failing one (the first still protected) has a password.
    for (const { sheet } of locked) sheet.protection.load("protected");
    await context.sync();
    const opened = locked.filter(({ sheet }) => !sheet.protection.protected);
    const refused = locked.find(({ sheet }) => sheet.protection.protected);
    const restoreError = await restoreProtection(context, opened);
    if (!refused) throw error; // not a password problem after all
    const refusal = new ProtectedSheetError(refused.name, error);
    if (restoreError) refusal.message = `${refusal.message}\n${restoreError.message}`;
    throw refusal;
  }
}

/**
 * Protects the sheets again with the options they had. Never throws: returns the error to report
 * (bilingual, naming the sheets) or null, so that it cannot hide the error of the actions.
 * @param {Excel.RequestContext} context
 * @param {UnprotectedSheet[]} sheets
 * @returns {Promise<Error|null>}
 */
async function restoreProtection(context, sheets) {
  if (!sheets.length) return null;
  for (const { sheet, options } of sheets) sheet.protection.protect(options);
  try {
    await context.sync();
    return null;
  } catch (error) {
    const names = sheets.map(({ name }) => `“${name}”`).join("、");
    return new Error(
      `无法重新保护工作表 ${names}，请在 Excel 中手动保护（审阅 → 保护工作表）。\n` +
      `Could not protect the sheet(s) ${names} again; please protect them in Excel (Review → Protect Sheet): ` +
      `${error?.message ?? error}`,
      { cause: error },
    );
  }
}

/**
 * Runs the handlers in order, syncing after structural actions and every CELLS_PER_SYNC cells.
 * @returns {Promise<ApplyResult>}
 */
async function applyInOrder(state, actions, progress) {
  const context = state.context;
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
