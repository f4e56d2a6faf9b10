"""Points of a whole column of lines at once, for the engine's column path (columns.py).

`column_points` gives, for the values of one indicator's column, each line's rounded points
(the Decimal the per-line path gives: the rule's `run`, divided by the re-normalising sum
when there is one, quantized to the cent half away from zero) and the same in integer cents.
Each line belongs to a group: a weighting and a scorer (the indicator's own or a personal
target's).

Two ways, the same figures:
- `ratio` columns of plain decimals (the high-cardinality case: every manager's revenue
  against a personal target) are computed in numpy int64 scaled integers: the values are
  read as digits at a common number of places, and each line's points are the exact
  rational w × a / t / s rounded half away from zero, which is what the Decimal path gives
  (its 28-digit quotients are off by less than 1e-26, while a line whose exact value is not
  a half-cent lies at least 1/(2Q) from one, Q the bounded denominator; a half-cent is a
  terminating decimal and comes out exact). A column that does not fit (exponent forms,
  more than 6 places, numbers near the int64 limits) goes the other way.
- reverse_ratio, linear, reverse_linear and band columns of plain decimals the same way
  (`_scaled_rule`, below: the rule's parameters from `Scorer.kernel`);
- a formula column by its expression over the whole column (`Scorer.columns`, exact ratios
  of Python ints), else line by line;
- any other column (or one a kernel declines): the rule's own `run`, once per group and
  distinct value text (the per-line path's memo key: str of a Decimal, the text itself for
  a label).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from decimal import ROUND_HALF_UP, Decimal
from itertools import count
from math import gcd
from operator import itemgetter

import numpy as np

from server.scoring.model import Indicator
from server.scoring.rules import Scorer

CENT = Decimal("0.01")
_MAX_PLACES = 6
_LIMIT = 2**62  # every intermediate product of a kernel stays below this
_first, _second = itemgetter(0), itemgetter(1)


def value_keys(values: Sequence, kinds: set[type]) -> list:
    """The per-line path's memo key of each value: str of a Decimal, (text,) for text (a
    label is never taken for a number's text). `kinds`: the types of the values."""
    if kinds == {Decimal}:
        return list(map(str, values))
    return [str(v) if type(v) is Decimal else (v,) for v in values]


def column_points(ind: Indicator, values: Sequence, keys: list | None,
                  fields: Sequence | None, groups: np.ndarray, params: Sequence[tuple],
                  all_decimal: bool = False) -> tuple[list[Decimal], np.ndarray] | None:
    """(points, their cents) per line, or None when a line would be a problem (the rule
    raised): the per-line path then scores the input and reports it.

    `groups`: per line, an index into `params`, whose items are ((w, w_text, w_run,
    divisor), scorer). Values are Decimals or text (a formula's: its fields); `all_decimal`:
    every value is a Decimal."""
    try:
        if fields is not None or keys is None:
            found = _formula(values, fields, groups, params) if fields is not None else None
            return found if found is not None else _per_line(values, fields, groups, params)
        if ind.rule == "ratio" and all_decimal:
            found = _ratio(keys, groups, params)
            if found is not None:
                return found
        elif ind.rule in _KERNELS and all_decimal:
            found = _scaled_rule(ind.rule, keys, groups, params)
            if found is not None:
                return found
        return _by_value(values, keys, groups, params)
    except (ValueError, ArithmeticError):
        return None


def _points(scorer: Scorer, value: object, w_run: object, w_text: str,
            divisor: Decimal | None, fields: object) -> tuple[Decimal, int]:
    if scorer.points is not None:
        raw = scorer.points(value, w_run, fields)  # type: ignore[arg-type]
    else:
        raw, _ = scorer.run(value, w_run, w_text, fields)  # type: ignore[arg-type]
    if divisor is not None:
        raw = raw / divisor
    base = raw.quantize(CENT, ROUND_HALF_UP)
    return base, int(base.scaleb(2))


def _per_line(values: Sequence, fields: Sequence, groups: np.ndarray,
              params: Sequence[tuple]) -> tuple[list[Decimal], np.ndarray]:
    """A formula reads several fields: each line on its own."""
    found = [_points(params[g][1], v, params[g][0][2], params[g][0][1], params[g][0][3], f)
             for v, f, g in zip(values, fields, groups.tolist(), strict=True)]
    return list(map(_first, found)), np.array(list(map(_second, found)), dtype=np.int64)


def per_distinct(keys: list, groups: np.ndarray, n_params: int,
                 compute: Callable[[int, int], object]) -> np.ndarray:
    """compute(group, line) once per group and distinct key, spread over every line with
    that group and key: an object array, one item per line."""
    m = len(keys)
    out = np.empty(m, dtype=object)
    if not m:
        return out
    if n_params == 1 or not groups.any():
        blocks = [(int(groups[0]), None)]
    else:
        order = np.argsort(groups, kind="stable")
        starts = np.flatnonzero(np.diff(groups[order])) + 1
        blocks = [(int(groups[block[0]]), block) for block in np.split(order, starts)]
    for group, lines in blocks:
        block_keys = keys if lines is None else [keys[i] for i in lines.tolist()]
        # each line -> the position of the first line with its key (in C: setdefault keeps
        # the first position it was given)
        first: dict = {}
        firsts = np.fromiter(map(first.setdefault, block_keys, count()), dtype=np.int64,
                             count=len(block_keys))
        where = list(first.values())
        line_of = where if lines is None else lines[where].tolist()
        made = np.empty(len(block_keys), dtype=object)
        made[where] = _objects_of([compute(group, line) for line in line_of])
        if lines is None:
            out = made[firsts]
        else:
            out[lines] = made[firsts]
    return out


def _by_value(values: Sequence, keys: list, groups: np.ndarray, params: Sequence[tuple]
              ) -> tuple[list[Decimal], np.ndarray]:
    """The rule run once per group and distinct value text."""
    def compute(group: int, line: int) -> tuple[Decimal, int]:
        (_, w_text, w_run, divisor), scorer = params[group]
        return _points(scorer, values[line], w_run, w_text, divisor, None)

    found = per_distinct(keys, groups, len(params), compute).tolist()
    return list(map(_first, found)), np.fromiter(map(_second, found), dtype=np.int64,
                                                 count=len(found))


def _objects_of(values: list) -> np.ndarray:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def _scaled(keys: list[str]) -> tuple[np.ndarray, int, int] | None:
    """The numbers written in `keys` (str of Decimals) as integers at a common number of
    places, with their unit (10 ** places) and the largest magnitude; None when one does
    not fit (exponent form, too many digits or places). Each distinct text is read once:
    numpy reads text slowly, and a month's values repeat (a yield to 4 places, a rate)."""
    first: dict[str, int] = {}  # text -> the first line with it (setdefault, in C)
    line = np.fromiter(map(first.setdefault, keys, count()), dtype=np.int64, count=len(keys))
    if len(first) == len(keys):
        return _scaled_texts(keys)
    found = _scaled_texts(list(first))
    if found is None:
        return None
    number = np.empty(len(keys), dtype=np.int64)  # first line -> its distinct text's number
    number[list(first.values())] = np.arange(len(first))
    a, unit, largest = found
    return a[number[line]], unit, largest


def _scaled_texts(keys: list[str]) -> tuple[np.ndarray, int, int] | None:
    text = np.array(keys)
    if text.dtype.itemsize // 4 > 16 or bool(np.strings.find(text, "E").max(initial=-1) >= 0):
        return None
    dot = np.strings.find(text, ".")
    places = np.where(dot >= 0, np.strings.str_len(text) - dot - 1, 0)
    top = int(places.max(initial=0))
    longest = int(np.strings.str_len(text).max(initial=0))
    if top > _MAX_PLACES or longest + top > 18:  # below 10^18 once scaled: fits int64
        return None
    digits = np.strings.replace(text, ".", "").astype(np.int64)
    a = digits * 10 ** (top - places)
    return a, 10**top, int(np.abs(a).max(initial=0))


def _ratio(keys: list[str], groups: np.ndarray, params: Sequence[tuple]
           ) -> tuple[list[Decimal], np.ndarray] | None:
    """rules.build_ratio over a column: w × cap at or above cap × target, 0 at or below 0,
    else w × a / t; then / s and rounded to the cent half away from zero."""
    scaled = _scaled(keys)
    if scaled is None:
        return None
    a, unit, largest = scaled
    n_groups = len(params)
    threshold = np.zeros(n_groups, dtype=np.int64)
    numerator = np.zeros(n_groups, dtype=np.int64)
    denominator = np.ones(n_groups, dtype=np.int64)
    capped = np.zeros(n_groups, dtype=np.int64)
    used = np.unique(groups).tolist()
    for g in used:
        (_, _, w_run, divisor), scorer = params[g]
        if type(w_run) is not Decimal:
            return None
        # cents = 100 × w / s × a / t, half away from zero (digits > 0 here)
        found = _ratio_group(scorer, unit, largest, *_factor(w_run, divisor))
        if found is None:
            return None
        threshold[g], numerator[g], denominator[g] = found
        # the capped line exactly as the rule computes it
        capped[g] = _cents_of(w_run * scorer.kernel[1][1], divisor)
    q = denominator[groups]
    cents = (2 * a * numerator[groups] + q) // (2 * q)
    at_cap = a >= threshold[groups]
    cents = np.where(at_cap, capped[groups], np.where(a <= 0, 0, cents))
    return decimals_of_cents(cents), cents


def _ratio_group(scorer: Scorer, unit: int, largest: int, scale_n: int, scale_d: int
                 ) -> tuple[int, int, int] | None:
    """One group of a ratio column (a = digits / unit, |digits| <= largest), for _ratio and
    ratio_texts: the digits at or above which a line is capped (a >= cap × t), and top,
    bottom such that digits × top / bottom = scale × a / t (scale = scale_n / scale_d);
    None without the rule's parameters or when a product might not fit int64."""
    if scorer.kernel is None or scorer.kernel[0] != "ratio":
        return None
    t, cap = scorer.kernel[1]
    if t <= 0:
        return None
    (cn, cd), (tn, td) = cap.as_integer_ratio(), t.as_integer_ratio()
    limit = -((-cn * tn * unit) // (cd * td))  # ceil(cap × t × unit)
    top, bottom = scale_n * td, scale_d * tn * unit
    common = gcd(top, bottom)
    top, bottom = top // common, bottom // common
    if largest * top * 2 + bottom >= _LIMIT or abs(limit) >= _LIMIT:
        return None
    return limit, top, bottom


def decimals_of_cents(cents: np.ndarray) -> list[Decimal]:
    """Each figure in cents as the Decimal quantize gives (exponent -2, 0 as 0.00), made
    once per distinct figure (points repeat: a few thousand distinct in a month)."""
    if not len(cents):
        return []
    distinct, where = np.unique(cents, return_inverse=True)
    made = _objects_of([Decimal(c).scaleb(-2) for c in distinct.tolist()])
    return made[where].tolist()


def ratio_texts(keys: list[str], groups: np.ndarray, params: Sequence[tuple],
                cents: np.ndarray) -> np.ndarray | None:
    """The explanations of a ratio column's lines with actual > 0 (None for the others,
    which the rule words itself), or None when the column does not fit int64: the rule's
    words (Scorer.words), pct_of(a, t) worked in scaled integers exactly as Decimal
    quantizes it, "× weight", " = " and the line's points (`cents`)."""
    scaled = _scaled(keys)
    if scaled is None:
        return None
    a, unit, largest = scaled
    n_groups = len(params)
    numerator = np.zeros(n_groups, dtype=np.int64)
    denominator = np.ones(n_groups, dtype=np.int64)
    threshold = np.zeros(n_groups, dtype=np.int64)
    heads, plain_tails, capped_tails = [""] * n_groups, [""] * n_groups, [""] * n_groups
    for g in np.unique(groups).tolist():
        (_, w_text, _, _), scorer = params[g]
        words = scorer.words
        # the percentage in hundredths: 10,000 × a / t
        found = _ratio_group(scorer, unit, largest, 10_000, 1)
        if words is None or found is None:
            return None
        threshold[g], numerator[g], denominator[g] = found
        heads[g] = words["before"]
        plain_tails[g] = f"%{words['after']} × {w_text} = "
        capped_tails[g] = f"%{words['after']}{words['capped']} × {w_text} = "
    q = denominator[groups]
    hundredths = (2 * a * numerator[groups] + q) // (2 * q)
    at_cap = a >= threshold[groups]
    # f-strings beat numpy's string ufuncs here (texts of ~80 characters); the whole and
    # hundredth parts split by numpy (floor division, as Python's), the hundredths looked up
    h_whole, h_part = np.divmod(hundredths, 100)
    c_whole, c_part = np.divmod(cents, 100)
    two = _TWO_DIGITS
    out: list[str | None] = []
    append = out.append
    for hw, hp, cw, cp, g, top, positive in zip(
            h_whole.tolist(), h_part.tolist(), c_whole.tolist(), c_part.tolist(),
            groups.tolist(), at_cap.tolist(), (a > 0).tolist(), strict=True):
        if not positive:
            append(None)  # the rule's own words: a sign of zero, "not below 0"
            continue
        tail = capped_tails[g] if top else plain_tails[g]
        append(f"{heads[g]}{hw}.{two[hp]}{tail}{cw}.{two[cp]}")
    return np.array(out, dtype=object)


_TWO_DIGITS = [f"{i:02d}" for i in range(100)]  # 0 -> "00", 7 -> "07"


def formula_texts(values: Sequence, fields: Sequence, groups: np.ndarray,
                  params: Sequence[tuple], cents: np.ndarray) -> np.ndarray | None:
    """The explanations of a formula column's lines, or None when a group's cannot be made
    this way (the rule then words each line): per group, the rule's words over the column
    (Scorer.texts, one evaluation of the expression), " = " and the line's points
    (`cents`, never negative here: the formula's points are held at 0 or above)."""
    m = len(values)
    if not m or bool((cents < 0).any()):
        return None
    out = np.empty(m, dtype=object)
    for g, lines, group_values, group_fields in _formula_groups(values, fields, groups):
        (_, w_text, w_run, divisor), scorer = params[g]
        if scorer.texts is None or divisor is not None:
            return None
        try:
            words = scorer.texts(group_values, group_fields, w_run, w_text)
        except (ValueError, ArithmeticError):
            return None
        if words is None:
            return None
        whole, part = np.divmod(cents if lines is None else cents[lines], 100)
        two = _TWO_DIGITS
        made = _objects_of([f"{text} = {cw}.{two[cp]}" for text, cw, cp in zip(
            words, whole.tolist(), part.tolist(), strict=True)])
        if lines is None:
            out = made
        else:
            out[lines] = made
    return out


# -- the other rules of one number: scaled-integer kernels ------------------------------------
# Each works like `_ratio`: the values as integers A at a common number of places P (a =
# A / 10^P), the rule's parameters at the same places (exact, or the column declines), each
# comparison of the rule made exactly in integers, and the points between the bounds as the
# exact rational 100 × w / s × (a linear expression in A) / (a constant), rounded half away
# from zero; the points at a bound (full, capped) come from the Decimals themselves, once per
# group. The same argument as _ratio's makes it the figure the rule's Decimals round to: the
# points are small (at most w × cap / s) and the denominators below 2^62.

_KERNELS = frozenset({"reverse_ratio", "linear", "reverse_linear", "band"})
_MAX_PARAM_DIGITS = 9  # with values of at most 18 digits, the rule's products stay exact
# full or capped points of a kernel line, in cents: a 28-digit Decimal's error on points this
# small (a few 1e-20 cents) stays below the least distance 1 / 2^63 from a half-cent
_MAX_CENTS = 10**7


def _places(d: Decimal) -> int | None:
    """The decimal places `d` is written with (0 for a whole number), or None when it has
    too many digits for a kernel (or is not finite)."""
    if not d.is_finite():
        return None
    sign, digits, exponent = d.as_tuple()
    if len(digits) > _MAX_PARAM_DIGITS or int(exponent) < -_MAX_PLACES:
        return None
    return max(0, -int(exponent))


def _cents_of(raw: Decimal, divisor: Decimal | None) -> int:
    """A line's points at a bound, as the per-line path makes them: / s, then quantize."""
    if divisor is not None:
        raw = raw / divisor
    return int(raw.quantize(CENT, ROUND_HALF_UP).scaleb(2))


def _scaled_rule(rule: str, keys: list[str], groups: np.ndarray, params: Sequence[tuple]
                 ) -> tuple[list[Decimal], np.ndarray] | None:
    """The points of a reverse_ratio, linear, reverse_linear or band column, or None when a
    value or parameter does not fit (the rule then runs once per distinct value)."""
    scaled = _scaled(keys)
    if scaled is None:
        return None
    a, unit, largest = scaled
    top = len(str(unit)) - 1
    used = np.unique(groups).tolist()
    places = top
    for g in used:
        (_, _, w_run, _), scorer = params[g]
        kernel = scorer.kernel
        if kernel is None or kernel[0] != rule or type(w_run) is not Decimal:
            return None
        for p in kernel[1]:
            found = _places(p)
            if found is None:
                return None
            places = max(places, found)
    if places > top:
        a = a * 10 ** (places - top)
        largest *= 10 ** (places - top)
        if largest >= 10**18:
            return None
    cents = np.zeros(len(keys), dtype=np.int64)
    single = len(used) == 1
    for g in used:
        (_, _, w_run, divisor), scorer = params[g]
        lines = None if single else np.flatnonzero(groups == g)
        x = a if lines is None else a[lines]
        made = _KERNEL_OF[rule](x, largest, places, scorer.kernel[1], w_run, divisor)
        if made is None:
            return None
        if lines is None:
            cents = made
        else:
            cents[lines] = made
    return decimals_of_cents(cents), cents


def _factor(w_run: Decimal, divisor: Decimal | None) -> tuple[int, int]:
    """100 × w / s as numerator, denominator (cents per unit of the rule's share)."""
    (wn, wd) = w_run.as_integer_ratio()
    sn, sd = divisor.as_integer_ratio() if divisor is not None else (1, 1)
    return 100 * wn * sd, wd * sn


def _between(x_part: np.ndarray, bound: int, top: int, bottom: int) -> np.ndarray | None:
    """round(x_part × top / bottom) half away from zero, x_part >= 0 on the lines that use
    it and at most `bound`; None when it might not fit int64."""
    common = gcd(top, bottom)
    top, bottom = top // common, bottom // common
    if bound * top * 2 + bottom >= _LIMIT:
        return None
    return (2 * x_part * top + bottom) // (2 * bottom)


def _integer(p: Decimal, places: int) -> int:
    return int(p.scaleb(places))


def _reverse_ratio(x: np.ndarray, largest: int, places: int, kernel: tuple, w_run: Decimal,
                   divisor: Decimal | None) -> np.ndarray | None:
    """build_reverse_ratio: a < 0 is refused; w × cap at a = 0 or t >= cap × a; else
    w × t / a."""
    t, cap = kernel
    if t < 0 or bool((x < 0).any()):
        return None  # the rule refuses a negative actual: the per-line path says so
    capped = _cents_of(w_run * cap, divisor)
    (cn, cd), tt = cap.as_integer_ratio(), _integer(t, places)
    if abs(capped) >= _MAX_CENTS or cn * largest >= _LIMIT or tt * cd >= _LIMIT:
        return None
    at_cap = (x == 0) | (tt * cd >= cn * x)
    # cents = 100 w / s × t / a = top / (bottom × A)
    top, bottom = _factor(w_run, divisor)
    top *= tt
    common = gcd(top, bottom)
    top, bottom = top // common, bottom // common
    if 2 * top + bottom * largest >= _LIMIT:
        return None
    q = bottom * np.where(at_cap, 1, x)
    return np.where(at_cap, capped, (2 * top + q) // (2 * q))


def _linear(x: np.ndarray, largest: int, places: int, kernel: tuple, w_run: Decimal,
            divisor: Decimal | None) -> np.ndarray | None:
    """build_linear: 0 at a <= floor; w × cap at a - floor >= cap × (target - floor); else
    w × (a - floor) / (target - floor)."""
    f, t, cap = kernel
    ff, tt = _integer(f, places), _integer(t, places)
    span = tt - ff
    capped = _cents_of(w_run * cap, divisor)
    (cn, cd) = cap.as_integer_ratio()
    bound = largest + abs(ff)
    if (span <= 0 or abs(capped) >= _MAX_CENTS or bound * cd >= _LIMIT
            or cn * span >= _LIMIT):
        return None
    above = x - ff
    top, bottom = _factor(w_run, divisor)
    between = _between(np.maximum(above, 0), bound, top, bottom * span)
    if between is None:
        return None
    return np.where(x <= ff, 0, np.where(above * cd >= cn * span, capped, between))


def _reverse_linear(x: np.ndarray, largest: int, places: int, kernel: tuple,
                    w_run: Decimal, divisor: Decimal | None) -> np.ndarray | None:
    """build_reverse_linear: w at a <= target; 0 at a >= floor; else
    w × (floor - a) / (floor - target)."""
    t, f = kernel
    tt, ff = _integer(t, places), _integer(f, places)
    span = ff - tt
    full = _cents_of(w_run, divisor)
    bound = largest + abs(ff)
    if span <= 0 or abs(full) >= _MAX_CENTS:
        return None
    top, bottom = _factor(w_run, divisor)
    between = _between(np.maximum(ff - x, 0), bound, top, bottom * span)
    if between is None:
        return None
    return np.where(x <= tt, full, np.where(x >= ff, 0, between))


def _band(x: np.ndarray, largest: int, places: int, kernel: tuple, w_run: Decimal,
          divisor: Decimal | None) -> np.ndarray | None:
    """build_band: d = |a - target|; w at d <= tolerance; 0 at d >= zero_at; else
    w × (zero_at - d) / (zero_at - tolerance)."""
    t, tol, zero_at = kernel
    tt, within, zero = (_integer(p, places) for p in kernel)
    span = zero - within
    full = _cents_of(w_run, divisor)
    bound = largest + abs(tt) + abs(zero)
    if span <= 0 or abs(full) >= _MAX_CENTS or bound >= _LIMIT:
        return None
    d = np.abs(x - tt)
    top, bottom = _factor(w_run, divisor)
    between = _between(np.maximum(zero - d, 0), bound, top, bottom * span)
    if between is None:
        return None
    return np.where(d <= within, full, np.where(d >= zero, 0, between))


_KERNEL_OF = {"reverse_ratio": _reverse_ratio, "linear": _linear,
              "reverse_linear": _reverse_linear, "band": _band}


# -- formula: the expression over the column ----------------------------------------------------

def _formula_groups(values: Sequence, fields: Sequence, groups: np.ndarray
                    ) -> Iterator[tuple[int, np.ndarray | None, list, list]]:
    """(group, its lines or None for all, their values, their fields) per group of a
    formula column: what the points and the texts each evaluate the expression over."""
    used = np.unique(groups).tolist()
    if len(used) == 1:
        yield used[0], None, list(values), list(fields)
        return
    for g in used:
        lines = np.flatnonzero(groups == g)
        yield (g, lines, [values[i] for i in lines.tolist()],
               [fields[i] for i in lines.tolist()])


def _formula(values: Sequence, fields: Sequence, groups: np.ndarray, params: Sequence[tuple]
             ) -> tuple[list[Decimal], np.ndarray] | None:
    """A formula column's points by Scorer.columns, one evaluation per group; None when a
    group cannot (the lines are then worked one by one)."""
    if not len(values):
        return None
    cents = np.zeros(len(values), dtype=np.int64)
    for g, lines, group_values, group_fields in _formula_groups(values, fields, groups):
        (_, _, w_run, divisor), scorer = params[g]
        if scorer.columns is None or divisor is not None:
            return None
        found = scorer.columns(group_values, group_fields, w_run)
        if found is None:
            return None
        n, d = found
        if bool((n < 0).any()):
            return None
        # n / d rounded to the cent half away from zero, as decimal_of_ratio then quantize
        made = (200 * n + d) // (2 * d)
        if bool((made >= 10**15).any()):  # then the per-line path, whatever it makes
            return None
        made = made.astype(np.int64)
        if lines is None:
            cents = made
        else:
            cents[lines] = made
    return decimals_of_cents(cents), cents
