/**
 * An in-memory workbook exposed through an Excel-like API made of office-addin-mock objects.
 *
 * Reads keep Office.js discipline: every scalar property is an OfficeMockObject property that
 * must be `load()`ed and `context.sync()`ed before it is readable (otherwise the mock returns its
 * "not loaded"/"not synced" marker, which makes a test fail). Writes (property sets and method
 * calls) are queued in call order and applied to the model at `context.sync()`, as Office.js
 * does; tests then assert on the model.
 */
import { OfficeMockObject } from "office-addin-mock";
import { a1Address } from "../../static/js/protocol.js";

/** Parses "A1", "$A$1:$D$3", "Sheet!A1:B2" into 0-based bounds. */
export function parseA1(address) {
  const plain = address.slice(address.lastIndexOf("!") + 1).replace(/\$/g, "");
  const [first, last = first] = plain.split(":");
  const cell = (ref) => {
    const m = /^([A-Z]+)(\d+)$/.exec(ref);
    const column = [...m[1]].reduce((n, ch) => n * 26 + ch.charCodeAt(0) - 64, 0) - 1;
    return { row: Number(m[2]) - 1, column };
  };
  const a = cell(first);
  const b = cell(last);
  return { row: a.row, column: a.column, rowCount: b.row - a.row + 1, columnCount: b.column - a.column + 1 };
}

/** Excel's default protection options (Review > Protect Sheet with nothing ticked). */
export const DEFAULT_PROTECTION_OPTIONS = Object.freeze({
  allowAutoFilter: false, allowDeleteColumns: false, allowDeleteRows: false, allowEditObjects: false,
  allowEditScenarios: false, allowFormatCells: false, allowFormatColumns: false, allowFormatRows: false,
  allowInsertColumns: false, allowInsertHyperlinks: false, allowInsertRows: false, allowPivotTables: false,
  allowSort: false, selectionMode: "Normal",
});

/**
 * A sheet of the model. `protection`: {protected, password, options}; while `protected` is
 * true every write to the sheet's cells or tables fails at sync, as in Excel.
 * `protectionLog` records "unprotect"/"protect" calls that Excel carried out.
 */
export function sheetModel(name, rows = [], extra = {}) {
  const sheet = {
    name, cells: new Map(), tables: [], names: [], shapes: [], activations: 0,
    protection: { protected: false, password: null, options: { ...DEFAULT_PROTECTION_OPTIONS } },
    protectionLog: [],
    ...extra,
  };
  rows.forEach((row, r) => row.forEach((value, c) => {
    if (value !== "" && value !== null && value !== undefined) cellAt(sheet, r, c).value = value;
  }));
  return sheet;
}

/** The model cell at (r, c), created on demand. */
export function cellAt(sheet, r, c) {
  const key = `${r},${c}`;
  if (!sheet.cells.has(key)) sheet.cells.set(key, { value: "", numberFormat: "General", category: "General", fill: null, hyperlink: null, autofit: null });
  return sheet.cells.get(key);
}

/** Protects a model sheet (optionally with a password and non-default options). */
export function protectSheet(sheet, { password = null, options = {} } = {}) {
  sheet.protection = { protected: true, password, options: { ...DEFAULT_PROTECTION_OPTIONS, ...options } };
  return sheet;
}

/** Excel's refusal to change a protected sheet (thrown while the batch runs, i.e. at sync). */
function assertWritable(sheet) {
  if (sheet?.protection?.protected) {
    throw new Error(`AccessDenied: the sheet ${sheet.name} is protected; unprotect it to change it`);
  }
}

/** Value at (r, c) or "" — what Excel shows for an empty cell. */
export function valueAt(sheet, r, c) {
  return sheet.cells.get(`${r},${c}`)?.value ?? "";
}

/**
 * Builds the fake. `model`: {name, activeSheet, selection: "B3:B4"|null, sheets: [...],
 * names: [{name, type, sheet, address}]}.
 */
export function fakeExcel(model) {
  const nodes = [];
  let queue = [];
  let pendingErrors = [];
  let internal = 0;
  let syncCount = 0;

  /** Wraps an OfficeMockObject so that property writes are queued for the model. */
  function node(data, { onSet = () => {}, children = {}, collection = false } = {}) {
    const mock = new OfficeMockObject(data, "excel");
    Object.assign(mock, children);
    const proxy = new Proxy(mock, {
      get(target, prop, receiver) {
        if (prop === "load") {
          return (arg) => {
            internal++;
            try {
              if (collection && typeof arg === "string" && arg.includes("items/")) {
                target.load("items");
                const itemProps = arg.split(",").map((p) => p.trim().replace(/^items\//, "")).join(",");
                for (const item of target._valueBeforeLoadedItems ?? data.items) item.load(itemProps);
              } else {
                target.load(arg);
              }
            } finally {
              internal--;
            }
            return receiver;
          };
        }
        return Reflect.get(target, prop, receiver);
      },
      set(target, prop, value) {
        if (!internal && typeof prop === "string" && !prop.startsWith("_")) queue.push(() => onSet(prop, value));
        target[prop] = value;
        return true;
      },
    });
    nodes.push(proxy);
    return proxy;
  }

  const enqueue = (fn) => { queue.push(fn); };
  const sheetIndex = (sheet) => model.sheets.indexOf(sheet);
  const quoted = (name) => (/^[A-Za-z0-9_]+$/.test(name) ? name : `'${name.replace(/'/g, "''")}'`);

  function rangeNode(sheet, row, column, rowCount, columnCount) {
    const values = [];
    const categories = [];
    for (let r = 0; r < rowCount; r++) {
      values.push([]);
      categories.push([]);
      for (let c = 0; c < columnCount; c++) {
        values[r].push(valueAt(sheet, row + r, column + c));
        categories[r].push(sheet.cells.get(`${row + r},${column + c}`)?.category ?? "General");
      }
    }
    // Every write goes through forEachCell, so this is where a protected sheet refuses it.
    const forEachCell = (fn) => {
      assertWritable(sheet);
      for (let r = 0; r < rowCount; r++) for (let c = 0; c < columnCount; c++) fn(cellAt(sheet, row + r, column + c), r, c);
    };
    const fill = node({ clear: () => enqueue(() => forEachCell((cell) => { cell.fill = null; })) },
      { onSet: (prop, value) => { if (prop === "color") forEachCell((cell) => { cell.fill = value; }); } });
    const format = node({
      autofitColumns: () => enqueue(() => forEachCell((cell) => { cell.autofit = "columns"; })),
      autofitRows: () => enqueue(() => forEachCell((cell) => { cell.autofit = "rows"; })),
    }, { children: { fill } });
    return node({
      isNullObject: false,
      address: `${quoted(sheet.name)}!${a1Address(row, column, rowCount, columnCount)}`,
      rowIndex: row, columnIndex: column, rowCount, columnCount,
      values, numberFormatCategories: categories,
      clear: (applyTo = "All") => enqueue(() => forEachCell((cell) => {
        if (applyTo === "All" || applyTo === "Contents") { cell.value = ""; cell.hyperlink = null; }
        if (applyTo === "All" || applyTo === "Formats") { cell.numberFormat = "General"; cell.fill = null; }
      })),
      getCell: (r, c) => rangeNode(sheet, row + r, column + c, 1, 1),
    }, {
      children: { format, worksheet: sheetNode(sheet) },
      onSet: (prop, value) => {
        if (prop === "values") forEachCell((cell, r, c) => { if (value[r][c] !== null) cell.value = value[r][c]; });
        if (prop === "numberFormat") forEachCell((cell, r, c) => { cell.numberFormat = Array.isArray(value) ? value[r][c] : value; });
        if (prop === "hyperlink") forEachCell((cell) => { cell.hyperlink = value; });
      },
    });
  }

  function nullRangeNode() {
    return node({ isNullObject: true, address: "", rowIndex: 0, columnIndex: 0, rowCount: 0, columnCount: 0 }, { children: { worksheet: node({ position: -1, name: "" }) } });
  }

  function usedRangeOf(sheet) {
    const keys = [...sheet.cells.entries()].filter(([, cell]) => cell.value !== "" || cell.numberFormat !== "General" || cell.fill);
    if (!keys.length) return null;
    const coords = keys.map(([key]) => key.split(",").map(Number));
    const rows = coords.map(([r]) => r);
    const cols = coords.map(([, c]) => c);
    const r0 = Math.min(...rows); const c0 = Math.min(...cols);
    return [r0, c0, Math.max(...rows) - r0 + 1, Math.max(...cols) - c0 + 1];
  }

  function rangeFromAddress(sheet, address) {
    const { row, column, rowCount, columnCount } = parseA1(address);
    return rangeNode(sheet, row, column, rowCount, columnCount);
  }

  function tableNode(sheet, resolve) {
    const table = resolve();
    const bounds = () => parseA1(resolve().address);
    const part = (which) => {
      const { row, column, rowCount, columnCount } = bounds();
      const t = resolve();
      const first = row + (t.showHeaders ? 1 : 0);
      const last = row + rowCount - 1 - (t.showTotals ? 1 : 0);
      if (which === "header") return rangeNode(sheet, row, column, 1, columnCount);
      if (which === "totals") return rangeNode(sheet, row + rowCount - 1, column, 1, columnCount);
      if (which === "body") return rangeNode(sheet, first, column, last - first + 1, columnCount);
      return rangeNode(sheet, row, column, rowCount, columnCount);
    };
    return node({
      isNullObject: !table,
      name: table?.name ?? "", showHeaders: table?.showHeaders ?? true, showTotals: table?.showTotals ?? false,
      style: table?.style ?? "", showFilterButton: table?.showFilterButton ?? true,
      getRange: () => part("range"), getHeaderRowRange: () => part("header"),
      getDataBodyRange: () => part("body"), getTotalRowRange: () => part("totals"),
      resize: (address) => enqueue(() => { assertWritable(sheet); resolve().address = address.replace(/\$/g, ""); }),
    }, { onSet: (prop, value) => { if (prop === "name" || prop === "style") { assertWritable(sheet); resolve()[prop] = value; } } });
  }

  function namedItemNode(entry, scopeSheet) {
    return node({
      name: entry.name, type: entry.type ?? "Range",
      getRangeOrNullObject: () => {
        const target = model.sheets[entry.sheet];
        return entry.type && entry.type !== "Range" || !target ? nullRangeNode() : rangeFromAddress(target, entry.address);
      },
      delete: () => enqueue(() => {
        const list = scopeSheet ? scopeSheet.names : model.names;
        list.splice(list.indexOf(entry), 1);
      }),
    });
  }

  function namesNode(scopeSheet) {
    const list = () => (scopeSheet ? scopeSheet.names : model.names);
    return node({
      items: list().map((entry) => namedItemNode(entry, scopeSheet)),
      add: (name, reference) => enqueue(() => {
        if (typeof reference === "string") list().push({ name, type: "Range", refersTo: reference });
        else list().push({ name, type: "Range", rangeAddress: reference._properties.get("address")._valueBeforeLoaded });
      }),
      getItem: (name) => {
        const entry = list().find((candidate) => candidate.name === name);
        if (!entry) pendingErrors.push(new Error(`ItemNotFound: name ${name}`));
        return entry ? namedItemNode(entry, scopeSheet) : node({ delete: () => {} });
      },
    }, { collection: true });
  }

  /**
   * worksheet.protection. Not an OfficeMockObject because `options` is a plain object in
   * Office.js (a complex value, not a navigation property), which the mock cannot express; the
   * same discipline is enforced by hand: reading before load() + sync() throws.
   */
  function protectionNode(sheet) {
    const requested = new Set();
    let loaded = null;
    const read = (prop) => {
      if (!loaded || !requested.has(prop)) throw new Error(`protection.${prop} was read without load("${prop}") and context.sync()`);
      return loaded[prop];
    };
    const protection = {
      load(props) {
        for (const prop of String(props).split(",")) requested.add(prop.trim());
        return protection;
      },
      async sync() {
        if (requested.size) loaded = { protected: sheet.protection.protected, options: { ...sheet.protection.options } };
      },
      get protected() { return read("protected"); },
      get options() { return read("options"); },
      protect(options = {}, password = null) {
        enqueue(() => {
          if (sheet.protection.protected) throw new Error(`InvalidOperation: the sheet ${sheet.name} is already protected`);
          sheet.protection = { protected: true, password, options: { ...DEFAULT_PROTECTION_OPTIONS, ...options } };
          sheet.protectionLog.push("protect");
        });
      },
      unprotect(password = null) {
        enqueue(() => {
          if (sheet.protection.password && sheet.protection.password !== password) {
            throw new Error(`InvalidArgument: the password to unprotect ${sheet.name} is not correct`);
          }
          sheet.protection = { ...sheet.protection, protected: false, password: null };
          sheet.protectionLog.push("unprotect");
        });
      },
    };
    nodes.push(protection);
    return protection;
  }

  function sheetNode(sheet) {
    return node({
      name: sheet.name,
      position: sheetIndex(sheet),
      getRangeByIndexes: (r, c, rows, cols) => rangeNode(sheet, r, c, rows, cols),
      getUsedRangeOrNullObject: () => {
        const used = usedRangeOf(sheet);
        return used ? rangeNode(sheet, ...used) : nullRangeNode();
      },
      activate: () => enqueue(() => { model.activeSheet = sheetIndex(sheet); sheet.activations++; }),
    }, {
      children: {
        protection: protectionNode(sheet),
        get tables() {
          return node({
            items: sheet.tables.map((table) => tableNode(sheet, () => table)),
            add: (address, hasHeaders) => {
              const table = { name: `Table${sheet.tables.length + 1}`, address: address.replace(/\$/g, ""), showHeaders: hasHeaders, showTotals: false, style: "TableStyleMedium2", showFilterButton: true };
              enqueue(() => { assertWritable(sheet); sheet.tables.push(table); });
              return tableNode(sheet, () => table);
            },
            getItemAt: (index) => tableNode(sheet, () => sheet.tables[index]),
          }, { collection: true });
        },
        get names() { return namesNode(sheet); },
        get shapes() {
          return node({ items: sheet.shapes.map((shape) => node({ ...shape })) }, { collection: true });
        },
      },
      onSet: (prop, value) => {
        if (prop === "name") sheet.name = value;
        if (prop === "position") {
          model.sheets.splice(sheetIndex(sheet), 1);
          model.sheets.splice(value, 0, sheet);
        }
      },
    });
  }

  function worksheetsNode() {
    return node({
      items: model.sheets.map(sheetNode),
      getActiveWorksheet: () => sheetNode(model.sheets[model.activeSheet ?? 0]),
      getItem: (name) => sheetNode(model.sheets.find((sheet) => sheet.name === name)),
      add: (name) => {
        const sheet = sheetModel(name ?? `Sheet${model.sheets.length + 1}`);
        enqueue(() => model.sheets.push(sheet));
        return sheetNode(sheet);
      },
    }, { collection: true });
  }

  // Workbook.onSelectionChanged: handlers registered with add() run when the test calls
  // `select()` on the fake (as Excel raises the event after the user selects).
  const selectionHandlers = [];
  const onSelectionChanged = {
    add(handler) {
      selectionHandlers.push(handler);
      return { remove: () => selectionHandlers.splice(selectionHandlers.indexOf(handler), 1) };
    },
  };

  const workbook = node({
    name: model.name,
    getSelectedRange: () => {
      if (!model.selection) pendingErrors.push(new Error("InvalidSelection: the selection is not a single range"));
      const active = model.sheets[model.activeSheet ?? 0];
      return model.selection ? rangeFromAddress(active, model.selection) : nullRangeNode();
    },
  }, {
    children: {
      onSelectionChanged,
      get worksheets() { return worksheetsNode(); },
      get names() { return namesNode(null); },
      tables: {
        getItemOrNullObject: (name) => {
          for (const sheet of model.sheets) {
            const table = sheet.tables.find((candidate) => candidate.name === name);
            if (table) return tableNode(sheet, () => table);
          }
          return tableNode(null, () => null);
        },
      },
    },
  });

  const context = {
    workbook,
    async sync() {
      syncCount++;
      const errors = pendingErrors;
      pendingErrors = [];
      const work = queue;
      queue = [];
      internal++;
      try {
        for (const n of nodes) await n.sync();
        // The mock finishes property updates in detached microtasks: let them run while
        // writes are still treated as internal.
        await new Promise((resolve) => setImmediate(resolve));
      } finally {
        internal--;
      }
      if (errors.length) throw errors[0];
      for (const op of work) op();
    },
  };
  return {
    context,
    Excel: { run: async (callback) => callback(context) },
    get syncCount() { return syncCount; },
    /** Selects `address` on the sheet named `sheetName` and raises onSelectionChanged. */
    async select(sheetName, address) {
      model.activeSheet = model.sheets.findIndex((sheet) => sheet.name === sheetName);
      model.selection = address;
      await Promise.all(selectionHandlers.map((handler) => handler({ type: "WorkbookSelectionChanged" })));
    },
    get selectionHandlers() { return selectionHandlers.length; },
  };
}
