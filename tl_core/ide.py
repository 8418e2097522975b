"""Editor questions answered on an `Analysis`, as plain frozen dataclasses (no LSP types).

Offsets are code-point offsets into `analysis.text`. Every query works on documents that do
not parse: they use the partial tree the parser recovered and the tokens around the cursor.
Completion and signature help live in `tl_core.ide_complete`; outline-like answers
(symbols, semantic tokens, folding, lenses, inlay hints) in `tl_core.ide_outline`; semantic
tokens and folding are answered from per-segment caches by `tl_core.ide_tokens` (the
`ide_outline` versions, `*_plain` here, are its oracle and fallback).
"""

from __future__ import annotations

import gc
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tl_core.check.model import Analysis, Binding
from tl_core.lang.builtins import BUILTINS
from tl_core.lang.keywords import RESERVED
from tl_core.lang.registry import param_at, signature_label
from tl_core.lang.types import (
    DimVar,
    FnType,
    MetadataType,
    ModelNodeType,
    ModelType,
    ScalarType,
    TensorType,
    TokenizerType,
    Type,
)
from tl_core.syntax import ast as A
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


# ---------------------------------------------------------------------------
# Formatting helpers shared by hover and completion


def code(text: str) -> str:
    return f"```tensorlogic\n{text}\n```"


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover


def human_count(n: int) -> str:
    if n >= 1_000_000_000:
        return f"{n / 1e9:.2f}B"
    if n >= 1_000_000:
        return f"{n / 1e6:.1f}M"
    if n >= 1_000:
        return f"{n / 1e3:.1f}K"
    return str(n)


def fn_label(b: Binding) -> str:
    t = b.type
    node = b.node
    if isinstance(node, A.FnDecl) and isinstance(t, FnType):
        ps = ", ".join(f"{n}: {pt}" if not (n == "self") else "self" for n, pt in t.params)
        return f"fn {t.name}({ps}) -> {t.ret}"
    return f"fn {b.name}"


KEY_METADATA = ("general.architecture", "general.name", "general.quantization_version",
                "general.file_type", "quantization", "architecture", "format")


def model_markdown(name: str, header: object) -> str:
    h = header
    tensors = getattr(h, "tensors", {})
    params = 0
    for info in tensors.values():
        n = 1
        for d in info.shape:
            n *= d
        params += n
    lines = [code(f"{name}: Model"), "",
             f"**{getattr(h, 'format', '?')}** `{getattr(h, 'path', '')}`", "",
             f"- tensors: {len(tensors)}",
             f"- parameters: {human_count(params)} ({params:,})",
             f"- file size: {human_size(getattr(h, 'file_size', 0))}"]
    meta = getattr(h, "metadata", {}) or {}
    shown = 0
    for k in list(KEY_METADATA) + [k for k in meta if k.endswith(
            (".context_length", ".embedding_length", ".block_count", ".head_count"))]:
        if k in meta and shown < 10:
            v = meta[k]
            text = str(v)
            if len(text) > 60:
                text = text[:57] + "..."
            lines.append(f"- {k}: {text}")
            shown += 1
    return "\n".join(lines)


def tokenizer_markdown(name: str, info: Any) -> str:
    """Hover of a tokenizer: kind, vocabulary size, special tokens (a `TokenizerInfo`)."""
    kinds = {"gpt2": "byte-level BPE (gpt2)", "llama": "SentencePiece BPE (llama)"}

    def token(i: int | None) -> str:
        if i is None:
            return "none"
        text = info.token_text(i)
        return f"{i} `{text}`" if text is not None else str(i)

    specials = ", ".join(f"`{t}`" for _, t in info.special_tokens[:8])
    if len(info.special_tokens) > 8:
        specials += f", ... ({len(info.special_tokens)} in all)"
    lines = [code(f"{name}: Tokenizer"), "",
             f"**{kinds.get(info.kind, info.kind)}** from {info.source} `{info.path}`", "",
             f"- vocabulary: {info.vocab_size:,} tokens",
             f"- bos: {token(info.bos_id)}{' (added by tokenize)' if info.add_bos else ''}",
             f"- eos: {token(info.eos_id)}",
             f"- special tokens: {specials or 'none'}",
             f"- chat template: {'yes' if info.chat_template else 'no'}"]
    return "\n".join(lines)


def tensor_markdown(info: object) -> str:
    shape = list(info.shape)  # type: ignore[attr-defined]
    dtype = info.dtype  # type: ignore[attr-defined]
    q = getattr(info, "quantization", None)
    loaded = getattr(info, "loaded_dtype", "float16")
    lines = [code(f"\"{info.name}\": {loaded or dtype}{shape}"), "",  # type: ignore[attr-defined]
             f"- shape: {shape}",
             f"- source dtype: {dtype}" + (f" (quantization {q})" if q and q != dtype else ""),
             f"- size: {human_size(info.nbytes)} ({info.nbytes:,} bytes)"]  # type: ignore[attr-defined]
    if loaded is None:
        lines.append(f"- `get_tensor` cannot load dtype {dtype}")
    return "\n".join(lines)


def bound_signature(t: FnType, bound: dict[str, int]) -> str:
    """`forward(input: float16[N=4, D_in=3], ...) -> float16[N=4, D_out=2]`."""

    def show(x: Type) -> str:
        if isinstance(x, TensorType) and x.dims is not None:
            return str(TensorType(x.dtype, tuple(
                DimVar(d.name, bound.get(d.name)) if isinstance(d, DimVar) else d
                for d in x.dims)))
        return str(x)

    ps = ", ".join(f"{n}: {show(pt)}" for n, pt in t.params)
    return f"{t.name}({ps}) -> {show(t.ret)}"


def builtin_markdown(name: str) -> str:
    b = BUILTINS[name]
    parts = [code(signature_label(b)), "", b.doc]
    params = [f"- `{p.name}`: {p.doc}" for p in b.params if p.doc]
    if params:
        parts += [""] + params
    return "\n".join(parts)


def type_text(t: Type) -> str:
    """The type, with a known constant value: `int = 4`, `string = "gguf"`."""
    v = getattr(t, "value", None)
    if isinstance(t, ScalarType) and v is not None and t.name != "void":
        shown = f'"{v}"' if isinstance(v, str) else ("true" if v is True else "false"
                                                      if v is False else repr(v))
        if len(shown) <= 60:
            return f"{t} = {shown}"
    return str(t)


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
        from tl_core import ide_navigate

        return ide_navigate.group_markdown(t, b.name)
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
    from tl_core import ide_navigate

    kw = keyword_arg_hover(a, offset) or metadata_key_hover(a, offset) or \
        ide_navigate.hover(a, offset)
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
            fb = a._functions.get(name) if isinstance(func, A.Name) else None  # made at once
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


def definition_at(a: Analysis, offset: int) -> list[Location]:
    for imp in a.imports:
        if imp.path_span.start <= offset <= imp.path_span.end and imp.resolved:
            return [Location(imp.resolved, Span(0, 0, 0, 0, 0, 0))]
    r = a.ref_at(offset, place=False)  # only the binding's place is read
    if r is None or r.binding is None:
        return []
    b = r.binding
    return [Location(b.path if b.path else a.path, b.span)]


def references(a: Analysis, offset: int, include_declaration: bool = True) -> list[Location]:
    r = a.ref_at(offset)
    if r is None:
        return []
    out: list[Location] = []
    if r.builtin is not None:
        for x in a.refs:
            if x.builtin == r.builtin:
                out.append(Location(a.path, x.span))
        return out
    b = r.binding
    if b is None:
        return []
    if include_declaration and b.path is None:
        out.append(Location(a.path, b.span))
    for span in sorted(b.refs.values(), key=lambda s: s.start):
        if span.start != b.span.start or b.path is not None:
            out.append(Location(a.path, span))
    return out


_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def prepare_rename(a: Analysis, offset: int) -> Span | None:
    r = a.ref_at(offset)
    if r is None or r.binding is None or r.binding.path is not None:
        return None
    return r.span


def rename(a: Analysis, offset: int, new_name: str) -> RenameResult:
    r = a.ref_at(offset)
    if r is None or r.binding is None:
        return RenameResult((), "nothing to rename here; place the cursor on a name")
    b = r.binding
    if b.path is not None:
        return RenameResult((), f"'{b.name}' is defined in {b.path}; rename it there")
    if not _IDENT.match(new_name):
        return RenameResult((), f"'{new_name}' is not a valid name; names are letters, digits "
                                f"and _ and do not start with a digit")
    if new_name in RESERVED:
        return RenameResult((), f"'{new_name}' is a keyword and cannot be used as a name")
    if new_name == b.name:
        return RenameResult(())
    clash = _rename_clash(a, b, new_name)
    if clash:
        return RenameResult((), clash)
    spans = {b.span.start: b.span}
    spans.update(b.refs)
    edits = tuple(TextEdit(s, new_name) for _, s in sorted(spans.items()))
    return RenameResult(edits)


def _rename_clash(a: Analysis, b: Binding, new: str) -> str | None:
    if b.kind == "function" or b.scope is None:
        if new in a.functions:
            other = a.functions[new]
            return f"a function named '{new}' already exists (line {other.span.line + 1})"
        if new in BUILTINS:
            return f"'{new}' is a built-in function; choose another name"
    # Any binding of that name visible where `b` is declared or used.
    points = [b.span.start] + list(b.refs)
    for p in points:
        other = a.visible(max(p, b.span.end)).get(new)
        if other is not None and other is not b:
            return (f"'{new}' is already defined (line {other.span.line + 1}) where "
                    f"'{b.name}' is used")
    if b.scope is not None:
        for other in b.scope.bindings:
            if other.name == new:
                return f"'{new}' is already defined in the same scope (line {other.span.line + 1})"
    if new in BUILTINS and b.kind == "function":
        return f"'{new}' is a built-in function; choose another name"
    return None


@dataclass(frozen=True, slots=True)
class CompletionList:
    """The completions at a position, at most a limit of them: the best first by
    `(sort_text or label, label)` when some were left out (`incomplete`: typing more should
    ask again), else all in their usual order."""

    items: tuple[Completion, ...]
    incomplete: bool = False


def complete_at(a: Analysis, offset: int) -> list[Completion]:
    """Every completion at `offset`."""
    return _complete(a, offset, 0)[0]


def complete_list_at(a: Analysis, offset: int, limit: int) -> CompletionList:
    """The completions at `offset`, cut to the best `limit` (no cut when `limit` <= 0).
    Equal to cutting `complete_at`'s list, but only the kept items are built."""
    items, incomplete = _complete(a, offset, limit)
    return CompletionList(tuple(items), incomplete)


def _complete(a: Analysis, offset: int, limit: int) -> tuple[list[Completion], bool]:
    from tl_core.ide_complete import complete

    # A completion list can hold thousands of items: cyclic GC passes triggered by those
    # allocations would walk the whole analysis (millions of objects) and double the time.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return complete(a, offset, limit)
    except Exception:  # noqa: BLE001
        return [], False
    finally:
        if was_enabled:
            gc.enable()


def signature_at(a: Analysis, offset: int) -> SignatureHelp | None:
    from tl_core.ide_complete import signature

    try:
        return signature(a, offset)
    except Exception:  # noqa: BLE001
        return None


def _without_gc(f):  # noqa: ANN001, ANN202 - a decorator
    """Run a whole-document query with cyclic GC paused (see _complete)."""
    import functools

    @functools.wraps(f)
    def run(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return f(*args, **kwargs)
        finally:
            if was_enabled:
                gc.enable()

    return run


@_without_gc
def document_symbols(a: Analysis, pause: Callable[[], None] | None = None) -> list[Symbol]:
    from tl_core.ide_outline import document_symbols as f

    return f(a, pause)


@_without_gc
def inlay_hints(a: Analysis, start: int, end: int) -> list[InlayHint]:
    from tl_core.ide_outline import inlay_hints as f

    return f(a, start, end)


@_without_gc
def semantic_tokens(a: Analysis, pause: Callable[[], None] | None = None) -> list[SemanticToken]:
    """`pause`: called between steps (see tl_core.ide_tokens.semantic_tokens)."""
    # per-segment caches (tl_core.ide_tokens); the plain version is the oracle and the
    # fallback
    from tl_core import ide_tokens

    try:
        fast = ide_tokens.semantic_tokens(a, pause)
    except Exception:  # noqa: BLE001
        fast = None
    return fast if fast is not None else semantic_tokens_plain(a)


@_without_gc
def semantic_tokens_plain(a: Analysis) -> list[SemanticToken]:
    """Whole-document semantic tokens, computed from scratch (the oracle of the above)."""
    from tl_core.ide_outline import semantic_tokens as f

    return f(a)


@_without_gc
def folding_ranges(a: Analysis, pause: Callable[[], None] | None = None) -> list[Fold]:
    """`pause`: called between steps (see tl_core.ide_tokens.semantic_tokens)."""
    from tl_core import ide_tokens

    try:
        fast = ide_tokens.folding_ranges(a, pause)
    except Exception:  # noqa: BLE001
        fast = None
    return fast if fast is not None else folding_ranges_plain(a)


@_without_gc
def folding_ranges_plain(a: Analysis) -> list[Fold]:
    """Folding ranges computed from scratch (the oracle of the above)."""
    from tl_core.ide_outline import folding_ranges as f

    return f(a)


@_without_gc
def code_lenses(a: Analysis) -> list[Lens]:
    from tl_core.ide_outline import code_lenses as f

    return f(a)


def format_document(a: Analysis) -> list[TextEdit]:
    """One edit replacing the whole document with its canonical formatting, or no edits when
    it is already formatted, does not parse, or no formatter is available."""
    try:
        from tl_core.syntax.format import format_text
    except ImportError:
        return []
    if a.parse.errors:  # type: ignore[attr-defined]
        return []
    try:
        new = format_text(a.text)
    except Exception:  # noqa: BLE001
        return []
    if new == a.text:
        return []
    return [TextEdit(a.line_index.span(0, len(a.text)), new)]
