"""Pathological input gives diagnostics, never an exception or a runaway tree."""

from __future__ import annotations

import pytest

from tl_core.syntax import IncrementalParser, parse
from tl_core.syntax.parser import MAX_BRACKET_DEPTH

from .test_syntax_properties import check_spans

CASES = {
    "5000 nested parens": "x = " + "(" * 5000 + "1" + ")" * 5000 + "\ny = 2\n",
    "5000 open parens": "x = " + "(" * 5000,
    "5000 nested lists": "x = " + "[" * 5000 + "]" * 5000,
    "5000 nested blocks": "{" * 5000 + "}" * 5000,
    "5000 unary minus": "x = " + "-" * 5000 + "1",
    "5000 fields": "x = a" + ".b" * 5000,
    "5000 calls": "x = f" + "()" * 5000,
    "3000 unclosed fns": "fn f() {" * 3000,
    "1 MB line": "x = " + "a + " * 250_000 + "1\n",
    "1 MB string": 'x = "' + "a" * 1_000_000 + '"\n',
    "NUL bytes": "\x00" * 1000 + "let x = 1",
    "lone surrogates": 'let x = "\ud800"\n// \udfff\nlet y = \udc00',
    "unterminated string at EOF": 'let x = "abc',
    "unterminated comment at EOF": "let x = 1 /* abc",
    "only a quote": '"',
    "only a slash star": "/*",
    "CRLF": "let x = 1\r\nlet y = (x\r\n",
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CASES))
def test_pathological(name: str) -> None:
    text = CASES[name]
    result = parse(text)
    check_spans(text, result) if len(text) < 100_000 else None
    if name not in ("1 MB string", "CRLF"):
        assert result.errors, name
    assert IncrementalParser().parse(text).errors == result.errors


def test_nesting_error_message() -> None:
    text = "x = " + "(" * 200 + "1" + ")" * 200 + "\ny = 2\n"
    result = parse(text)
    (err,) = result.errors
    assert err.message == (f"too deeply nested: more than {MAX_BRACKET_DEPTH} brackets open "
                           "at once")
    assert (err.span.col, err.span.end_col) == (4 + MAX_BRACKET_DEPTH, 5 + MAX_BRACKET_DEPTH)
    assert [type(i).__name__ for i in result.program.items] == ["ErrorStmt", "Assign"]


def test_long_chain_message() -> None:
    result = parse("x = " + "a + " * 300 + "1\ny = 2\n")
    (err,) = result.errors
    assert err.message.startswith("expression too long: more than 256 operators")
    assert result.program.items[1].target.id == "y"


def test_depth_limit_across_calls_and_chains() -> None:
    # 100 nested calls, each with a 20-operator chain around the next: neither limit on
    # brackets nor on chains is reached, but the tree would be ~2,000 levels deep
    text = "x = " + "f(" * 100 + "a" + (" + a" * 20 + ")") * 100 + "\ny = 2\n"
    result = parse(text)
    assert [e.message for e in result.errors] == [
        "nested too deeply: more than 400 levels in one statement; split it with `let`"]
    assert [type(i).__name__ for i in result.program.items] == ["ErrorStmt", "Assign"]
    assert IncrementalParser().parse(text) == result
