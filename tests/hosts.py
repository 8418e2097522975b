"""Analyses as the language server makes them: through one `DocumentHost` per document
path (its parsers and check cache, tl_core/host.py), so that a second analysis of a path
reuses what the first one left, as an editor's next edit does."""

from __future__ import annotations

from typing import Any

from tl_core.check.analyzer import analyze as analyze_once
from tl_core.host import DocumentHost

HOSTS: dict[str | None, DocumentHost] = {}


def host(path: str | None) -> DocumentHost:
    return HOSTS.setdefault(path, DocumentHost(path))


def analyze(text: str, path: str | None = None, parse_result: Any = None,
            use_cache: bool | None = None) -> Any:
    """The analysis of `text` by the host of `path`; with `parse_result` or
    `use_cache=False`, one check from scratch that keeps nothing."""
    if parse_result is not None or use_cache is False:
        return analyze_once(text, path, parse_result, use_cache)
    return host(path).analyze(text)
