"""The answers of the editor queries: plain frozen dataclasses (no LSP types).

The bottom of `tl_core.ide`: every feature module builds these, the language server
translates them. Imports nothing else from `tl_core.ide` (a contract in pyproject.toml).
Offsets are code-point offsets into the analysed text; spans are `tl_core.syntax.span.Span`.
"""

from __future__ import annotations

from dataclasses import dataclass

from tl_core.syntax.span import Span

SEMANTIC_TOKEN_TYPES: tuple[str, ...] = (
    "namespace", "type", "struct", "typeParameter", "parameter", "variable", "property",
    "function", "method", "keyword", "comment", "string", "number", "operator", "enumMember",
)
SEMANTIC_TOKEN_MODIFIERS: tuple[str, ...] = (
    "declaration", "readonly", "defaultLibrary", "modification",
)


@dataclass(frozen=True, slots=True)
class Hover:
    span: Span
    markdown: str


@dataclass(frozen=True, slots=True)
class Completion:
    label: str
    kind: str
    detail: str = ""
    doc: str = ""
    insert_text: str = ""
    is_snippet: bool = False
    replace_span: Span | None = None
    sort_text: str = ""


@dataclass(frozen=True, slots=True)
class CompletionList:
    """The completions at a position, at most a limit of them: the best first by
    `(sort_text or label, label)` when some were left out (`incomplete`: typing more should
    ask again), else all in their usual order."""

    items: tuple[Completion, ...]
    incomplete: bool = False


@dataclass(frozen=True, slots=True)
class Signature:
    label: str
    doc: str
    params: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class SignatureHelp:
    signatures: tuple[Signature, ...]
    active_signature: int
    active_param: int


@dataclass(frozen=True, slots=True)
class Location:
    path: str | None
    span: Span


@dataclass(frozen=True, slots=True)
class TextEdit:
    span: Span
    new_text: str


@dataclass(frozen=True, slots=True)
class RenameResult:
    edits: tuple[TextEdit, ...]
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Symbol:
    name: str
    kind: str
    span: Span
    selection_span: Span
    detail: str = ""
    children: tuple[Symbol, ...] = ()


@dataclass(frozen=True, slots=True)
class SymbolMatch:
    """A symbol a workspace-symbol query picked, with the name of the symbol holding it."""

    symbol: Symbol
    container: str | None


@dataclass(frozen=True, slots=True)
class InlayHint:
    offset: int
    label: str
    kind: str = "type"


@dataclass(frozen=True, slots=True)
class SemanticToken:
    span: Span
    type: str
    modifiers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Fold:
    start_line: int
    end_line: int
    kind: str | None = None


@dataclass(frozen=True, slots=True)
class Lens:
    span: Span
    title: str
    command: str
    arguments: tuple = ()
