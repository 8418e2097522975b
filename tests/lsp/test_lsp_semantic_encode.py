"""`protocol.encode_semantic_tokens` is written for speed; the plain version it replaced is
kept here verbatim as the oracle (`plain_encode`), and both must give the same integers for
any tokens: in or out of order, overlapping, empty, spanning lines, past the text's end, on
lines with Korean text, emoji, `\r\n` and lone `\r`, in every position encoding."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tl_core.ide import SemanticToken
from tl_core.syntax.span import Span
from tl_lsp import protocol as proto

TYPES = ["variable", "function", "comment", "keyword"]
MODIFIERS = ["declaration", "readonly", "defaultLibrary"]


def plain_encode(
    tokens: Iterable[Any],
    pos: proto.Positions,
    types: Sequence[str],
    modifiers: Sequence[str],
) -> list[int]:
    """The LSP relative 5-integer encoding; multi-line tokens are split per line."""
    type_index = {t: i for i, t in enumerate(types)}
    mod_bit = {m: 1 << i for i, m in enumerate(modifiers)}
    text_len = len(pos.text)
    pieces: list[tuple[int, int, int, int, int]] = []
    for tok in tokens:
        t = type_index.get(tok.type)
        if t is None:
            continue
        bits = 0
        for m in tok.modifiers:
            bits |= mod_bit.get(m, 0)
        start = max(0, min(tok.span.start, text_len))
        end = max(start, min(tok.span.end, text_len))
        if end <= start:
            continue
        line = pos.line_of(start)
        while start < end:
            line_end = pos.line_bounds(line)[1]
            piece_end = min(end, line_end)
            if piece_end > start:
                p0 = pos.position(start)
                p1 = pos.position(piece_end)
                pieces.append((p0.line, p0.character, p1.character - p0.character, t, bits))
            if line + 1 >= pos.line_count():
                break
            line += 1
            start = max(start, pos.line_bounds(line)[0])
    pieces.sort()
    data: list[int] = []
    prev_line = prev_char = 0
    last: tuple[int, int] | None = None
    for line, char, length, t, bits in pieces:
        if length <= 0 or (last is not None and (line, char) < last):
            continue  # overlapping tokens are not allowed: keep the first
        d_line = line - prev_line
        d_char = char - prev_char if d_line == 0 else char
        data += [d_line, d_char, length, t, bits]
        prev_line, prev_char = line, char
        last = (line, char + length)
    return data


def token(start: int, end: int, kind: str, mods: tuple[str, ...]) -> SemanticToken:
    return SemanticToken(Span(start, end, 0, 0, 0, 0), kind, mods)


pieces = st.sampled_from(["a", "bc", " ", "\n", "\r\n", "\r", "가나", "😀", "//", "\t", "x1"])
kinds = st.sampled_from([*TYPES, "unknown"])
mods = st.lists(st.sampled_from([*MODIFIERS, "other"]), max_size=2).map(tuple)


@settings(max_examples=400, deadline=None)
@given(st.lists(pieces, max_size=30).map("".join), st.data(),
       st.sampled_from([proto.UTF8, proto.UTF16, proto.UTF32]))
def test_equals_the_plain_encoding(text: str, data: st.DataObject, encoding: str):
    n = len(text)
    spans = data.draw(st.lists(st.tuples(st.integers(-2, n + 3), st.integers(0, 8), kinds, mods),
                               max_size=25))
    toks = [token(a, a + w, k, m) for a, w, k, m in spans]
    if data.draw(st.booleans()):  # in text order, as tl_core gives them
        toks.sort(key=lambda t: (t.span.start, t.span.end))
    pos = proto.Positions(text, encoding)
    assert proto.encode_semantic_tokens(toks, pos, TYPES, MODIFIERS) == plain_encode(
        toks, pos, TYPES, MODIFIERS)


def test_a_large_document_equals_the_plain_encoding():
    from tl_core import ide
    from tl_core.check.analyzer import analyze

    block = "// 가중치 😀 {i}\nfn f{i}(a: float16[N]) -> float16[N] {{\n    return a + a\n}}\n" \
            "/* two\n lines */ let x{i} = f{i}(ones([3]))\r\n"
    text = "".join(block.format(i=i) for i in range(200))
    a = analyze(text, None, use_cache=False)
    toks = ide.semantic_tokens(a)
    assert len(toks) > 2000
    from tl_lsp.server import TOKEN_MODIFIERS, TOKEN_TYPES

    for encoding in (proto.UTF8, proto.UTF16, proto.UTF32):
        pos = proto.Positions(text, encoding)
        assert proto.encode_semantic_tokens(toks, pos, TOKEN_TYPES, TOKEN_MODIFIERS) == \
            plain_encode(toks, pos, TOKEN_TYPES, TOKEN_MODIFIERS)
