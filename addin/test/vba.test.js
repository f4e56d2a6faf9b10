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
  assert.match(procedure("KpiNewPeriodFor"), /query = "new_period\?period=" & Application\.WorksheetFunction\.EncodeURL\(period\)/);
  assert.match(procedure("KpiNewPeriodFor"), /RunKpiButton query/);
  assert.match(procedure("KpiRefresh"), /RunKpiButton "refresh"/);
});

test("New period then asks for the scorecard (optional, as the task pane); Cancel sends nothing, empty sends none", () => {
  const ask = procedure("KpiNewPeriod");
  // after the month, an Application.InputBox for text (Type:=2), which tells Cancel (False) apart
  assert.ok(ask.indexOf("If period = \"\" Then Exit Sub") < ask.indexOf("Application.InputBox("));
  assert.match(ask, /Application\.InputBox\([\s\S]*Type:=2\)/);
  assert.match(ask, /If VarType\(answer\) = vbBoolean Then Exit Sub/);
  assert.match(ask, /KpiNewPeriodFor period, scorecard/);
  assert.ok(decodeZh(ask).includes("考核表（可选）"));
  const send = procedure("KpiNewPeriodFor");
  assert.match(send, /Optional ByVal scorecard As String = ""/);
  assert.match(send, /If scorecard <> "" Then\s+query = query & "&scorecard=" & Application\.WorksheetFunction\.EncodeURL\(scorecard\)\s+End If/);
});

test("sheet digests: computed and the stamp emptied after unprotecting, sent as a header, digested sheets excluded", () => {
  const run = procedure("RunKpiButton");
  const unprotect = run.indexOf("UnprotectKpiSheets(");
  const header = run.indexOf("SheetDigestsHeader(book, digested)");
  const empty = run.indexOf('SetMetaValue book, DIGESTS_META_KEY, ""');
  const remote = run.indexOf("RunRemotePython baseUrl");
  assert.ok(unprotect < header && header < empty && empty < remote, "order: unprotect, digest, empty the stamp, post");
  assert.match(run.slice(remote), /exclude:=CONFIG_SHEET & digested, _/);
  assert.match(run.slice(remote), /headers:=digestHeaders, _/);
  assert.match(run.slice(header - 200, header), /CreateObject\("Scripting\.Dictionary"\)/);
});

test("sheet digests: the header name, kb_meta key and JSON shape are the server's", async () => {
  const digest = await import("../static/js/digest.js");
  assert.match(source, new RegExp(`Private Const DIGESTS_HEADER As String = "${digest.DIGESTS_HEADER}"`));
  assert.match(source, new RegExp(`Private Const DIGESTS_META_KEY As String = "${digest.META_KEY}"`));
  const sheet = procedure("SheetDigest");
  // [[tables...],[rows...]]: tables as [name, address without $, show_headers, show_totals]
  assert.ok(sheet.indexOf('Append parts, n, "[["') < sheet.indexOf('Append parts, n, "],["'));
  assert.match(sheet, /Replace\(table\.Range\.Address, "\$", ""\)/);
  assert.match(sheet, /LCase\$\(CStr\(table\.ShowHeaders\)\) & "," & LCase\$\(CStr\(table\.ShowTotals\)\)/);
  // values from A1, trailing empty rows and then columns dropped
  assert.match(sheet, /sheet\.Range\(sheet\.Cells\(1, 1\), sheet\.Cells\(lastRow, lastCol\)\)\.Value/);
  assert.ok(sheet.indexOf("RowIsEmpty(") < sheet.indexOf("ColumnIsEmpty("));
  assert.match(sheet, /SheetDigest = Sha256Hex\(Join\(parts, ""\)\)/);
  // a sheet is only excluded when its digest is the stamped one
  assert.match(procedure("SheetDigestsHeader"), /If digest <> "" And digest = wanted Then/);
});

test("sheet digests: JsonText escapes exactly what JSON.stringify escapes", () => {
  const body = procedure("JsonText");
  const escapes = Object.fromEntries([...body.matchAll(/Case (\d+): out = out & "((?:[^"]|"")*)"/g)]
    .map((m) => [Number(m[1]), m[2].replace(/""/g, '"')]));
  for (const [code, text] of Object.entries(escapes)) {
    assert.equal(JSON.stringify(String.fromCharCode(Number(code))).slice(1, -1), text, `char ${code}`);
  }
  assert.deepEqual(Object.keys(escapes).map(Number).sort((a, b) => a - b), [8, 9, 10, 12, 13, 34, 92]);
  // the other controls as \u00xx, lower-case hex, as JSON.stringify writes "\u001f"
  assert.match(body, /Case 0 To 31: out = out & "\\u00" & LCase\$\(Right\$\("0" & Hex\$\(code\), 2\)\)/);
  assert.equal(JSON.stringify("\u001f"), '"\\u001f"');
});

test("sheet digests: Windows APIs are declared PtrSafe and never compiled on a Mac or before VBA7", () => {
  const declares = source.slice(source.indexOf("#If Mac Then\r\n#ElseIf VBA7 Then"), source.indexOf("#End If"));
  for (const api of ["BCryptOpenAlgorithmProvider", "BCryptCreateHash", "BCryptHashData", "BCryptFinishHash", "BCryptDestroyHash", "BCryptCloseAlgorithmProvider", "WideCharToMultiByte"]) {
    assert.match(declares, new RegExp(`Private Declare PtrSafe Function ${api} Lib`), api);
  }
  assert.match(procedure("Sha256Hex"), /^Private Function Sha256Hex\(ByVal text As String\) As String\r\n#If Mac Or Not VBA7 Then\r\n    Sha256Hex = ""/);
  assert.match(procedure("Sha256Hex"), /StrPtr\("SHA256"\)/);
  assert.match(procedure("Sha256Hex"), /WideCharToMultiByte CP_UTF8/);
  assert.match(procedure("SheetDigestsHeader"), /#If Mac Or Not VBA7 Then\r\n    Exit Function/);
});
