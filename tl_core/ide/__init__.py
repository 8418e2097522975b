"""Editor questions answered on an `Analysis`, as plain frozen dataclasses (no LSP types).

Offsets are code-point offsets into `analysis.text`. Every query works on documents that do
not parse: they use the partial tree the parser recovered and the tokens around the cursor.

The package, bottom up (pyproject.toml's import contracts keep it so):
- `results`: the answer dataclasses; imports nothing else of the package.
- `lex` (the forgiving tokenizer and the window before the cursor), `markdown` (labels and
  hover texts), `cells` (the cell marker), `gcpause`.
- `model_nav` (model navigation `model.blk[0].attn_q` from the header) and `tokens` (the
  per-segment caches behind highlighting and folding).
- One module per feature: `hover`, `completion`, `signature`, `navigation` (definition,
  references, rename), `outline` (symbols, inlay hints, code lenses), `highlight`
  (semantic tokens), `folding`, `format`.

This module only re-exports the features' entry points: `from tl_core import ide;
ide.hover_at(...)`.
"""

from __future__ import annotations

from tl_core.ide.completion import complete_at, complete_list_at
from tl_core.ide.folding import folding_ranges, folding_ranges_plain
from tl_core.ide.format import format_document
from tl_core.ide.highlight import semantic_tokens, semantic_tokens_plain
from tl_core.ide.hover import hover_at
from tl_core.ide.navigation import definition_at, prepare_rename, references, rename
from tl_core.ide.outline import code_lenses, document_symbols, inlay_hints
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
    TextEdit,
)
from tl_core.ide.signature import signature_at

__all__ = [
    "SEMANTIC_TOKEN_MODIFIERS", "SEMANTIC_TOKEN_TYPES", "Completion", "CompletionList", "Fold",
    "Hover", "InlayHint", "Lens", "Location", "RenameResult", "SemanticToken", "Signature",
    "SignatureHelp", "Symbol", "TextEdit", "code_lenses", "complete_at", "complete_list_at",
    "definition_at", "document_symbols", "folding_ranges", "folding_ranges_plain",
    "format_document", "hover_at", "inlay_hints", "prepare_rename", "references", "rename",
    "semantic_tokens", "semantic_tokens_plain", "signature_at",
]
