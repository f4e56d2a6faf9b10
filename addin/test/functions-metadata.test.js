/**
 * The custom functions' metadata (static/functions.json and its zh-CN localization, referenced
 * by the manifest's Functions.Metadata.Url and its zh-CN override) against the documented
 * metadata shape, and against the code that registers the functions.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { test } from "node:test";

import { FUNCTION_IDS, createFigureSource, kpibookFunctions, registerFunctions } from "../static/js/functions.js";

const require = createRequire(import.meta.url);
const Ajv = require("ajv");
const read = (path) => JSON.parse(readFileSync(new URL(path, import.meta.url), "utf8"));
const schema = read("./fixtures/custom-functions-metadata.schema.json");
const english = read("../static/functions.json");
const chinese = read("../static/functions-zh-CN.json");

test("both metadata files have the documented shape", () => {
  const validate = new Ajv({ allErrors: true, strict: true, unicodeRegExp: true, validateFormats: false }).compile(schema);
  for (const [name, doc] of [["functions.json", english], ["functions-zh-CN.json", chinese]]) {
    assert.ok(validate(doc), `${name}: ${JSON.stringify(validate.errors)}`);
  }
  // the schema itself rejects what Excel rejects
  assert.equal(validate({ functions: [{ id: "score", name: "SCORE", result: {} }] }), false);
  assert.equal(validate({ functions: [{ id: "SCORE", name: "SC", result: {} }] }), false);
  assert.equal(validate({ functions: [{ id: "SCORE", name: "SCORE", result: { type: "date" } }] }), false);
});

test("ids are unique, every one is registered, parameters match the functions' arity", () => {
  const ids = english.functions.map((f) => f.id);
  assert.equal(new Set(ids).size, ids.length);
  assert.deepEqual([...ids].sort(), [...FUNCTION_IDS].sort());
  const associated = {};
  registerFunctions({ associate: (id, fn) => { associated[id] = fn; }, Error: class {}, ErrorCode: {} }, createFigureSource());
  assert.deepEqual(Object.keys(associated).sort(), [...ids].sort());
  const impl = kpibookFunctions(createFigureSource());
  for (const fn of english.functions) {
    assert.equal(impl[fn.id].length, fn.parameters.length, `${fn.id} takes as many arguments as declared`);
    const optional = fn.parameters.map((p) => Boolean(p.optional));
    assert.equal(optional[0], false, `${fn.id}: the employee is required`);
    assert.deepEqual(optional, [...optional].sort(), `${fn.id}: optional parameters come last`);
    assert.ok(fn.description.length > 20);
  }
});

test("the zh-CN file localizes names and descriptions only", () => {
  assert.equal(chinese.functions.length, english.functions.length);
  for (const [i, en] of english.functions.entries()) {
    const zh = chinese.functions[i];
    assert.equal(zh.id, en.id);
    assert.deepEqual(zh.result, en.result);
    assert.match(zh.name, /^[\u4e00-\u9fff]{3,}$/, `${en.id}: a Chinese name of at least 3 characters`);
    assert.notEqual(zh.name, en.name);
    assert.match(zh.description, /[\u4e00-\u9fff]/);
    assert.equal(zh.parameters.length, en.parameters.length);
    for (const [j, p] of en.parameters.entries()) {
      const q = zh.parameters[j];
      assert.deepEqual([q.type, q.dimensionality, Boolean(q.optional)], [p.type, p.dimensionality, Boolean(p.optional)]);
      assert.match(q.name + q.description, /[\u4e00-\u9fff]/);
    }
  }
  const names = chinese.functions.map((f) => f.name);
  assert.equal(new Set(names).size, names.length);
});
