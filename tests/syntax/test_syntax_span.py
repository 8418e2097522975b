"""Span and AnchoredSpan: the same positions read, compare and hash alike."""

from __future__ import annotations

import pickle

from hypothesis import given
from hypothesis import strategies as st

from tl_core.syntax.span import Anchor, AnchoredSpan, Span, new_anchored_span

small = st.integers(0, 1000)


@given(small, small, small, small, small, small, small, small)
def test_an_anchored_span_reads_as_the_plain_span_of_its_place(a0, a1, s, n, ln, col, k,
                                                               end_col) -> None:  # noqa: ANN001
    anchor = Anchor(a0, a1)
    rel = new_anchored_span(anchor, s, s + n, ln, col, ln + k, end_col)
    plain = Span(a0 + s, a0 + s + n, a1 + ln, col, a1 + ln + k, end_col)
    assert isinstance(rel, AnchoredSpan)
    assert rel == plain and plain == rel
    assert hash(rel) == hash(plain)
    assert (rel.start, rel.end, rel.line, rel.col, rel.end_line, rel.end_col) == (
        plain.start, plain.end, plain.line, plain.col, plain.end_line, plain.end_col)
    assert rel.relative() == (s, s + n, ln, col, ln + k, end_col)
    assert repr(rel) == repr(plain)
    assert pickle.loads(pickle.dumps(rel)) == plain


def test_moving_the_anchor_moves_the_span() -> None:
    anchor = Anchor(10, 2)
    sp = new_anchored_span(anchor, 1, 4, 0, 1, 0, 4)
    assert (sp.start, sp.end, sp.line, sp.end_line) == (11, 14, 2, 2)
    anchor.start += 5
    anchor.line += 1
    assert (sp.start, sp.end, sp.line, sp.end_line) == (16, 19, 3, 3)
    assert sp.cover(Span(30, 31, 4, 0, 4, 1)) == Span(16, 31, 3, 1, 4, 1)


def test_spans_differ_by_any_field() -> None:
    base = Span(1, 2, 3, 4, 5, 6)
    for i in range(6):
        fields = [1, 2, 3, 4, 5, 6]
        fields[i] += 1
        assert Span(*fields) != base
    assert base != (1, 2, 3, 4, 5, 6)


def test_the_fast_constructors_equal_the_dataclass_constructor() -> None:
    from tl_core.syntax.span import new_span

    fast = new_span(3, 9, 1, 2, 4, 0)
    assert type(fast) is Span and fast == Span(3, 9, 1, 2, 4, 0)
    anchored = new_anchored_span(Anchor(0, 0), 3, 9, 1, 2, 4, 0)
    assert type(anchored) is AnchoredSpan and anchored.anchor.start == 0


@given(st.text(alphabet="ab\n\r😀", max_size=60), st.integers(0, 60), st.integers(0, 60),
       st.text(alphabet="xy\n", max_size=12))
def test_a_line_index_after_an_edit_equals_a_fresh_one(text, a, b, inserted) -> None:
    from tl_core.syntax.span import LineIndex

    start, end = sorted((min(a, len(text)), min(b, len(text))))
    new = text[:start] + inserted + text[end:]
    index = LineIndex(text).after_edit(new, start, end, len(inserted))
    assert index.text is new and index.starts == LineIndex(new).starts
