/**
 * Entry point of commands.html: registers the ribbon handlers without a task pane.
 * @module commands-page
 */
import { registerCommands } from "./commands.js";
import { pickLanguage, setLanguage } from "./i18n.js";

Office.onReady(() => {
  setLanguage(pickLanguage(Office.context.displayLanguage));
  registerCommands(Office);
});
