"""Cells: the one rule for where a cell begins, for run cell, code lenses and folding.

A cell is line structure chosen by the user (the marker), not syntax: the kernel parses
whatever range it is sent.

The rule: a line opens a cell when, after leading spaces and tabs, it starts with the
marker, where any run of whitespace inside the marker matches any run of spaces and tabs
(also none). With the default marker `// %%` these all open a cell: `// %%`, `//%%`,
`  //   %% load the model`. A cell runs from its marker line to the line before the next
marker; the lines before the first marker are a cell of their own (without a marker). An
empty marker marks nothing: the whole text is one cell.

Lines are split at "\\n" (as `tl_core.syntax.span.LineIndex` splits them); line numbers
are 0-based.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from tl_core.syntax.span import LineIndex

CELL_MARKER = "// %%"


@dataclass(frozen=True, slots=True)
class Cell:
    """Lines `start` .. `end - 1` (`end` exclusive). `marked`: `start` is a marker line
    (false only for the lines before the first marker)."""

    start: int
    end: int
    marked: bool = True


@lru_cache(maxsize=16)
def marker_pattern(marker: str = CELL_MARKER) -> re.Pattern[str] | None:
    """The rule as a regular expression matching at a line start (`re.MULTILINE`: at every
    line start of a whole text too); None for an empty marker."""
    words = marker.split()
    if not words:
        return None
    return re.compile(r"^[ \t]*" + r"[ \t]*".join(map(re.escape, words)), re.MULTILINE)


def is_marker(line_text: str, marker: str = CELL_MARKER) -> bool:
    """Does this line (its text without the newline) open a cell?"""
    pattern = marker_pattern(marker)
    return pattern is not None and pattern.match(line_text) is not None


def marker_lines(text: str, marker: str = CELL_MARKER) -> list[int]:
    """The lines of `text` that open a cell, in order."""
    pattern = marker_pattern(marker)
    if pattern is None:
        return []
    out = []
    line = pos = 0
    count = text.count
    for m in pattern.finditer(text):
        line += count("\n", pos, m.start())
        pos = m.start()
        out.append(line)
    return out


def cells(text: str, marker: str = CELL_MARKER) -> tuple[Cell, ...]:
    """Every cell of `text`, in order, covering all its lines."""
    n_lines = text.count("\n") + 1
    marks = marker_lines(text, marker)
    out = []
    if not marks or marks[0] > 0:
        out.append(Cell(0, marks[0] if marks else n_lines, False))
    for k, start in enumerate(marks):
        out.append(Cell(start, marks[k + 1] if k + 1 < len(marks) else n_lines))
    return tuple(out)


def cell_at(text: str, line: int, marker: str = CELL_MARKER) -> Cell:
    """The cell holding `line` (clamped to the text's lines)."""
    all_cells = cells(text, marker)
    line = max(0, min(line, all_cells[-1].end - 1))
    for c in all_cells:
        if c.start <= line < c.end:
            return c
    raise AssertionError("cells cover every line")  # pragma: no cover


def regions(li: LineIndex, marker: str = CELL_MARKER) -> list[tuple[int, int]]:
    """(marker line, last line that is not blank) of every marked cell of `li.text`: what
    folding folds."""
    out = []
    text = li.text
    for c in cells(text, marker):
        if c.marked:
            end = c.end - 1
            while end > c.start and not li.line_text(end).strip():
                end -= 1
            out.append((c.start, end))
    return out
