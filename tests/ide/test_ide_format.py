"""tl_core.ide.format: whole-document and range formatting as plain edits."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tl_core.check.analyzer import analyze
from tl_core.ide.format import format_document, format_range, minimal_edits
from tl_core.ide.results import TextEdit
from tl_core.syntax.format import format_text

TEXT = "let a  =  1\nlet b=2\nlet c   = 3\n"


def apply(text: str, edits: list[TextEdit]) -> str:
    for e in sorted(edits, key=lambda e: e.span.start, reverse=True):
        text = text[:e.span.start] + e.new_text + text[e.span.end:]
    return text


def test_whole_document_edits_give_the_formatted_text():
    a = analyze(TEXT, None)
    formatted = format_text(TEXT)
    assert formatted == "let a = 1\nlet b = 2\nlet c = 3\n"  # the formatter's own rule
    assert apply(TEXT, format_document(a)) == formatted
    assert apply(TEXT, format_range(a, 0, len(TEXT))) == formatted
    assert format_document(analyze(formatted, None)) == []
    assert format_range(analyze(formatted, None), 0, len(formatted)) == []


def test_a_range_formats_only_its_lines():
    a = analyze(TEXT, None)
    b = TEXT.index("let b")
    edits = format_range(a, b, b + 3)
    assert [(e.span.start, e.span.end, e.new_text) for e in edits] == [
        (b, b + len("let b=2\n"), "let b = 2\n")]
    assert (edits[0].span.line, edits[0].span.col, edits[0].span.end_line) == (1, 0, 2)
    assert apply(TEXT, edits) == "let a  =  1\nlet b = 2\nlet c   = 3\n"
    # a point range (a cursor) inside a line formats that line
    c = TEXT.index("let c") + 5
    assert apply(TEXT, format_range(a, c, c)) == "let a  =  1\nlet b=2\nlet c = 3\n"
    # two lines
    assert apply(TEXT, format_range(a, 0, b + 2)) == "let a = 1\nlet b = 2\nlet c   = 3\n"


def test_no_edits_when_the_text_does_not_parse():
    a = analyze("let a  = (\n", None)
    assert format_document(a) == [] and format_range(a, 0, 5) == []


LINE = st.sampled_from(["a\n", "b\n", "c\n", "\n", "x y\n", "é😀\n"])


@given(st.lists(LINE, max_size=8), st.lists(LINE, max_size=8), st.text("ab\n", max_size=4),
       st.text("cd\n", max_size=4))
def test_minimal_edits_applied_give_the_new_text(old: list[str], new: list[str],
                                                  before: str, after: str):
    text = before + "".join(old) + after
    start, end = len(before), len(before) + len("".join(old))
    edits = minimal_edits(text, start, end, "".join(new))
    out = text
    for s, e, t in sorted(edits, reverse=True):
        assert start <= s <= e <= end
        out = out[:s] + t + out[e:]
    assert out == before + "".join(new) + after
    # in order and not overlapping
    assert all(e1 <= s2 for (_s1, e1, _t1), (s2, _e2, _t2) in zip(edits, edits[1:],
                                                                 strict=False))
