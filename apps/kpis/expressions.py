"""The small, safe expression language KPIs are written in (no Django, and never ``eval``).

A text is parsed with Python's own parser (``ast``) and then only a short list of node kinds is
accepted and turned into closures; anything else is refused with a message that names it.

Fields a row offers:
    prediction          the predicted class (compared as its label text) or number
    outcome             the ground truth that arrived for the prediction (None until it does)
    score               the positive class's probability (binary), the top probability otherwise
    inputs.<name>       a request field; ``inputs["a name"]`` for names that are not identifiers

Values: numbers, strings, True/False, None, lists of those (for ``in``). Operators: + - * /,
unary -, comparisons (== != < <= > >= in, not in, is None, is not None), and/or/not,
``a if condition else b``, and the functions abs, min, max.

A missing field or an impossible operation (None + 1, x / 0, "a" * 2) makes the value None, so a
row that cannot be valued is left out and counted, never a crash of the roll-up."""

import ast
import math
from collections.abc import Callable
from dataclasses import dataclass

ROW_FIELDS = ("prediction", "outcome", "score")
FUNCTIONS = {"abs": abs, "min": min, "max": max}
MAX_LENGTH = 2000


class ExpressionError(ValueError):
    """The text is not a valid KPI expression; the message says what and where."""


@dataclass(frozen=True)
class Row:
    """One logged prediction, as KPI expressions see it."""

    inputs: dict
    prediction: object
    score: float | None = None
    outcome: object = None
    has_outcome: bool = False


def label(value) -> object:
    """1, 1.0 and "1" compare equal; classes are compared as their label text."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    return value


def _number(value) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return None if isinstance(value, float) and math.isnan(value) else float(value)
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        return None if math.isnan(number) else number
    return None


def _equal(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    x, y = _number(a), _number(b)
    if x is not None and y is not None:
        return x == y
    return str(label(a)) == str(label(b))


def _order(op: ast.cmpop, a, b) -> bool:
    x, y = _number(a), _number(b)
    if x is None or y is None:
        if isinstance(a, str) and isinstance(b, str):
            x, y = a, b  # text orders as text
        else:
            return False
    return {ast.Lt: x < y, ast.LtE: x <= y, ast.Gt: x > y, ast.GtE: x >= y}[type(op)]


def _compare(op: ast.cmpop, a, b) -> bool:
    if isinstance(op, ast.Eq):
        return _equal(a, b)
    if isinstance(op, ast.NotEq):
        return not _equal(a, b)
    if isinstance(op, ast.In | ast.NotIn):
        found = isinstance(b, list | tuple) and any(_equal(a, item) for item in b)
        return found if isinstance(op, ast.In) else not found
    if isinstance(op, ast.Is):
        return a is None
    if isinstance(op, ast.IsNot):
        return a is not None
    return _order(op, a, b)


def _arithmetic(op: ast.operator, a, b):
    x, y = _number(a), _number(b)
    if x is None or y is None:
        return None
    if isinstance(op, ast.Add):
        return x + y
    if isinstance(op, ast.Sub):
        return x - y
    if isinstance(op, ast.Mult):
        return x * y
    return None if y == 0 else x / y


def _call(name: str, values: list):
    numbers = [_number(v) for v in values]
    if any(n is None for n in numbers):
        return None
    return FUNCTIONS[name](*numbers)


Evaluator = Callable[[Row], object]


@dataclass(frozen=True)
class Expression:
    """A parsed expression: ``evaluate(row)`` and the fields it reads (``inputs.Amount``, ``outcome``…)."""

    text: str
    fields: frozenset[str]
    evaluate: Evaluator

    def is_true(self, row: Row) -> bool:
        return self.evaluate(row) is True

    def number(self, row: Row) -> float | None:
        value = _number(self.evaluate(row))
        return None if value is None or math.isinf(value) else value

    @property
    def needs_outcome(self) -> bool:
        return "outcome" in self.fields


class _Compiler:
    ARITHMETIC = (ast.Add, ast.Sub, ast.Mult, ast.Div)

    def __init__(self, text: str):
        self.text = text
        self.fields: set[str] = set()

    def fail(self, node: ast.AST, what: str) -> ExpressionError:
        column = getattr(node, "col_offset", None)
        where = f" at character {column + 1}" if column is not None else ""
        return ExpressionError(f"{what}{where} in {self.text!r}")

    def field(self, name: str) -> Evaluator:
        self.fields.add(name)
        if name.startswith("inputs."):
            key = name[len("inputs.") :]
            return lambda row: row.inputs.get(key) if isinstance(row.inputs, dict) else None
        return lambda row: getattr(row, name)

    def constant(self, node: ast.AST):
        if isinstance(node, ast.Constant) and (
            node.value is None or isinstance(node.value, int | float | str)
        ):
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            value = self.constant(node.operand)
            if isinstance(value, int | float) and not isinstance(value, bool):
                return -value
        raise self.fail(node, "a list may hold only numbers, text, True/False or None")

    def build(self, node: ast.AST) -> Evaluator:  # noqa: C901 - one branch per accepted node kind
        if isinstance(node, ast.Constant):
            if node.value is not None and not isinstance(node.value, int | float | str):
                raise self.fail(node, f"{type(node.value).__name__} values are not allowed")
            value = node.value
            return lambda row: value
        if isinstance(node, ast.Name):
            if node.id in ROW_FIELDS:
                return self.field(node.id)
            if node.id == "inputs":
                raise self.fail(node, "name the request field: inputs.<field>")
            raise self.fail(
                node, f"unknown field '{node.id}' (use prediction, outcome, score or inputs.<field>)"
            )
        if isinstance(node, ast.Attribute):
            if isinstance(node.value, ast.Name) and node.value.id == "inputs":
                return self.field(f"inputs.{node.attr}")
            raise self.fail(node, "only inputs.<field> may be written with a dot")
        if isinstance(node, ast.Subscript):
            key = node.slice
            if (
                isinstance(node.value, ast.Name)
                and node.value.id == "inputs"
                and isinstance(key, ast.Constant)
                and isinstance(key.value, str)
            ):
                return self.field(f"inputs.{key.value}")
            raise self.fail(node, 'only inputs["<field>"] may be written with brackets')
        if isinstance(node, ast.List | ast.Tuple):
            items = [self.constant(item) for item in node.elts]
            return lambda row: items
        if isinstance(node, ast.UnaryOp):
            operand = self.build(node.operand)
            if isinstance(node.op, ast.Not):
                return lambda row: operand(row) is not True
            if isinstance(node.op, ast.USub):
                return lambda row: None if (v := _number(operand(row))) is None else -v
            if isinstance(node.op, ast.UAdd):
                return lambda row: _number(operand(row))
            raise self.fail(node, "this operator is not allowed")
        if isinstance(node, ast.BinOp):
            if not isinstance(node.op, self.ARITHMETIC):
                raise self.fail(node, "only + - * / are allowed")
            left, right, op = self.build(node.left), self.build(node.right), node.op
            return lambda row: _arithmetic(op, left(row), right(row))
        if isinstance(node, ast.BoolOp):
            parts = [self.build(v) for v in node.values]
            if isinstance(node.op, ast.And):
                return lambda row: all(p(row) is True for p in parts)
            return lambda row: any(p(row) is True for p in parts)
        if isinstance(node, ast.Compare):
            return self.comparison(node)
        if isinstance(node, ast.IfExp):
            test, body, orelse = self.build(node.test), self.build(node.body), self.build(node.orelse)
            return lambda row: body(row) if test(row) is True else orelse(row)
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS or node.keywords:
                raise self.fail(node, f"only the functions {', '.join(FUNCTIONS)} may be called")
            if not node.args:
                raise self.fail(node, f"{node.func.id}() needs an argument")
            args, name = [self.build(a) for a in node.args], node.func.id
            if name == "abs" and len(args) != 1:
                raise self.fail(node, "abs() takes one argument")
            return lambda row: _call(name, [a(row) for a in args])
        raise self.fail(node, f"'{ast.unparse(node)}' is not allowed")

    def comparison(self, node: ast.Compare) -> Evaluator:
        for op, right in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, ast.Is | ast.IsNot) and not (
                isinstance(right, ast.Constant) and right.value is None
            ):
                raise self.fail(node, "'is' compares with None only")
        first = self.build(node.left)
        rest = [(op, self.build(right)) for op, right in zip(node.ops, node.comparators, strict=True)]

        def compare(row: Row) -> bool:
            left = first(row)
            for op, right in rest:
                value = right(row)
                if not _compare(op, left, value):
                    return False
                left = value
            return True

        return compare


def parse(text: str) -> Expression:
    """Parse ``text``; ExpressionError names what is wrong and where."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError('an expression is needed, e.g. prediction == "good"')
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"an expression may be at most {MAX_LENGTH} characters long")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(
            f"cannot be read: {exc.msg} at character {exc.offset or 0} in {text!r}"
        ) from None
    compiler = _Compiler(text.strip())
    evaluate = compiler.build(tree.body)
    return Expression(text=text.strip(), fields=frozenset(compiler.fields), evaluate=evaluate)
