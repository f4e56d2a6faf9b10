/** A small KPI workbook for the payload tests: Chinese sheet names, tables, names, a date. */
import { cellAt, sheetModel } from "./fake-excel.js";

export function sampleWorkbook() {
  // The used range of 考核表 starts at B2 (A1 and column A empty): values must still start at A1.
  const scores = sheetModel("考核表", [
    [],
    ["", "2024 年一季度考核"],
    [],
    ["", "工号 / Employee ID", "得分 / Score", "日期 / Date"],
    ["", "E001", 91.5, 45352],
    ["", "'00123", "#N/A", ""],
  ], {
    shapes: [
      { name: "logo", type: "Image", width: 20, height: 10 },
      { name: "arrow", type: "GeometricShape", width: 5, height: 5 },
    ],
  });
  cellAt(scores, 4, 3).category = "Date";
  scores.tables.push({ name: "kb_scores", address: "B4:D6", showHeaders: true, showTotals: false, style: "TableStyleMedium2", showFilterButton: true });
  const meta = sheetModel("_kpibook", [["键 / Key", "值 / Value"], ["period", "2024-Q1"], ["format", "1"]]);
  meta.tables.push({ name: "kb_meta", address: "A1:B3", showHeaders: true, showTotals: false, style: "TableStyleLight1", showFilterButton: false });
  meta.names.push({ name: "local_anchor", type: "Range", sheet: 1, address: "A1:B1" });
  const empty = sheetModel("Empty");
  return {
    name: "KPI_2024Q1.xlsx",
    activeSheet: 0,
    selection: "B5:C5",
    sheets: [scores, meta, empty],
    names: [
      { name: "kb_title", type: "Range", sheet: 0, address: "B2" },
      { name: "kb_version", type: "String" },
    ],
  };
}
