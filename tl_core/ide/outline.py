"""Whole-document answers: document symbols, inlay hints, code lenses."""

from __future__ import annotations

from collections.abc import Callable

from tl_core.check.model import Analysis
from tl_core.ide.cells import CELL_MARKER, marker_lines
from tl_core.ide.gcpause import without_gc
from tl_core.ide.results import InlayHint, Lens, Symbol
from tl_core.lang.types import FnType, ModelType, ScalarType, UnknownType
from tl_core.syntax import ast as A
from tl_core.syntax.span import Span


def _src(a: Analysis, span: Span) -> str:
    return a.text[span.start:span.end]


def _first_word_span(a: Analysis, span: Span, word: str) -> Span:
    return a.line_index.span(span.start, min(span.start + len(word), span.end))


# ---------------------------------------------------------------------------
# document_symbols


@without_gc
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
        b = a.functions.get(it.name)  # made at once: right after an edit nothing is placed
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
    if isinstance(it, (A.TestDecl, A.BenchDecl)):
        return _test_symbol(it)
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


def _test_symbol(it: A.TestDecl | A.BenchDecl) -> Symbol:
    kind = "test" if isinstance(it, A.TestDecl) else "bench"
    return Symbol(it.name, kind, it.span, it.name_span, kind)


def _stmt_symbol(a: Analysis, st: object) -> Symbol | None:
    name = None
    name_span = None
    if isinstance(st, (A.TestDecl, A.BenchDecl)):  # inside main (as the original allows)
        return _test_symbol(st)
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


@without_gc
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
# code_lenses


@without_gc
def code_lenses(a: Analysis, marker: str = CELL_MARKER) -> list[Lens]:
    """"Run file" on the first line, "Run cell" on each cell marker line
    (`tl_core.ide.cells`)."""
    li = a.line_index
    out = [Lens(li.span(0, len(li.line_text(0))), "Run file", "tensorlogic.runFile", ())]
    for i in marker_lines(a.text, marker):
        start = li.starts[i]
        out.append(Lens(li.span(start, start + len(li.line_text(i))), "Run cell",
                        "tensorlogic.runCell", ({"line": i},)))
    return out
