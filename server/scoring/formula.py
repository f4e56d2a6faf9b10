"""A safe expression evaluator for the `formula` rule.

HR writes expressions such as `actual / target * weight` or
`weight if resolved >= total * 0.9 else weight * resolved / total`. They are parsed with
Python's `ast` and only a whitelist is accepted: numbers, names, + - * /, unary minus and plus,
comparisons, and/or/not, `x if c else y`, and calls to min/max/abs/round/clamp. There is no
eval/exec, no attribute access, no subscripts, no keyword arguments, and the expression size is
bounded. The tree is compiled once into nested closures, so evaluating per employee is cheap.

Arithmetic is exact: inputs and constants are `fractions.Fraction`, so `actual / 3 * weight`
or a re-normalised weight of 100/9 lose nothing, and the rule rounds the exact value once
(a 28-digit Decimal would turn an exact 7.375 into 7.3749…9 and round it down).
"""

from __future__ import annotations

import ast
import math
import operator
import unicodedata
from collections.abc import Callable, Mapping
from decimal import Decimal
from fractions import Fraction

from server.scoring.messages import MessageError
from server.scoring.numbers import to_decimal

MAX_FORMULA_CHARS = 500
MAX_FORMULA_NODES = 200

Value = Fraction | bool
Evaluator = Callable[[Mapping[str, Fraction]], Value]
_HALF = Fraction(1, 2)

_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.Div: operator.truediv}
_COMPARE = {ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt,
            ast.GtE: operator.ge, ast.Eq: operator.eq, ast.NotEq: operator.ne}
# Symbols people paste from Word or type with a Chinese keyboard.
_SYMBOLS = str.maketrans({"×": "*", "÷": "/", "−": "-", "–": "-"})


def _clamp(x: Fraction, low: Fraction, high: Fraction) -> Fraction:
    return max(low, min(high, x))


def _round(x: Fraction, places: Fraction = Fraction(0)) -> Fraction:
    # Excel's ROUND (half away from zero), not Python's banker's rounding.
    if places.denominator != 1:
        raise MessageError("formula.round_places")
    scale = Fraction(10) ** int(places)
    units = math.floor(abs(x) * scale + _HALF)
    return (units if x >= 0 else -units) / scale


# name -> (function, least args, most args)
FUNCTIONS: dict[str, tuple[Callable[..., Fraction], int, int]] = {
    "min": (min, 2, 20),
    "max": (max, 2, 20),
    "abs": (abs, 1, 1),
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
        return self.evaluate_exact(
            {k: v if type(v) is Fraction else Fraction(v) for k, v in env.items()})

    def evaluate_exact(self, env: Mapping[str, Fraction]) -> Fraction:
        """`evaluate` for inputs that are all Fractions already (the formula rule converts
        them itself, keeping conversions it will need again)."""
        try:
            result = self._run(env)
        except ZeroDivisionError:  # also 0/0
            raise MessageError("formula.div0", text=self.text) from None
        except (ArithmeticError, OverflowError) as exc:  # pragma: no cover - defensive
            raise MessageError("formula.cannot", text=self.text, error=repr(exc)) from None
        except KeyError as exc:
            raise MessageError("formula.needs", text=self.text, name=exc.args[0]) from None
        if isinstance(result, bool):
            raise MessageError("formula.bool", text=self.text)
        return result

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


def _compile(node: ast.AST, names: set[str], source: str) -> Evaluator:
    """Turn one whitelisted node into a closure; refuse everything else."""
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise MessageError("formula.numbers_only", value=repr(node.value))
        try:
            constant = Fraction(to_decimal(node.value))  # 0.9 is 9/10, not the binary float
        except ValueError:
            raise MessageError("formula.bad_number", value=repr(node.value)) from None
        return lambda env: constant
    if isinstance(node, ast.Name):
        name = node.id
        if name in FUNCTIONS:
            raise MessageError("formula.call_it", name=name)
        names.add(name)
        return lambda env: env[name]
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        op = _BINARY[type(node.op)]
        left, right = _compile(node.left, names, source), _compile(node.right, names, source)
        return lambda env: op(left(env), right(env))
    if isinstance(node, ast.UnaryOp):
        operand = _compile(node.operand, names, source)
        if isinstance(node.op, ast.USub):
            return lambda env: -operand(env)
        if isinstance(node.op, ast.UAdd):
            return operand
        if isinstance(node.op, ast.Not):
            return lambda env: not operand(env)
    if isinstance(node, ast.BoolOp):
        parts = [_compile(v, names, source) for v in node.values]
        if isinstance(node.op, ast.And):
            return lambda env: all(p(env) for p in parts)
        return lambda env: any(p(env) for p in parts)
    if isinstance(node, ast.Compare) and all(type(o) in _COMPARE for o in node.ops):
        first = _compile(node.left, names, source)
        chain = [(_COMPARE[type(o)], _compile(c, names, source))
                 for o, c in zip(node.ops, node.comparators, strict=True)]

        def compare(env: Mapping[str, Fraction]) -> bool:
            left = first(env)
            for op, right_of in chain:
                right = right_of(env)
                if not op(left, right):
                    return False
                left = right
            return True

        return compare
    if isinstance(node, ast.IfExp):
        test = _compile(node.test, names, source)
        then, other = _compile(node.body, names, source), _compile(node.orelse, names, source)
        return lambda env: then(env) if test(env) else other(env)
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
        return lambda env: function(*(a(env) for a in args))
    shown = ast.get_source_segment(source, node) or type(node).__name__
    raise MessageError("formula.not_allowed", part=shown)
