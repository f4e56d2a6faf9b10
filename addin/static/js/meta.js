/**
 * Reads kpibook's metadata table `kb_meta` (key/value rows on the hidden sheet "_kpibook").
 * @module meta
 */

/** Keys the period may be stored under (the canonical key first). */
const PERIOD_KEYS = ["period", "期间"];

/**
 * All key/value pairs of kb_meta, or null when the workbook has no such table.
 * @param {Excel.RequestContext} context
 * @returns {Promise<Map<string, any>|null>}
 */
export async function readMeta(context) {
  const table = context.workbook.tables.getItemOrNullObject("kb_meta");
  table.load("isNullObject");
  await context.sync();
  if (table.isNullObject) return null;
  const body = table.getDataBodyRange();
  body.load("values");
  await context.sync();
  const meta = new Map();
  for (const [key, value] of body.values) {
    if (key !== "" && key !== null) meta.set(String(key).trim().toLowerCase(), value);
  }
  return meta;
}

/**
 * The workbook's period ("2024-Q1"), or null.
 * @param {Excel.RequestContext} context @returns {Promise<string|null>}
 */
export async function readPeriod(context) {
  const meta = await readMeta(context);
  if (!meta) return null;
  for (const key of PERIOD_KEYS) {
    const value = meta.get(key);
    if (value !== undefined && value !== "") return String(value);
  }
  return null;
}
