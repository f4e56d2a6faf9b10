/**
 * Ribbon command handlers (manifest `ExecuteFunction` -> `Office.actions.associate`).
 *
 * With the shared runtime these run in the task pane's page, so results and errors show up in
 * the task pane, which is brought up when there is something to read.
 * @module commands
 */

import { serverBaseUrl } from "./api.js";
import { runButton } from "./runner.js";
import { status as pageStatus } from "./status.js";

/** Manifest FunctionName -> server button. The manifest test checks both sides match. */
export const BUTTON_COMMANDS = Object.freeze({
  kpiNewPeriod: "new_period",
  kpiPullData: "pull",
  kpiScore: "score",
  kpiCheck: "check",
  kpiSubmit: "submit",
  kpiRefresh: "refresh",
});

/** FunctionName of the "Open review page" button. */
export const OPEN_REVIEW_COMMAND = "kpiOpenReview";

/** Every FunctionName this module registers. */
export const COMMAND_NAMES = Object.freeze([...Object.keys(BUTTON_COMMANDS), OPEN_REVIEW_COMMAND]);

/**
 * Wraps work into a command handler. Office shows a spinner on the button until
 * `event.completed()` is called and blocks further clicks, so it is called in every case.
 * @param {() => Promise<void>} work
 * @returns {(event: {completed: () => void}) => Promise<void>}
 */
export function commandHandler(work) {
  return async (event) => {
    try {
      await work();
    } catch (error) {
      // Already recorded in the status by runButton; nothing else may escape (no unhandled
      // rejection in the shared runtime).
      globalThis.console?.warn?.("kpibook command failed:", error);
    } finally {
      event.completed();
    }
  };
}

/**
 * Opens `{base}/review` in the user's browser. openBrowserWindow leaves the Office sandbox
 * (a plain window.open would open inside the Office webview on some platforms).
 * @param {object} [office] the Office namespace
 * @param {string} [base]
 */
export function openReviewPage(office = globalThis.Office, base = serverBaseUrl()) {
  const url = `${base}/review`;
  if (office?.context?.ui?.openBrowserWindow) office.context.ui.openBrowserWindow(url);
  else globalThis.open?.(url, "_blank", "noopener");
}

/**
 * Registers every ribbon handler with Office.
 *
 * New period needs the month the person chooses, which the ribbon cannot ask for: its button
 * brings up the task pane and `options.askPeriod()` puts the cursor in the month field; the
 * task pane's own New period button then sends it.
 * @param {object} [office] the Office namespace
 * @param {object} [options] passed to runButton (tests inject excel, status, request);
 *   `askPeriod`: called by the ribbon's New period
 */
export function registerCommands(office = globalThis.Office, options = {}) {
  const status = options.status ?? pageStatus;
  const showPane = () => office?.addin?.showAsTaskpane?.().catch?.(() => {});
  for (const [name, button] of Object.entries(BUTTON_COMMANDS)) {
    if (button === "new_period") {
      office.actions.associate(name, commandHandler(async () => {
        await showPane();
        options.askPeriod?.();
      }));
      continue;
    }
    office.actions.associate(name, commandHandler(async () => {
      try {
        const result = await runButton(button, { ...options, status });
        if (result.alerts.length) showPane();
      } catch (error) {
        showPane();
        throw error;
      }
    }));
  }
  office.actions.associate(OPEN_REVIEW_COMMAND, commandHandler(async () => openReviewPage(office, options.base)));
}
