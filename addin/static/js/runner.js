/**
 * One ribbon button from click to result: read the workbook, post it, apply the reply.
 * @module runner
 */

import { applyActions } from "./actions.js";
import { postButton, pullProgressText, pullStatus } from "./api.js";
import { DIGESTS_HEADER, digestSheets, formatDigests } from "./digest.js";
import { t } from "./i18n.js";
import { readPeriod } from "./meta.js";
import { buildPayload } from "./payload.js";
import { status as pageStatus } from "./status.js";

/**
 * @typedef {object} RunOptions
 * @property {{run: Function}} [excel] the Excel namespace (tests pass a mock)
 * @property {ReturnType<import("./status.js").createStatus>} [status]
 * @property {import("./api.js").RequestOptions} [request]
 * @property {Record<string, string>} [query] the button's parameters (New period: `{period}`)
 */

/**
 * Runs `button` against the open workbook and records progress, result and errors in the
 * status. Resolves to the apply result; rejects with the error (already recorded in status).
 * A second click while a button runs is refused: two overlapping runs could write stale results.
 * @param {string} button
 * @param {RunOptions} [options]
 */
export async function runButton(button, options = {}) {
  const excel = options.excel ?? globalThis.Excel;
  const status = options.status ?? pageStatus;
  if (status.state.busy) {
    const error = new Error(t("busy"));
    status.update({ error: { message: error.message, at: new Date() } });
    throw error;
  }
  status.update({ busy: button, progress: t("reading"), error: null });
  try {
    const result = await excel.run(async (context) => {
      const payload = await buildPayload(context, { onProgress: (p) => status.update({ progress: progressText(p) }) });
      status.update({ progress: t("sending") });
      // Pull is one round trip; meanwhile the server's per-source progress is polled.
      const period = button === "pull" ? await readPeriod(context).catch(() => null) : null;
      const stopPolling = period ? pollPullStatus(period, status, options.request) : () => {};
      let actions;
      try {
        actions = await postWithDigests(button, payload, { ...options.request, query: options.query });
      } finally {
        stopPolling();
      }
      status.update({ progress: t("applying") });
      return applyActions(context, actions, { onProgress: (p) => status.update({ progress: progressText(p) }) });
    });
    status.update({
      busy: null,
      progress: "",
      lastResult: { button, applied: result.applied, at: new Date() },
      alerts: [...status.state.alerts, ...result.alerts],
    });
    return result;
  } catch (error) {
    status.update({ busy: null, progress: "", error: { message: describeError(error), at: new Date() } });
    throw error;
  }
}

/**
 * Posts the payload with kpibook's output sheets by digest (digest.js); when the server
 * answers 409 naming sheets it needs, posts again with those sheets' values.
 */
export async function postWithDigests(button, payload, options = {}) {
  const full = structuredClone(payload);
  const digests = await digestSheets(payload);
  try {
    return await postButton(button, payload, { ...options, headers: { [DIGESTS_HEADER]: formatDigests(digests) } });
  } catch (error) {
    if (error?.code !== "need_values" || !error.sheets?.length) throw error;
    const again = await digestSheets(full, error.sheets);
    return postButton(button, full, { ...options, headers: { [DIGESTS_HEADER]: formatDigests(again) } });
  }
}

/** Polls GET /api/v1/periods/<period>/pull-status until stopped; failures are ignored. */
export function pollPullStatus(period, status, request = {}, everyMs = 700) {
  let stopped = false;
  let timer = null;
  const tick = async () => {
    try {
      const s = await pullStatus(period, request);
      const text = pullProgressText(s);
      if (!stopped && s.state === "running" && text) status.update({ progress: text });
    } catch {
      // progress is a nicety: the Pull's own answer reports every failure
    }
    if (!stopped) timer = setTimeout(tick, everyMs);
  };
  timer = setTimeout(tick, everyMs);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

/** "reading 100000/250000" -> localised text with the counts. */
function progressText(progress) {
  const [phase, counts] = String(progress).split(" ");
  const text = t(phase === "applying" ? "applying" : "reading");
  return counts ? `${text} ${counts}` : text;
}

/**
 * What to tell the user about an error: the server's text as it is, our hint for known codes.
 * @param {any} error @returns {string}
 */
export function describeError(error) {
  switch (error?.code) {
    case "no_token":
      return t("no_token");
    case "unauthorized":
      return `${t("unauthorized")}\n${error.message}`;
    case "network":
      return `${t("network")}: ${error.message}`;
    default:
      return String(error?.message ?? error);
  }
}
