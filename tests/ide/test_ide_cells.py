"""tl_core.ide.cells: the one cell rule (run cell, code lenses, folding)."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from tl_core.ide.cells import Cell, cell_at, cells, is_marker, marker_lines, regions
from tl_core.syntax.span import LineIndex

TEXT = "let a = 1\n// %% first\nlet b = 2\n\n  // %% second\nlet c = 3\n"


def test_cells_by_marker():
    assert cell_at(TEXT, 0) == Cell(0, 1, False)  # before the first marker
    assert cell_at(TEXT, 1) == Cell(1, 4)  # the marker line opens its cell
    assert cell_at(TEXT, 3) == Cell(1, 4)
    assert cell_at(TEXT, 5) == Cell(4, 7)  # indented marker; through the last line
    assert cell_at(TEXT, 99) == Cell(4, 7)
    assert cell_at(TEXT, -3) == Cell(0, 1, False)
    # 4 lines with the last, empty one
    assert cell_at("x\n# cell\ny\n", 2, marker="# cell") == Cell(1, 4)


def test_cells_cover_the_text():
    assert cells(TEXT) == (Cell(0, 1, False), Cell(1, 4), Cell(4, 7))
    assert cells("// %% a\nx\n// %% b") == (Cell(0, 2), Cell(2, 3))  # no unmarked cell
    assert cells("") == (Cell(0, 1, False),)
    assert cells("x\ny") == (Cell(0, 2, False),)
    assert cells("// %%\n// %%\n") == (Cell(0, 1), Cell(1, 3))  # two markers in a row


def test_the_marker_rule():
    # spaces inside the marker match any run of spaces and tabs, also none
    for line in ("// %%", "//%%", "  //   %% title", "\t// \t%%", "// %%%"):
        assert is_marker(line), line
    for line in ("let x = 1 // %%", "/ / %%", "// %", "# %%", "", "x// %%"):
        assert not is_marker(line), line
    assert is_marker("#%% x", "# %%") and not is_marker("// %%", "# %%")
    assert is_marker("-- [[cell]]", "-- [[cell]]")  # regular-expression characters are literal
    assert not is_marker("-- [cell]", "-- [[cell]]")
    # an empty marker marks nothing: one cell
    assert not is_marker("", "") and not is_marker("x", "  ")
    assert cells("a\nb", "") == (Cell(0, 2, False),)
    assert cell_at("a\nb", 1, "") == Cell(0, 2, False)
    # "\r\n" line ends: the "\r" stays on the line, as LineIndex keeps it
    assert cells("a\r\n// %%\r\nb") == (Cell(0, 1, False), Cell(1, 3))


def test_marker_lines_and_regions():
    text = "x\n// %% a\ny\n\n\n// %% b\n\n"
    assert marker_lines(text) == [1, 5]
    # folding folds a cell to its last line that is not blank
    assert regions(LineIndex(text)) == [(1, 2), (5, 5)]


LINES = st.lists(st.sampled_from(["// %%", "//%% x", "  // %%", "let x = 1", "", "// c",
                                  "x // %%", "\t//  %%"]), max_size=12)


@given(LINES, st.integers(-2, 14))
def test_cells_agree_with_a_line_by_line_reading(lines: list[str], line: int):
    """The oracle: the rule read line by line with a regular expression of its own."""
    text = "\n".join(lines)
    split = text.split("\n")
    marks = [i for i, t in enumerate(split) if re.match(r"[ \t]*//[ \t]*%%", t)]
    assert marker_lines(text) == marks
    got = cells(text)
    assert got[0].start == 0 and got[-1].end == len(split)
    assert all(a.end == b.start for a, b in zip(got, got[1:], strict=False))
    assert [c.start for c in got if c.marked] == marks
    at = max(0, min(line, len(split) - 1))
    c = cell_at(text, line)
    assert c.start <= at < c.end and c in got
