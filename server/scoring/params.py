"""The rules table's "Parameters" cell: `key=value; key=value`.

Syntax (docs/rules.md has the full description):

* items are separated by `;`, the full-width `；` or new lines; `=` or `＝` separates key and
  value (only the FIRST one, so `expr=a if a>=t else 0` keeps its `>=`);
* keys are case-insensitive (stored lower case);
* a plain value is a number when it reads as one (`target=85%` -> Decimal("0.85")), otherwise
  text (`of=actual`);
* a value with `:` is a table: `steps=0.8:60, 1:80, 1.2:100` or `scale=A:100,B:85,C:70`, items
  separated by `,`, `，` or `、`. It becomes a tuple of (key text, Decimal) pairs. Table values
  are percents of the weight, so a trailing `%` is optional there (`A:100%` == `A:100`);
* `expr=` is always kept as text.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal

from server.scoring.messages import MessageError
from server.scoring.numbers import parse_number

_ITEM_SEPARATORS = re.compile(r"[;；\n\r]+")
_TABLE_SEPARATORS = re.compile(r"[,，、]")
_KEY = re.compile(r"[a-z_][a-z0-9_]*")
TEXT_PARAMS = frozenset({"expr"})  # never parsed as numbers or tables

Table = tuple[tuple[str, Decimal], ...]


def parse_params(text: str | None) -> dict[str, object]:
    """Parse a Parameters cell into {key: Decimal | str | Table}.

    Raises ValueError with a reason HR can act on ("'target 80' has no '='").
    """
    if text is None:
        return {}
    params: dict[str, object] = {}
    for raw_item in _ITEM_SEPARATORS.split(str(text)):
        item = raw_item.strip()
        if not item:
            continue
        item = item.replace("＝", "=")
        if "=" not in item:
            raise MessageError("params.no_equals", item=item)
        raw_key, raw_value = item.split("=", 1)
        key = unicodedata.normalize("NFKC", raw_key).strip().lower()
        if not _KEY.fullmatch(key):
            raise MessageError("params.bad_name", name=raw_key.strip(), item=item)
        if key in params:
            raise MessageError("params.twice", key=key)
        value = raw_value.strip()
        if not value:
            raise MessageError("params.no_value", key=key)
        params[key] = parse_value(key, value)
    return params


def parse_value(key: str, value: str) -> object:
    """One parameter value: text for `expr`, a table when it has ':', else number or text."""
    if key in TEXT_PARAMS:
        return value
    normalised = unicodedata.normalize("NFKC", value).strip()
    if ":" in normalised:
        return parse_table(key, normalised)
    try:
        return parse_number(normalised)
    except ValueError:
        return normalised


def parse_table(key: str, value: str) -> Table:
    """`0.8:60, 1:80` -> (("0.8", Decimal(60)), ("1", Decimal(80)))."""
    pairs: list[tuple[str, Decimal]] = []
    for raw_entry in _TABLE_SEPARATORS.split(value):
        entry = raw_entry.strip()
        if not entry:
            continue
        if ":" not in entry:
            raise MessageError("table.no_colon", entry=entry, key=key)
        entry_key, entry_value = (part.strip() for part in entry.split(":", 1))
        if not entry_key:
            raise MessageError("table.no_key", entry=entry, key=key)
        number_text = entry_value[:-1] if entry_value.endswith("%") else entry_value
        try:
            number = parse_number(number_text)
        except ValueError:
            raise MessageError("table.not_number", value=entry_value, key=key) from None
        pairs.append((entry_key, number))
    if not pairs:
        raise MessageError("table.empty", key=key)
    return tuple(pairs)


def format_params(params: dict[str, object]) -> str:
    """The inverse of parse_params for display and templates: `target=0.85; cap=1.2`."""
    parts = []
    for key, value in params.items():
        is_table = isinstance(value, tuple)
        shown = ",".join(f"{k}:{v}" for k, v in value) if is_table else str(value)
        parts.append(f"{key}={shown}")
    return "; ".join(parts)
