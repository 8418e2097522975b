"""Our lexer and LR loop against lark's own contextual lexer and LALR parser (the oracle).

lark parses with the same grammar and the same callbacks, so on valid text the trees must
be identical; chunking must not change the tree of a valid file either.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tl_core.syntax import ast as A
from tl_core.syntax import parse
from tl_core.syntax.fastnew import N
from tl_core.syntax.parser import lark_parse_chunk, parse_chunk
from tl_core.syntax.scanner import split_chunks
from tl_core.syntax.span import Span

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.tl")) + sorted((ROOT / "examples" / "syntax").glob("*.tl"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_whole_file_equals_lark(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert parse(text).program.items == lark_parse_chunk(text)[0]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_each_chunk_equals_lark(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for c in split_chunks(text):
        chunk = text[c.start : c.end]
        ours = parse_chunk(chunk, 0, len(chunk), 0)
        assert ours.errors == ()
        assert ours.items == lark_parse_chunk(chunk)[0]


CONTEXTUAL = [
    "if x<-1 { y = 1 }",  # `<-` split where a rule arrow cannot stand
    "let t = x[::2]",
    "where = 3\nembed = where",
    "let a = b\n(c)\n[d]\n{ e }",
    "infer { forward Q(x)? backward R(y)? where y != 1 }",
    "learnable(w)\ntensor v: float16[2] learnable = w",
    "test = 1\ntest t { x }",
    "embedding(t, ids)\nembedding e { dimension: 3 }",
    "fn classify(v: inferat) -> string { return \"x\" }\nlet learner = inferx",
    "let testing = 1\nlet entity_count = 2\nlet relations = 3",
    # `tensor` names a parameter or variable (the original accepts it) and still declares
    "fn f(tensor: float16[?]) -> float16[?] { return tensor * 2.0 }\nlet tensor = 1\n"
    "tensor w: float16[2] = [1.0, 2.0]\nlet y = tensor as f32\nfor tensor in xs { }\n"
    "let z = tensor < n\nlet c = tensor(t)\nlet d = tensor<float32>(t)\ntensor = tensor + 1",
    # learn and bench blocks inside main (and other blocks)
    "main {\n    learn { objective: w, epochs: 1 }\n    bench b { x }\n}",
    # the original's word operators and `≈`, and the same words as names
    "if not rank(x) == 2 { }\nwhile a and not b or c { }\nlet y = x ≈ 1.0\n"
    "let not = 1\nlet and = not + 1\nlet or = and\nreturn not x",
    # `and`/`or` ending a line continue the condition; ending a statement they are names
    "if not a ≈ b and\n    c ≈ d or // why\n\n    e { }\nlet b = and\nlet c = or\nf(x)\n"
    "let d = x\nand = 2",
    # test blocks inside main (and other blocks: the checker says where they may stand)
    "main {\n    test t { assert(x) }\n    if c { test u { } }\n}\ntest v { }",
]


@pytest.mark.parametrize("text", CONTEXTUAL)
def test_contextual_lexing_equals_lark(text: str) -> None:
    ours = parse_chunk(text, 0, len(text), 0)
    assert ours.errors == ()
    assert ours.items == lark_parse_chunk(text)[0]


def test_fast_constructors_make_equal_objects() -> None:
    s = Span(1, 2, 3, 4, 5, 6)
    assert N.Span(1, 2, 3, 4, 5, 6) == s
    assert hash(N.Span(1, 2, 3, 4, 5, 6)) == hash(s)
    assert N.TensorTypeExpr(s, "float16", None) == A.TensorTypeExpr(s, "float16", None)
    assert N.Arg(s, A.Name(s, "x")) == A.Arg(s, A.Name(s, "x"))
    with pytest.raises(AttributeError):
        N.Span(1, 2, 3, 4, 5, 6).start = 9  # still frozen


def test_contextual_keyword_only_where_really_accepted() -> None:
    # LALR merges the state after `1` with the one inside `infer { ... }`, so lark's
    # contextual lexer takes `forward` as the infer mode here and fails; we do not.
    text = "Q(x)? where x > 1\nforward = 2"
    ours = parse_chunk(text, 0, len(text), 0)
    assert ours.errors == ()
    assert isinstance(ours.items[1], A.Assign) and ours.items[1].target.id == "forward"
    with pytest.raises(Exception):  # noqa: B017 - any lark error
        lark_parse_chunk(text)


def test_only_the_intended_shift_reduce_conflicts() -> None:
    # grammar.lark's header lists them; a new one means a new ambiguity
    import logging

    from lark import Lark, logger

    grammar = (ROOT / "tl_core" / "syntax" / "grammar.lark").read_text(encoding="utf-8")
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    handler = Keep()
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        Lark(grammar, parser="lalr", lexer="contextual", maybe_placeholders=False, debug=True)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    conflicts = {m.split("terminal ")[1].split(":")[0] for m in records if "Shift/Reduce" in m}
    assert not any("Reduce/Reduce" in m for m in records)
    # return + expression; operators and brackets continuing an expression; `,` continuing
    # a rule body or constraint list; `[` after a type name; `not` (as `!`) after `return`
    assert conflicts == {
        "COMMA", "LSQB", "MINUS", "LPAR", "LBRACE", "TRUE", "FALSE", "TENSOR", "STRING",
        "NUMBER", "NL_LSQB", "NL_LPAR", "NAME", "MATCH", "ERREXPR", "BANG", "NOT"}


def test_tensor_is_a_name_except_before_a_declaration_or_constructor() -> None:
    text = ("fn f(tensor: float16[?]) -> float16[?] { return tensor }\n"
            "tensor w: float16[2] = [1.0, 2.0]\nlet y = tensor as f32\nlet z = tensor < n\n"
            "let c = tensor([1.0])\nlet d = tensor<float32>([1.0])\n")
    items = parse_chunk(text, 0, len(text), 0).items
    f, w, y, z, c, d = items
    assert f.params[0].name == "tensor" and isinstance(f.body.stmts[0].value, A.Name)
    assert isinstance(w, A.TensorDecl) and w.name == "w"
    assert isinstance(y.value, A.Cast) and y.value.expr.id == "tensor"
    assert isinstance(z.value, A.Binary) and z.value.left.id == "tensor"
    assert isinstance(c.value, A.TensorCtor) and isinstance(d.value, A.TensorCtor)


def test_learn_and_bench_inside_main_are_statements() -> None:
    text = "main {\n    learn { objective: w, epochs: 1 }\n    bench b { x }\n}"
    (main,) = parse_chunk(text, 0, len(text), 0).items
    assert [type(s) for s in main.body.stmts] == [A.LearnBlock, A.BenchDecl]


def test_test_blocks_inside_main_are_statements() -> None:
    text = "main {\n    let a = 1\n    test t { assert(a) }\n}\ntest top { }"
    main, top = parse_chunk(text, 0, len(text), 0).items
    assert [type(s) for s in main.body.stmts] == [A.Let, A.TestDecl]
    assert main.body.stmts[1].name == "t" and isinstance(top, A.TestDecl)


def test_the_originals_not_and_or_and_approx() -> None:
    text = ("if not rank(x) == 2 and y ≈ 1.0 or z { }\nlet not = 1\nlet y = not + 1\n"
            "let w = !a == b\n")
    first, let_not, let_y, let_w = parse_chunk(text, 0, len(text), 0).items
    c = first.cond  # ((not (rank(x) == 2)) and (y ≈ 1.0)) or z
    assert (c.op, c.left.op, c.left.left.op, c.left.left.operand.op, c.left.right.op) == \
        ("||", "&&", "!", "==", "≈")
    assert let_not.name == "not" and let_y.value.left.id == "not"
    assert let_w.value.op == "==" and let_w.value.left.op == "!"  # `!` stays tight
    assert c.left.left.word and not let_w.value.left.word  # `not` as written, for messages


def test_and_or_at_the_end_of_a_line_continue_the_condition() -> None:
    text = "if not a ≈ b and\n    c ≈ d or\n    e { }\nlet b = and\nf(x)\n"
    first, let_b, call = parse_chunk(text, 0, len(text), 0).items
    c = first.cond  # ((not (a ≈ b)) and (c ≈ d)) or e
    assert (c.op, c.left.op, c.left.left.op, c.left.right.op, c.right.id) == \
        ("||", "&&", "!", "≈", "e")
    assert let_b.value.id == "and" and isinstance(call, A.ExprStmt)
