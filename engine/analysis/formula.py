"""A safe formula for a user's own 2-D surface: f(x, y) from text, never ``eval``.

``parse_formula(text)`` parses with Python's ``ast`` (``mode='eval'``) and walks the tree,
accepting only: numbers, the names ``x`` and ``y``, the constants ``pi`` and ``e``, the binary
operators ``+ - * / **``, unary ``-`` and ``+``, and calls of the functions in ``FUNCTIONS`` by
plain name. Anything else (attribute access, subscripts, lambdas, comprehensions, keywords,
strings, other names such as ``__import__``) is refused with a message naming it. The text is
at most ``MAX_LENGTH`` characters, the tree at most ``MAX_DEPTH`` deep and ``MAX_NODES`` big,
numbers at most ``MAX_NUMBER`` in size and a constant exponent at most ``MAX_EXPONENT``. The
tree is then turned into nested Python closures; nothing is ever compiled or evaluated as code.

Gradients are exact: the closures evaluate forward-mode automatic differentiation (each node
yields its value and its partial derivatives in x and y, by the chain rule of its operator), so
no finite-difference step has to be chosen. Evaluation runs on NumPy arrays (a whole contour
grid at once) under ``np.errstate(all='ignore')``: a point outside the domain (log of a negative
number) gives NaN, which the race treats as "off the surface".
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

MAX_LENGTH = 200
MAX_DEPTH = 64  # a sum of 64 terms still parses; 200 characters allow about that many
MAX_NODES = 500  # ast nodes, operators and contexts included
MAX_EXPONENT = 16.0
MAX_NUMBER = 1e6

Dual = tuple[np.ndarray, np.ndarray, np.ndarray]  # value, ∂/∂x, ∂/∂y
Node = Callable[[np.ndarray, np.ndarray], Dual]


class FormulaError(ValueError):
    """The text is not a formula this parser accepts; the message says what is wrong."""


def _d_sqrt(v: np.ndarray) -> np.ndarray:
    return 0.5 / np.sqrt(v)


# name → (function, derivative at the argument)
FUNCTIONS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]] = {
    "sin": (np.sin, np.cos),
    "cos": (np.cos, lambda v: -np.sin(v)),
    "tan": (np.tan, lambda v: 1.0 / np.cos(v) ** 2),
    "exp": (np.exp, np.exp),
    "log": (np.log, lambda v: 1.0 / v),
    "sqrt": (np.sqrt, _d_sqrt),
    "abs": (np.abs, np.sign),
    "tanh": (np.tanh, lambda v: 1.0 - np.tanh(v) ** 2),
    "sinh": (np.sinh, np.cosh),
    "cosh": (np.cosh, np.sinh),
    "atan": (np.arctan, lambda v: 1.0 / (1.0 + v * v)),
}
CONSTANTS = {"pi": math.pi, "e": math.e}


@dataclass(frozen=True)
class Formula:
    """A parsed formula: ``value(x, y)`` and ``gradient(x, y)`` on floats or arrays."""

    text: str
    _root: Node

    def evaluate(self, x: np.ndarray | float, y: np.ndarray | float) -> Dual:
        xa = np.asarray(x, dtype=np.float64)
        ya = np.asarray(y, dtype=np.float64)
        xa, ya = np.broadcast_arrays(xa, ya)
        with np.errstate(all="ignore"):
            return self._root(xa, ya)

    def value(self, x: np.ndarray | float, y: np.ndarray | float) -> np.ndarray:
        return self.evaluate(x, y)[0]

    def gradient(self, x: np.ndarray | float, y: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        _, dx, dy = self.evaluate(x, y)
        return dx, dy


def parse_formula(text: str) -> Formula:
    """Parse ``text`` (e.g. ``"x**2 + 3*sin(y)"``); FormulaError names anything refused."""
    if not isinstance(text, str):
        raise FormulaError("a formula is text")
    if len(text) > MAX_LENGTH:
        raise FormulaError(f"the formula is {len(text)} characters long; at most {MAX_LENGTH} are allowed")
    if not text.strip():
        raise FormulaError("the formula is empty: type an expression in x and y, e.g. x**2 + y**2")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise FormulaError(f"not an expression: {exc.msg} (column {exc.offset})") from None
    except (ValueError, RecursionError, MemoryError):
        raise FormulaError("not an expression this parser accepts") from None
    count = sum(1 for _ in ast.walk(tree))
    if count > MAX_NODES:
        raise FormulaError(f"the formula has {count} parts; at most {MAX_NODES} are allowed")
    return Formula(text.strip(), _build(tree.body, 1))


def _const(v: float) -> Node:
    def node(x: np.ndarray, y: np.ndarray) -> Dual:
        z = np.zeros_like(x)
        return z + v, z, z

    return node


def _build(n: ast.AST, depth: int) -> Node:
    if depth > MAX_DEPTH:
        raise FormulaError(f"the formula is nested more than {MAX_DEPTH} levels deep")
    if isinstance(n, ast.Constant):
        v = n.value
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise FormulaError(f"only numbers are allowed, not {type(v).__name__} {v!r:.20}")
        if not math.isfinite(float(v)) or abs(v) > MAX_NUMBER:
            raise FormulaError(f"numbers must be at most {MAX_NUMBER:g} in size")
        return _const(float(v))
    if isinstance(n, ast.Name):
        if n.id == "x":
            return lambda x, y: (x, np.ones_like(x), np.zeros_like(x))
        if n.id == "y":
            return lambda x, y: (y, np.zeros_like(y), np.ones_like(y))
        if n.id in CONSTANTS:
            return _const(CONSTANTS[n.id])
        raise FormulaError(f"unknown name {n.id!r}: use x, y, pi, e and the functions "
                           f"{', '.join(FUNCTIONS)}")
    if isinstance(n, ast.UnaryOp) and isinstance(n.op, (ast.USub, ast.UAdd)):
        inner = _build(n.operand, depth + 1)
        if isinstance(n.op, ast.UAdd):
            return inner

        def neg(x: np.ndarray, y: np.ndarray) -> Dual:
            v, dx, dy = inner(x, y)
            return -v, -dx, -dy

        return neg
    if isinstance(n, ast.BinOp) and isinstance(n.op, (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow)):
        return _binary(n, depth)
    if isinstance(n, ast.Call):
        if not isinstance(n.func, ast.Name) or n.func.id not in FUNCTIONS:
            shown = n.func.id if isinstance(n.func, ast.Name) else "that"
            raise FormulaError(f"unknown function {shown!r}: the functions are {', '.join(FUNCTIONS)}")
        if n.keywords or len(n.args) != 1:
            raise FormulaError(f"{n.func.id}() takes exactly one argument")
        f, df = FUNCTIONS[n.func.id]
        arg = _build(n.args[0], depth + 1)

        def call(x: np.ndarray, y: np.ndarray) -> Dual:
            v, dx, dy = arg(x, y)
            d = df(v)
            return f(v), d * dx, d * dy

        return call
    raise FormulaError(f"{_describe(n)} is not allowed: only numbers, x, y, + - * / **, and the "
                       f"functions {', '.join(FUNCTIONS)}")


def _binary(n: ast.BinOp, depth: int) -> Node:
    left = _build(n.left, depth + 1)
    op = n.op
    if isinstance(op, ast.Pow):
        exponent = _constant_value(n.right)
        if exponent is not None:
            if abs(exponent) > MAX_EXPONENT:
                raise FormulaError(f"exponents must be at most {MAX_EXPONENT:g} in size, got {exponent:g}")
            k = exponent

            def power(x: np.ndarray, y: np.ndarray) -> Dual:
                v, dx, dy = left(x, y)
                d = k * v ** (k - 1.0) if k != 0 else np.zeros_like(v)
                return v**k, d * dx, d * dy

            return power
        right = _build(n.right, depth + 1)

        def general_power(x: np.ndarray, y: np.ndarray) -> Dual:
            # u^w with w varying: d = u^w (w' ln u + w u'/u); the exponent is capped where evaluated.
            u, ux, uy = left(x, y)
            w, wx, wy = right(x, y)
            w = np.clip(w, -MAX_EXPONENT, MAX_EXPONENT)
            p = u**w
            lu = np.log(u)
            return p, p * (wx * lu + w * ux / u), p * (wy * lu + w * uy / u)

        return general_power
    right = _build(n.right, depth + 1)
    if isinstance(op, ast.Add):
        def add(x: np.ndarray, y: np.ndarray) -> Dual:
            a, ax_, ay = left(x, y)
            b, bx, by = right(x, y)
            return a + b, ax_ + bx, ay + by

        return add
    if isinstance(op, ast.Sub):
        def sub(x: np.ndarray, y: np.ndarray) -> Dual:
            a, ax_, ay = left(x, y)
            b, bx, by = right(x, y)
            return a - b, ax_ - bx, ay - by

        return sub
    if isinstance(op, ast.Mult):
        def mul(x: np.ndarray, y: np.ndarray) -> Dual:
            a, ax_, ay = left(x, y)
            b, bx, by = right(x, y)
            return a * b, ax_ * b + a * bx, ay * b + a * by

        return mul

    def div(x: np.ndarray, y: np.ndarray) -> Dual:
        a, ax_, ay = left(x, y)
        b, bx, by = right(x, y)
        return a / b, (ax_ * b - a * bx) / (b * b), (ay * b - a * by) / (b * b)

    return div


def _constant_value(n: ast.AST) -> float | None:
    """A constant exponent (``2``, ``-0.5``, ``+3``) as a number, else None."""
    sign = 1.0
    while isinstance(n, ast.UnaryOp) and isinstance(n.op, (ast.USub, ast.UAdd)):
        sign = -sign if isinstance(n.op, ast.USub) else sign
        n = n.operand
    if isinstance(n, ast.Constant) and isinstance(n.value, (int, float)) and not isinstance(n.value, bool):
        return sign * float(n.value)
    return None


def _describe(n: ast.AST) -> str:
    names = {
        ast.Attribute: "attribute access (a.b)", ast.Subscript: "indexing (a[i])", ast.Lambda: "a lambda",
        ast.ListComp: "a comprehension", ast.GeneratorExp: "a comprehension", ast.SetComp: "a comprehension",
        ast.DictComp: "a comprehension", ast.Compare: "a comparison", ast.BoolOp: "and/or",
        ast.IfExp: "if/else", ast.NamedExpr: "an assignment (:=)", ast.List: "a list", ast.Tuple: "a tuple",
        ast.Dict: "a dict", ast.Set: "a set", ast.JoinedStr: "an f-string", ast.Starred: "*unpacking",
    }
    for kind, text in names.items():
        if isinstance(n, kind):
            return text
    if isinstance(n, ast.BinOp):
        return f"the operator {type(n.op).__name__}"
    if isinstance(n, ast.UnaryOp):
        return f"the operator {type(n.op).__name__}"
    return type(n).__name__
