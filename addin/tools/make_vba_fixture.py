"""Writes tests/addin/fixtures/vba_payload.json: the request body xlwings' VBA client sends.

The body is built the way xlwings/addin/Remote.bas (RunRemotePython) builds it and serialised
the way its WebHelpers.ConvertToJson does, quirks included, so that the server can be tested
against the exact bytes desktop Excel posts:

* key order: client, version, book, names, sheets; per sheet name, pictures, tables, values;
  per name: name, sheet_index, address, book_scope, scope_sheet_name, scope_sheet_index;
* compact JSON, every character outside ASCII 32..126 escaped as \\uXXXX with upper-case hex,
  "/" not escaped;
* empty cells are null (VBA Empty -> "undefined" -> null inside arrays), not "";
* dates are local wall-clock time formatted "yyyy-mm-ddTHH:mm:ss.000Z" (a literal Z, no
  conversion); a time-only cell is a date on 1899-12-30;
* numbers are VBA's CStr of a Double: integers without ".0", 15 significant digits;
* a text cell of 16..100 characters made only of digits, ".", "E", "e" is sent as a bare JSON
  number (json_StringIsLargeNumber): an 18-digit ID number typed as text arrives as an integer;
* the classic error values arrive as "#N/A", "#DIV/0!", ...; a quote prefix is dropped by
  Range.Value ("'00123" arrives as "00123");
* selection and name addresses are relative ("B5:C5"), table addresses absolute ("$B$4:$D$6");
  sheet-scoped names are "Sheet!name";
* an empty sheet sends values [[]]; values always start at A1.

Run: .venv/bin/python addin/tools/make_vba_fixture.py
"""

from __future__ import annotations

import json
import re
from pathlib import Path

OUT = Path(__file__).resolve().parents[2] / "tests" / "addin" / "fixtures" / "vba_payload.json"

N = None  # an empty cell
ID_NUMBER = 110101199003071234  # 18-digit text cell: VBA sends it as a bare number

PAYLOAD = {
    "client": "VBA",
    "version": "0.37.8",
    "book": {"name": "KPI_2024Q1.xlsx", "active_sheet_index": 0, "selection": "B5:C5"},
    "names": [
        {"name": "kb_title", "sheet_index": 0, "address": "B2", "book_scope": True,
         "scope_sheet_name": None, "scope_sheet_index": None},
        {"name": "_kpibook!local_anchor", "sheet_index": 1, "address": "A1:B1",
         "book_scope": False, "scope_sheet_name": "_kpibook", "scope_sheet_index": 1},
    ],
    "sheets": [
        {
            "name": "考核表",
            "pictures": [{"name": "logo", "height": 10, "width": 20}],
            "tables": [{
                "name": "kb_scores", "range_address": "$B$4:$F$7",
                "header_row_range_address": "$B$4:$F$4", "data_body_range_address": "$B$5:$F$7",
                "total_row_range_address": None, "show_headers": True, "show_totals": False,
                "table_style": "TableStyleMedium2", "show_autofilter": True,
            }],
            "values": [
                [N, N, N, N, N, N],
                [N, "2024 年一季度考核", N, N, N, N],
                [N, N, N, N, N, N],
                [N, "工号 / Employee ID", "得分 / Score", "日期 / Date", "身份证号 / ID",
                 "在岗 / Active"],
                [N, "E001", 91.5, "2024-03-01T00:00:00.000Z", ID_NUMBER, True],
                [N, "00123", "#N/A", "1899-12-30T08:30:00.000Z", "11010119900307123X", False],
                [N, "E/003 \"张三\"\n备注", 0.666666666666667, N, "#DIV/0!", N],
            ],
        },
        {
            "name": "_kpibook",
            "pictures": [],
            "tables": [{
                "name": "kb_meta", "range_address": "$A$1:$B$3",
                "header_row_range_address": "$A$1:$B$1", "data_body_range_address": "$A$2:$B$3",
                "total_row_range_address": None, "show_headers": True, "show_totals": False,
                "table_style": "TableStyleLight1", "show_autofilter": False,
            }],
            "values": [["键 / Key", "值 / Value"], ["period", "2024-Q1"], ["format", 1]],
        },
        {"name": "Empty", "pictures": [], "tables": [], "values": [[]]},
    ],
}


def vba_json(value: object) -> str:
    """Compact JSON with VBA-JSON's escaping: \\uXXXX in upper case for everything non-ASCII."""
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"))
    return re.sub(r"\\u([0-9a-f]{4})", lambda m: "\\u" + m.group(1).upper(), text)


if __name__ == "__main__":
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(vba_json(PAYLOAD), encoding="ascii")
    print(f"wrote {OUT}")
