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

from server.scoring.messages import MessageError
from server.scoring.numbers import to_decimal

MAX_FORMULA_CHARS = 500
MAX_FORMULA_NODES = 200

Ratio = tuple[int, int]  # numerator, denominator > 0 (not necessarily in lowest terms)
Value = Ratio | bool
Evaluator = Callable[[Mapping[str, Ratio]], Value]

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

    __slots__ = ("text", "names", "_run")

    def __init__(self, text: str, names: frozenset[str], run: Evaluator):
        self.text = text
        self.names = names
        self._run = run

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
    run = _compile(tree.body, names, source)
    return Formula(source, frozenset(names), run)


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
