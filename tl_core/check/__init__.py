"""The checker: scopes, name resolution, shape/type inference and unification -> Analysis.

`analyze(text, path=None) -> Analysis` never raises. The implementation lives in
`tl_core.check.analyzer`; this package imports it lazily (a heavy import: the checker and
the registry), so that importing `tl_core.check.model` alone stays light.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tl_core.check.analyzer import Analysis


def analyze(text: str, path: str | None = None,
            checkpoint: Callable[[], None] | None = None) -> Analysis:
    """Parse and check `text` (the document at `path`, used to resolve relative files),
    keeping nothing: an editor's document keeps its state in a `tl_core.host.DocumentHost`.
    `checkpoint()` runs between top-level items and may raise `Cancelled` to stop."""
    # lazy: `import tl_core.check` stays light (no checker, no registry)
    from tl_core.check.analyzer import analyze as _analyze

    return _analyze(text, path, checkpoint=checkpoint)


def __getattr__(name: str) -> Any:
    if name in ("Analysis", "Binding", "Scope"):
        from tl_core.check import analyzer  # lazy: as in `analyze`

        return getattr(analyzer, name)
    raise AttributeError(name)


__all__ = ["Analysis", "analyze"]
