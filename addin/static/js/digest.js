/**
 * Sheet digests (server/xlwire/digest.py, docs/protocol.md "Sheet digests"): the sheets kb_meta
 * lists in `sheet_digests` (the sheets the server filled: results, data, adjustments, as it last
 * left them) are sent by their SHA-256 instead of their values; the server answers 409 with the
 * sheets it needs when one differs (HR typed over a result, an executive entered an
 * adjustment), and the request goes again with their values.
 * @module digest
 */

export const DIGESTS_HEADER = "Kpibook-Digests";
export const NEED_VALUES_HEADER = "Kpibook-Need-Values";
export const META_KEY = "sheet_digests";

/** "a=1&b=2" -> {a: "1", b: "2"}; "-" or "" -> {}. */
export function parseDigests(text) {
  const out = {};
  const trimmed = String(text ?? "").trim();
  if (!trimmed || trimmed === "-") return out;
  for (const [name, digest] of new URLSearchParams(trimmed)) out[name] = digest;
  return out;
}

/** {name: digest} -> the header's text ("-" when there is none). */
export function formatDigests(digests) {
  const pairs = Object.entries(digests).map(([n, d]) => `${encodeURIComponent(n)}=${d}`);
  return pairs.length ? pairs.join("&") : "-";
}

/** The 409 header's sheet names. */
export function parseNames(text) {
  return String(text ?? "").split("&").filter(Boolean).map((part) => decodeURIComponent(part));
}

/** Without trailing rows, then trailing columns, that are all "". */
export function trimmed(values) {
  let end = values.length;
  while (end && values[end - 1].every((v) => v === "")) end -= 1;
  const rows = values.slice(0, end);
  let width = 0;
  for (const row of rows) {
    let w = row.length;
    while (w > width && row[w - 1] === "") w -= 1;
    width = Math.max(width, w);
  }
  return rows.map((row) => (row.length === width ? row : [...row.slice(0, width), ...Array(Math.max(0, width - row.length)).fill("")]));
}

/** [name, address without "$", show_headers, show_totals] of a payload table. */
export function tableKey(table) {
  return [table.name, String(table.range_address ?? "").replace(/\$/g, ""), Boolean(table.show_headers ?? true), Boolean(table.show_totals)];
}

/**
 * SHA-256 (hex) of JSON `[tables, values]` as the server computes it.
 * @param {Array<Array<any>>} values the sheet's payload values @param {object[]} tables payload tables
 */
export async function sheetDigest(values, tables) {
  const rows = values.length === 1 && values[0].length === 0 ? [] : values;
  const text = JSON.stringify([tables.map(tableKey), trimmed(rows)]);
  const hash = await globalThis.crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(hash)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** kb_meta's value for `key` in the payload: the cell right of the key cell in its body. */
export function metaValue(payload, key) {
  for (const sheet of payload.sheets) {
    for (const table of sheet.tables ?? []) {
      if (table.name.toLowerCase() !== "kb_meta" || !table.data_body_range_address) continue;
      const { row, column, rowCount, columnCount } = bounds(table.data_body_range_address);
      for (const cells of sheet.values.slice(row, row + rowCount)) {
        const part = cells.slice(column, column + columnCount);
        const at = part.findIndex((cell, c) => c < part.length - 1 && typeof cell === "string" && cell.trim() === key);
        if (at >= 0) return typeof part[at + 1] === "string" ? part[at + 1] : null;
      }
    }
  }
  return null;
}

function bounds(address) {
  const [first, last = first] = address.replace(/\$/g, "").split(":");
  const cell = (ref) => {
    const m = /^([A-Z]+)(\d+)$/.exec(ref);
    return { row: Number(m[2]) - 1, column: [...m[1]].reduce((n, ch) => n * 26 + ch.charCodeAt(0) - 64, 0) - 1 };
  };
  const a = cell(first);
  const b = cell(last);
  return { row: a.row, column: a.column, rowCount: b.row - a.row + 1, columnCount: b.column - a.column + 1 };
}

/**
 * Replaces the sheets kb_meta lists (except those in `keep`) by their digest: values [[]], no
 * tables or pictures, as an excluded sheet. Returns {name: digest} for the header.
 */
export async function digestSheets(payload, keep = []) {
  const listed = parseDigests(metaValue(payload, META_KEY));
  const out = {};
  for (const sheet of payload.sheets) {
    if (!(sheet.name in listed) || keep.includes(sheet.name)) continue;
    out[sheet.name] = await sheetDigest(sheet.values, sheet.tables);
    Object.assign(sheet, { values: [[]], pictures: [], tables: [] });
  }
  return out;
}
