"""Semantic highlighting: the class of every token (from the checker's name resolution).

`semantic_tokens` answers from per-segment caches (`tl_core.ide.tokens`) after an edit;
`semantic_tokens_plain` computes the list from scratch and is their oracle and fallback.
"""

from __future__ import annotations

from collections.abc import Callable

from tl_core.check.model import Analysis
from tl_core.ide import tokens
from tl_core.ide.gcpause import without_gc
from tl_core.ide.lex import Tok, all_tokens
from tl_core.ide.results import SemanticToken
from tl_core.ide.tokens import KIND_TYPES
from tl_core.lang.keywords import DEVICES, KEYWORDS, TYPE_NAMES


@without_gc
def semantic_tokens(a: Analysis, pause: Callable[[], None] | None = None,
                    caches: tokens.TokenCaches | None = None) -> list[SemanticToken]:
    """`pause`: called between steps (see tl_core.ide.tokens.semantic_tokens); `caches`:
    the document's (its `DocumentHost.tokens`), else none are kept."""
    try:
        fast = tokens.semantic_tokens(a, pause, caches)
    except Exception:  # noqa: BLE001 - the plain version answers
        fast = None
    return fast if fast is not None else semantic_tokens_plain(a)


@without_gc
def semantic_tokens_plain(a: Analysis) -> list[SemanticToken]:
    """Whole-document semantic tokens, computed from scratch (the oracle of
    `semantic_tokens`)."""
    refs = {r.span.start: r for r in a.refs}
    out: list[SemanticToken] = []
    toks = all_tokens(a)
    span = a.line_index.span
    prev: Tok | None = None
    for t in toks:
        kind: str | None = None
        mods: tuple[str, ...] = ()
        if t.kind == "comment":
            kind = "comment"
        elif t.kind == "string":
            kind = "string"
        elif t.kind == "number":
            kind = "number"
        elif t.kind == "ident":
            r = refs.get(t.start)
            if r is not None and r.span.end == t.end:
                if r.builtin is not None:
                    kind = "method" if prev is not None and prev.text == "." else "function"
                    mods = ("defaultLibrary",)
                elif r.binding is not None:
                    kind = KIND_TYPES.get(r.binding.kind, "variable")
                    if r.is_def:
                        mods = ("declaration",)
            elif prev is not None and prev.text == ".":
                kind = "property"
            elif prev is not None and prev.text == "::":
                kind = "function"
            elif t.text in TYPE_NAMES:
                kind = "type"
            elif t.text in KEYWORDS:
                kind = "keyword"
            elif t.text in DEVICES:
                kind = "variable"
                mods = ("readonly", "defaultLibrary")
        elif t.kind == "op" and t.text in ("@", "⊙", "⊗"):
            kind = "operator"
        if kind is not None:
            if t.kind == "comment" and "\n" in t.text:
                # one token per line: clients reject multi-line tokens
                pos = t.start
                for line in t.text.split("\n"):
                    if line:
                        out.append(SemanticToken(span(pos, pos + len(line)), kind, mods))
                    pos += len(line) + 1
            else:
                out.append(SemanticToken(span(t.start, t.end), kind, mods))
        prev = t
    return out
