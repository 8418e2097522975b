"""The formatter: idempotent, keeps every comment, same tree (modulo positions)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tl_core.syntax import parse
from tl_core.syntax.format import format_text
from tl_core.syntax.span import Span

from .test_syntax_properties import EXAMPLES, PIECES, SETTINGS, apply_edits

ROOT = Path(__file__).resolve().parents[2]
PATHS = sorted((ROOT / "examples").glob("*.tl")) + sorted((ROOT / "examples" / "syntax").glob("*.tl"))


def strip(node):  # noqa: ANN001, ANN201
    """The tree without positions, as nested tuples."""
    if isinstance(node, tuple):
        return tuple(strip(x) for x in node)
    if dataclasses.is_dataclass(node) and not isinstance(node, Span):
        return (type(node).__name__,) + tuple(
            strip(getattr(node, f.name)) for f in dataclasses.fields(node)
            if not isinstance(getattr(node, f.name), Span))
    return node


def comment_texts(text: str) -> list[str]:
    return [c.text.rstrip() for c in parse(text).comments]


def check_format(text: str) -> None:
    before = parse(text)
    out = format_text(text)
    if before.errors:
        assert out == text
        return
    after = parse(out)
    assert after.errors == ()
    assert strip(after.program.items) == strip(before.program.items)
    assert comment_texts(out) == comment_texts(text)
    assert format_text(out) == out


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_format_examples(path: Path) -> None:
    check_format(path.read_text(encoding="utf-8"))


MINE = [p for p in PATHS if p.name not in ("seed_linear.tl", "smollm2_embed.tl")]


def test_examples_are_formatted() -> None:
    # the parser's example programs are in the canonical layout (except the verbatim seed)
    for path in MINE:
        text = path.read_text(encoding="utf-8")
        assert format_text(text) == text, path.name


def test_format_messy_input() -> None:
    messy = (
        "fn  f( a:float16[ N,3 ],b : int)->float16[N,3]{\n"
        "      let y=a+b*2 // 설명\n"
        "\n\n\n"
        "  return -y\n"
        "}\n"
        "let t=tensor < float16 > ([1.0,2.0],device:gpu)\n"
        "let s=t[ 1 : , : ]\n"
        "x:=f(t ,3)\n"
    )
    assert format_text(messy) == (
        "fn f(a: float16[N, 3], b: int) -> float16[N, 3] {\n"
        "    let y = a + b * 2 // 설명\n"
        "\n"
        "    return -y\n"
        "}\n"
        "let t = tensor<float16>([1.0, 2.0], device: gpu)\n"
        "let s = t[1:, :]\n"
        "x := f(t, 3)\n"
    )


def test_text_with_errors_is_unchanged() -> None:
    text = "let x = (1 +\n   let   y=2\n"
    assert format_text(text) == text


def test_glued_tokens_stay_apart() -> None:
    assert format_text("let a = x[a: :2]\n") == "let a = x[a: :2]\n"
    assert format_text("let b = c - -d\n") == "let b = c - -d\n"


@SETTINGS
@given(st.sampled_from(range(len(EXAMPLES))), st.lists(
    st.tuples(st.floats(0, 1), st.integers(0, 3), st.sampled_from(PIECES + [" ", "\n"])),
    min_size=1, max_size=3))
def test_format_after_random_edits(k: int, edits) -> None:  # noqa: ANN001
    check_format(apply_edits(EXAMPLES[k], edits))


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(range(len(EXAMPLES))), st.integers(0, 4), st.integers(2, 4))
def test_format_reindented(k: int, spaces: int, blanks: int) -> None:
    # the same program with other indentation and more blank lines formats the same
    text = EXAMPLES[k]
    messy = "\n".join(" " * spaces + line.strip() for line in text.splitlines())
    messy = messy.replace("\n\n", "\n" * blanks)
    if "/*" in text:
        return  # stripping lines would change the inside of a block comment
    assert format_text(messy) == format_text(text)


def test_same_tree_ignores_positions_only() -> None:
    from tl_core.syntax.format import same_tree

    a = parse("let x = f(1, y)\n").program
    b = parse("\n\nlet   x =  f( 1,y )\n").program
    c = parse("let x = f(2, y)\n").program
    assert same_tree(a, b)
    assert not same_tree(a, c)


def test_infer_needs_its_mode_on_the_same_line() -> None:
    text = "let e = 1\ninfer\nlet big = 2\n"
    assert parse(text).errors == ()
    assert format_text(text) == text
