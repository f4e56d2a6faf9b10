/**
 * The task pane's "Selected line" card: follows the selection (Workbook.onSelectionChanged),
 * asks the server about the line under it (GET /api/v1/periods/<p>/lines/<employee>/<indicator>)
 * and shows the explanation, the adjustment history, the provenance of the source values, the
 * caller's adjustment range and links to the web pages. A reason typed into its multi-line
 * field is written into the line's reason cell of kb_adjustments, as text.
 *
 * Everything from the server or the workbook goes into the DOM through textContent.
 * @module linepane
 */

import { lineDetail } from "./api.js";
import { language, t } from "./i18n.js";
import { readPeriod } from "./meta.js";
import { describeError } from "./runner.js";
import { findReasonCell, readSelectedLine, writeReason } from "./selection.js";

/**
 * What the pane needs to know about the selection: the line, the workbook's period and the
 * line's reason cell (null when kb_adjustments has no row for it). One Excel.run.
 * @param {Excel.RequestContext} context
 */
export async function readSelection(context) {
  const line = await readSelectedLine(context);
  if (!line) return { line: null, period: null, reasonCell: null };
  const period = await readPeriod(context);
  const reasonCell = await findReasonCell(context, line.employee, line.indicator);
  return { line, period, reasonCell };
}

/**
 * Calls `onChange` whenever the selection changes (Excel.Workbook.onSelectionChanged,
 * ExcelApi 1.2). Resolves once the handler is registered.
 * @param {{run: Function}} excel @param {() => void} onChange
 */
export async function watchSelection(excel, onChange) {
  await excel.run(async (context) => {
    context.workbook.onSelectionChanged.add(async () => { onChange(); });
    await context.sync();
  });
}

const el = (tag, className, text) => {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
};

function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString(language() === "zh" ? "zh-CN" : "en-GB");
}

/** "+2.00" or "none". */
const pointsText = (value) => (value === null || value === undefined ? t("none_value") : value);

function historyItem(entry) {
  const item = el("li");
  item.append(el("span", "kb-line-who", t("historyItem", {
    who: entry.who, when: when(entry.when), old: pointsText(entry.old), new: pointsText(entry.new),
  })));
  if (entry.reason) item.append(el("span", "kb-pre kb-line-reason", entry.reason));
  return item;
}

function factItem(fact) {
  const item = el("li");
  const value = [fact.value ?? "", fact.unit ?? ""].filter(Boolean).join(" ");
  item.append(el("span", "kb-line-fact", `${fact.field}: ${value} · ${fact.source}`));
  if (fact.stale) item.append(el("span", "kb-tag", t("staleTag")));
  const details = [fact.request, fact.raw_value && fact.raw_value !== fact.value ? `raw ${fact.raw_value}` : "",
    fact.fetched_by, fact.fetched_at_text || when(fact.fetched_at), fact.status].filter(Boolean);
  item.append(el("span", "kb-muted kb-line-meta", details.join(" · ")));
  return item;
}

function rangeText(adjust) {
  if (!adjust.allowed) return t("notAdjustable", { reasons: adjust.reasons.join(language() === "zh" ? "；" : "; ") });
  const limit = (value) => value ?? t("noLimit");
  return t("adjustRangeText", {
    min: limit(adjust.min), max: limit(adjust.max), current: adjust.current,
    more: limit(adjust.more), less: limit(adjust.less),
  });
}

/**
 * Fills the card with one line's detail.
 * @param {(id: string) => HTMLElement} $ @param {object} detail the server's answer
 * @param {object|null} reasonCell @param {object|null} line the selected line
 */
export function renderLine($, detail, reasonCell, line) {
  $("line-heading").textContent = `${detail.employee_id} ${detail.name} · ${detail.indicator} ${detail.indicator_name}`.trim();
  const total = detail.total?.total !== null && detail.total?.total !== undefined
    ? ` · ${detail.total.total}${detail.total.grade ? ` (${detail.total.grade})` : ""}` : "";
  $("line-points").textContent = `${t("points")}: ${detail.line.points ?? "—"}${total}`;
  $("line-explanation").textContent = detail.explanation || "—";
  const pulled = $("line-pulled");
  if (pulled) pulled.textContent = detail.last_pulled || "";
  $("line-history").replaceChildren(...(detail.history.length ? detail.history.map(historyItem) : [el("li", "kb-muted", t("historyEmpty"))]));
  const facts = line?.field ? [...detail.facts].sort((a, b) => (b.field === line.field) - (a.field === line.field)) : detail.facts;
  $("line-facts").replaceChildren(...(facts.length ? facts.map(factItem) : [el("li", "kb-muted", t("factsEmpty"))]));
  $("line-adjust").hidden = !detail.adjust;
  $("line-range").textContent = detail.adjust ? rangeText(detail.adjust) : "";
  const mayWrite = Boolean(detail.adjust?.allowed);
  $("line-reason-box").hidden = !mayWrite;
  $("line-reason").value = reasonCell?.reason ?? "";
  $("line-reason").disabled = !reasonCell;
  $("line-reason-save").disabled = !reasonCell;
  $("line-reason-status").textContent = mayWrite && !reasonCell ? t("noReasonRow") : "";
  for (const button of document.querySelectorAll("[data-line-link]")) button.dataset.url = detail.links[button.dataset.lineLink] ?? "";
}

/**
 * Wires the card: follows the selection, renders, saves reasons, opens links.
 * @param {object} deps
 * @param {(id: string) => HTMLElement} deps.$
 * @param {{run: Function}} [deps.excel]
 * @param {object} [deps.office]
 * @param {import("./api.js").RequestOptions} [deps.request]
 * @returns {{refresh: (force?: boolean) => Promise<void>}}
 */
export function createLinePane({ $, excel = globalThis.Excel, office = globalThis.Office, request = {} }) {
  let sequence = 0;
  let current = null; // {key, reasonCell}

  function show(state, text = "") {
    $("line").hidden = state !== "line";
    $("line-hint").hidden = state !== "hint";
    $("line-status").hidden = state !== "status" && state !== "error";
    $("line-status").classList.toggle("kb-error-text", state === "error");
    $("line-status").textContent = text;
  }

  /** @param {boolean} [force] ask again even for the line already shown (a new token) */
  async function refresh(force = false) {
    if (force) current = null;
    const mine = ++sequence;
    let selection;
    try {
      selection = await excel.run(readSelection);
    } catch (error) {
      if (mine === sequence) show("error", describeError(error));
      return;
    }
    if (mine !== sequence) return; // a newer selection is being handled
    const { line, period, reasonCell } = selection;
    if (!line) {
      current = null;
      show("hint");
      return;
    }
    if (!period) {
      current = null;
      show("status", t("lineNeedsPeriod"));
      return;
    }
    const key = `${period}\u0000${line.employee}\u0000${line.indicator}\u0000${line.field ?? ""}`;
    if (current?.key === key) return; // another cell of the same line
    current = { key, reasonCell };
    show("status", t("lineLoading"));
    try {
      const detail = await lineDetail(period, line.employee, line.indicator, language(), request);
      if (mine !== sequence) return;
      renderLine($, detail, reasonCell, line);
      show("line");
    } catch (error) {
      if (mine !== sequence) return;
      current = null;
      show("error", describeError(error));
    }
  }

  $("line-reason-save").addEventListener("click", async () => {
    const cell = current?.reasonCell;
    if (!cell) return;
    try {
      await excel.run((context) => writeReason(context, cell, $("line-reason").value));
      $("line-reason-status").textContent = t("reasonSaved", { sheet: cell.sheet, row: cell.row + 1 });
    } catch (error) {
      $("line-reason-status").textContent = describeError(error);
    }
  });
  for (const button of document.querySelectorAll("[data-line-link]")) {
    button.addEventListener("click", () => {
      const url = button.dataset.url;
      if (!url) return;
      if (office?.context?.ui?.openBrowserWindow) office.context.ui.openBrowserWindow(url);
      else globalThis.open?.(url, "_blank", "noopener");
    });
  }
  show("hint");
  return { refresh };
}
