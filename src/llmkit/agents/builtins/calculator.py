"""A calculator tool: arithmetic by walking Python's AST over a small whitelist, never ``eval``.

Hand-written rather than a library (e.g. ``simpleeval``) because the whole grammar is numbers, six
operators and a dozen math functions, and bounding the work (exponents, digits) matters more here
than features: ``9**9**9`` is refused instead of hanging the agent.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable
from typing import Any

from llmkit.agents.tools import Tool
from llmkit.errors import InputError

_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type, Callable[[Any], Any]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": abs, "round": round, "min": min, "max": max, "sqrt": math.sqrt, "log": math.log,
    "log10": math.log10, "exp": math.exp, "sin": math.sin, "cos": math.cos, "tan": math.tan,
    "floor": math.floor, "ceil": math.ceil, "factorial": math.factorial,
}  # fmt: skip
_CONSTANTS = {"pi": math.pi, "e": math.e}
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")  # 1,234 -> 1234 (min(1, 2) keeps its comma)
MAX_EXPRESSION = 500
MAX_EXPONENT = 1000
MAX_DIGITS = 4300  # Python's own int/str conversion limit
MAX_BITS = int(MAX_DIGITS * 3.33)  # about the bits of a number that many digits long


def evaluate(expression: str) -> int | float:
    """The value of an arithmetic expression.

    >>> evaluate("2 * (3 + 4) ** 2 / 7"), evaluate("sqrt(16) + round(2.567, 2)"), evaluate("48/2 + 48")
    (14.0, 6.57, 72.0)
    """
    text = expression.strip().replace("^", "**").replace("×", "*").replace("÷", "/").replace("$", "")
    text = _THOUSANDS.sub("", text)
    if not text:
        raise InputError("the expression is empty")
    if len(text) > MAX_EXPRESSION:
        raise InputError(f"the expression is longer than {MAX_EXPRESSION} characters")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        raise InputError(f"not an arithmetic expression: {expression!r}") from None
    return _eval(tree.body)


def _eval(node: ast.AST) -> Any:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_eval(node.operand))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Pow):
            _check_power(left, right)
        return _checked(_BINARY[type(node.op)](left, right))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS:
        if node.keywords:
            raise InputError("functions take positional arguments only")
        args = [_eval(a) for a in node.args]
        if node.func.id == "factorial" and (not args or args[0] > 500):
            raise InputError("factorial is limited to 500")
        return _checked(_FUNCTIONS[node.func.id](*args))
    allowed = "numbers, + - * / // % ** ( ), pi, e and " + ", ".join(sorted(_FUNCTIONS))
    raise InputError(f"{ast.unparse(node)!r} is not allowed; use {allowed}")


def _check_power(base: Any, exponent: Any) -> None:
    """Refuse ``base ** exponent`` before computing it when the exponent or the integer result is too large.

    ``a ** b`` has more than ``(a.bit_length() - 1) * b`` bits, so that bound is known without the power.
    """
    if abs(exponent) > MAX_EXPONENT:
        raise InputError(f"exponent {exponent} is too large (limit {MAX_EXPONENT})")
    if isinstance(base, int) and isinstance(exponent, int) and (abs(base).bit_length() - 1) * exponent > MAX_BITS:
        raise InputError("the result is too large")


def _checked(value: Any) -> Any:
    if isinstance(value, int) and value.bit_length() > MAX_BITS:
        raise InputError("the result is too large")
    if isinstance(value, complex):  # a negative number to a fractional power
        raise InputError("the result is not a real number")
    return value


def calculator() -> Tool:
    """The ``calculator`` tool."""

    def calculator(expression: str) -> str:
        """Evaluate an arithmetic expression, e.g. "12 * (3 + 4) / 2".
        Supports + - * / // % ** and sqrt, log, round, min, max, abs."""
        try:
            value = evaluate(expression)
        except ZeroDivisionError:
            raise InputError("division by zero") from None
        except (OverflowError, ValueError, TypeError) as e:
            raise InputError(f"cannot compute {expression!r}: {e}") from None
        if isinstance(value, float):
            value = round(value, 10)
            if value.is_integer():
                return str(int(value))
        return str(value)

    return Tool.from_function(calculator)
