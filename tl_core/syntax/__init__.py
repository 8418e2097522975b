"""The TensorLogic syntax layer: `parse(text) -> ParseResult`, never raises.

The document is split into top-level chunks by `scanner.split_chunks`; each chunk is parsed
by `parser.parse_chunk` (lark LALR tables, our recovery driver). `IncrementalParser` caches
chunk parses by their text, so its results equal `parse` by construction.

Importing this package is cheap: it imports neither lark, nor the AST module, nor
`tl_core.diagnostics` (which imports `tl_core.syntax.span`, so either may be imported first).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tl_core.syntax.result import ParseResult

if TYPE_CHECKING:
    from tl_core.syntax.incremental import IncrementalParser

__all__ = ["ParseResult", "parse", "IncrementalParser"]


def parse(text: str) -> ParseResult:
    """Parse a whole document. Never raises; syntax errors are in `errors`."""
    # lazy: keeps lark and the parser tables out of `import tl_core.syntax`
    from tl_core.syntax.incremental import parse_uncached

    return parse_uncached(text)


def __getattr__(name: str) -> Any:
    if name == "IncrementalParser":
        # lazy: keeps lark and the parser tables out of `import tl_core.syntax`
        from tl_core.syntax.incremental import IncrementalParser

        return IncrementalParser
    raise AttributeError(name)
