"""The TensorLogic syntax layer: `parse(text) -> ParseResult`, never raises.

The document is split into top-level chunks by `scanner.split_chunks`; each chunk is parsed
by `parser.parse_chunk` (lark LALR tables, our recovery driver). `IncrementalParser` caches
chunk parses by their text, so its results equal `parse` by construction.
"""

from __future__ import annotations

from dataclasses import dataclass

from tl_core.diagnostics import Diagnostic
from tl_core.syntax import ast

__all__ = ["ParseResult", "parse", "IncrementalParser"]


@dataclass(frozen=True, slots=True)
class ParseResult:
    program: ast.Program
    errors: tuple[Diagnostic, ...]
    comments: tuple[ast.Comment, ...]


from tl_core.syntax.incremental import IncrementalParser, parse_uncached  # noqa: E402


def parse(text: str) -> ParseResult:
    """Parse a whole document. Never raises; syntax errors are in `errors`."""
    return parse_uncached(text)
