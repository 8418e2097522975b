"""Source positions. Lines and columns are 0-based; columns count code points."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Span:
    start: int  # offset of the first code point
    end: int  # offset one past the last code point
    line: int  # 0-based line of `start`
    col: int  # 0-based column (code points) of `start`
    end_line: int
    end_col: int

    def contains(self, offset: int) -> bool:
        """True when `offset` lies inside the span or touches its end (cursor semantics)."""
        return self.start <= offset <= self.end

    def cover(self, other: Span) -> Span:
        """The smallest span holding both."""
        a = self if self.start <= other.start else other
        b = self if self.end >= other.end else other
        return Span(a.start, b.end, a.line, a.col, b.end_line, b.end_col)

    def shifted(self, offset: int, lines: int, col_delta_first_line: int = 0) -> Span:
        """This span moved by `offset` code points and `lines` lines (incremental parsing).

        `col_delta_first_line` is added to columns that sit on the span's first line of the
        shifted region (line 0 relative to the item), as when an item starts mid-line.
        """
        col = self.col + (col_delta_first_line if self.line == 0 else 0)
        end_col = self.end_col + (col_delta_first_line if self.end_line == 0 else 0)
        return Span(self.start + offset, self.end + offset, self.line + lines, col,
                    self.end_line + lines, end_col)


NO_SPAN = Span(0, 0, 0, 0, 0, 0)


class LineIndex:
    """Offset <-> (line, col) conversion for one text, in O(log lines)."""

    __slots__ = ("text", "starts")

    def __init__(self, text: str) -> None:
        self.text = text
        starts = [0]
        find = text.find
        i = find("\n")
        while i != -1:
            starts.append(i + 1)
            i = find("\n", i + 1)
        self.starts = starts

    def position(self, offset: int) -> tuple[int, int]:
        from bisect import bisect_right

        offset = max(0, min(offset, len(self.text)))
        line = bisect_right(self.starts, offset) - 1
        return line, offset - self.starts[line]

    def offset(self, line: int, col: int) -> int:
        if line < 0:
            return 0
        if line >= len(self.starts):
            return len(self.text)
        start = self.starts[line]
        end = self.starts[line + 1] - 1 if line + 1 < len(self.starts) else len(self.text)
        return min(start + max(col, 0), end)

    def span(self, start: int, end: int) -> Span:
        line, col = self.position(start)
        end_line, end_col = self.position(end)
        return Span(start, end, line, col, end_line, end_col)

    def line_text(self, line: int) -> str:
        if line < 0 or line >= len(self.starts):
            return ""
        start = self.starts[line]
        end = self.starts[line + 1] - 1 if line + 1 < len(self.starts) else len(self.text)
        return self.text[start:end]
