/**
 * Constants and small pure helpers of the xlwings Server wire protocol as kpibook speaks it.
 *
 * Coordinates in the protocol are 0-based (row/column indexes); everything shown to people is
 * Excel's A1 notation. Nothing here touches Office.js, so it is usable in Node tests as is.
 * @module protocol
 */

/** The `client` value of our payloads; the server uses it to know how dates arrive. */
export const CLIENT_NAME = "Office.js";

/**
 * The xlwings protocol version we speak. We send the version of the BSD clients we mirror
 * (VBA Remote.bas / Office Scripts xlwings.ts 0.37.8) so that the server can treat all clients
 * alike.
 */
export const PROTOCOL_VERSION = "0.37.8";

/** Ribbon buttons the server knows: `POST {base}/xl/{button}`. */
export const BUTTONS = Object.freeze(["new_period", "pull", "score", "check", "submit", "refresh"]);

/** Milliseconds between the Excel epoch (1899-12-30) and the Unix epoch. */
const EXCEL_EPOCH_OFFSET_DAYS = 25569;
const MS_PER_DAY = 86400 * 1000;

/**
 * Drops the sheet part of an Office.js address ("'考核 1'!A1:B2" -> "A1:B2").
 * The last "!" is the separator, because a quoted sheet name may itself contain "!".
 * @param {string} address
 * @returns {string}
 */
export function stripSheetName(address) {
  const bang = address.lastIndexOf("!");
  return bang === -1 ? address : address.slice(bang + 1);
}

/**
 * Converts an Excel serial date (days since 1899-12-30, fraction = time of day) to the ISO
 * string the protocol uses for dates ("2024-03-01T00:00:00.000Z"). Excel dates carry no time
 * zone, so the wall-clock value is written as if it were UTC, like the Office Scripts client.
 * @param {number} serial
 * @returns {string}
 */
export function excelSerialToIso(serial) {
  return new Date(Math.round((serial - EXCEL_EPOCH_OFFSET_DAYS) * MS_PER_DAY)).toISOString();
}

/** "2024-03-01T00:00:00.000Z", "2024-03-01T08:30:00Z", "2024-03-01T08:30:00" (no offset). */
const ISO_DATETIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,6})?Z?$/;

/**
 * If `text` is a protocol datetime string, returns its Excel serial number, else null.
 * Only the full "YYYY-MM-DDThh:mm:ss" form counts: a bare "2024-03" or a text-prefixed
 * "'2024-03-01T..." stays text.
 * @param {unknown} text
 * @returns {number|null}
 */
export function isoToExcelSerial(text) {
  if (typeof text !== "string") return null;
  const m = ISO_DATETIME.exec(text);
  if (!m) return null;
  const ms = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6], Math.round(Number(m[7] || 0) * 1000));
  if (Number.isNaN(ms)) return null;
  return ms / MS_PER_DAY + EXCEL_EPOCH_OFFSET_DAYS;
}

/**
 * Number format for a cell that received a date: date only at midnight, else date and time.
 * @param {number} serial
 * @returns {string}
 */
export function dateFormatFor(serial) {
  return Number.isInteger(serial) ? "yyyy-mm-dd" : "yyyy-mm-dd hh:mm:ss";
}

/**
 * Excel column letters for a 0-based column index (0 -> "A", 27 -> "AB").
 * @param {number} index
 * @returns {string}
 */
export function columnLetters(index) {
  let letters = "";
  for (let n = index + 1; n > 0; n = Math.floor((n - 1) / 26)) {
    letters = String.fromCharCode(65 + ((n - 1) % 26)) + letters;
  }
  return letters;
}

/**
 * A1 address of a 0-based block, e.g. (1, 0, 2, 3) -> "A2:C3".
 * @param {number} row @param {number} column @param {number} rowCount @param {number} columnCount
 * @returns {string}
 */
export function a1Address(row, column, rowCount = 1, columnCount = 1) {
  const first = `${columnLetters(column)}${row + 1}`;
  if (rowCount === 1 && columnCount === 1) return first;
  return `${first}:${columnLetters(column + columnCount - 1)}${row + rowCount}`;
}
