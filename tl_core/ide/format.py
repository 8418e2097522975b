"""Formatting: the canonical layout of `tl_core.syntax.format` as plain edits, for the whole
document or for a range of it."""

from __future__ import annotations

import difflib

from tl_core.check.model import Analysis
from tl_core.ide.results import TextEdit
from tl_core.syntax.format import format_text


def format_document(a: Analysis) -> list[TextEdit]:
    """One edit replacing the whole document with its canonical formatting, or no edits when
    it is already formatted, does not parse, or the formatter fails."""
    if a.parse.errors:  # type: ignore[attr-defined]
        return []
    try:
        new = format_text(a.text)
    except Exception:  # noqa: BLE001
        return []
    if new == a.text:
        return []
    return [TextEdit(a.line_index.span(0, len(a.text)), new)]


def format_range(a: Analysis, start: int, end: int) -> list[TextEdit]:
    """The formatting edits that touch the offsets [start, end], as line edits: the whole
    document is formatted (the formatter needs it all) and the difference is cut into lines,
    of which those overlapping the range are kept (an insertion where it touches, or holds,
    a point range). Applied to the text, they format the lines the range covers and leave
    the others as they are."""
    li = a.line_index
    return [TextEdit(li.span(s, t), new)
            for e in format_document(a)
            for s, t, new in minimal_edits(a.text, e.span.start, e.span.end, e.new_text)
            if s < end and t > start or s == t and start <= s <= end or
            start == end and s <= start < t]


def minimal_edits(text: str, start: int, end: int, new_text: str) -> list[tuple[int, int, str]]:
    """Replace text[start:end] by new_text as small line-level edits (offsets into `text`,
    in order, not overlapping).

    A generic text diff (difflib), so range formatting can keep only the edits that touch
    the requested range even when the formatter returns one whole-document edit.
    """
    old = text[start:end]
    if old == new_text:
        return []
    a = old.splitlines(keepends=True)
    b = new_text.splitlines(keepends=True)
    offsets = [start]
    for line in a:
        offsets.append(offsets[-1] + len(line))
    edits = []
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "replace" and i2 - i1 == j2 - j1:  # line by line, so ranges can pick
            edits += [(offsets[i], offsets[i + 1], b[j1 + i - i1]) for i in range(i1, i2)]
        elif tag != "equal":
            edits.append((offsets[i1], offsets[i2], "".join(b[j1:j2])))
    return edits
