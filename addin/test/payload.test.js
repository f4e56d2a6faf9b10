import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { buildPayload } from "../static/js/payload.js";
import { fakeExcel } from "./helpers/fake-excel.js";
import { sampleWorkbook } from "./helpers/sample-workbook.js";

const fixture = (name) => JSON.parse(readFileSync(new URL(name, import.meta.url), "utf8"));

/** The set of key paths of a JSON document, arrays collapsed: its "shape". */
function shapeOf(value, path = "$", out = new Set()) {
  if (Array.isArray(value)) {
    for (const item of value) shapeOf(item, `${path}[]`, out);
  } else if (value && typeof value === "object") {
    for (const [key, child] of Object.entries(value)) {
      out.add(`${path}.${key}`);
      shapeOf(child, `${path}.${key}`, out);
    }
  }
  return out;
}

test("payload of a mocked workbook equals the fixture", async () => {
  const { context } = fakeExcel(sampleWorkbook());
  const payload = await buildPayload(context);
  assert.deepEqual(payload, fixture("./fixtures/officejs-payload.json"));
});

test("payload has the same key structure as the VBA client's payload", async () => {
  const { context } = fakeExcel(sampleWorkbook());
  const ours = shapeOf(await buildPayload(context));
  const vba = shapeOf(fixture("../../tests/addin/fixtures/vba_payload.json"));
  assert.deepEqual([...ours].sort(), [...vba].sort());
});

test("payload round-trips through JSON unchanged (nothing but JSON types)", async () => {
  const { context } = fakeExcel(sampleWorkbook());
  const payload = await buildPayload(context);
  assert.deepEqual(JSON.parse(JSON.stringify(payload)), payload);
});

test("a selection that is not one range is sent as null", async () => {
  const model = sampleWorkbook();
  model.selection = null;
  const { context } = fakeExcel(model);
  const payload = await buildPayload(context);
  assert.equal(payload.book.selection, null);
  assert.equal(payload.sheets.length, 3);
});

test("excluded sheets send empty values, tables and pictures", async () => {
  const { context } = fakeExcel(sampleWorkbook());
  const payload = await buildPayload(context, { exclude: ["考核表"] });
  assert.deepEqual(payload.sheets[0], { name: "考核表", values: [[]], pictures: [], tables: [] });
  assert.equal(payload.sheets[1].values.length, 3);
});

test("without ExcelApi 1.12 dates stay serial numbers (as Excel 2016 clients send them)", async () => {
  const { context } = fakeExcel(sampleWorkbook());
  const payload = await buildPayload(context, { isSetSupported: (set, version) => version !== "1.12" });
  assert.equal(payload.sheets[0].values[4][3], 45352);
});

test("reading needs a fixed number of round trips however many sheets", async () => {
  const small = fakeExcel(sampleWorkbook());
  await buildPayload(small.context);
  const model = sampleWorkbook();
  for (let i = 0; i < 5; i++) model.sheets.push({ ...model.sheets[2], name: `Extra${i}`, cells: new Map(), tables: [], names: [], shapes: [] });
  const large = fakeExcel(model);
  await buildPayload(large.context);
  assert.equal(large.syncCount, small.syncCount);
});
