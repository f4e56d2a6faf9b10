import ast
import math
import operator
from decimal import Decimal as D
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.scoring.formula import compile_formula


@pytest.mark.parametrize(("text", "env", "expected"), [
    ("actual / target * weight", {"actual": D(80), "target": D(100), "weight": D(25)}, "20"),
    ("weight if resolved >= total * 0.9 else weight * resolved / total",
     {"weight": D(10), "resolved": D(5), "total": D(10)}, "5"),
    ("clamp(actual / target, 0, 1.2) × weight", {"actual": D(2), "target": D(1), "weight": D(10)},
     "12.0"),
    ("round(2.675, 2)", {}, "2.68"), ("round(-2.5)", {}, "-3"), ("abs(-3) + -x", {"x": D(1)}, "2"),
    ("max(a, b, 3) - min(a, b)", {"a": D(1), "b": D(2)}, "2"),
    ("1 if a > 0 and not b > 0 or a == b else 2", {"a": D(1), "b": D(0)}, "1"),
    ("0 < a <= 5", {"a": D(6)}, None),
    ("0.1 + 0.2", {}, "0.3"),  # Decimal, not binary float
])
def test_formula_evaluates(text, env, expected):
    formula = compile_formula(text)
    if expected is None:
        with pytest.raises(ValueError, match="true/false"):
            formula.evaluate(env)
    else:
        assert formula.evaluate(env) == D(expected)


def test_formula_names():
    assert compile_formula("weight * resolved / total").names == {"weight", "resolved", "total"}
    assert compile_formula("max(a, 1)").names == {"a"}


@pytest.mark.parametrize(("text", "reason"), [
    ("__import__('os').system('x')", "cannot be called"),
    ("open('f')", "cannot be called"),
    ("a.real", "not allowed"),
    ("a[0]", "not allowed"),
    ("a ** 2", "not allowed"),
    ("a % 2", "not allowed"),
    ("lambda: 1", "not allowed"),
    ("[1, 2]", "not allowed"),
    ("'text'", "numbers only"),
    ("min(a, key=b)", "no named arguments"),
    ("abs(1, 2)", "arguments"),
    ("x = 1", "not a valid expression"),
    ("1 +", "not a valid expression"),
    ("", "empty"),
    ("a + " * 200 + "a", "longer than"),
    ("+".join(["a"] * 120), "too large"),
    ("min", "is a function"),
    ("(a := 1)", "not allowed"),
])
def test_formula_refuses(text, reason):
    with pytest.raises(ValueError, match=reason):
        compile_formula(text)


def test_division_by_zero_is_a_clear_error():
    with pytest.raises(ValueError, match="division by zero"):
        compile_formula("a / b").evaluate({"a": D(1), "b": D(0)})
    with pytest.raises(ValueError, match="division by zero"):
        compile_formula("a / b").evaluate({"a": D(0), "b": D(0)})


def test_missing_input_is_named():
    with pytest.raises(ValueError, match="needs a value for total"):
        compile_formula("resolved / total").evaluate({"resolved": D(1)})


# -- exact ratios against Fractions --------------------------------------------------------
# The evaluator works on (numerator, denominator) pairs for speed; this interpreter of the same
# whitelist on Fractions is the long way it must agree with, value, error and true/false alike.


_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
        ast.Div: operator.truediv, ast.Lt: operator.lt, ast.LtE: operator.le,
        ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Eq: operator.eq, ast.NotEq: operator.ne}


def _fraction_round(x, places=Fraction(0)):
    if places.denominator != 1:
        raise ValueError("places")
    scale = Fraction(10) ** int(places)
    units = math.floor(abs(x) * scale + Fraction(1, 2))
    return (units if x >= 0 else -units) / scale


_CALLS = {"min": min, "max": max, "abs": abs, "round": _fraction_round,
          "clamp": lambda x, low, high: max(low, min(high, x))}


def _oracle(node, env):
    if isinstance(node, ast.Expression):
        return _oracle(node.body, env)
    if isinstance(node, ast.Constant):
        return Fraction(D(repr(node.value)))
    if isinstance(node, ast.Name):
        return env[node.id]
    if isinstance(node, ast.BinOp):
        return _OPS[type(node.op)](_oracle(node.left, env), _oracle(node.right, env))
    if isinstance(node, ast.UnaryOp):
        value = _oracle(node.operand, env)
        return {ast.USub: lambda: -value, ast.UAdd: lambda: value,
                ast.Not: lambda: not value}[type(node.op)]()
    if isinstance(node, ast.BoolOp):
        parts = (_oracle(v, env) for v in node.values)
        return all(parts) if isinstance(node.op, ast.And) else any(parts)
    if isinstance(node, ast.Compare):
        left = _oracle(node.left, env)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = _oracle(comparator, env)
            if not _OPS[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.IfExp):
        return _oracle(node.body if _oracle(node.test, env) else node.orelse, env)
    assert isinstance(node, ast.Call)
    return _CALLS[node.func.id](*[_oracle(a, env) for a in node.args])


def _outcome_of(evaluate):
    try:
        value = evaluate()
    except ZeroDivisionError:
        return "division by zero"
    except ValueError as exc:
        return "division by zero" if "division by zero" in str(exc) else \
            "true/false" if "true/false" in str(exc) else "places" if "places" in str(exc) \
            or "whole number" in str(exc) else str(exc)
    return "true/false" if isinstance(value, bool) else Fraction(value)


_ATOMS = st.sampled_from(["a", "b", "weight", "0", "1", "2", "0.9", "0.5", "-1", "1.25"])


def _expressions():
    def grow(inner):
        two, three = st.tuples(inner, inner), st.tuples(inner, inner, inner)
        return st.one_of(
            st.tuples(two, st.sampled_from("+-*/")).map(lambda t: f"({t[0][0]} {t[1]} {t[0][1]})"),
            inner.map(lambda x: f"-{x}"),
            st.tuples(two, st.sampled_from(["<", "<=", ">", ">=", "==", "!="])).map(
                lambda t: f"({t[0][0]} {t[1]} {t[0][1]})"),
            three.map(lambda t: f"({t[0]} if {t[1]} else {t[2]})"),
            st.tuples(st.sampled_from(["min", "max"]), st.lists(inner, min_size=2, max_size=4))
            .map(lambda t: f"{t[0]}({', '.join(t[1])})"),
            inner.map(lambda x: f"abs({x})"),
            st.tuples(inner, st.sampled_from(["", ", 0", ", 2", ", -1", ", 0.5", ", a"])).map(
                lambda t: f"round({t[0]}{t[1]})"),
            three.map(lambda t: f"clamp({t[0]}, {t[1]}, {t[2]})"),
            st.tuples(two, st.sampled_from(["and", "or"])).map(
                lambda t: f"(not {t[0][0]} {t[1]} {t[0][1]})"),
        )
    return st.recursive(_ATOMS, grow, max_leaves=12)


_NUMBERS = st.sampled_from([D(0), D(1), D("2.5"), D(-3), D("0.9"), D(7), D("100"),
                            Fraction(10, 3), Fraction(-7, 9)])


@settings(max_examples=300, deadline=None)
@given(_expressions(), _NUMBERS, _NUMBERS, _NUMBERS)
def test_ratio_arithmetic_agrees_with_fractions(text, a, b, weight):
    env = {"a": a, "b": b, "weight": weight}
    exact = {k: Fraction(v) for k, v in env.items()}
    formula = compile_formula(text)
    expected = _outcome_of(lambda: _oracle(ast.parse(text, mode="eval"), exact))
    assert _outcome_of(lambda: formula.evaluate(env)) == expected
