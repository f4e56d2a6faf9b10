"""File drop: CSV and XLSX exports in a folder (and files uploaded through the web page).

CSV encodings are detected (charset-normalizer); GBK/GB2312 guesses are read as GB18030, their
superset, because Chinese Excel and ERP exports use it. Options: folder, pattern (default
`*.csv`; several with `patterns`), sheet, header_row, delimiter, encoding (skip detection).
Every record says which file and row it came from.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from sync.config import PeriodWindow, SourceConfig, fill
from sync.connectors import FetchContext, Fetched
from sync.errors import SourceError
from sync.mapping import AT

CHINESE = {"gb2312", "gbk", "gb18030", "hz", "big5"}


def detect_encoding(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    name = (best.encoding if best else "gb18030").lower().replace("_", "")
    return "gb18030" if name in CHINESE or best is None else best.encoding


def read_csv(path: Path, encoding: str = "", delimiter: str = "",
             header_row: int = 1) -> tuple[list[dict[str, Any]], str]:
    data = path.read_bytes()
    enc = encoding or detect_encoding(data)
    try:
        text = data.decode(enc)
    except (UnicodeDecodeError, LookupError) as exc:
        raise ValueError(f"cannot decode as {enc}: {exc}") from None
    sample = text[:4096]
    if not delimiter:
        try:
            delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    return _records(rows, path.name, header_row), enc


def read_xlsx(path: Path, sheet: str = "", header_row: int = 1) -> list[dict[str, Any]]:
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        ws = wb[sheet] if sheet else wb.worksheets[0]
        rows = [list(r) for r in ws.iter_rows(values_only=True)]
        return _records(rows, f"{path.name}!{ws.title}", header_row)
    finally:
        wb.close()


def _records(rows: list[list[Any]], where: str, header_row: int) -> list[dict[str, Any]]:
    if len(rows) < header_row:
        return []
    header = [str(h).strip() if h is not None else "" for h in rows[header_row - 1]]
    out = []
    for n, row in enumerate(rows[header_row:], header_row + 1):
        if all(v is None or str(v).strip() == "" for v in row):
            continue
        rec = {h: (v.strip() if isinstance(v, str) else v)
               for h, v in zip(header, row, strict=False) if h}
        rec[AT] = f"{where} row {n}"
        out.append(rec)
    return out


def fetch(source: SourceConfig, window: PeriodWindow, ctx: FetchContext) -> Fetched:
    opts = source.options
    folders = [Path(str(opts["folder"]))] if opts.get("folder") else []
    if ctx.uploads:
        folders.append(Path(ctx.uploads) / source.name)
    if not folders:
        raise SourceError(source.name, "folder is required")
    patterns = [fill(str(p), window.params()) for p in
                (opts.get("patterns") or [opts.get("pattern") or "*.csv"])]
    header_row = int(opts.get("header_row") or 1)
    files: list[Path] = []
    for folder in folders:
        if folder.is_dir():
            for pattern in patterns:
                files.extend(sorted(folder.glob(pattern)))
    if not files:
        shown = ", ".join(str(f) for f in folders)
        raise SourceError(source.name, f"no file matching {', '.join(patterns)} in {shown}")
    records: list[dict[str, Any]] = []
    used = []
    for i, path in enumerate(dict.fromkeys(files), 1):
        try:
            if path.suffix.lower() in (".xlsx", ".xlsm"):
                records.extend(read_xlsx(path, str(opts.get("sheet") or ""), header_row))
                used.append(path.name)
            else:
                got, enc = read_csv(path, str(opts.get("encoding") or ""),
                                    str(opts.get("delimiter") or ""), header_row)
                records.extend(got)
                used.append(f"{path.name} ({enc})")
        except (OSError, ValueError, KeyError) as exc:
            raise SourceError(source.name, f"cannot read {path.name}: {exc}", str(path)) \
                from None
        except Exception as exc:  # noqa: BLE001 - openpyxl raises many types on broken files
            raise SourceError(source.name, f"cannot read {path.name}: "
                                           f"{type(exc).__name__}: {exc}", str(path)) from None
        ctx.progress(i, len(records))
    return Fetched(records, "files " + ", ".join(used), len(used))
