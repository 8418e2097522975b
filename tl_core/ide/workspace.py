"""Workspace symbols: which of a document's symbols a query picks."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from tl_core.check.model import Analysis
from tl_core.ide.outline import document_symbols
from tl_core.ide.results import Symbol, SymbolMatch


def matches(query: str, name: str) -> bool:
    """The query's characters appear in the name in order, ignoring case (`hl` picks
    `helper_lib`; the empty query picks everything)."""
    it = iter(name.lower())
    return all(ch in it for ch in query.lower())


def flatten(symbols: Iterable[Symbol], container: str | None = None
            ) -> Iterator[tuple[Symbol, str | None]]:
    """(symbol, its container's name) for every symbol of a tree, parents first."""
    for s in symbols:
        yield s, container
        yield from flatten(s.children, s.name)


def workspace_symbols(a: Analysis, query: str) -> list[SymbolMatch]:
    """The symbols of the document, at any depth, whose names the query matches, in
    document order (parents first)."""
    return [SymbolMatch(s, container) for s, container in flatten(document_symbols(a))
            if matches(query, s.name)]
