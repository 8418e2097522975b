"""Editor questions answered on an `Analysis`, as plain frozen dataclasses (no LSP types).

Offsets are code-point offsets into `analysis.text`. Every query works on documents that do
not parse: they use the partial tree the parser recovered and the tokens around the cursor.

The package, bottom up (pyproject.toml's import contracts keep it so):
- `results`: the answer dataclasses; imports nothing else of the package. `overlay`: the
  newest text read with an older analysis' scopes (completion and signature help while
  the newest analysis is under way).
- `lex` (the forgiving tokenizer and the window before the cursor), `markdown` (labels and
  hover texts), `cells` (the one cell rule), `gcpause`, `dependents` (which documents a
  changed file may change).
- `model_nav` (model navigation `model.blk[0].attn_q` from the header) and `tokens` (the
  per-segment caches behind highlighting and folding).
- One module per feature: `hover`, `completion`, `signature`, `navigation` (definition,
  references, rename), `outline` (symbols, inlay hints, code lenses), `highlight`
  (semantic tokens), `folding`, `format`; above them `workspace` (workspace symbols, from
  the outline).

This module only re-exports the features' entry points (`from tl_core import ide;
ide.hover_at(...)`), each loaded on first use: importing `tl_core.ide.cells` or
`tl_core.ide.dependents` (the server at start, the kernel) loads neither the checker nor the
other features. The queries' per-analysis caches are `Analysis.ide_cache`'s typed slots.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# name -> the module defining it
_HOMES = {
    "complete_at": "completion", "complete_list_at": "completion",
    "folding_ranges": "folding", "folding_ranges_plain": "folding",
    "format_document": "format", "format_range": "format",
    "semantic_tokens": "highlight", "semantic_tokens_plain": "highlight",
    "hover_at": "hover",
    "definition_at": "navigation", "prepare_rename": "navigation", "references": "navigation",
    "rename": "navigation",
    "code_lenses": "outline", "document_symbols": "outline", "inlay_hints": "outline",
    "signature_at": "signature",
    "Overlay": "overlay",
    "matches": "workspace", "workspace_symbols": "workspace",
    **{name: "results" for name in (
        "SEMANTIC_TOKEN_MODIFIERS", "SEMANTIC_TOKEN_TYPES", "Completion", "CompletionList",
        "Fold", "Hover", "InlayHint", "Lens", "Location", "RenameResult", "SemanticToken",
        "Signature", "SignatureHelp", "Symbol", "SymbolMatch", "TextEdit")},
}

__all__ = [  # the keys of _HOMES (tests/ide/test_ide_package.py)
    "SEMANTIC_TOKEN_MODIFIERS", "SEMANTIC_TOKEN_TYPES", "Completion", "CompletionList", "Fold",
    "Hover", "InlayHint", "Lens", "Location", "RenameResult", "SemanticToken", "Signature",
    "SignatureHelp", "Symbol", "SymbolMatch", "TextEdit", "Overlay", "code_lenses", "complete_at", "complete_list_at",
    "definition_at", "document_symbols", "folding_ranges", "folding_ranges_plain",
    "format_document", "format_range", "hover_at", "inlay_hints", "matches", "prepare_rename", "references", "rename",
    "semantic_tokens", "semantic_tokens_plain", "signature_at", "workspace_symbols",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'tl_core.ide' has no attribute '{name}'")
    value = getattr(importlib.import_module(f"tl_core.ide.{home}"), name)
    globals()[name] = value  # the next lookup is a plain one
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOMES))


if TYPE_CHECKING:  # the same names for type checkers and linters
    from tl_core.ide.completion import complete_at, complete_list_at
    from tl_core.ide.folding import folding_ranges, folding_ranges_plain
    from tl_core.ide.format import format_document, format_range
    from tl_core.ide.highlight import semantic_tokens, semantic_tokens_plain
    from tl_core.ide.hover import hover_at
    from tl_core.ide.navigation import definition_at, prepare_rename, references, rename
    from tl_core.ide.outline import code_lenses, document_symbols, inlay_hints
    from tl_core.ide.overlay import Overlay
    from tl_core.ide.results import (
        SEMANTIC_TOKEN_MODIFIERS,
        SEMANTIC_TOKEN_TYPES,
        Completion,
        CompletionList,
        Fold,
        Hover,
        InlayHint,
        Lens,
        Location,
        RenameResult,
        SemanticToken,
        Signature,
        SignatureHelp,
        Symbol,
        SymbolMatch,
        TextEdit,
    )
    from tl_core.ide.signature import signature_at
    from tl_core.ide.workspace import workspace_symbols
