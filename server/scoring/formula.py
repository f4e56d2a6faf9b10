"""A safe expression evaluator for the `formula` rule.

HR writes expressions such as `actual / target * weight` or
`weight if resolved >= total * 0.9 else weight * resolved / total`. They are parsed with
Python's `ast` and only a whitelist is accepted: numbers, names, + - * /, unary minus and plus,
comparisons, and/or/not, `x if c else y`, and calls to min/max/abs/round/clamp. There is no
eval/exec, no attribute access, no subscripts, no keyword arguments, and the expression size is
bounded. The tree is compiled once into nested closures, so evaluating per employee is cheap.

Arithmetic is exact: numbers are ratios of integers, so `actual / 3 * weight` or a
re-normalised weight of 100/9 lose nothing, and the rule rounds the exact value once (a 28-digit
Decimal would turn an exact 7.375 into 7.3749…9 and round it down). They are kept as plain
(numerator, denominator) pairs, denominator positive but not reduced: the same values as
`fractions.Fraction` arithmetic, without its per-operation gcd and Python-level dispatch (a
formula line cost several times a plain rule's). True/false take part in arithmetic as 1/0, as
they do in Python; `evaluate` hands the result back as a Fraction.
"""

from __future__ import annotations

import ast
import operator
import unicodedata
from collections.abc import Callable, Mapping
from decimal import Decimal
from fractions import Fraction

import numpy as np

from server.scoring.messages import MessageError
from server.scoring.numbers import to_decimal

MAX_FORMULA_CHARS = 500
MAX_FORMULA_NODES = 200

Ratio = tuple[int, int]  # numerator, denominator > 0 (not necessarily in lowest terms)
Value = Ratio | bool
Evaluator = Callable[[Mapping[str, Ratio]], Value]
# a column of ratios: (numerators, denominators > 0) as object arrays of Python ints (exact at
# any size); a column of true/false is a bool array
RatioColumn = tuple[np.ndarray, np.ndarray]
ColumnValue = RatioColumn | np.ndarray
ColumnEvaluator = Callable[[Mapping[str, RatioColumn], int], ColumnValue]

_COMPARE = {ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt,
            ast.GtE: operator.ge, ast.Eq: operator.eq, ast.NotEq: operator.ne}
# Symbols people paste from Word or type with a Chinese keyboard.
_SYMBOLS = str.maketrans({"×": "*", "÷": "/", "−": "-", "–": "-"})


def _ratio(v: Value) -> Ratio:
    """A number as a ratio; true/false count as 1/0 (True + 1 is 2, as in Python)."""
    return (int(v), 1) if v.__class__ is bool else v  # type: ignore[return-value]


def _true(v: Value) -> bool:
    return v if v.__class__ is bool else v[0] != 0  # type: ignore[index,return-value]


def _less(a: Value, b: Value) -> bool:
    (an, ad), (bn, bd) = _ratio(a), _ratio(b)
    return an * bd < bn * ad


def _min(*args: Value) -> Value:
    # Python's min: the first of the smallest (which may be a true/false)
    best = args[0]
    for x in args[1:]:
        if _less(x, best):
            best = x
    return best


def _max(*args: Value) -> Value:
    best = args[0]
    for x in args[1:]:
        if _less(best, x):
            best = x
    return best


def _abs(x: Value) -> Ratio:
    n, d = _ratio(x)
    return (abs(n), d)


def _clamp(x: Value, low: Value, high: Value) -> Value:
    return _max(low, _min(high, x))


def _round(x: Value, places: Value = (0, 1)) -> Ratio:
    # Excel's ROUND (half away from zero), not Python's banker's rounding.
    (n, d), (pn, pd) = _ratio(x), _ratio(places)
    if pn % pd:
        raise MessageError("formula.round_places")
    p = pn // pd
    sn, sd = (10 ** p, 1) if p >= 0 else (1, 10 ** -p)  # the scale, 10^places
    # units = floor(|x| × scale + 1/2), in integers
    units = (2 * abs(n) * sn + d * sd) // (2 * d * sd)
    return ((units if n >= 0 else -units) * sd, sn)  # ± units / scale


# name -> (function, least args, most args)
FUNCTIONS: dict[str, tuple[Callable[..., Value], int, int]] = {
    "min": (_min, 2, 20),
    "max": (_max, 2, 20),
    "abs": (_abs, 1, 1),
    "round": (_round, 1, 2),
    "clamp": (_clamp, 3, 3),
}


class Formula:
    """A compiled, safe expression. `names` are the inputs it reads."""

    __slots__ = ("text", "names", "_run", "_columns")

    def __init__(self, text: str, names: frozenset[str], run: Evaluator,
                 columns: ColumnEvaluator | None = None):
        self.text = text
        self.names = names
        self._run = run
        self._columns = columns

    def evaluate(self, env: Mapping[str, Decimal | Fraction]) -> Fraction:
        """The exact value for these inputs (Decimal or Fraction). Raises ValueError for a
        missing input, division by zero or a true/false result."""
        ratios = {}
        for k, v in env.items():
            exact = v if type(v) is Fraction else Fraction(v)
            ratios[k] = (exact.numerator, exact.denominator)
        return Fraction(*self.evaluate_ratio(ratios))

    def evaluate_ratio(self, env: Mapping[str, Ratio]) -> Ratio:
        """`evaluate` on (numerator, denominator > 0) pairs, giving one (not reduced): the
        formula rule converts its inputs itself, keeping conversions it will need again."""
        try:
            result = self._run(env)
        except ZeroDivisionError:  # also 0/0
            raise MessageError("formula.div0", text=self.text) from None
        except (ArithmeticError, OverflowError) as exc:  # pragma: no cover - defensive
            raise MessageError("formula.cannot", text=self.text, error=repr(exc)) from None
        except KeyError as exc:
            raise MessageError("formula.needs", text=self.text, name=exc.args[0]) from None
        if result.__class__ is bool:
            raise MessageError("formula.bool", text=self.text)
        return result  # type: ignore[return-value]

    def evaluate_columns(self, env: Mapping[str, RatioColumn], size: int
                         ) -> RatioColumn | None:
        """`evaluate_ratio` for `size` lines at once: each input a pair of object arrays of
        Python ints (numerators, denominators > 0), the result the same (exact, not reduced);
        None when a line would raise (division by zero, a true/false result, round to
        non-whole places) or the lines would need different kinds of value: the caller then
        evaluates line by line, which reports what it must."""
        if self._columns is None:
            return None
        try:
            result = self._columns(env, size)
        except (_Decline, KeyError, ZeroDivisionError, ArithmeticError):
            return None
        return None if isinstance(result, np.ndarray) else result

    def __repr__(self) -> str:
        return f"Formula({self.text!r})"


def compile_formula(text: str) -> Formula:
    """Parse and check an expression. Raises ValueError with the reason it is refused."""
    if not isinstance(text, str) or not text.strip():
        raise MessageError("formula.empty")
    source = unicodedata.normalize("NFKC", text).translate(_SYMBOLS).strip()
    if len(source) > MAX_FORMULA_CHARS:
        raise MessageError("formula.too_long", most=MAX_FORMULA_CHARS)
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        raise MessageError("formula.syntax", text=source, error=exc.msg) from None
    except (ValueError, RecursionError, MemoryError):
        raise MessageError("formula.invalid", text=source) from None
    nodes = sum(1 for _ in ast.walk(tree))
    if nodes > MAX_FORMULA_NODES:
        raise MessageError("formula.too_large", n=nodes, most=MAX_FORMULA_NODES)
    names: set[str] = set()
    run = _compile(tree.body, names, source)  # refuses what is not allowed
    return Formula(source, frozenset(names), run, _compile_columns(tree.body))


_ARITHMETIC = (ast.Add, ast.Sub, ast.Mult, ast.Div)


def _binary(op: ast.operator, left: Evaluator, right: Evaluator) -> Evaluator:
    """+ - * / on ratios (operands evaluated left first, as Python does)."""
    if isinstance(op, ast.Add | ast.Sub):
        sign = 1 if isinstance(op, ast.Add) else -1

        def add(env: Mapping[str, Ratio]) -> Ratio:
            (an, ad), (bn, bd) = _ratio(left(env)), _ratio(right(env))
            if ad == bd:
                return (an + sign * bn, ad)
            return (an * bd + sign * bn * ad, ad * bd)

        return add
    if isinstance(op, ast.Mult):
        def mul(env: Mapping[str, Ratio]) -> Ratio:
            (an, ad), (bn, bd) = _ratio(left(env)), _ratio(right(env))
            return (an * bn, ad * bd)

        return mul

    def div(env: Mapping[str, Ratio]) -> Ratio:
        (an, ad), (bn, bd) = _ratio(left(env)), _ratio(right(env))
        if not bn:
            raise ZeroDivisionError
        return (an * bd, ad * bn) if bn > 0 else (-an * bd, -ad * bn)

    return div


def _compile(node: ast.AST, names: set[str], source: str) -> Evaluator:
    """Turn one whitelisted node into a closure; refuse everything else."""
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise MessageError("formula.numbers_only", value=repr(node.value))
        try:
            exact = Fraction(to_decimal(node.value))  # 0.9 is 9/10, not the binary float
        except ValueError:
            raise MessageError("formula.bad_number", value=repr(node.value)) from None
        constant = (exact.numerator, exact.denominator)
        return lambda env: constant
    if isinstance(node, ast.Name):
        name = node.id
        if name in FUNCTIONS:
            raise MessageError("formula.call_it", name=name)
        names.add(name)
        return lambda env: env[name]
    if isinstance(node, ast.BinOp) and isinstance(node.op, _ARITHMETIC):
        return _binary(node.op, _compile(node.left, names, source),
                       _compile(node.right, names, source))
    if isinstance(node, ast.UnaryOp):
        operand = _compile(node.operand, names, source)
        if isinstance(node.op, ast.USub):
            def negative(env: Mapping[str, Ratio]) -> Ratio:
                n, d = _ratio(operand(env))
                return (-n, d)

            return negative
        if isinstance(node.op, ast.UAdd):
            return operand
        if isinstance(node.op, ast.Not):
            return lambda env: not _true(operand(env))
    if isinstance(node, ast.BoolOp):
        parts = [_compile(v, names, source) for v in node.values]
        if isinstance(node.op, ast.And):
            return lambda env: all(_true(p(env)) for p in parts)
        return lambda env: any(_true(p(env)) for p in parts)
    if isinstance(node, ast.Compare) and all(type(o) in _COMPARE for o in node.ops):
        first = _compile(node.left, names, source)
        chain = [(_COMPARE[type(o)], _compile(c, names, source))
                 for o, c in zip(node.ops, node.comparators, strict=True)]

        def compare(env: Mapping[str, Ratio]) -> bool:
            left = first(env)
            for op, right_of in chain:
                right = right_of(env)
                (an, ad), (bn, bd) = _ratio(left), _ratio(right)
                if not op(an * bd, bn * ad):  # denominators are positive
                    return False
                left = right
            return True

        return compare
    if isinstance(node, ast.IfExp):
        test = _compile(node.test, names, source)
        then, other = _compile(node.body, names, source), _compile(node.orelse, names, source)
        return lambda env: then(env) if _true(test(env)) else other(env)
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            called = node.func.id if isinstance(node.func, ast.Name) else "this"
            allowed = ", ".join(FUNCTIONS)
            raise MessageError("formula.not_callable", name=called, allowed=allowed)
        if node.keywords:
            raise MessageError("formula.no_keywords", name=node.func.id)
        function, least, most = FUNCTIONS[node.func.id]
        if not least <= len(node.args) <= most:
            raise MessageError("formula.arg_count", name=node.func.id, least=least, most=most)
        args = [_compile(a, names, source) for a in node.args]
        return lambda env: function(*[a(env) for a in args])
    shown = ast.get_source_segment(source, node) or type(node).__name__
    raise MessageError("formula.not_allowed", part=shown)


# -- the same expressions over columns (the engine's column path) ----------------------------
# One closure per node, as above, each working on whole columns: the same exact arithmetic in
# object arrays of Python ints, both branches of `x if c else y` worked and one taken per
# line. Whatever the line-by-line evaluator would raise for a line makes the column decline
# (_Decline), as may a value whose kind (number or true/false) differs from line to line.

class _Decline(Exception):
    pass


def _ratio_column(v: ColumnValue) -> RatioColumn:
    if isinstance(v, np.ndarray):  # true/false count as 1/0
        return v.astype(np.int64).astype(object), np.ones(len(v), dtype=object)
    return v


def _true_column(v: ColumnValue) -> np.ndarray:
    return v if isinstance(v, np.ndarray) else np.asarray(v[0] != 0, dtype=bool)


def _less_column(a: ColumnValue, b: ColumnValue) -> np.ndarray:
    (an, ad), (bn, bd) = _ratio_column(a), _ratio_column(b)
    return np.asarray(an * bd < bn * ad, dtype=bool)


def _pick(test: np.ndarray, then: ColumnValue, other: ColumnValue) -> ColumnValue:
    """Per line `then` where `test`, else `other` (of one kind: both numbers or both
    true/false, unless one side is taken by no line)."""
    if test.all():
        return then
    if not test.any():
        return other
    if isinstance(then, np.ndarray) and isinstance(other, np.ndarray):
        return np.where(test, then, other)
    if isinstance(then, np.ndarray) or isinstance(other, np.ndarray):
        raise _Decline
    return np.where(test, then[0], other[0]), np.where(test, then[1], other[1])


def _extreme_column(args: list[ColumnValue], smallest: bool) -> ColumnValue:
    # Python's min/max: the first of the smallest (largest)
    best = args[0]
    for x in args[1:]:
        _pick_x = _less_column(x, best) if smallest else _less_column(best, x)
        best = _pick(_pick_x, x, best)
    return best


def _round_column(x: ColumnValue, places: ColumnValue | None = None) -> RatioColumn:
    n, d = _ratio_column(x)
    if places is None:
        p = 0
    else:
        pn, pd = _ratio_column(places)
        if (pn % pd != 0).any():
            raise _Decline  # the line-by-line evaluator refuses it
        whole = pn // pd
        p = whole[0]
        if (whole != p).any():
            raise _Decline
    sn, sd = (10 ** p, 1) if p >= 0 else (1, 10 ** -p)
    units = (2 * np.abs(n) * sn + d * sd) // (2 * d * sd)
    return np.where(n >= 0, units, -units) * sd, np.full(len(n), sn, dtype=object)


_COLUMN_FUNCTIONS: dict[str, Callable[..., ColumnValue]] = {
    "min": lambda *args: _extreme_column(list(args), True),
    "max": lambda *args: _extreme_column(list(args), False),
    "abs": lambda x: (np.abs(_ratio_column(x)[0]), _ratio_column(x)[1]),
    "round": _round_column,
    "clamp": lambda x, low, high: _extreme_column(
        [low, _extreme_column([high, x], True)], False),
}


def _binary_columns(op: ast.operator, left: ColumnEvaluator, right: ColumnEvaluator
                    ) -> ColumnEvaluator:
    if isinstance(op, ast.Add | ast.Sub):
        sign = 1 if isinstance(op, ast.Add) else -1

        def add(env: Mapping[str, RatioColumn], size: int) -> RatioColumn:
            (an, ad), (bn, bd) = _ratio_column(left(env, size)), _ratio_column(right(env, size))
            return an * bd + sign * bn * ad, ad * bd

        return add
    if isinstance(op, ast.Mult):
        def mul(env: Mapping[str, RatioColumn], size: int) -> RatioColumn:
            (an, ad), (bn, bd) = _ratio_column(left(env, size)), _ratio_column(right(env, size))
            return an * bn, ad * bd

        return mul

    def div(env: Mapping[str, RatioColumn], size: int) -> RatioColumn:
        (an, ad), (bn, bd) = _ratio_column(left(env, size)), _ratio_column(right(env, size))
        if (bn == 0).any():
            raise _Decline
        negative = np.asarray(bn < 0, dtype=bool)
        n, d = an * bd, ad * bn
        if negative.any():
            n, d = np.where(negative, -n, n), np.where(negative, -d, d)
        return n, d

    return div


def _compile_columns(node: ast.AST) -> ColumnEvaluator:
    """The column evaluator of a node `_compile` accepted."""
    if isinstance(node, ast.Constant):
        exact = Fraction(to_decimal(node.value))
        n, d = exact.numerator, exact.denominator
        return lambda env, size: (np.full(size, n, dtype=object), np.full(size, d, dtype=object))
    if isinstance(node, ast.Name):
        name = node.id
        return lambda env, size: env[name]
    if isinstance(node, ast.BinOp):
        return _binary_columns(node.op, _compile_columns(node.left),
                               _compile_columns(node.right))
    if isinstance(node, ast.UnaryOp):
        operand = _compile_columns(node.operand)
        if isinstance(node.op, ast.USub):
            def negative(env: Mapping[str, RatioColumn], size: int) -> RatioColumn:
                n, d = _ratio_column(operand(env, size))
                return -n, d

            return negative
        if isinstance(node.op, ast.UAdd):
            return operand
        return lambda env, size: ~_true_column(operand(env, size))
    if isinstance(node, ast.BoolOp):
        parts = [_compile_columns(v) for v in node.values]
        both = np.logical_and if isinstance(node.op, ast.And) else np.logical_or

        def boolean(env: Mapping[str, RatioColumn], size: int) -> np.ndarray:
            found = _true_column(parts[0](env, size))
            for part in parts[1:]:
                found = both(found, _true_column(part(env, size)))
            return found

        return boolean
    if isinstance(node, ast.Compare):
        first = _compile_columns(node.left)
        chain = [(_COMPARE[type(o)], _compile_columns(c))
                 for o, c in zip(node.ops, node.comparators, strict=True)]

        def compare(env: Mapping[str, RatioColumn], size: int) -> np.ndarray:
            left = first(env, size)
            found = np.ones(size, dtype=bool)
            for op, right_of in chain:
                right = right_of(env, size)
                (an, ad), (bn, bd) = _ratio_column(left), _ratio_column(right)
                found &= np.asarray(op(an * bd, bn * ad), dtype=bool)
                left = right
            return found

        return compare
    if isinstance(node, ast.IfExp):
        test, then = _compile_columns(node.test), _compile_columns(node.body)
        other = _compile_columns(node.orelse)
        return lambda env, size: _pick(_true_column(test(env, size)), then(env, size),
                                       other(env, size))
    assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    function = _COLUMN_FUNCTIONS[node.func.id]
    args = [_compile_columns(a) for a in node.args]
    return lambda env, size: function(*[a(env, size) for a in args])
