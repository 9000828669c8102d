"""The workflow evaluator against the examples and rules of GitHub's expression documentation."""

from __future__ import annotations

import math

import pytest

from tests.support.github_expressions import ExpressionError, evaluate, substitute, to_number

CONTEXTS = {
    "github": {"ref": "refs/heads/main"},
    "inputs": {"dry-run-mode": True, "public_gallery": False, "url_type": "VHD blob at Azure"},
    "vars": {},
    "secrets": {},
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [  # the documented literals
        ("${{ null }}", ""),
        ("${{ false }}", "false"),
        ("${{ 711 }}", "711"),
        ("${{ -9.2 }}", "-9.2"),
        ("${{ 0xff }}", "255"),
        ("${{ -2.99e-2 }}", "-0.0299"),
        ("Mona the Octocat", "Mona the Octocat"),
        ("${{ 'It''s open source!' }}", "It's open source!"),
    ],
)
def test_documented_literals(template: str, expected: str) -> None:
    assert substitute(template, CONTEXTS) == expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        # the documented ternary, and its trap: a falsy middle operand falls through to the right
        ("github.ref == 'refs/heads/main' && 'value_for_main_branch' || 'value_for_other_branches'",
         "value_for_main_branch"),
        ("github.ref == 'refs/heads/dev' && 'value_for_main_branch' || 'value_for_other_branches'",
         "value_for_other_branches"),
        ("inputs.dry-run-mode && '' || '--no-dry-run'", "--no-dry-run"),
        ("!inputs.dry-run-mode && '--no-dry-run' || ''", ""),
        # operands are returned, not booleans
        ("'a' && 'b'", "b"),
        ("'' && 'b'", ""),
        ("null || 0", 0),
        # falsy: false, 0, -0, '', null; the string 'false' is truthy
        ("!false", True), ("!0", True), ("!-0", True), ("!''", True), ("!null", True),
        ("!'false'", False), ("!'0'", False), ("!inputs.public_gallery", True),
        # loose equality: types differ -> numbers
        ("null == 0", True), ("true == 1", True), ("false == 0", True), ("'' == 0", True),
        ("'1.5' == 1.5", True), ("'abc' == 0", False), ("'abc' != 0", True), ("'true' == true", False),
        ("null == false", True), ("null == ''", True),
        # strings ignore case; objects equal only themselves; missing properties are null
        ("'VHD Blob at AZURE' == inputs.url_type", True),
        ("inputs == inputs", True), ("inputs == github", False),
        ("vars.MISSING == null", True), ("INPUTS.PUBLIC_GALLERY == false", True),
        # precedence: ! over ==, == over &&, && over ||, and parentheses
        ("!true == false", True), ("true || false && false", True), ("(true || false) && false", False),
    ],
)  # fmt: skip
def test_documented_semantics(expression: str, expected: object) -> None:
    result = evaluate(expression, CONTEXTS)
    assert result == expected and type(result) is type(expected)


def test_nan_equals_nothing() -> None:
    assert math.isnan(to_number("abc")) and math.isnan(to_number([]))
    assert evaluate("'abc' == 'abc'", CONTEXTS) is True  # same type: no conversion


@pytest.mark.parametrize("expression", ['"double"', "contains('a', 'b')", "1 < 2", "inputs['x']", "true &&"])
def test_refuses_what_it_does_not_implement(expression: str) -> None:
    with pytest.raises(ExpressionError):
        evaluate(expression, CONTEXTS)
