/**
 * Static checks of the VBA module (no Excel here): it must import cleanly into the VBA editor
 * on a Chinese Windows and keep the protection logic around RunRemotePython.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

const source = readFileSync(new URL("../vba/kpibook.bas", import.meta.url), "latin1");

/** What the module's Zh() returns for an escaped literal. */
const decodeZh = (escaped) => escaped.replace(/\\u([0-9A-F]{4})/g, (_, hex) => String.fromCharCode(parseInt(hex, 16)));

/** The body of a Sub or Function. */
function procedure(name) {
  const start = source.search(new RegExp(`^(Private |Public )?(Sub|Function) ${name}\\(`, "m"));
  assert.notEqual(start, -1, `${name} not found`);
  const end = source.slice(start).search(/\r\nEnd (Sub|Function)\r\n/);
  return source.slice(start, start + end);
}

test("kpibook.bas is ASCII with CRLF line ends (VBA imports in the system code page)", () => {
  assert.ok(/^[\x00-\x7f]*$/.test(source), "non-ASCII character: write Chinese as Zh(\"\\uXXXX\")");
  assert.ok(!/[^\r]\n/.test(source), "LF without CR");
  assert.ok(source.startsWith('Attribute VB_Name = "kpibook"\r\n'));
});

test("Chinese texts decode to the intended messages", () => {
  const texts = [...source.matchAll(/Zh\("((?:[^"]|"")*)"\)/g)].map((m) => decodeZh(m[1])).join("");
  for (const expected of ["设置了密码保护", "本次未做任何更改", "撤销工作表保护", "无法重新保护工作表", "请设置"]) {
    assert.ok(texts.includes(expected), expected);
  }
});

test("RunRemotePython runs between UnprotectKpiSheets and ProtectAgain, also on errors", () => {
  const run = procedure("RunKpiButton");
  const unprotect = run.indexOf("UnprotectKpiSheets(");
  const remote = run.indexOf("RunRemotePython baseUrl");
  const done = run.indexOf("\r\nDone:");
  const protect = run.indexOf("ProtectAgain unprotected", done);
  const failed = run.indexOf("\r\nFailed:");
  assert.ok(run.indexOf("On Error GoTo Failed") < unprotect && unprotect < remote && remote < done && done < protect && protect < failed);
  assert.match(run.slice(failed), /Resume Done/);
  // A password-protected sheet skips RunRemotePython.
  assert.match(run.slice(unprotect, remote), /If passwordSheet <> "" Then[\s\S]*GoTo Done/);
});

test("every protection flag that is saved is restored", () => {
  const saved = [...source.matchAll(/^Private Const (PS_\w+) As Long = (\d+)/gm)].map((m) => m[1]);
  assert.equal(saved.length, 17);
  const restore = procedure("ProtectAgain");
  for (const flag of saved) assert.ok(restore.includes(`state(${flag})`), flag);
  assert.match(procedure("UnprotectKpiSheets"), /Unprotect Password:=""/);
  assert.match(procedure("HasKpiTable"), /KPI_TABLE_PREFIX/);
});

test("New period asks for the month (this month filled in) and sends it as ?period=; Refresh posts refresh", () => {
  const ask = procedure("KpiNewPeriod");
  assert.match(ask, /InputBox\(/);
  assert.match(ask, /Format\$\(Date, "yyyy-mm"\)/);
  assert.match(ask, /If period = "" Then Exit Sub/);
  assert.ok(decodeZh(ask).includes("请输入要新建的考核期间"));
  assert.match(procedure("KpiNewPeriodFor"), /RunKpiButton "new_period\?period=" & Application\.WorksheetFunction\.EncodeURL\(period\)/);
  assert.match(procedure("KpiRefresh"), /RunKpiButton "refresh"/);
});
