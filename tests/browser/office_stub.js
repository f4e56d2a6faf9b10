/**
 * A small stand-in for Microsoft's office.js (unreachable in tests), served by the browser
 * tests in its place so that the task pane's real code runs in a real browser.
 *
 * - `Office`: onReady (host Excel), context.displayLanguage, requirements, ui.openBrowserWindow,
 *   actions.associate (handlers are kept in `window.__kbStub.handlers`), addin.showAsTaskpane.
 * - `Excel.run`: an in-memory workbook (`window.__kbStub.model`) behind the part of the Excel
 *   API the add-in uses (reading the payload, applying actions, kb_meta, sheet protection).
 *
 * Simplifications: `load()` is a no-op and properties are read live from the model; writes are
 * applied at once, except that, as in Excel, a write to a protected sheet fails (unless every
 * cell written is listed in the sheet's `unlocked`): the error is thrown by the next
 * `context.sync()` and the rest of that batch is dropped. As in Excel, a text value assigned
 * with a leading apostrophe is stored without it, as text (`quotePrefix`).
 *
 * Events and custom functions: `workbook.onSelectionChanged.add(handler)`; the test selects
 * with `window.__kbStub.select(sheetName, address)`, which raises the event and resolves
 * when the handlers have run. `CustomFunctions.associate` keeps the functions in
 * `window.__kbStub.functions` (Error and ErrorCode as Microsoft documents them).
 *
 * Configuration (set by the test before the page loads): `window.__kbStubConfig =
 * {displayLanguage, workbook}` where workbook is {name, activeSheet, selection, names: [{name,
 * sheet, address}], sheets: [{name, cells: {"r,c": value}, formats: {"r,c": "0.00"},
 * tables: [{name, address, showHeaders, showTotals, style}], protection: {protected, password,
 * options}, unlocked: ["r,c", ...]}]}.
 */
(() => {
  const config = window.__kbStubConfig ?? {};
  const model = config.workbook ?? { name: "Book1.xlsx", activeSheet: 0, selection: "A1", names: [], sheets: [{ name: "Sheet1" }] };
  for (const sheet of model.sheets) {
    sheet.cells ??= {};
    sheet.formats ??= {};
    sheet.fills ??= {};
    sheet.links ??= {};
    sheet.tables ??= [];
    sheet.names ??= [];
    sheet.protection ??= { protected: false, password: null, options: {} };
    sheet.protectionLog = [];
    sheet.unlocked = Object.fromEntries((sheet.unlocked ?? []).map((k) => [k, true]));
    sheet.quotePrefix ??= {};
  }
  model.names ??= [];

  const stub = { model, handlers: {}, functions: {}, selectionHandlers: [], openedUrls: [], syncs: 0, refusedWrites: [], pendingError: null };
  window.__kbStub = stub;

  // --- A1 helpers ------------------------------------------------------------------------------
  const columnLetters = (column) => {
    let letters = "";
    for (let n = column + 1; n > 0; n = Math.floor((n - 1) / 26)) letters = String.fromCharCode(65 + ((n - 1) % 26)) + letters;
    return letters;
  };
  const a1 = (row, column, rows, columns) => {
    const first = `${columnLetters(column)}${row + 1}`;
    return rows === 1 && columns === 1 ? first : `${first}:${columnLetters(column + columns - 1)}${row + rows}`;
  };
  const parseA1 = (address) => {
    const plain = String(address).slice(String(address).lastIndexOf("!") + 1).replace(/\$/g, "");
    const [first, last = first] = plain.split(":");
    const cell = (ref) => {
      const match = /^([A-Z]+)(\d+)$/.exec(ref);
      const column = [...match[1]].reduce((n, ch) => n * 26 + ch.charCodeAt(0) - 64, 0) - 1;
      return { row: Number(match[2]) - 1, column };
    };
    const a = cell(first);
    const b = cell(last);
    return { row: a.row, column: a.column, rows: b.row - a.row + 1, columns: b.column - a.column + 1 };
  };
  const quoted = (name) => (/^[A-Za-z0-9_]+$/.test(name) ? name : `'${name.replace(/'/g, "''")}'`);
  const key = (row, column) => `${row},${column}`;

  /** Runs a write unless the batch already failed; a protected sheet makes the batch fail. */
  const write = (sheet, apply, cells = null) => {
    if (stub.pendingError) return;
    if (sheet?.protection.protected && !(cells && cells.every((k) => sheet.unlocked[k]))) {
      stub.refusedWrites.push(sheet.name);
      stub.pendingError = new Error(`AccessDenied: the sheet ${sheet.name} is protected`);
      return;
    }
    apply();
  };
  /** Runs a structural change (sheets, names, protection) unless the batch already failed. */
  const change = (apply) => {
    if (stub.pendingError) return;
    try {
      apply();
    } catch (error) {
      stub.pendingError = error;
    }
  };
  const loadable = (object) => Object.assign(object, { load() { return object; }, toJSON() { return {}; } });

  // --- ranges, tables, sheets ------------------------------------------------------------------
  function range(sheet, row, column, rows, columns) {
    const each = (fn) => {
      for (let r = 0; r < rows; r++) for (let c = 0; c < columns; c++) fn(key(row + r, column + c), r, c);
    };
    const grid = (fn) => Array.from({ length: rows }, (_, r) => Array.from({ length: columns }, (_, c) => fn(key(row + r, column + c))));
    const fill = {
      set color(value) { write(sheet, () => each((k) => { sheet.fills[k] = value; })); },
      clear() { write(sheet, () => each((k) => { delete sheet.fills[k]; })); },
    };
    return loadable({
      isNullObject: false,
      rowIndex: row, columnIndex: column, rowCount: rows, columnCount: columns,
      get address() { return `${quoted(sheet.name)}!${a1(row, column, rows, columns)}`; },
      get worksheet() { return worksheet(sheet); },
      get values() { return grid((k) => sheet.cells[k] ?? ""); },
      set values(values) {
        const cells = [];
        each((k) => cells.push(k));
        write(sheet, () => each((k, r, c) => {
          const value = values[r][c];
          if (value === null) return;
          delete sheet.quotePrefix[k];
          if (value === "") delete sheet.cells[k];
          else if (typeof value === "string" && value.startsWith("'")) {
            sheet.cells[k] = value.slice(1);
            sheet.quotePrefix[k] = true;
          } else sheet.cells[k] = value;
        }), cells);
      },
      get numberFormatCategories() { return grid((k) => (/y|d/.test(sheet.formats[k] ?? "") ? "Date" : "General")); },
      set numberFormat(formats) { write(sheet, () => each((k, r, c) => { sheet.formats[k] = Array.isArray(formats) ? formats[r][c] : formats; })); },
      set hyperlink(link) { write(sheet, () => each((k) => { sheet.links[k] = link; })); },
      format: { fill, autofitColumns() { write(sheet, () => {}); }, autofitRows() { write(sheet, () => {}); } },
      getCell: (r, c) => range(sheet, row + r, column + c, 1, 1),
      clear(applyTo = "All") {
        write(sheet, () => each((k) => {
          if (applyTo === "All" || applyTo === "Contents") { delete sheet.cells[k]; delete sheet.links[k]; }
          if (applyTo === "All" || applyTo === "Formats") { delete sheet.formats[k]; delete sheet.fills[k]; }
        }));
      },
    });
  }

  const nullRange = () => loadable({ isNullObject: true, address: "", rowIndex: 0, columnIndex: 0, rowCount: 0, columnCount: 0, worksheet: { position: -1, load() {} } });

  function table(sheet, entry) {
    const bounds = () => parseA1(entry.address);
    const part = (which) => {
      const { row, column, rows, columns } = bounds();
      const first = row + (entry.showHeaders ? 1 : 0);
      const last = row + rows - 1 - (entry.showTotals ? 1 : 0);
      if (which === "header") return range(sheet, row, column, 1, columns);
      if (which === "totals") return range(sheet, row + rows - 1, column, 1, columns);
      if (which === "body") return range(sheet, first, column, Math.max(1, last - first + 1), columns);
      return range(sheet, row, column, rows, columns);
    };
    return loadable({
      isNullObject: !entry,
      get name() { return entry.name; },
      set name(value) { write(sheet, () => { entry.name = value; }); },
      get showHeaders() { return entry.showHeaders ?? true; },
      get showTotals() { return entry.showTotals ?? false; },
      get style() { return entry.style ?? "TableStyleMedium2"; },
      set style(value) { write(sheet, () => { entry.style = value; }); },
      get showFilterButton() { return entry.showFilterButton ?? true; },
      getRange: () => part("range"),
      getHeaderRowRange: () => part("header"),
      getDataBodyRange: () => part("body"),
      getTotalRowRange: () => part("totals"),
      resize(address) { write(sheet, () => { entry.address = String(address).replace(/\$/g, ""); }); },
    });
  }

  function namesOf(scopeSheet) {
    const list = () => (scopeSheet ? scopeSheet.names : model.names);
    const item = (entry) => loadable({
      name: entry.name,
      type: entry.type ?? "Range",
      getRangeOrNullObject: () => {
        const target = model.sheets[entry.sheet];
        if (!target || !entry.address) return nullRange();
        const { row, column, rows, columns } = parseA1(entry.address);
        return range(target, row, column, rows, columns);
      },
      delete() { change(() => list().splice(list().indexOf(entry), 1)); },
    });
    return loadable({
      get items() { return list().map(item); },
      add(name, reference) {
        change(() => {
          if (typeof reference === "string") list().push({ name, type: "Range", refersTo: reference });
          else list().push({ name, type: "Range", sheet: reference.worksheet.position, address: reference.address });
        });
      },
      getItem(name) {
        const entry = list().find((candidate) => candidate.name === name);
        if (!entry) {
          stub.pendingError ??= new Error(`ItemNotFound: name ${name}`);
          return { delete() {} };
        }
        return item(entry);
      },
    });
  }

  function protection(sheet) {
    return loadable({
      get protected() { return sheet.protection.protected; },
      get options() { return { ...sheet.protection.options }; },
      protect(options = {}, password = null) {
        change(() => {
          if (sheet.protection.protected) throw new Error(`InvalidOperation: ${sheet.name} is already protected`);
          sheet.protection = { protected: true, password, options: { ...options } };
          sheet.protectionLog.push("protect");
        });
      },
      unprotect(password = null) {
        change(() => {
          if (sheet.protection.password && sheet.protection.password !== password) {
            throw new Error(`InvalidArgument: wrong password for ${sheet.name}`);
          }
          sheet.protection = { ...sheet.protection, protected: false, password: null };
          sheet.protectionLog.push("unprotect");
        });
      },
    });
  }

  function usedRange(sheet) {
    const keys = Object.keys(sheet.cells).concat(Object.keys(sheet.formats));
    if (!keys.length) return nullRange();
    const coords = keys.map((k) => k.split(",").map(Number));
    const rows = coords.map(([r]) => r);
    const columns = coords.map(([, c]) => c);
    const row = Math.min(...rows);
    const column = Math.min(...columns);
    return range(sheet, row, column, Math.max(...rows) - row + 1, Math.max(...columns) - column + 1);
  }

  function worksheet(sheet) {
    return loadable({
      get name() { return sheet.name; },
      set name(value) { change(() => { sheet.name = value; }); },
      get position() { return model.sheets.indexOf(sheet); },
      set position(value) {
        change(() => {
          model.sheets.splice(model.sheets.indexOf(sheet), 1);
          model.sheets.splice(value, 0, sheet);
        });
      },
      getRangeByIndexes: (row, column, rows, columns) => range(sheet, row, column, rows, columns),
      getUsedRangeOrNullObject: () => usedRange(sheet),
      activate() { change(() => { model.activeSheet = model.sheets.indexOf(sheet); }); },
      tables: loadable({
        get items() { return sheet.tables.map((entry) => table(sheet, entry)); },
        getItemAt: (index) => table(sheet, sheet.tables[index]),
        add(address, hasHeaders) {
          const entry = { name: `Table${sheet.tables.length + 1}`, address: String(address).replace(/\$/g, ""), showHeaders: hasHeaders, showTotals: false };
          write(sheet, () => sheet.tables.push(entry));
          return table(sheet, entry);
        },
      }),
      names: namesOf(sheet),
      shapes: loadable({ items: [] }),
      protection: protection(sheet),
    });
  }

  const newSheet = (name) => ({ name, cells: {}, formats: {}, fills: {}, links: {}, tables: [], names: [], protection: { protected: false, password: null, options: {} }, protectionLog: [], unlocked: {}, quotePrefix: {} });

  const workbook = loadable({
    get name() { return model.name; },
    getSelectedRange() {
      if (!model.selection) {
        stub.pendingError ??= new Error("InvalidSelection");
        return nullRange();
      }
      const { row, column, rows, columns } = parseA1(model.selection);
      return range(model.sheets[model.activeSheet ?? 0], row, column, rows, columns);
    },
    worksheets: loadable({
      get items() { return model.sheets.map(worksheet); },
      getActiveWorksheet: () => worksheet(model.sheets[model.activeSheet ?? 0]),
      getItem: (name) => worksheet(model.sheets.find((sheet) => sheet.name === name)),
      add(name) {
        const sheet = newSheet(name ?? `Sheet${model.sheets.length + 1}`);
        change(() => model.sheets.push(sheet));
        return worksheet(sheet);
      },
    }),
    names: namesOf(null),
    onSelectionChanged: {
      add(handler) {
        stub.selectionHandlers.push(handler);
        return { remove() { stub.selectionHandlers.splice(stub.selectionHandlers.indexOf(handler), 1); } };
      },
    },
    tables: {
      getItemOrNullObject(name) {
        for (const sheet of model.sheets) {
          const entry = sheet.tables.find((candidate) => candidate.name === name);
          if (entry) return table(sheet, entry);
        }
        return loadable({ isNullObject: true });
      },
    },
  });

  const context = {
    workbook,
    async sync() {
      stub.syncs++;
      await new Promise((resolve) => setTimeout(resolve, 0));
      const error = stub.pendingError;
      stub.pendingError = null;
      if (error) throw error;
    },
  };

  window.Excel = { run: async (callback) => callback(context) };

  /** The user selects `address` on `sheetName`: Excel raises onSelectionChanged. */
  stub.select = async (sheetName, address) => {
    model.activeSheet = model.sheets.findIndex((sheet) => sheet.name === sheetName);
    model.selection = address;
    await Promise.all(stub.selectionHandlers.map((handler) => handler({ type: "WorkbookSelectionChanged" })));
  };

  class CustomFunctionError extends Error {
    constructor(code, message) {
      super(message);
      this.code = code;
    }
  }
  window.CustomFunctions = {
    associate: (id, fn) => { stub.functions[id] = fn; },
    Error: CustomFunctionError,
    ErrorCode: { invalidValue: "#VALUE!", notAvailable: "#N/A" },
  };

  window.Office = {
    HostType: { Excel: "Excel" },
    context: {
      displayLanguage: config.displayLanguage ?? "zh-CN",
      requirements: { isSetSupported: () => true },
      ui: { openBrowserWindow: (url) => stub.openedUrls.push(url) },
    },
    actions: { associate: (name, handler) => { stub.handlers[name] = handler; } },
    addin: { showAsTaskpane: () => Promise.resolve() },
    onReady(callback) {
      const info = { host: "Excel", platform: "OfficeOnline" };
      return new Promise((resolve) => {
        setTimeout(() => {
          callback?.(info);
          resolve(info);
        }, 0);
      });
    },
  };
})();
