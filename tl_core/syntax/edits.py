"""`EditLog`: the text edits made since a snapshot, to map offsets between the two texts.

While the user types, the language server answers hover, completion and signature help
from the last finished analysis (an older text) instead of waiting for the newest one
(issue 18). A stretch of the newest text is looked up in the older one through the edits
made since (`old_range`), and an answer's offsets go back the other way (`to_new`); an
offset inside or at the border of an edited stretch has no counterpart (None).

Offsets are code points. Each edit is `(start, end, new_length)`: the stretch
`[start, end)` of the text as it was before that edit was replaced by `new_length` code
points. Mapping costs O(edits), and the log is emptied when a newer snapshot arrives.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class EditLog:
    edits: list[tuple[int, int, int]] = field(default_factory=list)

    def add(self, start: int, end: int, new_length: int) -> None:
        self.edits.append((start, end, new_length))

    def __len__(self) -> int:
        return len(self.edits)

    def to_new(self, offset: int) -> int | None:
        """The offset in the newest text of `offset` in the snapshot's text, or None when
        an edit touched it."""
        for start, end, n in self.edits:
            if offset < start:
                continue
            if offset <= end:
                return None
            offset += n - (end - start)
        return offset

    def old_range(self, start: int, end: int) -> int | None:
        """Where the stretch `[start, end]` of the newest text starts in the snapshot's text,
        when no edit touched any of it (it stands there unchanged), else None."""
        for s, e, n in reversed(self.edits):
            if end < s:
                continue
            if start <= s + n:
                return None
            shift = (e - s) - n
            start += shift
            end += shift
        return start
