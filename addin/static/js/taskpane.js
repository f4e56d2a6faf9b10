/**
 * The task pane: who is signed in, the token, the workbook's period, the selected line (see
 * linepane.js), buttons, progress, the last result, errors and the server's messages. Also
 * registers the ribbon commands and the custom functions, because with the shared runtime this
 * page is the add-in's only runtime.
 *
 * All data goes into the DOM through textContent, never parsed as HTML: server messages and names
 * are untrusted text.
 * @module taskpane
 */

import { getToken, serverBaseUrl, setToken, whoami } from "./api.js";
import { openReviewPage, registerCommands } from "./commands.js";
import { forgetWorkbookPeriod, registerFunctions } from "./functions.js";
import { pickLanguage, setLanguage, t } from "./i18n.js";
import { createLinePane, watchSelection } from "./linepane.js";
import { readPeriod } from "./meta.js";
import { describeError, runButton } from "./runner.js";
import { status } from "./status.js";

const $ = (id) => document.getElementById(id);
let linePane = null;

/** Fills every [data-i18n] element with its text in the current language. */
function translatePage() {
  document.documentElement.lang = t("title") === "KPI scoring" ? "en" : "zh-CN";
  for (const element of document.querySelectorAll("[data-i18n]")) element.textContent = t(element.dataset.i18n);
}

/** This month as "2026-11" on this computer's clock: until the server says its own. */
function localMonth(now = new Date()) {
  return `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, "0")}`;
}

/**
 * Offers `month` in the New period field unless the person has typed there already.
 * @param {string} [month] the server's current month, in the company's time zone
 */
function offerMonth(month) {
  const field = $("new-period");
  if (month && !field.dataset.typed) field.value = month;
}

/** Shows the signed-in user, or the invitation to paste a token. */
async function refreshWho() {
  const who = $("who");
  who.classList.toggle("kb-placeholder", !getToken());
  if (!getToken()) {
    who.textContent = t("notSignedIn");
    return;
  }
  try {
    const me = await whoami();
    offerMonth(me.current_month);
    who.textContent = `${me.display_name || me.user} (${me.user}) · ${t("role")}: ${me.role}`;
  } catch (error) {
    who.textContent = describeError(error);
  }
}

/** Shows the period from the workbook's kb_meta table. */
async function refreshPeriod() {
  try {
    const period = await Excel.run((context) => readPeriod(context));
    $("period").textContent = period ?? t("periodUnknown");
    $("period").classList.toggle("kb-placeholder", period === null);
  } catch (error) {
    $("period").textContent = describeError(error);
    $("period").classList.add("kb-placeholder");
  }
}

/** Renders one server alert as a dismissable card. */
function alertCard(alert, index) {
  const card = document.createElement("div");
  card.className = `kb-alert ${alert.mode === "critical" ? "critical" : ""}`;
  if (alert.title) {
    const title = document.createElement("strong");
    title.textContent = alert.title;
    card.append(title);
  }
  card.append(document.createTextNode(alert.prompt));
  const ok = document.createElement("button");
  ok.type = "button";
  ok.textContent = t("ok");
  ok.addEventListener("click", () => status.update({ alerts: status.state.alerts.filter((_, i) => i !== index) }));
  card.append(document.createElement("br"), ok);
  return card;
}

/** Re-renders everything that depends on the status. */
function render(state) {
  const busy = Boolean(state.busy);
  for (const button of document.querySelectorAll("[data-button]")) button.disabled = busy;
  $("progress").hidden = !busy;
  $("progress-text").textContent = state.progress || t("working");
  $("error-box").hidden = !state.error;
  $("error-text").textContent = state.error ? state.error.message : "";
  $("alerts").replaceChildren(...state.alerts.map(alertCard));
  const last = state.lastResult;
  $("last-result").textContent = last
    ? `${t(`btn_${last.button}`)} · ${last.at.toLocaleString()} · ${t("done", { n: last.applied })}`
    : t("none");
}

/** Wires the form and buttons. */
function bindEvents() {
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    setToken($("token").value);
    $("token").value = "";
    $("token-status").textContent = t("tokenSaved");
    refreshWho();
    linePane?.refresh(true);
  });
  $("token-clear").addEventListener("click", () => {
    setToken("");
    $("token-status").textContent = t("tokenCleared");
    refreshWho();
  });
  $("new-period").addEventListener("input", () => { $("new-period").dataset.typed = "1"; });
  for (const button of document.querySelectorAll("[data-button]")) {
    // New period sends the month in the field; Score sends HR's reason for applying the
    // workbook's rule and roster changes to the records (docs/records.md), when one is typed.
    // The server checks both (and says why not).
    const options = () => {
      if (button.dataset.button === "new_period") {
        // the scorecard of the month this workbook scores; empty: the template's own
        const scorecard = $("new-scorecard").value.trim();
        return { query: scorecard ? { period: $("new-period").value.trim(), scorecard }
                                  : { period: $("new-period").value.trim() } };
      }
      const reason = $("apply-reason").value.trim();
      return button.dataset.button === "score" && reason ? { query: { apply_reason: reason } } : {};
    };
    button.addEventListener("click", () => runButton(button.dataset.button, options())
      .then(() => {
        // a reason applies to the press it was typed for, never silently to a later one
        if (button.dataset.button === "score") $("apply-reason").value = "";
      })
      .catch(() => {}));
  }
  $("open-review").addEventListener("click", () => openReviewPage(Office));
}

// Custom functions exist where the host runs them (CustomFunctionsRuntime, docs/addin.md).
// Registered as soon as the page's script runs, so Excel can evaluate formulas that were
// waiting for the runtime; their messages use the language set below when they are called.
if (globalThis.CustomFunctions?.associate) registerFunctions(globalThis.CustomFunctions);

Office.onReady(() => {
  setLanguage(pickLanguage(Office.context.displayLanguage));
  registerCommands(Office, { askPeriod: () => $("new-period").focus() });
  translatePage();
  $("server").textContent = serverBaseUrl();
  offerMonth(localMonth());
  bindEvents();
  status.subscribe(render);
  // After a ribbon command the period may have changed (new_period).
  status.subscribe((state) => {
    if (!state.busy && state.lastResult) {
      forgetWorkbookPeriod();
      refreshPeriod();
    }
  });
  render(status.state);
  refreshWho();
  refreshPeriod();
  linePane = createLinePane({ $ });
  watchSelection(Excel, () => linePane.refresh())
    .then(() => linePane.refresh())
    .catch((error) => globalThis.console?.warn?.("kpibook: selection events unavailable", error));
});
