/**
 * A KPI workbook with the line tables (kb_scores, kb_adjustments, kb_data) and kb_meta for the
 * period of the server world the pytest wrapper seeds (tests/addin/conftest.py: M1001 of
 * 一车间, M1002 of 二车间, period 2025-03). Captions as the templates write them, except
 * kb_data's, which are English only, and kb_adjustments', whose columns are reordered.
 */
import { sheetModel } from "./fake-excel.js";

export function lineWorkbook({ period = "2025-03" } = {}) {
  const scores = sheetModel("得分明细", [
    ["kpibook 得分明细"],
    ["工号 / Employee ID", "姓名 / Name", "部门 / Department", "指标代码 / Indicator", "得分 / Score", "计算说明 / Explanation"],
    ["M1001", "张伟", "一车间", "PROD_EFF", 40, "达成率 98%"],
    ["M1001", "张伟", "一车间", "QUALITY", 50, "不良率 2%"],
    ["M1002", "王芳", "二车间", "PROD_EFF", 35, "达成率 91%"],
    [1001, "数字工号", "一车间", "PROD_EFF", 0, ""],
  ]);
  scores.tables.push({ name: "kb_scores", address: "A2:F6", showHeaders: true, showTotals: false, style: "TableStyleMedium2", showFilterButton: true });
  const adjustments = sheetModel("调整", [
    ["调整理由 / Reason", "指标代码 / Indicator", "工号 / Employee ID", "调整分 / Adjustment", "备注"],
    ["", "PROD_EFF", "M1001", "", "HR 自己的列"],
    ["旧理由", "QUALITY", "M1001", -1, ""],
    ["", "PROD_EFF", "M1002", "", ""],
  ]);
  adjustments.tables.push({ name: "kb_adjustments", address: "A1:E4", showHeaders: true, showTotals: false, style: "TableStyleMedium2", showFilterButton: true });
  const data = sheetModel("源数据", [
    [],
    ["", "Employee ID", "Indicator", "Field", "Value", "Source"],
    ["", "M1001", "PROD_EFF", "actual", 0.98, "erp"],
    ["", "M1001", "PROD_EFF", "", 0.5, "manual"],
    ["", "M1002", "PROD_EFF", "actual", 0.91, "erp"],
  ]);
  data.tables.push({ name: "kb_data", address: "B2:F5", showHeaders: true, showTotals: false, style: "TableStyleMedium2", showFilterButton: true });
  const metaRows = [["键 / Key", "值 / Value"], ["format", "1"]];
  if (period) metaRows.splice(1, 0, ["period", period]);
  const meta = sheetModel("_kpibook", metaRows);
  meta.tables.push({ name: "kb_meta", address: `A1:B${metaRows.length}`, showHeaders: true, showTotals: false, style: "TableStyleLight1", showFilterButton: false });
  const notes = sheetModel("说明", [["kpibook"], ["工号 / Employee ID", "指标代码 / Indicator"], ["M1001", "PROD_EFF"]]);
  return { name: "KPI_2025-03.xlsx", activeSheet: 0, selection: "A1", sheets: [scores, adjustments, data, meta, notes], names: [] };
}
