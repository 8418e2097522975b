"""`Overlay`: the newest text around the cursor, read with an older analysis' scopes.

While the user types, the analysis of the newest text takes ~70 ms on a 10,000-line file
(seconds on a loaded machine); completion and signature help must not wait for it
(issue 18). Both read the tokens before the cursor (`tl_core.ide.lex.tokens_before`), and
ask the analysis only which names are visible there and what they are. An overlay answers
the first from the newest text and the second from the last finished analysis (`base`),
at `scope`: an offset of the base's text that stands for the cursor, the cursor's own
offset there when no edit touched its line, else the end of the nearest untouched line
above it (what the edited line sees: the names declared before it).

So completion on the line being typed and signature help of a call whose arguments were
just edited (on this line or on lines above) follow the newest text, while the names they
offer are those of the base analysis: a name declared by the newest edits is offered once
the analysis of the newest text exists. The base's syntax tree must still read the
positions of its own text (`tl_core.host.DocumentHost.intact`).

Hover on an edited line reads the name under the cursor from the newest text and asks the
base what it is at `scope` (`tl_core.ide.hover`, the declaration and its type, not the type
at that very place). Not for the features that need the tree at the cursor (definition,
references): the edited text has no tree yet.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from typing import Any

from tl_core.syntax.span import LineIndex


class Overlay:
    """An `Analysis`, as completion and signature help read one, made of the newest `text`
    and the older analysis `base` (see the module docstring). Offsets given to it are the
    newest text's; `line_start` is the start of the cursor's line there, and `to_new` maps
    an offset of `base.text` to the newest text (None where an edit touched it)."""

    def __init__(self, base: Any, text: str, scope: int, line_start: int,
                 to_new: Callable[[int], int | None],
                 line_index: LineIndex | None = None) -> None:
        self.base = base
        self.text = text
        self.line_index = line_index if line_index is not None else LineIndex(text)
        self.path = base.path
        self.scope = scope
        # tokens are read from the start of the base's top-level item holding `scope`,
        # placed in the newest text (an edit touched it: from an item before it; from
        # the text's start when there is none)
        items = base.program.items
        i = bisect_right(items, scope, key=lambda it: it.span.start) - 1
        start: int | None = None
        while start is None and i >= 0:
            start = to_new(items[i].span.start)
            i -= 1
        self.window = min(start or 0, line_start)

    # the base's answers about names, asked at `scope`
    def visible_at(self, offset: int) -> Any:
        return self.base.visible_at(self.scope)

    def visible(self, offset: int) -> dict:
        return self.base.visible(self.scope)

    def lookup(self, name: str, offset: int) -> Any:
        return self.base.lookup(name, self.scope)

    def point_type(self, offset: int) -> Any:
        """The base's type at one of its own offsets before `scope` (the type of a name at
        its last occurrence before the cursor, `completion.binding_type_at`)."""
        return self.base.point_type(offset) if offset < self.scope else None

    # nothing of the base's tree stands at the newest text's offsets
    def chain_at(self, offset: int) -> list:
        return []

    def type_of(self, node: object) -> Any:
        return None

    def __getattr__(self, name: str) -> Any:
        # the rest as the base has it (its functions, scopes, program, caches keyed by
        # its bindings): what completion reads of them holds for the base's own text
        return getattr(self.base, name)
