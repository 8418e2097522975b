"""Document formatting: the canonical layout of `tl_core.syntax.format` as plain edits."""

from __future__ import annotations

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
