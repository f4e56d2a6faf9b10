/**
 * Custom functions =KPIBOOK.SCORE / GRADE / RANK / EXPLAIN (metadata: ../functions.json and
 * ../functions-zh-CN.json). They return the server's authoritative figures from the period's
 * latest stored score run, never anything computed here.
 *
 * They run in the shared runtime (the task pane's page), which registers them. The cells a
 * recalculation asks for are collected and fetched together: one GET /api/v1/figures per
 * period and 200 managers, not one request per cell.
 *
 * Errors are Excel errors: #VALUE! for a bad argument, #N/A for a manager who does not exist
 * or whom the caller may not read (the server answers both alike) or a line that has no score,
 * and #N/A with the server's or the network's message when the request fails (no token,
 * expired token, server unreachable).
 * @module functions
 */

import { figures as fetchFigures } from "./api.js";
import { language, t } from "./i18n.js";
import { readPeriod } from "./meta.js";

/** Function ids (functions.json) -> implementations, registered with CustomFunctions.associate. */
export const FUNCTION_IDS = Object.freeze(["SCORE", "GRADE", "RANK", "EXPLAIN"]);
/** Managers per request (the server's limit). */
export const CHUNK = 200;

/** A bad argument or a missing figure, turned into CustomFunctions.Error by `excelError`. */
export class FunctionError extends Error {
  /** @param {"invalidValue"|"notAvailable"} code @param {string} message */
  constructor(code, message) {
    super(message);
    this.name = "FunctionError";
    this.code = code;
  }
}

const blank = (value) => value === null || value === undefined || value === "";

/** An employee id: text, or a whole number typed as one (1001). */
export function employeeArg(value) {
  if (typeof value === "number" && Number.isInteger(value)) return String(value);
  if (typeof value === "string" && value.trim()) return value.trim();
  throw new FunctionError("invalidValue", t("fnBadEmployee"));
}

/** An optional indicator code (null when omitted). */
export function indicatorArg(value, required = false) {
  if (blank(value)) {
    if (required) throw new FunctionError("invalidValue", t("fnNeedIndicator"));
    return null;
  }
  if (typeof value === "number" && Number.isInteger(value)) return String(value);
  if (typeof value === "string" && value.trim()) return value.trim();
  throw new FunctionError("invalidValue", t("fnBadIndicator"));
}

/**
 * An optional period: "2026-10" as text, or a date cell (an Excel serial number, read as its
 * year-month like the workbook contract does). null when omitted.
 */
export function periodArg(value) {
  if (blank(value)) return null;
  if (typeof value === "number" && value >= 1 && value < 2958466) {
    const date = new Date(Date.UTC(1899, 11, 30) + Math.floor(value) * 86400000);
    return `${date.getUTCFullYear()}-${String(date.getUTCMonth() + 1).padStart(2, "0")}`;
  }
  if (typeof value === "string" && value.trim() && value.trim().length <= 40) return value.trim();
  throw new FunctionError("invalidValue", t("fnBadPeriod"));
}

/** An optional TRUE/FALSE. */
function booleanArg(value) {
  if (blank(value)) return false;
  if (typeof value === "boolean") return value;
  if (value === 0 || value === 1) return Boolean(value);
  throw new FunctionError("invalidValue", t("fnBadFlag"));
}

/**
 * Collects figure requests and answers them with one request per period and chunk.
 * @param {object} options
 * @param {(employees: string[], period: string|null) => Promise<object>} [options.fetch]
 * @param {() => Promise<string|null>} [options.defaultPeriod] the workbook's period
 */
export function createFigureSource({ fetch = (employees, period) => fetchFigures(employees, period, language()), defaultPeriod = async () => null } = {}) {
  /** period key -> Map(employee -> [{resolve, reject}]) */
  let pending = new Map();
  let scheduled = false;

  async function flush() {
    scheduled = false;
    const batch = pending;
    pending = new Map();
    await Promise.all([...batch].map(async ([key, waiting]) => {
      const employees = [...waiting.keys()];
      for (let i = 0; i < employees.length; i += CHUNK) {
        const chunk = employees.slice(i, i + CHUNK);
        try {
          const answer = await fetch(chunk, key || null);
          for (const employee of chunk) {
            const person = answer.people?.[employee] ?? null;
            for (const w of waiting.get(employee)) w.resolve({ period: answer.period, person });
          }
        } catch (error) {
          for (const employee of chunk) for (const w of waiting.get(employee)) w.reject(error);
        }
      }
    }));
  }

  return {
    /**
     * The figures of one manager: {period, person} (person null when unknown to the caller).
     * @param {string} employee @param {string|null} period
     */
    async get(employee, period) {
      const key = period ?? (await defaultPeriod()) ?? "";
      return new Promise((resolve, reject) => {
        if (!pending.has(key)) pending.set(key, new Map());
        const waiting = pending.get(key);
        if (!waiting.has(employee)) waiting.set(employee, []);
        waiting.get(employee).push({ resolve, reject });
        if (!scheduled) {
          scheduled = true;
          // After the calls Excel makes in one go have been queued: one request for them.
          setTimeout(flush, 0);
        }
      });
    },
  };
}

/** The workbook's period from kb_meta, read once per runtime until `forgetWorkbookPeriod`. */
let workbookPeriod = null;

export function workbookPeriodReader(excel = globalThis.Excel) {
  return () => {
    workbookPeriod ??= excel.run((context) => readPeriod(context)).catch(() => null);
    return workbookPeriod;
  };
}

/** After New period the workbook's period may have changed. */
export function forgetWorkbookPeriod() {
  workbookPeriod = null;
}

async function personOf(source, employee, period) {
  const { person, period: answered } = await source.get(employee, period);
  if (!person) throw new FunctionError("notAvailable", t("fnUnknownEmployee", { employee, period: answered }));
  return person;
}

function numberOf(value, what) {
  if (blank(value)) throw new FunctionError("notAvailable", what);
  const number = Number(value);
  if (!Number.isFinite(number)) throw new FunctionError("notAvailable", what);
  return number;
}

function lineOf(person, employee, indicator) {
  const line = person.lines?.[indicator];
  if (!line) throw new FunctionError("notAvailable", t("fnUnknownLine", { employee, indicator }));
  return line;
}

/**
 * The four functions over a figure source, as plain async functions (errors thrown as
 * FunctionError or the api's ServerError; `register` turns them into Excel errors).
 * @param {ReturnType<typeof createFigureSource>} source
 */
export function kpibookFunctions(source) {
  return {
    /** SCORE(employee, [indicator], [period]): the line's points, or the total. */
    async SCORE(employee, indicator, period) {
      const id = employeeArg(employee);
      const code = indicatorArg(indicator);
      const p = periodArg(period);
      const person = await personOf(source, id, p);
      if (code === null) return numberOf(person.total, t("fnNoTotal", { employee: id, status: person.status ?? "" }));
      return numberOf(lineOf(person, id, code).points, t("fnNoPoints", { employee: id, indicator: code }));
    },
    /** GRADE(employee, [period]) */
    async GRADE(employee, period) {
      const id = employeeArg(employee);
      const person = await personOf(source, id, periodArg(period));
      if (blank(person.grade)) throw new FunctionError("notAvailable", t("fnNoGrade", { employee: id }));
      return String(person.grade);
    },
    /** RANK(employee, [in_department], [period]) */
    async RANK(employee, inDepartment, period) {
      const id = employeeArg(employee);
      const group = booleanArg(inDepartment);
      const person = await personOf(source, id, periodArg(period));
      return numberOf(group ? person.group_rank : person.rank, t("fnNoRank", { employee: id }));
    },
    /** EXPLAIN(employee, indicator, [period]) */
    async EXPLAIN(employee, indicator, period) {
      const id = employeeArg(employee);
      const code = indicatorArg(indicator, true);
      const person = await personOf(source, id, periodArg(period));
      return String(lineOf(person, id, code).explanation ?? "");
    },
  };
}

/**
 * An error as Excel shows it: #VALUE! / #N/A with the message in the cell's error menu.
 * Request failures (no token, 401, 403, network) become #N/A with their message.
 * @param {object} cf the CustomFunctions namespace
 */
export function excelError(cf, error) {
  if (error instanceof FunctionError) {
    const code = error.code === "invalidValue" ? cf.ErrorCode.invalidValue : cf.ErrorCode.notAvailable;
    return new cf.Error(code, error.message);
  }
  const detail = String(error?.message ?? error).replace(/\s+/g, " ").trim();
  const message = error?.code === "no_token" ? t("no_token")
    : error?.code === "unauthorized" ? `${t("unauthorized")} (${detail})`
      : error?.code === "network" ? `${t("network")}: ${detail}` : `kpibook: ${detail}`;
  return new cf.Error(cf.ErrorCode.notAvailable, message.slice(0, 250));
}

/**
 * Registers the functions with Excel (CustomFunctions.associate) in the shared runtime.
 * @param {object} [cf] the CustomFunctions namespace
 * @param {ReturnType<typeof createFigureSource>} [source]
 * @returns {Record<string, Function>} the registered functions (tests call them)
 */
export function registerFunctions(cf = globalThis.CustomFunctions, source = createFigureSource({ defaultPeriod: workbookPeriodReader() })) {
  const impl = kpibookFunctions(source);
  const registered = {};
  for (const id of FUNCTION_IDS) {
    registered[id] = async (...args) => {
      try {
        return await impl[id](...args);
      } catch (error) {
        throw excelError(cf, error);
      }
    };
    cf.associate(id, registered[id]);
  }
  return registered;
}
