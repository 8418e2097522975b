"""Which documents a change to files on disk may change: those whose analysis looked at one
of the files (`Analysis.dependencies`, what the checker actually resolved: model files and
tokenizers named by constant paths, imported files, missing ones included).

Light on purpose (no checker import): the server calls it from its event loop.
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Iterable
from typing import Any, TypeVar

K = TypeVar("K", bound=Hashable)


def dependents(docs: Iterable[tuple[K, Any]], changed: Iterable[str]) -> list[K]:
    """The keys of `docs` ((key, its analysis or None) pairs) whose analysis depends on any
    of the `changed` paths, in their order. Paths compare after symbolic links are resolved.
    A document without an analysis counts: one may be being made from the files as they
    were. Never opens a file (a FIFO is only a name here)."""
    targets = {os.path.realpath(p) for p in changed}
    out = []
    for key, a in docs:
        if a is None or any(os.path.realpath(d) in targets for d in a.dependencies):
            out.append(key)
    return out
