"""Golden syntax errors: exact message, exact range (0-based line, col, end line, end col),
and the kinds of the items recovered around the error (one typo, one error, a tree for
the rest)."""

from __future__ import annotations

import pytest

from tl_core.syntax import parse

CASES = [('call_missing_paren',
  'let x = foo(1, 2\nlet y = 3',
  [("expected ')' to close the call started at 1:12, found 'let'", (1, 0, 1, 3))],
  ['Let', 'Let']),
 ('call_missing_paren_in_fn',
  'fn f() {\n  let a = 1\n  let b = foo(a,\n  let c = 2\n}\nlet after = 1',
  [("expected ')' to close the call started at 3:14, found 'let'", (3, 2, 3, 5))],
  ['FnDecl', 'Let']),
 ('let_missing_value',
  'let x = \nlet y = 2',
  [("expected an expression, found 'let'", (1, 0, 1, 3))],
  ['Let', 'Let']),
 ('missing_comma',
  'x = foo(1 2)\nprint(x)',
  [("expected ',' or ')' to close the call started at 1:8, found '2'", (0, 10, 0, 11))],
  ['ErrorStmt', 'ExprStmt']),
 ('assign_in_condition',
  'if x = 1 {\n}',
  [("expected an operator or '{', found '='; to compare, write '=='", (0, 5, 0, 6))],
  ['ErrorStmt']),
 ('let_missing_name',
  'let = 5\nlet z = 1',
  [("expected a name, found '='", (0, 4, 0, 5))],
  ['ErrorStmt', 'Let']),
 ('fn_missing_name',
  'fn (a: int) {}\nlet z = 1',
  [("expected a name, found '('", (0, 3, 0, 4))],
  ['ErrorStmt', 'Let']),
 ('list_missing_bracket',
  'let x = [1, 2\nlet y = 1',
  [("expected ']' to close the list started at 1:9, found 'let'", (1, 0, 1, 3))],
  ['Let', 'Let']),
 ('paren_missing',
  'let x = (1 + 2\nlet y = 1',
  [("expected ')' to close the parentheses started at 1:9, found 'let'", (1, 0, 1, 3))],
  ['Let', 'Let']),
 ('block_unclosed_at_eof',
  'fn f() {\n let x = 1\n',
  [("expected '}' to close the block started at 1:8, found end of file", (2, 0, 2, 0))],
  ['FnDecl']),
 ('block_unclosed_before_fn',
  'fn f() {\n let x = 1\n\nfn g() {\n}\n',
  [("expected '}' to close the block started at 1:8, found 'fn'", (3, 0, 3, 2))],
  ['FnDecl', 'FnDecl']),
 ('unterminated_string',
  'let s = "abc\nlet t = 1',
  [('unterminated string: add a closing \'"\' before the end of the line', (0, 8, 0, 12))],
  ['Let', 'Let']),
 ('unterminated_block_comment',
  'let y = 0\n/* never closed\nlet x = 1',
  [("unterminated block comment: add '*/' to close the comment started here", (1, 0, 1, 2))],
  ['Let']),
 ('invalid_character',
  'let x = 1 $ 2\nlet y = 3',
  [("unexpected character '$'", (0, 10, 0, 11))],
  ['Let', 'ExprStmt', 'Let']),
 ('single_quotes',
  "let x = 'a'\nlet y = 2",
  [('strings use double quotes: write "a" instead of \'a\'', (0, 8, 0, 11))],
  ['Let', 'Let']),
 ('hash_comment',
  '# comment\nlet y = 2',
  [("unexpected character '#'; comments start with //", (0, 0, 0, 1))],
  ['ExprStmt', 'Let']),
 ('single_ampersand',
  'let x = a & b',
  [("unexpected character '&'; did you mean '&&'?", (0, 10, 0, 11))],
  ['Let', 'ExprStmt']),
 ('stray_paren',
  'x = 1 )\ny = 2',
  [("unexpected ')': there is no open '(' for it to close", (0, 6, 0, 7))],
  ['Assign', 'ErrorStmt', 'Assign']),
 ('stray_brace',
  '}\nlet y = 2',
  [("unexpected '}': there is no open '{' for it to close", (0, 0, 0, 1))],
  ['ErrorStmt', 'Let']),
 ('empty_argument',
  'let x = foo(a, , b)',
  [("expected an expression or ')' to close the call started at 1:12, found ','", (0, 15, 0, 16))],
  ['Let']),
 ('reserved_word_as_name',
  'let fn = 3',
  [("expected a name, found 'fn' (a reserved word, which cannot be used as a name)", (0, 4, 0, 6))],
  ['ErrorStmt']),
 ('operator_at_eof',
  'let x = 1 +\n',
  [('expected an expression, found end of file', (1, 0, 1, 0))],
  ['Let']),
 ('struct_field_without_type',
  'struct P { x: float, y }\nlet q = 1',
  [("expected ':', found '}'", (0, 23, 0, 24))],
  ['ErrorStmt', 'Let']),
 ('tensor_type_unclosed',
  'tensor w: float16[3, 2 = zeros([3, 2])\nlet q = 1',
  [("expected ',' or ']' to close the tensor type started at 1:18, found '='", (0, 23, 0, 24))],
  ['ErrorStmt', 'Let']),
 ('for_without_block',
  'for i in range(3) print(i)\nlet y = 1',
  [("expected an operator or '{', found 'print'", (0, 18, 0, 23))],
  ['ErrorStmt', 'Let']),
 ('while_unclosed',
  'while x < 3 {\n x = x + 1\n\nlet y = 1',
  [("expected '}' to close the block started at 1:13, found end of file", (3, 9, 3, 9))],
  ['While']),
 ('match_missing_comma',
  'let m = match x { 1 => 2 3 => 4 }',
  [("expected ',' or '}' to close the match started at 1:17, found '3'", (0, 25, 0, 26))],
  ['ErrorStmt']),
 ('where_without_constraint',
  'Parent(alice, X)? where',
  [('expected an expression, found end of file', (0, 23, 0, 23))],
  ['Query']),
 ('unknown_infer_mode',
  'infer sideways Q(x)?',
  [("expected '{', 'backward', 'forward', 'gradient' or 'symbolic', found 'sideways'",
    (0, 6, 0, 14))],
  ['ErrorStmt']),
 ('unknown_escape',
  'let x = "bad \\q escape"',
  [('unknown escape \'\\q\' in a string; the escapes are \\" \\\\ \\n \\t \\r \\uXXXX \\u{X...} '
    '(write \\\\ for a '
    'backslash)',
    (0, 13, 0, 15))],
  ['Let']),
 ('assign_to_number',
  '3 = x',
  [("cannot assign to a number: the left side of '=' must be a name, a field or an index",
    (0, 0, 0, 1))],
  ['Assign']),
 ('import_without_quotes',
  'import foo',
  [('expected a string, found \'foo\'; write the path in quotes: import "foo.tl"', (0, 7, 0, 10))],
  ['ErrorStmt']),
 ('double_dot', 'let a = b..c', [("expected a name, found '.'", (0, 10, 0, 11))], ['ErrorStmt']),
 ('slice_too_many_colons',
  'let a = x[1:2:3:4]',
  [("expected ',' or ']' to close the index started at 1:10, found ':'", (0, 15, 0, 16))],
  ['ErrorStmt']),
 ('tensor_ctor_unclosed_type',
  'let t = tensor<float16([1.0])',
  [("expected '>', found '('", (0, 22, 0, 23))],
  ['ErrorStmt']),
 ('shape_unclosed_in_param',
  'fn f(a: float16[N, D) -> int { return 1 }',
  [("expected ',' or ']' to close the tensor type started at 1:16, found ')'", (0, 20, 0, 21))],
  ['FnDecl']),
 ('nul_bytes',
  'let x = \x00\x00 1',
  [("unexpected characters '\\u0000\\u0000'", (0, 8, 0, 10))],
  ['Let']),
 ('lone_surrogate', 'let x = \ud800', [('unexpected character U+D800', (0, 8, 0, 9))], ['Let']),
 ('rule_head_not_atom',
  'x <- Parent(x, y)',
  [('the head of a rule must be an atom such as Grandparent(X, Z), found a name', (0, 0, 0, 1))],
  ['ErrorStmt']),
 ('query_not_atom',
  '3?',
  [('a query must be an atom such as Parent(alice, X)?, found a number', (0, 0, 0, 1))],
  ['ErrorStmt']),
 ('korean_text_in_code',
  'let 이름 = 1\nlet y = 2',
  [("unexpected characters '이름'; names use ASCII letters, digits and '_' only (comments and "
    'strings may hold any text)',
    (0, 4, 0, 6))],
  ['ErrorStmt', 'Let']),
 ('missing_struct_field_value',
  'let p = Point { x: }\nlet y = 1',
  [("expected an expression, found '}'", (0, 19, 0, 20))],
  ['Let', 'Let'])]


@pytest.mark.parametrize("name,source,errors,kinds", CASES, ids=[c[0] for c in CASES])
def test_golden_syntax_error(name: str, source: str, errors: list, kinds: list) -> None:
    result = parse(source)
    got = [(e.message, (e.span.line, e.span.col, e.span.end_line, e.span.end_col))
           for e in result.errors]
    assert got == errors
    assert [type(i).__name__ for i in result.program.items] == kinds
    assert all(e.code == "syntax" for e in result.errors)


def test_at_least_25_golden_cases() -> None:
    assert len(CASES) >= 25


def test_message_of_the_issue() -> None:
    text = "fn f() {\n  let a = 1\n  let b = foo(a,\n  let c = 2\n}\n"
    (err,) = parse(text).errors
    assert err.message == "expected ')' to close the call started at 3:14, found 'let'"
    assert err.format("f.tl") == (
        "f.tl:4:3: error: expected ')' to close the call started at 3:14, found 'let'")


def test_recovered_let_keeps_its_name_for_later_layers() -> None:
    result = parse("let y = model.get_tensor(\nlet z = y\n")
    first, second = result.program.items
    assert first.name == "y" and second.name == "z"
    assert len(result.errors) == 1


def test_error_in_one_fn_leaves_the_next_fn_intact() -> None:
    text = "fn a() {\n  let x = (1 +\n}\n\nfn b() -> int {\n  return 2\n}\n"
    result = parse(text)
    assert len(result.errors) == 1
    assert [type(i).__name__ for i in result.program.items] == ["FnDecl", "FnDecl"]
    assert result.program.items[1].name == "b"


def test_unterminated_string_inside_a_call_is_one_error() -> None:
    text = 'let y = model.get_tensor("w\nprint(y)\n'
    result = parse(text)
    assert [e.message for e in result.errors] == [
        "unterminated string: add a closing '\"' before the end of the line"]
    let = result.program.items[0]
    assert let.value.args[0].value.value == "w"
    assert [type(i).__name__ for i in result.program.items] == ["Let", "ExprStmt"]


def test_backslash_newline_does_not_continue_a_string() -> None:
    text = 'let s = "a\\\nlet t = 1\n'
    result = parse(text)
    assert [(e.message, e.span.line) for e in result.errors] == [
        ("unterminated string: add a closing '\"' before the end of the line", 0)]
    assert result.program.items[1].span.line == 1


@pytest.mark.parametrize(("written", "value"), [
    ("\\u00e9", "\u00e9"), ("\\u{1F600}", "\U0001F600"), ("a\\u0041b", "aAb"), ("\\u{41}", "A"),
])
def test_unicode_escapes(written, value):
    from tl_core.syntax import parse

    r = parse(f'let x = "{written}"')
    assert r.errors == ()
    assert r.program.items[0].value.value == value


def test_a_bad_unicode_escape_is_the_unknown_escape_error():
    from tl_core.syntax import parse

    r = parse('let x = "\\u12"')
    assert [e.message.split(";")[0] for e in r.errors] == ["unknown escape '\\u' in a string"]
