/**
 * Structural validation of addin/manifest.xml. Microsoft's XSDs are not shipped in any registry
 * package we can install offline (office-addin-manifest validates through an online service),
 * so this test checks what Office requires: order and presence of elements, ids, https URLs
 * derived from the base URL, icons present at the sizes named, every resid resolving to the right
 * resource type, string lengths, zh-CN overrides and FunctionName values bound in commands.js.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { test } from "node:test";
import { createRequire } from "node:module";

import { COMMAND_NAMES } from "../static/js/commands.js";

const require = createRequire(import.meta.url);
const { OfficeAddinManifest } = require("office-addin-manifest");
const xml2js = require("xml2js");

const ADDIN = new URL("../", import.meta.url);
const PLACEHOLDER = "{{BASE_URL}}";
const BASE = "https://kpi.example.com";
const template = readFileSync(new URL("manifest.xml", ADDIN), "utf8");
const served = template.replaceAll(PLACEHOLDER, BASE);

/** Parses with element order kept (explicitChildren + preserveChildrenOrder). */
async function parse(text) {
  return xml2js.parseStringPromise(text, { explicitChildren: true, preserveChildrenOrder: true, explicitArray: true });
}

/** Depth-first list of all elements as {name, attrs, text, children}. */
function walk(element, out = []) {
  out.push(element);
  for (const child of element.$$ ?? []) walk(child, out);
  return out;
}
const nameOf = (el) => el["#name"];
const attrs = (el) => el.$ ?? {};
const childrenNamed = (el, name) => (el.$$ ?? []).filter((c) => nameOf(c) === name);
const only = (el, name) => {
  const found = childrenNamed(el, name);
  assert.equal(found.length, 1, `exactly one <${name}> in <${nameOf(el)}>`);
  return found[0];
};

/** Width and height from a PNG header. */
function pngSize(path) {
  const bytes = readFileSync(path);
  assert.equal(bytes.subarray(1, 4).toString("ascii"), "PNG", `${path} is a PNG`);
  return [bytes.readUInt32BE(16), bytes.readUInt32BE(20)];
}

/** URL -> file under addin/static (the server serves static/ at {base}/addin/). */
function staticFile(url) {
  assert.ok(url.startsWith(`${BASE}/addin/`), `${url} is served from ${BASE}/addin/`);
  return new URL(`static/${url.slice(`${BASE}/addin/`.length)}`, ADDIN);
}

const doc = await parse(served);
const root = doc.OfficeApp;
const all = walk(root);

test("root: TaskPaneApp with the required children in schema order", () => {
  assert.equal(attrs(root)["xsi:type"], "TaskPaneApp");
  assert.equal(attrs(root).xmlns, "http://schemas.microsoft.com/office/appforoffice/1.1");
  const order = ["Id", "Version", "ProviderName", "DefaultLocale", "DisplayName", "Description", "IconUrl",
    "HighResolutionIconUrl", "SupportUrl", "AppDomains", "Hosts", "Requirements", "DefaultSettings", "Permissions", "VersionOverrides"];
  assert.deepEqual(root.$$.map(nameOf), order);
  assert.match(only(root, "Id")._, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.match(only(root, "Version")._, /^\d+\.\d+\.\d+\.\d+$/);
  assert.equal(only(root, "ProviderName")._, "kpibook");
  assert.equal(only(root, "DefaultLocale")._, "en-US");
  assert.equal(attrs(only(only(root, "Hosts"), "Host")).Name, "Workbook");
  assert.equal(only(root, "Permissions")._, "ReadWriteDocument");
});

test("display name and description have zh-CN overrides", () => {
  for (const name of ["DisplayName", "Description"]) {
    const el = only(root, name);
    const override = only(el, "Override");
    assert.equal(attrs(override).Locale, "zh-CN");
    assert.match(attrs(override).Value, /[\u4e00-\u9fff]/);
    assert.ok(attrs(el).DefaultValue.length <= (name === "DisplayName" ? 125 : 250));
  }
});

test("every URL is https and derived from the base URL placeholder", () => {
  const urls = [];
  for (const el of all) {
    const value = attrs(el).DefaultValue;
    if (value && /^(IconUrl|HighResolutionIconUrl|SupportUrl|SourceLocation|bt:Image|bt:Url)$/.test(nameOf(el))) urls.push(value);
  }
  urls.push(...childrenNamed(only(root, "AppDomains"), "AppDomain").map((el) => el._));
  assert.ok(urls.length > 20);
  for (const url of urls) {
    assert.ok(url.startsWith(BASE), `${url} starts with the base URL`);
    assert.equal(new URL(url).protocol, "https:");
  }
  // The template itself contains no host: only the placeholder.
  assert.doesNotMatch(template, /https?:\/\/(?!schemas\.microsoft\.com|www\.w3\.org)/);
});

test("shared runtime: long-lived runtime, SharedRuntime 1.1, function file = runtime page", () => {
  const overrides = only(root, "VersionOverrides");
  const set = all.find((el) => nameOf(el) === "bt:Set" && attrs(el).Name === "SharedRuntime");
  assert.equal(attrs(set).MinVersion, "1.1");
  const runtime = all.find((el) => nameOf(el) === "Runtime");
  assert.equal(attrs(runtime).lifetime, "long");
  const functionFile = all.find((el) => nameOf(el) === "FunctionFile");
  assert.equal(attrs(functionFile).resid, attrs(runtime).resid);
  assert.equal(attrs(overrides)["xsi:type"], "VersionOverridesV1_0");
});

/** Resource id -> {type, element}. */
function resources() {
  const map = new Map();
  for (const [group, type] of [["bt:Images", "image"], ["bt:Urls", "url"], ["bt:ShortStrings", "short"], ["bt:LongStrings", "long"]]) {
    const container = all.find((el) => nameOf(el) === group);
    for (const el of container.$$) {
      const id = attrs(el).id;
      assert.ok(!map.has(id), `resource id ${id} is unique`);
      assert.ok(id.length <= 32, `resource id ${id} is at most 32 characters`);
      map.set(id, { type, el });
    }
  }
  return map;
}

test("every resid resolves to a resource of the right kind", () => {
  const map = resources();
  const expected = { Label: "short", Title: "short", Description: "long", "bt:Image": "image", SourceLocation: "url",
    FunctionFile: "url", Runtime: "url", LearnMoreUrl: "url", Namespace: "short" };
  const used = new Set();
  for (const el of all) {
    const resid = attrs(el).resid;
    if (!resid) continue;
    assert.ok(map.has(resid), `resid ${resid} (<${nameOf(el)}>) resolves`);
    assert.equal(map.get(resid).type, expected[nameOf(el)], `resid ${resid} on <${nameOf(el)}> is a ${expected[nameOf(el)]}`);
    used.add(resid);
  }
  for (const id of map.keys()) assert.ok(used.has(id), `resource ${id} is used`);
});

test("strings: labels <= 125, long strings <= 250 characters, every string has a zh-CN override", () => {
  for (const { type, el } of resources().values()) {
    if (type !== "short" && type !== "long") continue;
    const limit = type === "short" ? 125 : 250;
    const override = only(el, "bt:Override");
    assert.equal(attrs(override).Locale, "zh-CN");
    for (const text of [attrs(el).DefaultValue, attrs(override).Value]) {
      assert.ok(text.length > 0 && text.length <= limit, `"${text}" fits in ${limit}`);
    }
  }
});

test("icons exist at the sizes named (16/32/80 for controls, 32/64 app icons)", () => {
  const map = resources();
  for (const el of all.filter((e) => nameOf(e) === "Icon")) {
    const images = childrenNamed(el, "bt:Image");
    assert.deepEqual(images.map((i) => attrs(i).size).sort(), ["16", "32", "80"]);
    for (const image of images) {
      const file = staticFile(attrs(map.get(attrs(image).resid).el).DefaultValue);
      assert.ok(existsSync(file), `${file} exists`);
      const size = Number(attrs(image).size);
      assert.deepEqual(pngSize(file), [size, size]);
    }
  }
  assert.deepEqual(pngSize(staticFile(attrs(only(root, "IconUrl")).DefaultValue)), [32, 32]);
  assert.deepEqual(pngSize(staticFile(attrs(only(root, "HighResolutionIconUrl")).DefaultValue)), [64, 64]);
});

test("pages named by the manifest exist (locale overrides of URLs too)", () => {
  for (const { type, el } of resources().values()) {
    if (type !== "url") continue;
    assert.ok(existsSync(staticFile(attrs(el).DefaultValue)));
    for (const override of childrenNamed(el, "bt:Override")) {
      assert.equal(attrs(override).Locale, "zh-CN");
      assert.equal(new URL(attrs(override).Value).protocol, "https:");
      assert.ok(existsSync(staticFile(attrs(override).Value)), attrs(override).Value);
    }
  }
  assert.ok(existsSync(staticFile(attrs(only(only(root, "DefaultSettings"), "SourceLocation")).DefaultValue)));
  assert.ok(existsSync(staticFile(attrs(only(root, "SupportUrl")).DefaultValue)));
});

test("the KPI tab has the eight buttons; FunctionNames match Office.actions.associate names", () => {
  const tab = all.find((el) => nameOf(el) === "CustomTab");
  const label = resources().get(attrs(only(tab, "Label")).resid);
  assert.equal(attrs(label.el).DefaultValue, "KPI");
  const controls = all.filter((el) => nameOf(el) === "Control");
  assert.equal(controls.length, 8);
  const ids = all.filter((el) => attrs(el).id && !nameOf(el).startsWith("bt:")).map((el) => attrs(el).id);
  assert.equal(new Set(ids).size, ids.length, "control/group/tab ids are unique");
  const functionNames = all.filter((el) => nameOf(el) === "FunctionName").map((el) => el._);
  assert.deepEqual([...functionNames].sort(), [...COMMAND_NAMES].sort());
  const source = readFileSync(new URL("static/js/commands.js", ADDIN), "utf8");
  for (const name of functionNames) assert.ok(source.includes(`${name}:`) || source.includes(`"${name}"`), `${name} is bound in commands.js`);
  const panes = all.filter((el) => nameOf(el) === "Action" && attrs(el)["xsi:type"] === "ShowTaskpane");
  assert.equal(panes.length, 1);
  for (const control of controls) {
    assert.equal(attrs(control)["xsi:type"], "Button");
    assert.deepEqual(control.$$.map(nameOf), ["Label", "Supertip", "Icon", "Action"]);
  }
});

test("Microsoft's manifest reader parses the served manifest", async () => {
  const { writeFileSync, mkdtempSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const path = join(mkdtempSync(join(tmpdir(), "kb-manifest-")), "manifest.xml");
  writeFileSync(path, served);
  const info = await OfficeAddinManifest.readManifestFile(path);
  assert.equal(info.officeAppType, "TaskPaneApp");
  assert.deepEqual(info.hosts, ["Workbook"]);
  assert.equal(info.providerName, "kpibook");
});

test("task pane pages load no script from outside but Microsoft's office.js, and JS never uses innerHTML", () => {
  const staticDir = new URL("static/", ADDIN);
  for (const page of readdirSync(staticDir).filter((f) => f.endsWith(".html"))) {
    const html = readFileSync(new URL(page, staticDir), "utf8");
    const external = [...html.matchAll(/(?:src|href)="(https?:[^"]+)"/g)].map((m) => m[1]);
    for (const url of external) assert.equal(url, "https://appsforoffice.microsoft.com/lib/1/hosted/office.js", `${page}: ${url}`);
  }
  for (const file of readdirSync(new URL("js/", staticDir))) {
    const code = readFileSync(new URL(`js/${file}`, staticDir), "utf8");
    assert.doesNotMatch(code, /innerHTML|outerHTML|insertAdjacentHTML|document\.write/, file);
  }
});

test("custom functions: one CustomFunctions extension point in the shared runtime, metadata per locale", () => {
  const host = all.find((el) => nameOf(el) === "Host" && attrs(el)["xsi:type"] === "Workbook");
  // Runtimes, then AllFormFactors, then DesktopFormFactor (the schema's order).
  assert.deepEqual(host.$$.map(nameOf), ["Runtimes", "AllFormFactors", "DesktopFormFactor"]);
  const point = only(only(host, "AllFormFactors"), "ExtensionPoint");
  assert.equal(attrs(point)["xsi:type"], "CustomFunctions");
  assert.deepEqual(point.$$.map(nameOf), ["Script", "Page", "Metadata", "Namespace"]);
  const runtime = all.find((el) => nameOf(el) === "Runtime");
  const location = (name) => attrs(only(only(point, name), "SourceLocation")).resid;
  assert.equal(location("Page"), attrs(runtime).resid, "the functions run in the shared runtime's page");
  const map = resources();
  const url = (resid) => attrs(map.get(resid).el).DefaultValue;
  assert.equal(url(location("Script")), `${BASE}/addin/js/functions.js`);
  assert.equal(url(location("Metadata")), `${BASE}/addin/functions.json`);
  const zh = only(map.get(location("Metadata")).el, "bt:Override");
  assert.equal(attrs(zh).Value, `${BASE}/addin/functions-zh-CN.json`);
  const namespace = map.get(attrs(only(point, "Namespace")).resid);
  assert.equal(namespace.type, "short");
  assert.equal(attrs(namespace.el).DefaultValue, "KPIBOOK");
  assert.match(attrs(only(namespace.el, "bt:Override")).Value, /^[A-Z][A-Z0-9]{2,}$/);
});
