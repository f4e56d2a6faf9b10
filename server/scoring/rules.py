"""The scoring rules: what each rule type computes, its parameters and their checks.

A rule is compiled once per indicator (and once per personal-target override) into a `Scorer`
whose `run(value, weight, weight_text, fields)` returns the unrounded points and the words of
the explanation. Everything that does not depend on the employee (cap × target, sorted step
tables, label maps, text of constants) is worked out at compile time, so scoring 100,000 lines
costs a few Decimal operations and one f-string each.

Numbers: multiply before dividing (w * a / t, not w * (a / t)) so an exact x.xx5 stays exact
and rounds up the way Excel's ROUND does: a Decimal quotient is exact whenever the exact value
is a terminating decimal that fits in 28 digits, which every half-cent is. Rules other than
`formula` are linear in the weight (`Scorer.linear`), so a re-normalised weight w × 100 / s is
never materialised: the engine passes w × 100 and divides the rule's result by s last (see
engine._effective_weights). `formula` evaluates in exact fractions.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from itertools import repeat

import numpy as np

from server.scoring.formula import Formula, compile_formula
from server.scoring.messages import Message, MessageError, about, message, seq, why_of
from server.scoring.model import Indicator, IndicatorKind
from server.scoring.numbers import decimal_of_ratio, fmt_short, parse_number, to_decimal

ZERO = Decimal(0)
CENT = Decimal("0.01")
ONE = Decimal(1)
HUNDRED = Decimal(100)

# fields: the further fact fields of (employee, indicator) for formula rules, else None
RunFunction = Callable[[object, Decimal, str, Mapping[str, object] | None], tuple[Decimal, str]]
PointsFunction = Callable[[object, Decimal | Fraction, Mapping[str, object] | None], Decimal]
# (values, fields, weights) of a column -> the exact points as (numerators, denominators)
# object arrays, or None when the column is not for it
ColumnsFunction = Callable[[list, list, list], tuple | None]


@dataclass(frozen=True, slots=True)
class Scorer:
    """One rule compiled for one parameter set (an indicator, or a personal target)."""

    run: RunFunction
    max_share: Decimal  # weighted: largest points as a multiple of the weight
    item_cap: Decimal | None  # bonus/penalty: largest points (absolute)
    needs: frozenset[str]  # fact fields read ("actual", or a formula's inputs)
    target: Decimal | None  # shown in the scores table
    # True: points are proportional to the weight (run(v, k·w) = k·run(v, w)), so the engine
    # may pass w × 100 and divide by the re-normalising sum last. False (formula): run takes
    # the effective weight itself, as an exact Fraction when it is re-normalised.
    linear: bool = True
    # points(value, weight, fields): run's figure alone, for the engine's column path, which
    # makes the words only when a line is shown; None: take run's
    points: PointsFunction | None = None
    # the fixed words of the explanation, for a column kernel that writes them itself
    # (kernels.ratio_texts); None: run writes every line's
    words: Mapping[str, str] | None = None
    # (rule, its parameters) for kernels.py's scaled-integer kernel of that rule; None: the
    # column path runs the rule once per distinct value
    kernel: tuple[str, tuple[Decimal, ...]] | None = None
    # a formula's exact points over a whole column (formula.Formula.evaluate_columns);
    # None: points line by line
    columns: ColumnsFunction | None = None
    # a formula's explanations over a whole column at one weight, (values, fields, weight,
    # its text) -> the words of each line as run writes them, or None; None: line by line
    texts: Callable[[list, list, Decimal | Fraction, str], list[str] | None] | None = None


@dataclass(frozen=True, slots=True)
class RuleContext:
    """What a rule needs to know about its indicator besides the parameters."""

    weight: Decimal  # nominal weight (before re-normalisation)
    kind: IndicatorKind
    unit: str = ""
    lang: str = "en"

    @property
    def zh(self) -> bool:
        return self.lang == "zh"


@dataclass(frozen=True, slots=True)
class RuleSpec:
    name: str
    required: tuple[str, ...]
    optional: Mapping[str, object]  # name -> default (None: no default, may be left out)
    kinds: frozenset[IndicatorKind]
    value: str  # what `actual` is: "number", "count", "label", "stars", "fields"
    en: str
    zh: str
    build: Callable[[Mapping[str, object], RuleContext], Scorer]
    check: Callable[[Mapping[str, object]], list[tuple[str, Message]]] = field(
        default=lambda p: [])

    @property
    def params(self) -> tuple[str, ...]:
        return (*self.required, *self.optional)

    def compute(self, params: Mapping[str, object], actual: object, weight: Decimal,
                kind: IndicatorKind = IndicatorKind.QUANTITATIVE,
                lang: str = "en") -> tuple[Decimal, str]:
        """Score one value outside the engine (previews, docs): unrounded points and text."""
        scorer = self.build(with_defaults(self, params), RuleContext(weight, kind, "", lang))
        return scorer.run(actual, weight, fmt_short(weight), None)


# ---------------------------------------------------------------------------------------------
# values and texts


def number_value(value: object) -> Decimal:
    """The numeric value of a fact; raises ValueError("'abc' is not a number")."""
    if type(value) is Decimal and value.is_finite():
        return value
    return parse_number(value) if isinstance(value, str) else to_decimal(value)


def count_value(value: object) -> Decimal:
    n = number_value(value)
    if n < 0:
        raise MessageError("value.count_negative", n=fmt_short(n))
    if n != n.to_integral_value():
        raise MessageError("value.count_whole", n=fmt_short(n))
    return n


def fold_label(label: object) -> str:
    return unicodedata.normalize("NFKC", str(label)).strip().casefold()


def pct(x: Decimal) -> str:
    """0.8 -> "80.00%". Inline quantize: this runs for most lines."""
    # !s: Decimal.__format__ is ~6x slower than str(); positional rounding skips kwargs parsing
    return f"{(x * HUNDRED).quantize(CENT, ROUND_HALF_UP)!s}%"


def pct_of(numerator: Decimal, denominator: Decimal) -> str:
    """numerator / denominator as a percentage with 2 decimals, dividing once."""
    return f"{(numerator * HUNDRED / denominator).quantize(CENT, ROUND_HALF_UP)!s}%"


def num_text(x: Decimal) -> str:
    """A value as typed (80, 0.02, 12.5); long or exponent forms cut to 4 decimals."""
    text = str(x)
    if len(text) > 12 or "E" in text:
        return fmt_short(x)
    return text


_TEXT_LIMIT = 10**20  # below this a ratio's text is worked in integers (ratio_text)
_SHORT_PLACES = 10**10  # a text of at most 12 characters has at most 10 places
_CUT = 10**4  # fmt_short's 4 places


def ratio_text(n: int, d: int) -> str:
    """num_text(decimal_of_ratio(n, d)) for d > 0, worked in integers: the formula rule's
    value, written once per shown line. decimal_of_ratio is exact when n / d has at most 24
    places (trailing zeros dropped) and is then written as it is unless that is longer than
    12 characters (so more than 10 places) or in exponent form; otherwise num_text cuts it
    to 4 places (fmt_short), which its sticky 25th digit rounds exactly as n / d."""
    size = abs(n)
    if size >= _TEXT_LIMIT * d:  # beyond what is tested here: the Decimals themselves
        return num_text(decimal_of_ratio(n, d))
    sign = "-" if n < 0 else ""
    whole, rest = divmod(size * _SHORT_PLACES, d)
    if not rest:  # at most 10 places: as decimal_of_ratio writes it, if num_text keeps that
        head, tail = divmod(whole, _SHORT_PLACES)
        if not tail:
            text = f"{sign}{head}"
            if len(text) <= 12:
                return text
        else:
            digits = f"{tail:010d}".rstrip("0")
            # str() of a Decimal below 1E-6 takes the exponent form: fmt_short below
            if len(digits) - len(digits.lstrip("0")) < 6 or head:
                text = f"{sign}{head}.{digits}"
                if len(text) <= 12:
                    return text
    # fmt_short: half away from zero at 4 places, trailing zeros dropped, never "-0"
    q = (2 * size * _CUT + d) // (2 * d)
    if not q:
        return "0"
    head, tail = divmod(q, _CUT)
    digits = f"{tail:04d}".rstrip("0")
    return f"{sign}{head}.{digits}" if digits else f"{sign}{head}"


def share_text(x: Decimal) -> str:
    """A parameter share: 1.2 -> "120%"."""
    return fmt_short(x * HUNDRED, 2) + "%"


def _strip_zeros(text: str) -> str:
    # 0.02 × 100 is "2.00" in Decimal; people wrote 2%
    return text.rstrip("0").rstrip(".") if "." in text else text


def value_formatter(unit: str) -> Callable[[Decimal], str]:
    """How an actual/target is shown: 0.02 with unit "%" -> "2%", 12 with unit "件" -> "12件"."""
    if unit.strip() == "%":
        return lambda x: _strip_zeros(num_text(x * HUNDRED)) + "%"
    suffix = unit.strip()
    return lambda x: num_text(x) + suffix


T = {
    "en": {
        "of_target": "of target", "capped": "capped at", "not_below": "not below 0",
        "full": "full", "actual": "actual", "target": "target", "zero": "0",
        "within": "within", "beyond": "beyond", "below_steps": "below the lowest step",
        "step": "step", "ratio": "ratio", "rating": "rating", "stars": "stars",
        "items": "items", "given": "points given", "rescaled": "re-scaled to weight",
        "floor": "floor", "at_least": "at least", "sep": ", ",
        "of_target_before": "", "of_target_after": " of target",
    },
    "zh": {
        "of_target": "完成率", "capped": "封顶", "not_below": "不低于 0",
        "full": "满分", "actual": "实际", "target": "目标", "zero": "0",
        "within": "在允许偏差内", "beyond": "超出", "below_steps": "低于最低档",
        "step": "档位", "ratio": "完成率", "rating": "评级", "stars": "星",
        "items": "项", "given": "直接评分", "rescaled": "按权重折算",
        "floor": "底线", "at_least": "不低于", "sep": "，",
        "of_target_before": "完成率 ", "of_target_after": "",
    },
}


def words(ctx: RuleContext) -> dict[str, str]:
    return T["zh" if ctx.zh else "en"]


# ---------------------------------------------------------------------------------------------
# parameter access


def num_param(params: Mapping[str, object], key: str) -> Decimal:
    return number_value(params[key])


def opt_param(params: Mapping[str, object], key: str) -> Decimal | None:
    value = params.get(key)
    return None if value is None else number_value(value)


def table_param(params: Mapping[str, object], key: str) -> tuple[tuple[str, Decimal], ...]:
    value = params[key]
    if isinstance(value, str):  # a table given as text (e.g. built in code): parse it
        from server.scoring.params import parse_table

        value = parse_table(key, value)
    if not isinstance(value, tuple | list) or not all(
        isinstance(item, tuple | list) and len(item) == 2 for item in value
    ):
        raise MessageError("table.shape", key=key)
    return tuple((str(k).strip(), number_value(v)) for k, v in value)


def with_defaults(spec: RuleSpec, params: Mapping[str, object]) -> dict[str, object]:
    merged = {k: v for k, v in spec.optional.items() if v is not None}
    merged.update(params)
    return merged


# ---------------------------------------------------------------------------------------------
# the rules


def build_ratio(params: Mapping[str, object], ctx: RuleContext) -> Scorer:
    t, cap = num_param(params, "target"), num_param(params, "cap")
    cap_t, cap_text, W = cap * t, share_text(cap), words(ctx)  # noqa: N806
    # "80.00% of target" / "完成率 80.00%": fixed words around the figure, chosen once
    before, after = W["of_target_before"], W["of_target_after"]
    capped = f"{W['sep']}{W['capped']} {cap_text}"
    not_below = f"{W['sep']}{W['not_below']}"

    def run(v, w, wt, fields):
        a = number_value(v)
        if a >= cap_t:  # a / t >= cap, without dividing
            return w * cap, f"{before}{pct_of(a, t)}{after}{capped} × {wt}"
        if a <= 0:
            return ZERO, f"{before}{pct_of(a, t)}{after}{not_below} × {wt}"
        return w * a / t, f"{before}{pct_of(a, t)}{after} × {wt}"

    return Scorer(run, cap, None, frozenset({"actual"}), t,
                  words={"before": before, "after": after, "capped": capped},
                  kernel=("ratio", (t, cap)))


def build_reverse_ratio(params: Mapping[str, object], ctx: RuleContext) -> Scorer:
    t, cap = num_param(params, "target"), num_param(params, "cap")
    show, W = value_formatter(ctx.unit), words(ctx)  # noqa: N806
    cap_text, t_text = share_text(cap), show(t)

    def run(v, w, wt, fields):
        a = number_value(v)
        if a < 0:
            raise MessageError("value.reverse_negative", value=show(a))
        if a == 0 or t >= cap * a:  # t / a >= cap
            head = f"{W['target']} {t_text} / {W['actual']} {show(a)}"
            if a == 0:
                return w * cap, f"{head}: {W['full']} {cap_text} × {wt}"
            return w * cap, f"{head} = {pct(t / a)}{W['sep']}{W['capped']} {cap_text} × {wt}"
        head = f"{W['target']} {t_text} / {W['actual']} {show(a)} = {pct_of(t, a)}"
        return w * t / a, f"{head} × {wt}"

    return Scorer(run, cap, None, frozenset({"actual"}), t,
                  kernel=("reverse_ratio", (t, cap)))


def build_reverse_linear(params: Mapping[str, object], ctx: RuleContext) -> Scorer:
    t, f = num_param(params, "target"), num_param(params, "floor")
    span, show, W = f - t, value_formatter(ctx.unit), words(ctx)  # noqa: N806
    t_text, f_text = show(t), show(f)

    def run(v, w, wt, fields):
        a = number_value(v)
        if a <= t:
            return w, f"{W['actual']} {show(a)} ≤ {W['target']} {t_text}: {W['full']} × {wt}"
        if a >= f:
            return ZERO, f"{W['actual']} {show(a)} ≥ {W['floor']} {f_text}: 0 × {wt}"
        share = pct_of(f - a, span)
        head = f"({f_text} − {show(a)}) / ({f_text} − {t_text})"
        return w * (f - a) / span, f"{head} = {share} × {wt}"

    return Scorer(run, ONE, None, frozenset({"actual"}), t,
                  kernel=("reverse_linear", (t, f)))


def build_linear(params: Mapping[str, object], ctx: RuleContext) -> Scorer:
    f, t, cap = num_param(params, "floor"), num_param(params, "target"), num_param(params, "cap")
    span, show, W = t - f, value_formatter(ctx.unit), words(ctx)  # noqa: N806
    cap_span, t_text, f_text, cap_text = cap * (t - f), show(t), show(f), share_text(cap)

    def run(v, w, wt, fields):
        a = number_value(v)
        a_text = show(a)
        if a <= f:
            return ZERO, f"{W['actual']} {a_text} ≤ {W['floor']} {f_text}: 0 × {wt}"
        head = f"({a_text} − {f_text}) / ({t_text} − {f_text})"
        if a - f >= cap_span:
            capped = f"{W['sep']}{W['capped']} {cap_text}"
            return w * cap, f"{head} = {pct((a - f) / span)}{capped} × {wt}"
        return w * (a - f) / span, f"{head} = {pct_of(a - f, span)} × {wt}"

    return Scorer(run, cap, None, frozenset({"actual"}), t, kernel=("linear", (f, t, cap)))


def build_band(params: Mapping[str, object], ctx: RuleContext) -> Scorer:
    t, tol, zero_at = (num_param(params, k) for k in ("target", "tolerance", "zero_at"))
    span, show, W = zero_at - tol, value_formatter(ctx.unit), words(ctx)  # noqa: N806
    t_text, tol_text, zero_text = show(t), show(tol), show(zero_at)

    def run(v, w, wt, fields):
        a = number_value(v)
        d = abs(a - t)
        d_text = show(d)
        head = f"|{show(a)} − {t_text}| = {d_text}"
        if d <= tol:
            return w, f"{head} ≤ {tol_text}: {W['full']} × {wt}"
        if d >= zero_at:
            return ZERO, f"{head} ≥ {zero_text}: 0 × {wt}"
        share = pct_of(zero_at - d, span)
        return w * (zero_at - d) / span, f"{head}: ({zero_text} − {d_text}) / ({zero_text} − {tol_text}) = {share} × {wt}"  # noqa: E501

    return Scorer(run, ONE, None, frozenset({"actual"}), t,
                  kernel=("band", (t, tol, zero_at)))


def step_table(params: Mapping[str, object]) -> list[tuple[Decimal, str, Decimal]]:
    """(threshold, its text, percent of weight), highest threshold first."""
    rows = [(parse_number(k), k, v) for k, v in table_param(params, "steps")]
    return sorted(rows, key=lambda row: row[0], reverse=True)


def build_steps(params: Mapping[str, object], ctx: RuleContext) -> Scorer:
    of_ratio = str(params.get("of", "ratio")).strip().lower() == "ratio"
    t = opt_param(params, "target")
    show, W = value_formatter(ctx.unit), words(ctx)  # noqa: N806
    rows = step_table(params)
    # Compare a >= threshold * t instead of a / t >= threshold: exact, and no division per line.
    cut_points = [(thr * t if of_ratio else thr, text, share) for thr, text, share in rows]
    lowest = rows[-1][1]
    share_texts = {share: fmt_short(share) for _, _, share in rows}
    label = W["ratio"] if of_ratio else W["actual"]

    def run(v, w, wt, fields):
        a = number_value(v)
        shown = pct(a / t) if of_ratio else show(a)
        for cut, text, share in cut_points:
            if a >= cut:
                return w * share / HUNDRED, f"{label} {shown} ≥ {W['step']} {text} → {share_texts[share]}% × {wt}"  # noqa: E501
        return ZERO, f"{label} {shown} {W['below_steps']} {lowest}: 0 × {wt}"

    top = max(share for _, _, share in rows)
    return Scorer(run, max(top, ZERO) / HUNDRED, None, frozenset({"actual"}), t)


def build_deduction(params: Mapping[str, object], ctx: RuleContext) -> Scorer:
    per, least = num_param(params, "per"), num_param(params, "min_points")
    wn, W = ctx.weight, words(ctx)  # noqa: N806
    per_text, wn_text, least_text = fmt_short(per), fmt_short(wn), fmt_short(least)

    def run(v, w, wt, fields):
        n = count_value(v)
        points = wn - per * n
        text = f"{wn_text} − {per_text} × {num_text(n)}"
        if points < least:
            points, text = least, f"{text}{W['sep']}{W['at_least']} {least_text}"
        if w != wn:  # weight re-normalised: keep the same share of the weight
            return points * w / wn, f"{text}; {W['rescaled']} {wt}"
        return points, text

    return Scorer(run, ONE, None, frozenset({"actual"}), None)


DEFAULT_SCALE = (("A", Decimal(100)), ("B", Decimal(85)), ("C", Decimal(70)), ("D", Decimal(50)))
DEFAULT_STARS = tuple((str(n), Decimal(n * 20)) for n in range(1, 6))


def build_rating(params: Mapping[str, object], ctx: RuleContext) -> Scorer:
    scale = table_param(params, "scale")
    shares = {fold_label(k): (k, v) for k, v in scale}
    allowed = seq(k for k, _ in scale)
    rating = words(ctx)["rating"]
    share_texts = {share: fmt_short(share) for _, share in scale}

    def run(v, w, wt, fields):
        found = shares.get(fold_label(v))
        if found is None:
            raise MessageError("value.rating_off_scale", label=str(v).strip(), allowed=allowed)
        label, share = found
        return w * share / HUNDRED, f"{rating} {label} = {share_texts[share]}% × {wt}"

    top = max(v for _, v in scale)
    return Scorer(run, top / HUNDRED, None, frozenset({"actual"}), None)


def star_count(value: object) -> Decimal:
    if isinstance(value, str) and value.strip() and set(value.strip()) <= {"★", "☆"}:
        return Decimal(value.count("★"))  # "★★★☆☆" -> 3
    return number_value(value)


def build_stars(params: Mapping[str, object], ctx: RuleContext) -> Scorer:
    scale = table_param(params, "scale") if "scale" in params else DEFAULT_STARS
    shares = {parse_number(k): v for k, v in scale}
    allowed = seq(k for k, _ in scale)
    stars = words(ctx)["stars"]
    share_texts = {share: fmt_short(share) for _, share in scale}

    def run(v, w, wt, fields):
        n = star_count(v)
        share = shares.get(n)
        if share is None:
            raise MessageError("value.stars_off_scale", n=fmt_short(n), allowed=allowed)
        return w * share / HUNDRED, f"{num_text(n)} {stars} = {share_texts[share]}% × {wt}"

    top = max(v for _, v in scale)
    return Scorer(run, top / HUNDRED, None, frozenset({"actual"}), None)


def build_per_item(params: Mapping[str, object], ctx: RuleContext) -> Scorer:
    per, cap = num_param(params, "per"), num_param(params, "cap")
    sign = -1 if ctx.kind is IndicatorKind.PENALTY else 1
    W, per_text, cap_text = words(ctx), fmt_short(per), fmt_short(cap)  # noqa: N806
    minus = "−" if sign < 0 else "+"

    def run(v, w, wt, fields):
        n = count_value(v)
        points = per * n
        text = f"{minus}{num_text(n)} {W['items']} × {per_text}"
        if points > cap:
            points, text = cap, f"{text}{W['sep']}{W['capped']} {cap_text}"
        return points * sign, text

    return Scorer(run, ZERO, cap, frozenset({"actual"}), None)


def build_points(params: Mapping[str, object], ctx: RuleContext) -> Scorer:
    wn, W = ctx.weight, words(ctx)  # noqa: N806
    weighted = ctx.kind in (IndicatorKind.QUANTITATIVE, IndicatorKind.QUALITATIVE)
    cap = opt_param(params, "cap")
    top = cap if cap is not None else wn
    sign = -1 if ctx.kind is IndicatorKind.PENALTY else 1
    top_text = fmt_short(top)

    def run(v, w, wt, fields):
        a = number_value(v)
        text = f"{W['given']} {num_text(a)}"
        if a < 0:
            a, text = ZERO, f"{text}{W['sep']}{W['not_below']}"
        elif a > top:
            a, text = top, f"{text}{W['sep']}{W['capped']} {top_text}"
        if weighted and w != wn:
            return a * w / wn, f"{text}; {W['rescaled']} {wt}"
        return a * sign, text

    if weighted:
        return Scorer(run, top / wn if wn else ZERO, None, frozenset({"actual"}), None)
    return Scorer(run, ZERO, top, frozenset({"actual"}), None)


FORMULA_PARAM_NAMES = ("target", "floor", "cap", "weight")


def build_formula(params: Mapping[str, object], ctx: RuleContext) -> Scorer:
    formula: Formula = compile_formula(str(params["expr"]))
    cap = num_param(params, "cap")
    constants = {k: num_param(params, k) for k in ("target", "floor") if k in params}
    constants["cap"] = cap
    fact_names = formula.names - set(FORMULA_PARAM_NAMES)
    shown_names = sorted(formula.names - {"weight"})
    W, cap_text = words(ctx), share_text(cap)  # noqa: N806
    evaluate = formula.evaluate_ratio

    # The formula works on exact (numerator, denominator) pairs (formula.Ratio).
    exact_constants = {k: v.as_integer_ratio() for k, v in constants.items()}
    cap_n, cap_d = exact_constants["cap"]
    # Converting a Decimal costs more than looking it up, and the same figures recur from
    # line to line (the weight on every line, the same counts for many people): conversions
    # are kept for the scorer's life. Equal numbers (5 and 5.0) share one ratio; the shown
    # text still comes from each line's own Decimal.
    exact_of: dict[Decimal, tuple[int, int]] = {}
    # id(w) -> (w, its ratio, the ratio of w × cap): by identity, as hashing a Fraction
    # costs as much as converting one; the entry holds w, so its id cannot be reused while
    # it is there
    weight_of: dict[int, tuple] = {}
    # the text of each shown name, None for a fact (shown as each line gives it)
    shown_texts = [(n, None if n in fact_names or n not in constants else num_text(constants[n]))
                   for n in shown_names]

    def exact(v, w, fields):
        # w: the effective weight, a Decimal or (re-normalised) an exact Fraction. The
        # formula is evaluated exactly: (the facts as shown, the value n / d, weight × cap
        # as top_n / top_d).
        shown: dict[str, Decimal] = {}
        env = dict(exact_constants)
        for name in fact_names:
            shown[name] = value = number_value(fields[name] if fields else v)
            exact = exact_of.get(value)
            if exact is None:
                exact = exact_of[value] = value.as_integer_ratio()
            env[name] = exact
        found = weight_of.get(id(w))
        if found is None or found[0] is not w:
            wn, wd = (w.numerator, w.denominator) if type(w) is Fraction else w.as_integer_ratio()
            found = weight_of[id(w)] = (w, (wn, wd), (wn * cap_n, wd * cap_d))
        _, env["weight"], top = found
        n, d = evaluate(env)
        return shown, n, d, top

    def run(v, w, wt, fields):
        # The value handed back as a Decimal that rounds to the cent exactly like the exact
        # one (numbers.decimal_of).
        shown, n, d, (top_n, top_d) = exact(v, w, fields)
        values = ", ".join([f"{name}={num_text(shown[name]) if t is None else t}"
                            for name, t in shown_texts])
        raw_decimal = decimal_of_ratio(n, d)
        text = f"{formula.text} [{values}, weight={wt}] = {num_text(raw_decimal)}"
        if n < 0:  # below 0 (denominators are positive)
            return ZERO, f"{text}{W['sep']}{W['not_below']}"
        if n * top_d > top_n * d:  # above weight × cap
            return (decimal_of_ratio(top_n, top_d),
                    f"{text}{W['sep']}{W['capped']} {cap_text} × {wt}")
        return raw_decimal, text

    def points(v, w, fields):
        # run's figure without its words (the engine's column path makes those only when
        # a line is shown)
        _, n, d, (top_n, top_d) = exact(v, w, fields)
        if n < 0:
            return ZERO
        if n * top_d > top_n * d:
            return decimal_of_ratio(top_n, top_d)
        return decimal_of_ratio(n, d)

    def unclamped(values, fields, w, shown=None):
        # the formula's exact value over a column of lines at one weight, before it is held
        # within [0, weight × cap]: (numerators, denominators, top_n, top_d), or None; the
        # facts converted as `exact` converts them (into `shown`, name -> the line's
        # Decimals, when given), the formula evaluated over the column
        # (formula.Formula.evaluate_columns)
        size = len(values)
        env = {k: (np.full(size, n, dtype=object), np.full(size, d, dtype=object))
               for k, (n, d) in exact_constants.items()}
        for name in fact_names:
            ratios = []
            facts = [number_value(f[name] if f else v)
                     for v, f in zip(values, fields, strict=True)]
            for value in facts:
                exact = exact_of.get(value)
                if exact is None:
                    exact = exact_of[value] = value.as_integer_ratio()
                ratios.append(exact)
            if shown is not None:
                shown[name] = facts
            env[name] = (np.fromiter((r[0] for r in ratios), dtype=object, count=size),
                         np.fromiter((r[1] for r in ratios), dtype=object, count=size))
        wn, wd = (w.numerator, w.denominator) if type(w) is Fraction else w.as_integer_ratio()
        env["weight"] = (np.full(size, wn, dtype=object), np.full(size, wd, dtype=object))
        found = formula.evaluate_columns(env, size)
        if found is None:
            return None
        return found[0], found[1], wn * cap_n, wd * cap_d

    def texts(values, fields, w, wt):
        # run's words over a column of lines at one weight (the engine's column path, when
        # the lines are shown), or None when the column is not for it: the formula
        # evaluated once over the column, each line's words as run writes them
        shown: dict[str, list[Decimal]] = {}
        found = unclamped(values, fields, w, shown)
        if found is None:
            return None
        n_column, d_column, top_n, top_d = found
        if top_n < 0 or any(t is None and name not in shown for name, t in shown_texts):
            return None  # a negative cap's points, a name with no value: run words them
        size = len(values)
        # "name=value" of each shown name, a column each, joined line by line
        columns = [[f"{name}={x}" for x in map(num_text, shown[name])] if t is None
                   else repeat(f"{name}={t}", size) for name, t in shown_texts]
        values_texts = (list(map(", ".join, zip(*columns, strict=True))) if columns
                        else [""] * size)
        head, tail = f"{formula.text} [", f", weight={wt}] = "
        capped = f"{W['sep']}{W['capped']} {cap_text} × {wt}"
        below = f"{W['sep']}{W['not_below']}"
        out = []
        append = out.append
        for values_text, n, d in zip(values_texts, n_column.tolist(), d_column.tolist(),
                                     strict=True):
            text = f"{head}{values_text}{tail}{ratio_text(n, d)}"
            if n < 0:
                append(f"{text}{below}")
            elif n * top_d > top_n * d:
                append(f"{text}{capped}")
            else:
                append(text)
        return out

    def columns(values, fields, w):
        # points over a column of lines at one weight, as exact (numerators, denominators):
        # the formula's value (unclamped) held within [0, weight × cap]
        found = unclamped(values, fields, w)
        if found is None:
            return None
        n, d, top_n, top_d = found
        above = np.asarray(n * top_d > top_n * d, dtype=bool)
        below = np.asarray(n < 0, dtype=bool)
        if above.any():
            n, d = np.where(above, top_n, n), np.where(above, top_d, d)
        if below.any():
            n, d = np.where(below, 0, n), np.where(below, 1, d)
        return n, d

    return Scorer(run, cap, None, frozenset(fact_names), constants.get("target"), linear=False,
                  points=points, columns=columns, texts=texts)


# ---------------------------------------------------------------------------------------------
# checks: (column, message) pairs; column "params" unless the parameter has its own column

PARAM_COLUMNS = frozenset({"target", "floor", "cap"})


def column_of(param: str) -> str:
    return param if param in PARAM_COLUMNS else "params"


def _numbers(params: Mapping[str, object], *keys: str) -> tuple[dict[str, Decimal], list]:
    values, issues = {}, []
    for key in keys:
        if key not in params or params[key] is None:
            continue
        try:
            values[key] = number_value(params[key])
        except ValueError as exc:
            issues.append((column_of(key), about(key, why_of(exc))))
    return values, issues


def check_target_cap(params: Mapping[str, object], zero_target_ok: bool = False) -> list:
    v, issues = _numbers(params, "target", "cap")
    if "target" in v and (v["target"] < 0 or (v["target"] == 0 and not zero_target_ok)):
        issues.append(("target", message("rule.target_above_0", value=fmt_short(v["target"]))))
    if "cap" in v and v["cap"] <= 0:
        issues.append(("cap", message("rule.cap_above_0_is", value=fmt_short(v["cap"]))))
    return issues


def check_reverse_ratio(params: Mapping[str, object]) -> list:
    return check_target_cap(params, zero_target_ok=True)


def check_reverse_linear(params: Mapping[str, object]) -> list:
    v, issues = _numbers(params, "target", "floor")
    if len(v) == 2 and v["floor"] <= v["target"]:
        issues.append(("floor", message("rule.floor_above_target", floor=fmt_short(v["floor"]),
                                        target=fmt_short(v["target"]))))
    return issues


def check_linear(params: Mapping[str, object]) -> list:
    issues = check_target_cap({k: params[k] for k in ("cap",) if k in params})
    v, more = _numbers(params, "target", "floor")
    issues += more
    if len(v) == 2 and v["floor"] >= v["target"]:
        issues.append(("floor", message("rule.floor_below_target", floor=fmt_short(v["floor"]),
                                        target=fmt_short(v["target"]))))
    return issues


def check_band(params: Mapping[str, object]) -> list:
    v, issues = _numbers(params, "target", "tolerance", "zero_at")
    if "tolerance" in v and v["tolerance"] < 0:
        issues.append(("params", message("rule.tolerance_negative")))
    if "tolerance" in v and "zero_at" in v and v["zero_at"] <= v["tolerance"]:
        issues.append(("params", message("rule.zero_at_beyond", zero_at=fmt_short(v["zero_at"]),
                                         tolerance=fmt_short(v["tolerance"]))))
    return issues


def _table_issues(params: Mapping[str, object], key: str) -> tuple[list, list]:
    try:
        table = table_param(params, key)
    except ValueError as exc:
        return [], [("params", why_of(exc))]
    issues = []
    if not table:
        issues.append(("params", message("rule.table_empty", key=key)))
    if any(v < 0 for _, v in table):
        issues.append(("params", message("rule.table_negative", key=key)))
    return list(table), issues


def check_steps(params: Mapping[str, object]) -> list:
    of = str(params.get("of", "ratio")).strip().lower()
    issues = []
    if of not in ("ratio", "actual"):
        issues.append(("params", message("rule.steps_of", of=of)))
    if of == "ratio":
        if "target" not in params:
            issues.append(("target", message("rule.steps_need_target")))
        else:
            issues += check_target_cap({"target": params["target"]})
    table, more = _table_issues(params, "steps")
    issues += more
    thresholds = []
    for k, _ in table:
        try:
            thresholds.append(parse_number(k))
        except ValueError:
            issues.append(("params", message("rule.step_not_number", threshold=k)))
    if len(set(thresholds)) != len(thresholds):
        issues.append(("params", message("rule.steps_twice")))
    return issues


def check_deduction(params: Mapping[str, object]) -> list:
    v, issues = _numbers(params, "per", "min_points")
    if "per" in v and v["per"] < 0:
        issues.append(("params", message("rule.per_negative")))
    if "min_points" in v and v["min_points"] < 0:
        issues.append(("params", message("rule.not_negative", key="min_points")))
    return issues


def check_rating(params: Mapping[str, object]) -> list:
    if "scale" not in params:
        return []
    table, issues = _table_issues(params, "scale")
    labels = [fold_label(k) for k, _ in table]
    if len(set(labels)) != len(labels):
        issues.append(("params", message("rule.scale_twice")))
    return issues


def check_stars(params: Mapping[str, object]) -> list:
    issues = check_rating(params)
    if "scale" in params and not issues:
        for k, _ in table_param(params, "scale"):
            try:
                n = parse_number(k)
                ok = n >= 0 and n == n.to_integral_value()
            except ValueError:
                ok = False
            if not ok:
                issues.append(("params", message("rule.star_whole", n=k)))
    return issues


def check_per_item(params: Mapping[str, object]) -> list:
    v, issues = _numbers(params, "per", "cap")
    for key in ("per", "cap"):
        if key in v and v[key] < 0:
            issues.append((column_of(key), message("rule.not_negative", key=key)))
    return issues


def check_points(params: Mapping[str, object]) -> list:
    v, issues = _numbers(params, "cap")
    if "cap" in v and v["cap"] <= 0:
        issues.append(("cap", message("rule.cap_above_0")))
    return issues


def check_formula(params: Mapping[str, object]) -> list:
    v, issues = _numbers(params, "target", "floor", "cap")
    if "cap" in v and v["cap"] <= 0:
        issues.append(("cap", message("rule.cap_above_0")))
    try:
        formula = compile_formula(str(params.get("expr", "")))
    except ValueError as exc:
        return [*issues, ("params", why_of(exc))]
    for name in ("target", "floor"):
        if name in formula.names and name not in params:
            issues.append((name, message("rule.formula_uses", name=name)))
    return issues


WEIGHTED = frozenset({IndicatorKind.QUANTITATIVE, IndicatorKind.QUALITATIVE})
ITEMS = frozenset({IndicatorKind.BONUS, IndicatorKind.PENALTY})
QUANT = frozenset({IndicatorKind.QUANTITATIVE})


def _spec(name, required, optional, kinds, value, en, zh, build, check):
    return RuleSpec(name, tuple(required), dict(optional), kinds, value, en, zh, build, check)


RULES: dict[str, RuleSpec] = {s.name: s for s in (
    _spec("ratio", ["target"], {"cap": ONE}, QUANT, "number",
          "w × min(cap, actual / target), never below 0",
          "权重 × min(封顶, 实际 / 目标)，不低于 0", build_ratio, check_target_cap),
    _spec("reverse_ratio", ["target"], {"cap": ONE}, QUANT, "number",
          "lower is better: w × min(cap, target / actual); actual 0 -> w × cap",
          "越低越好：权重 × min(封顶, 目标 / 实际)；实际为 0 得 权重 × 封顶",
          build_reverse_ratio, check_reverse_ratio),
    _spec("reverse_linear", ["target", "floor"], {}, QUANT, "number",
          "lower is better: full at actual <= target, 0 at actual >= floor, linear between",
          "越低越好：不高于目标得满分，达到底线得 0，之间线性", build_reverse_linear,
          check_reverse_linear),
    _spec("linear", ["floor", "target"], {"cap": ONE}, QUANT, "number",
          "w × clamp((actual - floor) / (target - floor), 0, cap)",
          "权重 × clamp((实际 - 底线) / (目标 - 底线), 0, 封顶)", build_linear, check_linear),
    _spec("band", ["target", "tolerance", "zero_at"], {}, QUANT, "number",
          "closer is better: full within ±tolerance of target, 0 at ±zero_at, linear between",
          "越接近目标越好：偏差不超过 tolerance 得满分，达到 zero_at 得 0，之间线性",
          build_band, check_band),
    _spec("steps", ["steps"], {"of": "ratio", "target": None}, QUANT, "number",
          "step table threshold:percent of weight; the highest threshold <= value wins",
          "阶梯表 门槛:权重百分比；取不高于实际的最高门槛", build_steps, check_steps),
    _spec("deduction", ["per"], {"min_points": ZERO}, QUANT, "count",
          "max(min_points, w - per × count)", "max(最低分, 权重 - 每次扣分 × 次数)",
          build_deduction, check_deduction),
    _spec("rating", [], {"scale": DEFAULT_SCALE}, frozenset({IndicatorKind.QUALITATIVE}),
          "label", "rating label -> percent of weight (default A:100,B:85,C:70,D:50)",
          "评级 -> 权重百分比（默认 A:100,B:85,C:70,D:50）", build_rating, check_rating),
    _spec("stars", [], {"scale": None}, frozenset({IndicatorKind.QUALITATIVE}), "stars",
          "1-5 stars -> stars × 20% of weight (or the given scale)",
          "1-5 星 -> 星数 × 20% × 权重（或自定义 scale）", build_stars, check_stars),
    _spec("per_item", ["per", "cap"], {}, ITEMS, "count",
          "bonus/penalty outside the weights: min(cap, per × count) points",
          "权重外加减分：min(上限, 每项分值 × 次数)", build_per_item, check_per_item),
    _spec("points", [], {"cap": None}, WEIGHTED | ITEMS, "number",
          "points given directly, clamped to [0, cap or weight]",
          "直接给分，限制在 [0, 封顶或权重]", build_points, check_points),
    _spec("formula", ["expr"], {"cap": ONE, "target": None, "floor": None}, QUANT, "fields",
          "a safe expression over actual, target, floor, cap, weight and further inputs, "
          "clamped to [0, w × cap]",
          "安全公式（可用 actual, target, floor, cap, weight 及其他输入），限制在 [0, 权重 × 封顶]",
          build_formula, check_formula),
)}


Issue = tuple[str, Message]  # (column, why)


def kind_word(kind: IndicatorKind) -> Message:
    return message(f"kind.{kind.value}")


def params_issues(rule: str, kind: IndicatorKind, params: Mapping[str, object],
                  weight: Decimal | None = None) -> list[Issue]:
    """(column, message) for every problem with a rule's parameters."""
    spec = RULES.get(rule)
    if spec is None:
        return [("rule", message("rule.unknown", rule=rule, known=seq(RULES)))]
    issues: list[Issue] = []
    unknown = [k for k in params if k not in spec.params]
    if unknown:
        allowed = seq(spec.params) if spec.params else message("none")
        issues.append(("params", message("rule.unknown_params", rule=rule, unknown=seq(unknown),
                                         allowed=allowed)))
    missing = [k for k in spec.required if params.get(k) is None]
    for key in missing:
        issues.append((column_of(key), message("rule.needs", rule=rule, key=key)))
    if missing:
        return issues
    issues += spec.check(with_defaults(spec, params))
    if rule == "points" and kind in ITEMS and params.get("cap") is None:
        issues.append(("cap", message("rule.item_points_cap")))
    return issues


def indicator_issues(ind: Indicator) -> list[Issue]:
    """(column, message) for every problem of one rules-table row."""
    issues: list[Issue] = []
    spec = RULES.get(ind.rule)
    if spec is not None and ind.kind not in spec.kinds:
        allowed = seq(kind_word(k) for k in spec.kinds)
        issues.append(("kind", message("rule.kind_mismatch", rule=ind.rule,
                                       kind=kind_word(ind.kind), allowed=allowed)))
    try:
        weight = to_decimal(ind.weight)
    except ValueError as exc:
        issues.append(("weight", about("weight", why_of(exc))))
        weight = None
    if weight is not None:
        if ind.weighted and weight <= 0:
            issues.append(("weight", message("rule.weight_above_0", value=fmt_short(weight))))
        if not ind.weighted and weight != 0:
            issues.append(("weight", message("rule.item_weight", kind=kind_word(ind.kind))))
    issues += params_issues(ind.rule, ind.kind, ind.params, weight)
    return issues


def check_indicator(ind: Indicator, lang: str = "en") -> list[str]:
    """Every problem with one indicator's rule, kind, weight and parameters, in words."""
    return [why.text(lang) for _, why in indicator_issues(ind)]


def build_scorer(ind: Indicator, params: Mapping[str, object] | None = None,
                 lang: str = "en") -> Scorer:
    """Compile an indicator's rule (with `params` instead of its own when given). Only call
    this for parameters `params_issues` accepts."""
    spec = RULES[ind.rule]
    ctx = RuleContext(to_decimal(ind.weight), ind.kind, ind.unit, lang)
    return spec.build(with_defaults(spec, ind.params if params is None else params), ctx)
