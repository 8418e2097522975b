"""The fast lexer against lark's own lexer over every terminal (the oracle), and the
scanner's patterns against the grammar's."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from lark import Lark
from lark.exceptions import LexError

from tl_core.syntax.parser import engine
from tl_core.syntax.scanner import BLOCK_COMMENT_RE, LINE_COMMENT_RE, STRING_RE

from .test_syntax_properties import PIECES

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = [p.read_text(encoding="utf-8") for p in
            sorted((ROOT / "examples").glob("*.tl")) + sorted((ROOT / "examples" / "syntax").glob("*.tl"))]
_LARK = Lark((ROOT / "tl_core" / "syntax" / "grammar.lark").read_text(encoding="utf-8"),
             parser="lalr", lexer="basic", maybe_placeholders=False)


def lark_tokens(text: str) -> list[tuple]:
    out = []
    for t in _LARK.lex(text):
        if t.type.startswith("NL_"):  # ours start at the newline, lark's at the spaces before
            out.append((t.type, t.end_pos, t.end_line, t.end_column))
        else:
            out.append((t.type, t.value, t.start_pos, t.line, t.column, t.end_line, t.end_column))
    return out


def our_tokens(text: str) -> list[tuple]:
    toks, _bad = engine().lexer.tokens(text, 0, len(text), 0)
    out = []
    for t in toks:
        if t.type.startswith("NL_"):
            out.append((t.type, t.end_pos, t.end_line, t.end_column))
        else:
            out.append((t.type, t.value, t.start_pos, t.line, t.column, t.end_line, t.end_column))
    return out


def test_examples_lex_like_lark() -> None:
    for text in EXAMPLES:
        assert our_tokens(text) == lark_tokens(text)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=60).map("".join))
def test_random_text_lexes_like_lark(text: str) -> None:
    try:
        expected = lark_tokens(text)
    except LexError:
        toks, _ = engine().lexer.tokens(text, 0, len(text), 0)
        bad = [t for t in toks if t.type in ("INVALID", "BAD_STRING")]
        unterminated = "/*" in text
        assert bad or unterminated
        return
    assert our_tokens(text) == expected


def test_scanner_patterns_are_the_grammars() -> None:
    grammar = (ROOT / "tl_core" / "syntax" / "grammar.lark").read_text(encoding="utf-8")
    assert f"STRING: /{STRING_RE[:-1]}/" in grammar  # the scanner also takes an unclosed one
    assert "LINE_COMMENT: /\\/\\/[^\\n]*/" in grammar and LINE_COMMENT_RE == "//[^\\n]*"
    assert "BLOCK_COMMENT.2: /\\/\\*[^*]*+(?:\\*(?!\\/)[^*]*+)*+\\*\\//" in grammar
    assert "BAD_COMMENT.1: /\\/\\*[^*]*+(?:\\*(?!\\/)[^*]*+)*+/" in grammar
    assert BLOCK_COMMENT_RE == r"/\*[^*]*+(?:\*(?!/)[^*]*+)*+(?:\*/)?"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(PIECES + ["'", "'a // b'"]), max_size=60).map("".join))
def test_comments_and_tokens_never_overlap(text: str) -> None:
    from tl_core.syntax import parse

    toks, bad = engine().lexer.tokens(text, 0, len(text), 0)
    comments = [(c.span.start, c.span.end) for c in parse(text).comments]
    covered = [(t.end_pos - 1 if t.type.startswith("NL_") else t.start_pos, t.end_pos)
               for t in toks]
    for cs, ce in comments:
        assert text[cs:cs + 2] in ("//", "/*")
        for ts, te in covered:
            assert te <= cs or ts >= ce, (text[cs:ce], text[ts:te])
    # every unterminated block comment the lexer saw is a comment of the result
    for b in bad:
        assert any(cs == b.start_pos for cs, _ in comments)
