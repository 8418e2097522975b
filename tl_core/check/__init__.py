"""The checker: scopes, name resolution, shape/type inference and unification -> Analysis.

`analyze(text, path=None) -> Analysis` never raises. The implementation lives in
`tl_core.check.analyzer`; this package imports it lazily (a heavy import: the checker and
the registry), so that importing `tl_core.check.model` alone stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# Import the syntax package before anything imports tl_core.diagnostics first: the two
# import each other, and only this order works.
import tl_core.syntax  # noqa: F401

if TYPE_CHECKING:
    from tl_core.check.analyzer import Analysis


def analyze(text: str, path: str | None = None) -> Analysis:
    """Parse and check `text` (the document at `path`, used to resolve relative files)."""
    from tl_core.check.analyzer import analyze as _analyze

    return _analyze(text, path)


def forget(path: str | None) -> None:
    """Drop what the checker keeps for the document at `path` (its incremental parser and
    its items' records), e.g. when an editor closes it; a later analysis starts afresh."""
    from tl_core.check import analyzer, memo

    analyzer.forget(path)
    memo.forget(path)


def __getattr__(name: str) -> Any:
    if name in ("Analysis", "Binding", "Scope"):
        from tl_core.check import analyzer

        return getattr(analyzer, name)
    raise AttributeError(name)


__all__ = ["Analysis", "analyze", "forget"]
