/**
 * What the add-in is doing, shared by the ribbon commands and the task pane. In the shared
 * runtime both live in the same page, so a tiny observable object is all that is needed.
 * @module status
 */

/**
 * @typedef {object} StatusState
 * @property {string|null} busy the button running now
 * @property {string} progress progress message key or text
 * @property {{button: string, applied: number, at: Date}|null} lastResult
 * @property {{message: string, at: Date}|null} error
 * @property {import("./actions.js").Alert[]} alerts messages from the server, newest last
 */

/** @returns {{state: StatusState, update: (patch: Partial<StatusState>) => void, subscribe: (fn: (s: StatusState) => void) => () => void}} */
export function createStatus() {
  const listeners = new Set();
  const state = { busy: null, progress: "", lastResult: null, error: null, alerts: [] };
  return {
    state,
    update(patch) {
      Object.assign(state, patch);
      for (const listener of listeners) listener(state);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/** The page-wide status. */
export const status = createStatus();
