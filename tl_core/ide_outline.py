"""Whole-document answers: symbols, inlay hints, semantic tokens, folding, code lenses."""

from __future__ import annotations

import re
from collections.abc import Callable

from tl_core.check.model import Analysis
from tl_core.ide import Fold, InlayHint, Lens, SemanticToken, Symbol
from tl_core.ide_lex import Tok, tokenize
from tl_core.lang.keywords import DEVICES, KEYWORDS, TYPE_NAMES
from tl_core.lang.types import FnType, ModelType, ScalarType, UnknownType
from tl_core.syntax import ast as A
from tl_core.syntax.span import Span

CELL = re.compile(r"^[ \t]*// ?%%")


def _src(a: Analysis, span: Span) -> str:
    return a.text[span.start:span.end]


def _first_word_span(a: Analysis, span: Span, word: str) -> Span:
    return a.line_index.span(span.start, min(span.start + len(word), span.end))


# ---------------------------------------------------------------------------
# document_symbols


def document_symbols(a: Analysis, pause: Callable[[], None] | None = None) -> list[Symbol]:
    """`pause`, when given, is called every 32 items (a server computing this in the
    background lets the requests the editor waits on go first there)."""
    out: list[Symbol] = []
    for k, it in enumerate(a.program.items):  # type: ignore[attr-defined]
        if pause is not None and not k & 31:
            pause()
        s = _item_symbol(a, it)
        if s is not None:
            out.append(s)
    return out


def _item_symbol(a: Analysis, it: object) -> Symbol | None:
    if isinstance(it, A.FnDecl):
        b = a._functions.get(it.name)  # made at once: right after an edit nothing is placed
        detail = ""
        if b is not None and isinstance(b.type, FnType) and b.node is it:
            t = b.type
            detail = "(" + ", ".join(f"{n}: {pt}" for n, pt in t.params) + f") -> {t.ret}"
        params = tuple(Symbol(p.name, "variable", p.span, p.name_span,
                              _src(a, p.type.span) if p.type is not None else "")
                       for p in it.params)
        return Symbol(it.name, "function", it.span, it.name_span, detail,
                      params + _block_symbols(a, it.body))
    if isinstance(it, A.StructDecl):
        kids = tuple(Symbol(f.name, "field", f.span, f.name_span, _src(a, f.type.span))
                     for f in it.fields)
        return Symbol(it.name, "struct", it.span, it.name_span, "struct", kids)
    if isinstance(it, A.ImplDecl):
        target = _src(a, it.target.span)
        name = f"impl {it.trait} for {target}" if it.trait else f"impl {target}"
        kids = tuple(Symbol(m.name, "method", m.span, m.name_span, "") for m in it.methods)
        return Symbol(name, "impl", it.span, it.target.span, "", kids)
    if isinstance(it, A.MainBlock):
        return Symbol("main", "main", it.span, _first_word_span(a, it.span, "main"), "",
                      _block_symbols(a, it.body))
    if isinstance(it, A.TestDecl):
        return Symbol(it.name, "test", it.span, it.name_span, "test")
    if isinstance(it, A.BenchDecl):
        return Symbol(it.name, "bench", it.span, it.name_span, "bench")
    if isinstance(it, A.Import):
        return Symbol(it.path, "module", it.span, it.path_span, "import")
    if isinstance(it, A.EntityDecl):
        kids = tuple(Symbol(m.id, "enum", m.span, m.span) for m in
                     (it.members.items if it.members else ()))
        return Symbol(it.name, "entity", it.span, it.name_span, "entity", kids)
    if isinstance(it, A.RelationDecl):
        return Symbol(it.name, "relation", it.span, it.name_span, "relation")
    if isinstance(it, A.EmbeddingDecl):
        return Symbol(it.name, "object", it.span, it.name_span, it.kind)
    if isinstance(it, A.LearnBlock):
        return Symbol("learn", "event", it.span, _first_word_span(a, it.span, "learn"), "")
    if isinstance(it, A.Rule):
        return Symbol(_src(a, it.head.span), "rule", it.span, it.head.span, "rule")
    return _stmt_symbol(a, it)


def _stmt_symbol(a: Analysis, st: object) -> Symbol | None:
    name = None
    name_span = None
    if isinstance(st, (A.Let, A.TensorDecl)):
        name, name_span = st.name, st.name_span
    elif isinstance(st, A.Assign) and isinstance(st.target, A.Name):
        r = a.ref_at(st.target.span.start)
        if r is None or not r.is_def:
            return None
        name, name_span = st.target.id, st.target.span
    if name is None or name_span is None:
        return None
    t = a.point_type(name_span.start)
    detail = "" if t is None or isinstance(t, UnknownType) else str(t)
    if isinstance(t, ModelType) and t.header is not None:
        kids = tuple(
            Symbol(n, "tensor", st.span, name_span,  # type: ignore[attr-defined]
                   f"float16{list(info.shape)} {info.dtype}")
            for n, info in t.header.tensors.items())
        return Symbol(name, "model", st.span, name_span,  # type: ignore[attr-defined]
                      f"{t.header.format}, {len(t.header.tensors)} tensors", kids)
    kind = "tensor" if isinstance(st, A.TensorDecl) else "variable"
    return Symbol(name, kind, st.span, name_span, detail)  # type: ignore[attr-defined]


def _block_symbols(a: Analysis, block: A.Block) -> tuple[Symbol, ...]:
    out = []
    for st in block.stmts:
        s = _stmt_symbol(a, st)
        if s is not None:
            out.append(s)
    return tuple(out)


# ---------------------------------------------------------------------------
# inlay_hints


def inlay_hints(a: Analysis, start: int, end: int) -> list[InlayHint]:
    out: list[InlayHint] = []
    for it in a.program.items:  # type: ignore[attr-defined]
        sp = getattr(it, "span", None)
        if sp is None or sp.end < start or sp.start > end:
            continue
        for n in A.walk(it):
            name_span = None
            if isinstance(n, A.Let) and n.type is None:
                name_span = n.name_span
            elif isinstance(n, A.Assign) and isinstance(n.target, A.Name):
                name_span = n.target.span
            if name_span is None or not (start <= name_span.end <= end):
                continue
            t = a.point_type(name_span.start)
            if t is None or isinstance(t, UnknownType) or (
                    isinstance(t, ScalarType) and t.name == "void"):
                continue
            out.append(InlayHint(name_span.end, f": {t}", "type"))
    return out


# ---------------------------------------------------------------------------
# semantic_tokens


def all_tokens(a: Analysis) -> list[Tok]:
    toks = getattr(a, "_tokens", None)
    if toks is None:
        toks = tokenize(a.text)
        a._tokens = toks  # type: ignore[attr-defined]
    return toks


_KIND_TYPES = {"function": "function", "parameter": "parameter", "variable": "variable",
               "for": "variable", "tensor": "variable", "struct": "struct",
               "entity": "enumMember", "relation": "function", "embedding": "variable"}


def semantic_tokens(a: Analysis) -> list[SemanticToken]:
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
                    kind = _KIND_TYPES.get(r.binding.kind, "variable")
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


# ---------------------------------------------------------------------------
# folding_ranges


def folding_ranges(a: Analysis) -> list[Fold]:
    out: list[Fold] = []
    seen: set[tuple[int, int]] = set()

    def add(s: int, e: int, kind: str | None = None) -> None:
        if e > s and (s, e) not in seen:
            seen.add((s, e))
            out.append(Fold(s, e, kind))

    ends: set[int] = set()
    for it in a.program.items:  # type: ignore[attr-defined]
        for n in A.walk(it):
            if isinstance(n, (A.FnDecl, A.MainBlock, A.TestDecl, A.BenchDecl, A.If, A.For,
                              A.While, A.Loop, A.Block, A.ArrayLiteral, A.StructDecl,
                              A.ImplDecl, A.LearnBlock, A.EmbeddingDecl, A.Call, A.TensorCtor,
                              A.Match)):
                sp = n.span
                if sp.end_line > sp.line:
                    end = sp.end_line - 1 if a.line_index.line_text(sp.end_line).strip() \
                        .startswith(("}", "]", ")")) else sp.end_line
                    # a construct and its body block end on the same line: fold once, from
                    # the construct's first line (walk visits the outer one first)
                    if end in ends:
                        continue
                    ends.add(end)
                    add(sp.line, end)
    # comments: block comments and runs of // lines
    run_start = None
    last_line = -2
    for t in all_tokens(a):
        if t.kind != "comment":
            continue
        line, _ = a.line_index.position(t.start)
        end_line, _ = a.line_index.position(t.end)
        if t.text.startswith("/*"):
            add(line, end_line, "comment")
            continue
        if CELL.match(a.line_index.line_text(line)):
            continue
        if line == last_line + 1 and run_start is not None:
            last_line = line
            continue
        if run_start is not None:
            add(run_start, last_line, "comment")
        run_start = line
        last_line = line
    if run_start is not None:
        add(run_start, last_line, "comment")
    # cells
    cells = [i for i in range(len(a.line_index.starts)) if CELL.match(a.line_index.line_text(i))]
    n_lines = len(a.line_index.starts)
    for k, line in enumerate(cells):
        end = (cells[k + 1] - 1) if k + 1 < len(cells) else n_lines - 1
        while end > line and not a.line_index.line_text(end).strip():
            end -= 1
        add(line, end, "region")
    # imports
    imps = [it.span.line for it in a.program.items if isinstance(it, A.Import)]  # type: ignore[attr-defined]
    if len(imps) > 1:
        add(imps[0], imps[-1], "imports")
    out.sort(key=lambda f: (f.start_line, -f.end_line))
    return out


# ---------------------------------------------------------------------------
# code_lenses


def code_lenses(a: Analysis) -> list[Lens]:
    li = a.line_index
    out = [Lens(li.span(0, len(li.line_text(0))), "Run file", "tensorlogic.runFile", ())]
    for i in range(len(li.starts)):
        text = li.line_text(i)
        if CELL.match(text):
            start = li.starts[i]
            out.append(Lens(li.span(start, start + len(text)), "Run cell", "tensorlogic.runCell",
                            ({"line": i},)))
    return out
