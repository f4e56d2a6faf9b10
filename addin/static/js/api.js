/**
 * Talking to the kpibook server: base URL, the personal access token, ribbon-button posts.
 * @module api
 */

import { NEED_VALUES_HEADER, parseNames } from "./digest.js";

/** localStorage key of the personal access token. */
export const TOKEN_KEY = "kpibook.token";

/**
 * The server's base URL. The add-in's pages are served from `{base}/addin/...`, so the base is
 * everything before "/addin/" in the page address; no configuration is needed per server.
 * @param {{href: string}} [location]
 * @returns {string} e.g. "https://kpi.example.com" or "https://host/kpibook"
 */
export function serverBaseUrl(location = globalThis.location) {
  const href = String(location?.href ?? "");
  const at = href.indexOf("/addin/");
  return at === -1 ? new URL(href).origin : href.slice(0, at);
}

/**
 * The token is kept in the add-in's localStorage (per user and per server origin), never in
 * `Office.context.document.settings`: those are saved inside the workbook, and workbooks are
 * mailed around.
 * @param {Storage} [storage] @returns {string}
 */
export function getToken(storage = globalThis.localStorage) {
  return (storage?.getItem(TOKEN_KEY) ?? "").trim();
}

/** @param {string} token @param {Storage} [storage] */
export function setToken(token, storage = globalThis.localStorage) {
  const clean = String(token ?? "").trim();
  if (clean) storage.setItem(TOKEN_KEY, clean);
  else storage.removeItem(TOKEN_KEY);
}

/** An error the user should read: the server's own message, or ours. */
export class ServerError extends Error {
  /** @param {string} message @param {number} [status] @param {string} [code] */
  constructor(message, status = 0, code = "server") {
    super(message);
    this.name = "ServerError";
    this.status = status;
    this.code = code;
  }
}

/**
 * @typedef {object} RequestOptions
 * @property {string} [base] server base URL (default: from the page address)
 * @property {string} [token] bearer token (default: the stored one)
 * @property {typeof fetch} [fetchImpl] for tests
 */

/** Sends a request with the bearer token; turns failures into ServerError with a readable text. */
async function request(path, init, options) {
  const base = options.base ?? serverBaseUrl();
  const token = options.token ?? getToken();
  if (!token) throw new ServerError("No access token.", 0, "no_token");
  const fetchImpl = options.fetchImpl ?? globalThis.fetch;
  let response;
  try {
    response = await fetchImpl(`${base}${path}`, {
      ...init,
      headers: { ...init.headers, Authorization: `Bearer ${token}` },
    });
  } catch (error) {
    throw new ServerError(`${base}: ${error?.message ?? error}`, 0, "network");
  }
  if (response.status !== 200) {
    // The server answers errors as text meant for the user (text/plain under /xl, JSON
    // {"error": text} under /api): show that text as it is.
    const body = errorText((await response.text().catch(() => "")).trim());
    // 409 with Kpibook-Need-Values: the server asks for these sheets' values (digest.js).
    const needValues = response.status === 409 ? response.headers?.get?.(NEED_VALUES_HEADER) : null;
    const code = response.status === 401 ? "unauthorized" : needValues ? "need_values" : "server";
    const error = new ServerError(body || `HTTP ${response.status} ${response.statusText ?? ""}`.trim(), response.status, code);
    if (needValues) error.sheets = parseNames(needValues);
    throw error;
  }
  return response;
}

/** The user's sentence of an error body: the "error" of a JSON body, else the body. */
function errorText(body) {
  if (!body.startsWith("{")) return body;
  try {
    const parsed = JSON.parse(body);
    return typeof parsed?.error === "string" ? parsed.error.trim() : body;
  } catch {
    return body;
  }
}

const json = { method: "GET", headers: { Accept: "application/json" } };
const part = (text) => encodeURIComponent(String(text));

/**
 * One score line for the task pane: explanation, adjustment history, source facts with
 * provenance, the caller's adjustment range, links (server/services/line_detail.py).
 * @param {string} period @param {string} employee @param {string} indicator
 * @param {"zh"|"en"} lang @param {RequestOptions} [options]
 */
export async function lineDetail(period, employee, indicator, lang, options = {}) {
  const path = `/api/v1/periods/${part(period)}/lines/${part(employee)}/${part(indicator)}?lang=${part(lang)}`;
  return (await request(path, json, options)).json();
}

/**
 * The latest score run's figures of some managers (server/services/figures.py); those the
 * caller may not read come back under "unknown", like ids that do not exist.
 * @param {string[]} employees at most 200 @param {string|null} period null: the newest scored
 * @param {"zh"|"en"} lang of the server's messages @param {RequestOptions} [options]
 * @returns {Promise<{period: string, people: Record<string, object>, unknown: string[]}>}
 */
export async function figures(employees, period, lang, options = {}) {
  const query = new URLSearchParams();
  for (const employee of employees) query.append("employee", employee);
  if (period) query.set("period", period);
  query.set("lang", lang);
  return (await request(`/api/v1/figures?${query}`, json, options)).json();
}

/**
 * Posts the workbook payload for one ribbon button and returns the actions to apply.
 * @param {string} button one of protocol.BUTTONS
 * @param {object} payload from buildPayload
 * @param {RequestOptions & {query?: Record<string, string>, headers?: Record<string, string>}} [options]
 *   `query`: the button's parameters, e.g. New period's `{period: "2026-11"}` (the month the
 *   person chose); `headers`: extra request headers (the sheet digests, digest.js)
 * @returns {Promise<import("./actions.js").Action[]>}
 */
export async function postButton(button, payload, options = {}) {
  const query = new URLSearchParams(options.query ?? {}).toString();
  const response = await request(`/xl/${encodeURIComponent(button)}${query ? `?${query}` : ""}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json", ...options.headers },
    body: JSON.stringify(payload),
  }, options);
  let reply;
  try {
    reply = await response.json();
  } catch {
    throw new ServerError("The server reply is not JSON.", 200, "bad_reply");
  }
  if (!reply || !Array.isArray(reply.actions)) throw new ServerError("The server reply has no actions list.", 200, "bad_reply");
  return reply.actions;
}

/**
 * Who the token belongs to.
 * @param {RequestOptions} [options]
 * @returns {Promise<{user: string, display_name: string, role: string, current_month?: string}>}
 */
export async function whoami(options = {}) {
  const response = await request("/api/v1/whoami", { method: "GET", headers: { Accept: "application/json" } }, options);
  return response.json();
}

/**
 * Progress of the period's running (or last) pull, per source system.
 * @param {string} period e.g. "2026-10"
 * @param {RequestOptions} [options]
 * @returns {Promise<{state: string, sources: Array<{source: string, state: string, pages: number, records: number, error: string}>}>}
 */
export async function pullStatus(period, options = {}) {
  const path = `/api/v1/periods/${encodeURIComponent(period)}/pull-status`;
  const response = await request(path, { method: "GET", headers: { Accept: "application/json" } }, options);
  return response.json();
}

/** "erp 3 pages/1500 · crm done · qms failed" for the status line. */
export function pullProgressText(status) {
  return (status?.sources ?? [])
    .map((s) => (s.state === "running" ? `${s.source} ${s.pages}p/${s.records}` : `${s.source} ${s.state}`))
    .join(" · ");
}
