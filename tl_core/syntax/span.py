"""Source positions. Lines and columns are 0-based; columns count code points.

A `Span` holds absolute positions. The parser makes `AnchoredSpan`s instead: positions
relative to an `Anchor`, the start of the top-level chunk they belong to. Both read the
same (`.start`, `.line`, ... are absolute), compare equal by position and hash alike.

Why anchors: when text is inserted before a chunk, `IncrementalParser` moves the chunk's
anchor (two integers) instead of re-creating every node and span after the edit, which was
most of an edit's cost on a large file (bench/parse.py). The consequence, part of the
contract: a tree from `IncrementalParser.parse` reads the positions of the latest text that
parser was given. Keep a tree only while its text is the document's current text (or parse
with `tl_core.syntax.parse`, whose anchors never move).
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, eq=False)
class Span:
    start: int  # offset of the first code point
    end: int  # offset one past the last code point
    line: int  # 0-based line of `start`
    col: int  # 0-based column (code points) of `start`
    end_line: int
    end_col: int

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Span):
            return NotImplemented
        return (self.start == other.start and self.end == other.end and self.line == other.line
                and self.col == other.col and self.end_line == other.end_line
                and self.end_col == other.end_col)

    def __hash__(self) -> int:
        return hash((self.start, self.end, self.line, self.col, self.end_line, self.end_col))

    def cover(self, other: Span) -> Span:
        """The smallest span holding both."""
        a = self if self.start <= other.start else other
        b = self if self.end >= other.end else other
        return Span(a.start, b.end, a.line, a.col, b.end_line, b.end_col)



class Anchor:
    """Where a chunk starts: its offset and 0-based line (chunks start at column 0).

    Owned by the parser that made it; only `IncrementalParser` moves one."""

    __slots__ = ("start", "line")

    def __init__(self, start: int = 0, line: int = 0) -> None:
        self.start = start
        self.line = line

    def __repr__(self) -> str:
        return f"Anchor({self.start}, {self.line})"


_slot = {name: Span.__dict__[name] for name in ("start", "end", "line", "col", "end_line",
                                                "end_col")}
_rel_start = _slot["start"].__get__
_rel_end = _slot["end"].__get__
_rel_line = _slot["line"].__get__
_rel_end_line = _slot["end_line"].__get__


class AnchoredSpan(Span):
    """A span stored relative to its chunk's `Anchor` (offsets and lines; columns are
    absolute because chunks start at column 0). Reads as absolute."""

    __slots__ = ("anchor",)

    @property
    def start(self) -> int:  # type: ignore[override]
        return _rel_start(self) + self.anchor.start

    @property
    def end(self) -> int:  # type: ignore[override]
        return _rel_end(self) + self.anchor.start

    @property
    def line(self) -> int:  # type: ignore[override]
        return _rel_line(self) + self.anchor.line

    @property
    def end_line(self) -> int:  # type: ignore[override]
        return _rel_end_line(self) + self.anchor.line

    def relative(self) -> tuple[int, int, int, int, int, int]:
        """(start, end, line, col, end_line, end_col) relative to the anchor."""
        return (_rel_start(self), _rel_end(self), _rel_line(self), self.col,
                _rel_end_line(self), self.end_col)

    def __repr__(self) -> str:
        return (f"Span(start={self.start}, end={self.end}, line={self.line}, col={self.col}, "
                f"end_line={self.end_line}, end_col={self.end_col})")

    def __reduce__(self) -> tuple:
        return (Span, (self.start, self.end, self.line, self.col, self.end_line, self.end_col))


_FIELDS = ("start", "end", "line", "col", "end_line", "end_col")


def _slot_constructor(cls: type, names: tuple[str, ...]):  # noqa: ANN202
    """Generated `make(*names)` -> a `cls` filled through its slot descriptors.

    Why: the frozen dataclass' `__init__` sets each field through `object.__setattr__`,
    about 3x slower; the parser makes one span per token and node, the checker's cache
    tens of thousands per large file. tests/syntax/test_syntax_span.py compares both."""
    env: dict = {"_new": object.__new__, "_C": cls}
    body = ["    o = _new(_C)"]
    for i, n in enumerate(names):
        env[f"_s{i}"] = (_slot[n] if n in _slot else cls.__dict__[n]).__set__
        body.append(f"    _s{i}(o, {n})")
    src = f"def make({', '.join(names)}):\n" + "\n".join(body) + "\n    return o\n"
    exec(src, env)  # noqa: S102 - generated from the slot names above
    return env["make"]


# new_span(start, end, line, col, end_line, end_col) -> Span
new_span = _slot_constructor(Span, _FIELDS)
# new_anchored_span(anchor, start, end, line, col, end_line, end_col) -> AnchoredSpan,
# positions relative to `anchor`
new_anchored_span = _slot_constructor(AnchoredSpan, ("anchor", *_FIELDS))


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

    def after_edit(self, text: str, start: int, end: int, length: int) -> LineIndex:
        """The index of `text`: this index's text with its `[start, end)` replaced by the
        `length` code points at `text[start:start + length]`. O(lines) list work instead
        of a search of the whole text for line breaks (an editor's every keystroke)."""
        starts = self.starts
        k = bisect_right(starts, start)  # lines starting at or before `start` stay
        j = bisect_right(starts, end, k)  # those starting inside the old stretch go
        delta = length - (end - start)
        mid = []
        find = text.find
        stop = start + length
        i = find("\n", start, stop)
        while i != -1:
            mid.append(i + 1)
            i = find("\n", i + 1, stop)
        tail = starts[j:]
        if delta:
            tail = [s + delta for s in tail]
        index = LineIndex.__new__(LineIndex)
        index.text = text
        index.starts = starts[:k] + mid + tail
        return index

    def position(self, offset: int) -> tuple[int, int]:
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
