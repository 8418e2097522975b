"""Test oracles for tl_lsp/protocol.py: the slow, obvious versions of what it does fast, and
what a client does with its answers."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from lsprotocol import types as lsp

from tl_lsp import protocol as proto


def completion_kind(kind: str) -> lsp.CompletionItemKind:
    """The LSP kind of a completion kind (`proto.completion_list_json` writes its number)."""
    return proto.COMPLETION_KINDS.get(kind, lsp.CompletionItemKind.Text)


def apply_change(text: str, change: Any, encoding: str) -> str:
    """`text` with one change event applied (what the server's `apply_change_at` returns)."""
    return proto.apply_change_at(text, change, encoding)[0]


def completion_item(
    c: Any, pos: proto.Positions, data: Any = None, with_doc: bool = True, snippets: bool = True
) -> lsp.CompletionItem:
    """One completion as lsprotocol's class: the oracle of `proto.completion_list_json`,
    which writes the same JSON by hand. Without `with_doc` the documentation is left to
    completionItem/resolve (`data` then tells the server which item it was). Without
    `snippets` (the client's `snippetSupport`) snippet items become plain text."""
    insert = c.insert_text or c.label
    is_snippet = c.is_snippet and snippets
    if c.is_snippet and not snippets:
        insert = proto.snippet_to_text(insert)
    text_edit = None
    if c.replace_span is not None and c.replace_span.start != c.replace_span.end:
        text_edit = lsp.TextEdit(range=pos.span_range(c.replace_span), new_text=insert)
    return lsp.CompletionItem(
        label=c.label,
        kind=completion_kind(c.kind),
        detail=c.detail or None,
        documentation=proto.markdown(c.doc) if with_doc and c.doc else None,
        # an empty range at the cursor is a plain insertion: no textEdit, and no insertText
        # when it is the label (the protocol's default); a quarter of a long list's bytes
        insert_text=None if text_edit is not None or insert == c.label else insert,
        text_edit=text_edit,
        # plain text and filtering by the label are the protocol's defaults: not sent
        insert_text_format=lsp.InsertTextFormat.Snippet if is_snippet else None,
        sort_text=c.sort_text or None,
        data=data,
    )


def apply_semantic_edits(old: Sequence[int], edits: Iterable[lsp.SemanticTokensEdit]) -> list[int]:
    """What a client does with a semantic-tokens delta."""
    data = list(old)
    for e in sorted(edits, key=lambda e: e.start, reverse=True):
        data[e.start : e.start + e.delete_count] = list(e.data or [])
    return data
