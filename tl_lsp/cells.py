"""Cell boundaries for the run commands: lines starting with the cell marker (`// %%`).

A cell is plain line structure chosen by the user's configuration (the marker), not
syntax: the kernel parses whatever range it is sent.
"""

from __future__ import annotations


def cell_lines(text: str, line: int, marker: str = "// %%") -> tuple[int, int]:
    """(first line, line after the last) of the cell holding `line`.

    The marker line belongs to the cell it opens; text before the first marker is a cell
    of its own.
    """
    lines = text.split("\n")
    line = max(0, min(line, len(lines) - 1))
    start = 0
    for i in range(line, -1, -1):
        if lines[i].lstrip().startswith(marker):
            start = i
            break
    end = len(lines)
    for i in range(line + 1, len(lines)):
        if lines[i].lstrip().startswith(marker):
            end = i
            break
    return start, end
