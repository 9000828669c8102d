"""A small evaluator of GitHub Actions `${{ }}` expressions: the subset our workflow uses.

Literals (null, true, false, numbers, 'strings'), contexts (`inputs.x`, `vars.x`, `secrets.x`, with
property names that may contain hyphens), `!`, `==`, `!=`, `&&`, `||` and parentheses. Anything else
(functions, `<`, indexes, double quotes) is refused, so a workflow that uses more fails the test
rather than being evaluated wrongly.

Documented by GitHub ("Evaluate expressions in workflows and actions"):
- falsy values are false, 0, -0, '' and null; everything else is truthy;
- `&&` and `||` return one of their operands (hence `cond && 'a' || 'b'` as a ternary, which gives
  'b' whenever 'a' is falsy);
- `==` is loose: operands of different types are both converted to numbers (null -> 0, true -> 1,
  false -> 0, a string -> the JSON number it spells, '' -> 0, otherwise NaN; arrays and objects ->
  NaN); NaN equals nothing; strings compare ignoring case; objects and arrays only equal themselves;
- a string literal uses single quotes, '' inside being a quote; double quotes are an error;
- the result is converted to a string where a string is needed: null -> '', booleans -> 'true' /
  'false'.
Our reading: context and property names match ignoring case, a missing property is null, and
surrounding whitespace of a string is ignored when it is converted to a number.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<number>-?(?:0x[0-9a-fA-F]+|\d+(?:\.\d+)?(?:[eE][-+]?\d+)?))"
    r"|(?P<op>==|!=|&&|\|\||!|\(|\)|\.)|(?P<name>[A-Za-z_][A-Za-z0-9_-]*))"
)
JSON_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?")
TEMPLATE = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)


class ExpressionError(ValueError):
    pass


def truthy(value: Any) -> bool:
    return value not in (None, False, "") and not (_is_number(value) and value == 0)


def to_number(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if _is_number(value):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if text == "":
            return 0.0
        return float(text) if JSON_NUMBER.fullmatch(text) else math.nan
    return math.nan


def loose_equal(left: Any, right: Any) -> bool:
    if _kind(left) != _kind(right):
        return to_number(left) == to_number(right)
    if isinstance(left, str):
        return bool(left.casefold() == right.casefold())
    if isinstance(left, (dict, list)):
        return left is right
    return bool(left == right)  # NaN == NaN is False, as documented


def to_string(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def evaluate(expression: str, contexts: Mapping[str, Any]) -> Any:
    parser = _Parser(_tokens(expression), contexts)
    value = parser.or_()
    if parser.peek() is not None:
        raise ExpressionError(f"unexpected {parser.peek()!r} in {expression!r}")
    return value


def substitute(text: str, contexts: Mapping[str, Any]) -> str:
    """Replace every `${{ expr }}` in a workflow value by the string of its value."""
    return TEMPLATE.sub(lambda match: to_string(evaluate(match.group(1), contexts)), text)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if _is_number(value):
        return "number"
    return type(value).__name__


def _tokens(expression: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    while expression[position:].strip():
        match = TOKEN.match(expression, position)
        if match is None or match.lastgroup is None:
            raise ExpressionError(f"unsupported syntax at {expression[position:]!r}")
        tokens.append((match.lastgroup, match.group(match.lastgroup)))
        position = match.end()
    return tokens


class _Parser:
    """Precedence, lowest first: ||, &&, == and !=, !, then primaries."""

    def __init__(self, tokens: list[tuple[str, str]], contexts: Mapping[str, Any]) -> None:
        self._tokens = tokens
        self._contexts = contexts

    def peek(self) -> str | None:
        return self._tokens[0][1] if self._tokens else None

    def _take(self) -> tuple[str, str]:
        if not self._tokens:
            raise ExpressionError("the expression ends too early")
        return self._tokens.pop(0)

    def or_(self) -> Any:
        value = self.and_()
        while self.peek() == "||":
            self._take()
            right = self.and_()
            value = value if truthy(value) else right
        return value

    def and_(self) -> Any:
        value = self.equality()
        while self.peek() == "&&":
            self._take()
            right = self.equality()
            value = right if truthy(value) else value
        return value

    def equality(self) -> Any:
        value = self.unary()
        while self.peek() in ("==", "!="):
            operator = self._take()[1]
            equal = loose_equal(value, self.unary())
            value = equal if operator == "==" else not equal
        return value

    def unary(self) -> Any:
        if self.peek() == "!":
            self._take()
            return not truthy(self.unary())
        return self.primary()

    def primary(self) -> Any:
        kind, text = self._take()
        if text == "(":
            value = self.or_()
            if self._take()[1] != ")":
                raise ExpressionError("missing )")
            return value
        if kind == "string":
            return text[1:-1].replace("''", "'")
        if kind == "number":
            return _number(text)
        if kind != "name":
            raise ExpressionError(f"unexpected {text!r}")
        literals = {"null": None, "true": True, "false": False}
        if text in literals:
            return literals[text]
        names = {name.casefold(): name for name in self._contexts}
        if text.casefold() not in names:
            raise ExpressionError(f"unknown context or function {text!r}")
        value = self._contexts[names[text.casefold()]]
        while self.peek() == ".":
            self._take()
            kind, name = self._take()
            if kind != "name":
                raise ExpressionError(f"a property name is needed after '.', not {name!r}")
            value = _property(value, name)
        return value


def _number(text: str) -> int | float:
    if text.lstrip("-").startswith("0x"):
        return int(text, 16)
    value = float(text)
    return int(value) if value.is_integer() and re.fullmatch(r"-?\d+", text) else value


def _property(value: Any, name: str) -> Any:
    if not isinstance(value, Mapping):
        return None
    for key, item in value.items():
        if key.casefold() == name.casefold():
            return item
    return None
