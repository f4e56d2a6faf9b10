"""Decimal helpers shared by the engine and the adapters: conversion, parsing, rounding.

Everything is Decimal so results match HR's Excel ROUND() to the cent. Floats are converted
through `repr` (the shortest text that round-trips), so an Excel 0.1 stays Decimal("0.1") and
not 0.1000000000000000055511151231257827.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction

from server.scoring.messages import MessageError

_QUANTA = {places: Decimal(1).scaleb(-places) for places in range(0, 11)}
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_GROUPED_NUMBER = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?")
# Characters NFKC leaves alone but people paste from Word/WeChat as signs or spaces.
_EXTRA_FOLD = str.maketrans({"\u2212": "-", "\u2013": "-", "\u00a0": " ", "\u3000": " "})


def to_decimal(value: object) -> Decimal:
    """An exact Decimal for an int, float (via repr), Decimal or numeric text.

    Raises ValueError for booleans, NaN/infinity and anything that is not a number.
    """
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise MessageError("number.not_finite", value=value)
        return value
    if isinstance(value, bool):  # bool is an int subclass; True is never a KPI value
        raise MessageError("number.invalid", value=value)
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise MessageError("number.not_finite", value=value)
        return Decimal(repr(value))
    if isinstance(value, str):
        return parse_number(value)
    raise MessageError("number.invalid", value=value)


def parse_number(value: object) -> Decimal:
    """Parse a number as HR types it: 85, "85", " 85% " (-> 0.85), "1,234.5", full-width
    digits and punctuation ("１２３４．５", "８５％").

    Raises ValueError (a MessageError) with a short reason when the text is not a number.
    """
    if not isinstance(value, str):
        return to_decimal(value)
    text = unicodedata.normalize("NFKC", value).translate(_EXTRA_FOLD).strip()
    if not text:
        raise MessageError("number.empty")
    percent = text.endswith("%")
    body = text[:-1].strip() if percent else text
    body = body.replace(" ", "")
    if "," in body:
        # Only thousands grouping is accepted: "1,5" could be a European 1.5 and guessing
        # would silently multiply by ten.
        if not _GROUPED_NUMBER.fullmatch(body):
            raise MessageError("number.decimal_comma", value=value.strip())
        body = body.replace(",", "")
    if not _PLAIN_NUMBER.fullmatch(body):
        raise MessageError("number.invalid", value=value.strip())
    try:
        number = Decimal(body)
    except InvalidOperation:  # pragma: no cover - the regex already guards this
        raise MessageError("number.invalid", value=value.strip()) from None
    return number / 100 if percent else number


def checked_decimal(value: object, places: int | None = 2, whole: int = 7) -> Decimal:
    """`to_decimal`, then the number must fit its column: at most `places` decimals (None:
    any, e.g. rule parameters kept as text) and at most `whole` integer digits. Points are
    Numeric(9, 2): places=2, whole=7; facts Numeric(20, 6): whole=14 (WORKBOOK_WHOLE_DIGITS).
    The one check at every edge where a number enters: "1e999999", "Infinity", "sNaN" are
    refused here with a reason instead of failing in quantize, the engine, the database or
    git.

    Raises MessageError (a ValueError) worded by the catalogue."""
    number = to_decimal(value)
    shown = str(value).strip()[:40]
    if number and number.adjusted() >= whole:  # adjusted(): exponent of the leading digit
        raise MessageError("number.out_of_range", value=shown, limit=f"1e{whole}")
    if places is not None and number != number.quantize(_QUANTA[places]):
        raise MessageError("number.decimals", value=shown, places=places)
    return number


WORKBOOK_WHOLE_DIGITS = 14  # any number of a workbook: fits Numeric(20, 6)


def round_half_up(x: Decimal, places: int = 2) -> Decimal:
    """Round half away from zero, like Excel's ROUND: 2.675 -> 2.68, -2.675 -> -2.68."""
    quantum = _QUANTA.get(places)
    if quantum is None:
        quantum = Decimal(1).scaleb(-places)
    return x.quantize(quantum, ROUND_HALF_UP)


def fmt(x: Decimal, places: int = 2) -> str:
    """Text for a number rounded half away from zero to `places` decimals, never "-0.00"."""
    rounded = round_half_up(x, places)
    if not rounded:
        rounded = abs(rounded)
    return str(rounded)  # quantized: plain notation; str() is much faster than format()


def fmt_short(x: Decimal, places: int = 4) -> str:
    """Text for a parameter value: at most `places` decimals, trailing zeros dropped
    (25 -> "25", 0.125 -> "0.125", 33.333333 -> "33.3333")."""
    rounded = round_half_up(x, places)
    text = str(rounded)
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def decimal_of(x: Fraction, places: int = 24) -> Decimal:
    """An exact Fraction as a Decimal that every later rounding to fewer than `places`
    decimals treats exactly like `x` itself.

    Exact (trailing zeros dropped) when `x` has at most `places` decimals. Otherwise it is
    truncated to `places` decimals and a final digit 1 is appended (a "sticky" digit): the
    result is strictly between the truncation and the next value, as `x` is, so it can never
    land on a half (x.xx5000…) that `x` is not, nor on the wrong side of one.
    """
    return decimal_of_ratio(x.numerator, x.denominator, places)


def decimal_of_ratio(n: int, d: int, places: int = 24) -> Decimal:
    """`decimal_of` for the exact value n / d (d > 0, not necessarily in lowest terms: the
    result depends on the value only)."""
    sign = "-" if n < 0 else ""
    whole, rest = divmod(abs(n) * 10**places, d)
    if rest:
        return Decimal(f"{sign}{whole}1E-{places + 1}")
    text = str(whole).rjust(places + 1, "0")
    head, tail = text[:-places], text[-places:].rstrip("0")
    return Decimal(f"{sign}{head}.{tail}" if tail else f"{sign}{head}")
