/**
 * Reads the open workbook with Office.js and builds the xlwings-protocol request payload.
 *
 * The shape mirrors the BSD Office Scripts client (xlwings/js/xlwings.ts) key for key, so the
 * server parses one format for every client. Reading is done in a fixed number of
 * `context.sync()` round trips whatever the number of sheets (each round trip to Excel costs
 * tens of milliseconds, more on the web), plus extra ones only for very large sheets.
 * @module payload
 */

import { CLIENT_NAME, PROTOCOL_VERSION, excelSerialToIso, stripSheetName } from "./protocol.js";

/**
 * Cells loaded per `context.sync()`. Excel on the web rejects responses above ~5 MB; 100k cells
 * of typical KPI data is about 1 MB of JSON, leaving room for long Chinese texts.
 */
export const CELLS_PER_SYNC = 100_000;

/**
 * @typedef {object} BuildOptions
 * @property {string[]} [include] only these sheets send values/tables/pictures
 * @property {string[]} [exclude] these sheets send `values: [[]]` and no tables/pictures
 * @property {(set: string, version: string) => boolean} [isSetSupported] requirement-set probe
 * @property {(message: string) => void} [onProgress] progress reporting for the task pane
 */

/**
 * Default requirement-set probe: asks Office when it is there, assumes a modern Excel in tests.
 * @param {string} set @param {string} version @returns {boolean}
 */
function officeSupports(set, version) {
  const requirements = globalThis.Office?.context?.requirements;
  return requirements ? Boolean(requirements.isSetSupported(set, version)) : true;
}

/**
 * Builds the request payload for the workbook of `context`.
 * @param {Excel.RequestContext} context
 * @param {BuildOptions} [options]
 * @returns {Promise<object>} the JSON-ready payload
 */
export async function buildPayload(context, options = {}) {
  const isSetSupported = options.isSetSupported ?? officeSupports;
  const progress = options.onProgress ?? (() => {});
  // Dates come back from Office.js as serial numbers; only ExcelApi 1.12 tells us which
  // numbers are dates (numberFormatCategories). Older Excel sends serials, as the protocol notes.
  const canDetectDates = isSetSupported("ExcelApi", "1.12");
  const canReadShapes = isSetSupported("ExcelApi", "1.9");
  const workbook = context.workbook;

  progress("reading");
  const selection = await readSelectionAddress(context);

  // Round trip 1: book, sheet list, book-scoped names.
  workbook.load("name");
  const activeSheet = workbook.worksheets.getActiveWorksheet();
  activeSheet.load("position");
  const worksheets = workbook.worksheets;
  worksheets.load("items/name");
  workbook.names.load("items/name,items/type");
  await context.sync();

  const sheets = worksheets.items.map((worksheet, position) => ({
    worksheet,
    position,
    name: worksheet.name,
    included: isIncluded(worksheet.name, options),
  }));

  // Round trip 2: per sheet the used range, tables, sheet-scoped names, shapes; name ranges.
  const bookNames = workbook.names.items
    .filter((item) => item.type === "Range")
    .map((item) => ({ item, range: loadNameRange(item) }));
  for (const sheet of sheets) {
    sheet.names = sheet.worksheet.names;
    sheet.names.load("items/name,items/type");
    if (!sheet.included) continue;
    sheet.usedRange = sheet.worksheet.getUsedRangeOrNullObject();
    sheet.usedRange.load("isNullObject,rowIndex,columnIndex,rowCount,columnCount");
    sheet.tables = sheet.worksheet.tables;
    sheet.tables.load("items/name,items/showHeaders,items/showTotals,items/style,items/showFilterButton");
    if (canReadShapes) {
      sheet.shapes = sheet.worksheet.shapes;
      sheet.shapes.load("items/name,items/type,items/width,items/height");
    }
  }
  await context.sync();

  // Round trip 3: table addresses, sheet-scoped name ranges, and the cell values.
  const sheetNames = [];
  for (const sheet of sheets) {
    for (const item of sheet.names.items.filter((named) => named.type === "Range")) {
      sheetNames.push({ item, range: loadNameRange(item), scope: sheet });
    }
    if (!sheet.included) continue;
    sheet.tableRanges = sheet.tables.items.map((table) => loadTableRanges(table));
  }
  const valueBlocks = planValueBlocks(sheets, canDetectDates);
  await loadValueBlocks(context, valueBlocks, progress);

  const names = [
    ...bookNames.filter(({ range }) => !range.isNullObject).map(({ item, range }) => ({
      name: item.name,
      sheet_index: range.worksheet.position,
      address: stripSheetName(range.address),
      scope_sheet_name: null,
      scope_sheet_index: null,
      book_scope: true,
    })),
    ...sheetNames.filter(({ range }) => !range.isNullObject).map(({ item, range, scope }) => ({
      name: item.name,
      sheet_index: range.worksheet.position,
      address: stripSheetName(range.address),
      scope_sheet_name: scope.name,
      scope_sheet_index: scope.position,
      book_scope: false,
    })),
  ];

  return {
    client: CLIENT_NAME,
    version: PROTOCOL_VERSION,
    book: { name: workbook.name, active_sheet_index: activeSheet.position, selection },
    names,
    sheets: sheets.map((sheet) => ({
      name: sheet.name,
      values: sheet.included ? joinValueBlocks(valueBlocks, sheet) : [[]],
      pictures: sheet.included ? picturesOf(sheet) : [],
      tables: sheet.included ? sheet.tableRanges.map(tableEntry) : [],
    })),
  };
}

/**
 * The selection's address without sheet name, or null when the selection is not one range
 * (a chart, a shape, several areas: `getSelectedRange` then fails, and so do the other clients).
 * It has its own round trip because a failure would otherwise abort the whole batch.
 * @param {Excel.RequestContext} context @returns {Promise<string|null>}
 */
async function readSelectionAddress(context) {
  try {
    const range = context.workbook.getSelectedRange();
    range.load("address");
    await context.sync();
    return stripSheetName(range.address);
  } catch {
    return null;
  }
}

/** @param {string} sheetName @param {BuildOptions} options @returns {boolean} */
function isIncluded(sheetName, { include, exclude }) {
  if (include?.length) return include.includes(sheetName);
  if (exclude?.length) return !exclude.includes(sheetName);
  return true;
}

/** Queues the load of a named item's range; null objects mark names not pointing at cells. */
function loadNameRange(item) {
  const range = item.getRangeOrNullObject();
  range.load("isNullObject,address");
  range.worksheet.load("position");
  return range;
}

/** Queues the loads of a table's range addresses; hidden header/total rows have none. */
function loadTableRanges(table) {
  const load = (range) => range.load("address");
  const ranges = { table, range: table.getRange(), body: table.getDataBodyRange() };
  if (table.showHeaders) ranges.header = table.getHeaderRowRange();
  if (table.showTotals) ranges.totals = table.getTotalRowRange();
  for (const key of ["range", "body", "header", "totals"]) if (ranges[key]) load(ranges[key]);
  return ranges;
}

/** One table as the protocol lists it (key order as the Office Scripts client). */
function tableEntry({ table, range, body, header, totals }) {
  return {
    name: table.name,
    range_address: stripSheetName(range.address),
    header_row_range_address: header ? stripSheetName(header.address) : null,
    data_body_range_address: stripSheetName(body.address),
    total_row_range_address: totals ? stripSheetName(totals.address) : null,
    show_headers: table.showHeaders,
    show_totals: table.showTotals,
    table_style: table.style,
    show_autofilter: table.showFilterButton,
  };
}

/** Pictures of a sheet: image shapes only, as the other clients send them. */
function picturesOf(sheet) {
  if (!sheet.shapes) return [];
  return sheet.shapes.items
    .filter((shape) => shape.type === "Image")
    .map((shape) => ({ name: shape.name, width: shape.width, height: shape.height }));
}

/**
 * Splits every included sheet's A1-anchored block into row blocks of at most CELLS_PER_SYNC
 * cells. The block starts at A1 even when the used range does not (HR often leaves a title row
 * or a margin column empty): the protocol promises values anchored at A1.
 */
function planValueBlocks(sheets, withCategories) {
  const blocks = [];
  for (const sheet of sheets) {
    if (!sheet.included || sheet.usedRange.isNullObject) continue;
    const rowCount = sheet.usedRange.rowIndex + sheet.usedRange.rowCount;
    const columnCount = sheet.usedRange.columnIndex + sheet.usedRange.columnCount;
    const rowsPerBlock = Math.max(1, Math.floor(CELLS_PER_SYNC / columnCount));
    for (let firstRow = 0; firstRow < rowCount; firstRow += rowsPerBlock) {
      const rows = Math.min(rowsPerBlock, rowCount - firstRow);
      blocks.push({ sheet, firstRow, rows, columnCount, withCategories });
    }
  }
  return blocks;
}

/** Loads the value blocks, syncing whenever the queued cells reach CELLS_PER_SYNC. */
async function loadValueBlocks(context, blocks, progress) {
  let queuedCells = 0;
  let loadedCells = 0;
  const totalCells = blocks.reduce((sum, block) => sum + block.rows * block.columnCount, 0);
  for (const block of blocks) {
    block.range = block.sheet.worksheet.getRangeByIndexes(block.firstRow, 0, block.rows, block.columnCount);
    block.range.load(block.withCategories ? "values,numberFormatCategories" : "values");
    queuedCells += block.rows * block.columnCount;
    if (queuedCells >= CELLS_PER_SYNC) {
      await context.sync();
      loadedCells += queuedCells;
      queuedCells = 0;
      progress(`reading ${loadedCells}/${totalCells}`);
    }
  }
  // Always sync here: the table and name loads of this round trip ride along.
  await context.sync();
}

/** Concatenates a sheet's blocks into its values grid, turning date cells into ISO strings. */
function joinValueBlocks(blocks, sheet) {
  const rows = [];
  for (const block of blocks.filter((candidate) => candidate.sheet === sheet)) {
    const categories = block.withCategories ? block.range.numberFormatCategories : null;
    block.range.values.forEach((row, r) => {
      rows.push(
        row.map((value, c) => {
          const category = categories?.[r]?.[c];
          const isDate = (category === "Date" || category === "Time") && typeof value === "number";
          return isDate ? excelSerialToIso(value) : value;
        }),
      );
    });
  }
  return rows.length ? rows : [[]];
}
