"""Hover: what the name, string argument, keyword argument or expression under the cursor is.

Works on documents that do not parse: it reads the partial tree the parser recovered.
"""

from __future__ import annotations

from tl_core.check.model import Analysis, Binding
from tl_core.ide import model_nav
from tl_core.ide.lex import LONG_LINE, tokenize
from tl_core.ide.markdown import (
    bound_signature,
    builtin_markdown,
    code,
    fn_label,
    model_markdown,
    tensor_markdown,
    tokenizer_markdown,
    type_text,
)
from tl_core.ide.overlay import Overlay
from tl_core.ide.results import Hover
from tl_core.lang.builtins import BUILTINS
from tl_core.lang.registry import param_at
from tl_core.lang.types import (
    FnType,
    MetadataType,
    ModelNodeType,
    ModelType,
    TokenizerType,
    Type,
)
from tl_core.syntax import ast as A


def binding_markdown(b: Binding, t: Type | None = None) -> str:
    if b.kind == "function":
        md = code(fn_label(b))
        if b.doc:
            md += "\n\n" + b.doc
        if b.path:
            md += f"\n\nfrom `{b.path}`"
        return md
    t = b.type if t is None else t
    if isinstance(t, ModelType) and t.header is not None:
        return model_markdown(b.name, t.header)
    if isinstance(t, TokenizerType) and t.tokenizer is not None:
        return tokenizer_markdown(b.name, t.tokenizer.info)
    if isinstance(t, ModelNodeType) and t.header is not None:
        return model_nav.group_markdown(t, b.name)
    word = {"parameter": "param ", "tensor": "tensor ", "for": "", "struct": "struct ",
            "entity": "entity ", "relation": "relation "}.get(b.kind, "")
    if b.kind == "struct":
        return code(f"struct {b.name}")
    if b.kind == "relation" and b.detail:
        return code(b.detail)
    if b.kind in ("entity", "relation", "embedding"):
        return code(f"{b.kind} {b.name}")
    return code(f"{word}{b.name}: {type_text(t)}")


# ---------------------------------------------------------------------------
# Locating things in the (partial) tree


def chain_at(a: Analysis, offset: int) -> list[object]:
    return a.chain_at(offset)


def string_call_context(a: Analysis, offset: int) -> tuple[str, A.String, A.Call] | None:
    """When `offset` is inside a string argument of a built-in whose parameter there is a
    "model_path" or a "tensor_name": (that kind, the String node, the Call)."""
    chain = chain_at(a, offset)
    for i in range(len(chain) - 1, 0, -1):
        n = chain[i]
        if isinstance(n, A.String) and n.span.start < offset < n.span.end + 1:
            for j in range(i - 1, -1, -1):
                c = chain[j]
                if isinstance(c, A.Call):
                    kind = _string_param_kind(c, n)
                    return (kind, n, c) if kind in ("model_path", "tensor_name") else None
                if not isinstance(c, A.Arg):
                    return None
            return None
    return None


def _string_param_kind(call: A.Call, s: A.String) -> str | None:
    f = call.func
    name = f.id if isinstance(f, A.Name) else f.name if isinstance(f, A.Field) else None
    b = BUILTINS.get(name) if name is not None else None
    if b is None:
        return None
    position = 0
    for arg in call.args:
        if arg.value is s:
            p = param_at(b, None if arg.name else position, arg.name,
                         method=isinstance(f, A.Field))
            return None if p is None else p.kind
        if arg.name is None:
            position += 1
    return None


def model_of_call(a: Analysis, call: A.Call) -> ModelType | None:
    f = call.func
    t: Type | None = None
    if isinstance(f, A.Field):
        t = a.type_of(f.obj)
    elif call.args:
        t = a.type_of(call.args[0].value)
    return t if isinstance(t, ModelType) else None


# ---------------------------------------------------------------------------
# Queries


def hover_at(a: Analysis, offset: int, facts: dict[str, int] | None = None) -> Hover | None:
    """`facts`: the facts per relation after the document's last run, shown on relations."""
    try:
        return _hover(a, offset, facts or {})
    except Exception:  # noqa: BLE001 - a hover must never break the editor
        return None


def _hover(a: Analysis, offset: int, facts: dict[str, int]) -> Hover | None:
    if isinstance(a, Overlay):
        return _overlay_hover(a, offset)
    ctx = string_call_context(a, offset)
    if ctx is not None:
        kind, s, call = ctx
        if kind == "tensor_name":
            m = model_of_call(a, call)
            if m is not None and m.header is not None:
                info = m.header.tensors.get(s.value)
                if info is not None:
                    return Hover(s.span, tensor_markdown(info))
        else:
            t = a.type_of(call)
            if isinstance(t, ModelType) and t.header is not None:
                return Hover(s.span, model_markdown(s.value, t.header))
    kw = keyword_arg_hover(a, offset) or metadata_key_hover(a, offset) or \
        model_nav.hover(a, offset)
    if kw is not None:
        return kw
    for imp in a.imports:
        if imp.path_span.start <= offset <= imp.path_span.end:
            return Hover(imp.path_span, code(f'import "{imp.written}"') +
                         (f"\n\n`{imp.resolved}`" if imp.resolved else ""))
    r = a.ref_at(offset, place=False)  # right after an edit: shown, not compared
    if r is not None:
        if r.builtin is not None:
            return Hover(r.span, builtin_markdown(r.builtin))
        if r.binding is not None:
            b = r.binding
            # A variable's type where it is used (after reassignments) is the type there.
            md = binding_markdown(b, a.point_type(r.span.start))
            if b.kind == "relation" and b.name in facts:
                n = facts[b.name]
                md += f"\n\n{n} fact{'s' if n != 1 else ''} after the last run"
            bound = a.call_binding(r.span.start)
            if bound and isinstance(b.type, FnType):
                md += "\n\nat this call:\n" + code(bound_signature(b.type, bound))
            return Hover(r.span, md)
    chain = chain_at(a, offset)
    for n in reversed(chain):
        t = a.type_of(n)
        if t is not None:
            return Hover(n.span, code(type_text(t)))  # type: ignore[attr-defined]
    return None


# words before a name that declare it (the declaration being typed is not the name that an
# older analysis knows) or make it a member (its type is not known on an edited line)
_NOT_A_USE = frozenset(("let", "fn", "struct", "impl", "for", "relation", "entity",
                        "embedding", "tensor", ".", "::"))


def _overlay_hover(a: Overlay, offset: int) -> Hover | None:
    """On a line edited since the overlay's base analysis (its tree has nothing there): the
    name under the cursor, read in the newest text, as the base knows it where the line
    stands (a variable, parameter or fn declared above it, or a built-in): its declaration
    and type there, without the type at this very place. None for anything else."""
    text = a.text
    start = text.rfind("\n", 0, offset) + 1
    end = text.find("\n", offset)
    end = len(text) if end == -1 else end
    if end - start > LONG_LINE:
        return None
    toks = tokenize(text, start, end)
    i = next((k for k, t in enumerate(toks) if t.start <= offset <= t.end and
              t.kind == "ident"), None)
    if i is None:
        return None
    t = toks[i]
    if i > 0 and toks[i - 1].text in _NOT_A_USE or \
            i + 1 < len(toks) and toks[i + 1].text in ("=", ":="):  # a target being typed
        return None
    span = a.line_index.span(t.start, t.end)
    b = a.lookup(t.text, offset)
    if b is not None:
        return Hover(span, binding_markdown(b))
    if t.text in BUILTINS:
        return Hover(span, builtin_markdown(t.text))
    return None


def keyword_arg_hover(a: Analysis, offset: int) -> Hover | None:
    """On the name of a keyword argument (`dim:` in `softmax(x, dim: 0)`): that parameter."""
    chain = chain_at(a, offset)
    for i in range(len(chain) - 1, 0, -1):
        arg = chain[i]
        if isinstance(arg, A.Arg) and arg.name_span is not None and \
                arg.name_span.start <= offset <= arg.name_span.end:
            call = chain[i - 1]
            func = getattr(call, "func", None)
            name = "tensor" if isinstance(call, A.TensorCtor) else func.id if isinstance(
                func, A.Name) else func.name if isinstance(func, A.Field) else \
                func.member if isinstance(func, A.Path) else None
            fb = a.functions.get(name) if isinstance(func, A.Name) else None  # made at once
            if fb is not None and isinstance(fb.type, FnType):
                for pname, pt in fb.type.params:
                    if pname == arg.name:
                        return Hover(arg.name_span, code(f"param {pname}: {pt}") +
                                     f"\n\nof `{fb.name}`")
                return None
            b = BUILTINS.get(name or "")
            if b is not None:
                for p in b.params:
                    if p.name == arg.name:
                        return Hover(arg.name_span, code(p.label()) +
                                     (f"\n\n{p.doc}" if p.doc else "") +
                                     f"\n\nparameter of `{b.name}`")
            return None
    return None


def metadata_key_hover(a: Analysis, offset: int) -> Hover | None:
    """On the key of `model.metadata["general.name"]`: the value in the file's header."""
    chain = chain_at(a, offset)
    if len(chain) < 2 or not isinstance(chain[-1], A.String) or \
            not isinstance(chain[-2], A.Index):
        return None
    s, ix = chain[-1], chain[-2]
    t = a.type_of(ix.obj)
    if not isinstance(t, MetadataType) or t.header is None:
        return None
    meta = t.header.metadata
    if s.value not in meta:
        return Hover(s.span, f"no metadata key `{s.value}` in this file")
    v = str(meta[s.value])
    return Hover(s.span, code(f'"{s.value}"') + "\n\n" + (v if len(v) < 400 else v[:397] + "..."))

