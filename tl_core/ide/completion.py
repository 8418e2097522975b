"""Completion, asked while the user types (the text rarely parses).

It reads the tokens between the start of the top-level item around the cursor and the
cursor (`tl_core.ide.lex`), and the analysis of the last good parts of the document for
types, scopes and model headers.
"""

from __future__ import annotations

import heapq
import os
from collections.abc import Callable, Iterable
from itertools import islice
from operator import itemgetter

from tl_core.check.model import Analysis, Binding
from tl_core.ide import model_nav
from tl_core.ide.gcpause import gc_paused
from tl_core.ide.lex import Tok, current_keyword, tokens_before
from tl_core.ide.markdown import fn_label, human_size
from tl_core.ide.overlay import Overlay
from tl_core.ide.results import Completion, CompletionList
from tl_core.lang.builtins import BUFFER_METHODS, BUILTINS, MODEL_METHODS
from tl_core.lang.dtypes import DTYPES, SCALAR_TYPES
from tl_core.lang.keywords import DEVICES, RESERVED
from tl_core.lang.registry import STRING_KINDS, Builtin, fallback_type, param_at, signature_label
from tl_core.lang.shapes import ArgInfo, RuleArgs, ShapeError
from tl_core.lang.structs import takes_self
from tl_core.lang.types import (
    UNKNOWN,
    MetadataType,
    ModelNodeType,
    ModelType,
    ScalarType,
    ShapeType,
    StructType,
    TensorBufferType,
    TensorType,
    Type,
)
from tl_core.models import formats as model_formats
from tl_core.syntax import ast as A
from tl_core.syntax.span import Span

STRING_TYPE = ScalarType("string")
SKIP_DIRS = {".git", ".venv", "node_modules", "__pycache__", ".cache", ".hg", "venv"}
EXTRA_KEYWORDS = ("test", "bench", "learn", "entity", "relation", "embedding", "tensor") + DEVICES
SNIPPETS = (
    ("fn", "fn ${1:name}(${2:x}: float16[${3:N}]) -> float16[${3:N}] {\n\t$0\n}",
     "function declaration"),
    ("for", "for ${1:i} in range(${2:n}) {\n\t$0\n}", "for loop over range(n)"),
    ("main", "main {\n\t$0\n}", "main block"),
    ("if", "if ${1:cond} {\n\t$0\n}", "if block"),
    ("let", "let ${1:name} = $0", "new binding"),
)


def complete_at(a: Analysis, offset: int) -> list[Completion]:
    """Every completion at `offset`."""
    return _complete(a, offset, 0)[0]


def complete_list_at(a: Analysis, offset: int, limit: int) -> CompletionList:
    """The completions at `offset`, cut to the best `limit` (no cut when `limit` <= 0).
    Equal to cutting `complete_at`'s list, but only the kept items are built."""
    items, incomplete = _complete(a, offset, limit)
    return CompletionList(tuple(items), incomplete)


def _complete(a: Analysis, offset: int, limit: int) -> tuple[list[Completion], bool]:
    with gc_paused():  # thousands of items (tl_core.ide.gcpause)
        try:
            return complete(a, offset, limit)
        except Exception:  # noqa: BLE001 - a completion must never break the editor
            return [], False


# ---------------------------------------------------------------------------
# Types of receivers


def binding_type_at(a: Analysis, name: str, offset: int, b: Binding | None = None) -> Type:
    """The type of `name` as of `offset`: at its last occurrence before the cursor."""
    if b is None:
        b = a.lookup(name, offset)
    if b is None:
        return UNKNOWN
    best = b.type
    # the type at the last occurrence before the cursor
    last = -1
    for start, _span in b.refs.items():
        if last < start < offset and a.point_type(start) is not None:
            last = start
    if last >= 0:
        best = a.point_type(last)  # type: ignore[assignment]
    elif b.path is None and a.point_type(b.span.start) is not None:
        best = a.point_type(b.span.start)  # type: ignore[assignment]
    return best


def receiver_type(a: Analysis, toks: list[Tok], dot_index: int, offset: int) -> Type:
    """The type of the expression ending right before the `.` token at `dot_index`."""
    end = toks[dot_index].start
    # 1. an expression node of the partial tree ending exactly there
    for n in reversed(a.chain_at(max(end - 1, 0))):
        sp = getattr(n, "span", None)
        if sp is not None and sp.end == end:
            t = a.type_of(n)
            if t is not None and not isinstance(t, type(UNKNOWN)):
                return t
    # 2. a chain of names, fields, calls and indices: model.metadata / m.get_tensor("x") /
    # m.blk[0].attn_q
    parts: list[tuple[str, str | None]] = []  # (name, string arg of a call)
    i = dot_index - 1
    while i >= 0:
        t = toks[i]
        call_arg: str | None = None
        while t.text == "]":  # `[0]`, `[i]`: a step of model navigation ("[]" + the index)
            j = _opening(toks, i, "[", "]")
            if j <= 0:
                return UNKNOWN
            inner = toks[j + 1:i]
            parts.append(("[]", inner[0].text if len(inner) == 1 and
                          inner[0].kind == "number" else None))
            i = j - 1
            t = toks[i]
        if t.text == ")":
            j = _opening(toks, i, "(", ")")
            if j <= 0:
                return UNKNOWN
            if j + 1 < i and toks[j + 1].kind == "string":
                call_arg = _string_value(toks[j + 1])
            i = j - 1
            if i < 0 or toks[i].kind != "ident":
                return UNKNOWN
            parts.append((toks[i].text + "()", call_arg))
        elif t.kind == "ident":
            parts.append((t.text, None))
        else:
            return UNKNOWN
        if i - 1 >= 0 and toks[i - 1].text == ".":
            i -= 2
            continue
        break
    if not parts:
        return UNKNOWN
    parts.reverse()
    first = parts[0][0]
    if first.endswith("()"):
        return UNKNOWN
    cur = binding_type_at(a, first, offset)
    for name, arg in parts[1:]:
        cur = member_type(cur, name, arg)
    return cur


def _opening(toks: list[Tok], i: int, open_: str, close: str) -> int:
    """The index of the token opening the bracket that closes at `i` (-1 when none)."""
    depth = 0
    for j in range(i, -1, -1):
        if toks[j].text == close:
            depth += 1
        elif toks[j].text == open_:
            depth -= 1
            if depth == 0:
                return j
    return -1


def member_type(t: Type, name: str, arg: str | None) -> Type:
    if isinstance(t, (ModelType, ModelNodeType)) and t.header is not None and (
            name == "[]" or name not in ("metadata", "path") and not name.endswith("()")):
        return model_nav.step_type(t, name, arg)
    if isinstance(t, ModelType):
        if name == "metadata":
            return MetadataType(t.header)
        if name.endswith("()") and name[:-2] in MODEL_METHODS:
            return model_method_type(BUILTINS[name[:-2]], t, arg)
    if isinstance(t, TensorType):
        if name == "shape":
            return ShapeType(t.dims)
        if name == "T":
            return TensorType(t.dtype, tuple(reversed(t.dims)) if t.dims is not None else None)
    return UNKNOWN


def model_method_type(b: Builtin, model: ModelType, arg: str | None) -> Type:
    """The type of `model.name(arg)` for a built-in taking the model first, by its shape
    rule (`arg`: the call's first argument when it is a string literal)."""
    named = {b.params[0].name: ArgInfo(model)}
    if arg is not None and len(b.params) > 1:
        named[b.params[1].name] = ArgInfo(STRING_TYPE, arg, f'"{arg}"')
    try:
        return b.shape_rule(RuleArgs(b.name, named))
    except ShapeError:
        return fallback_type(b)


def _string_value(tok: Tok) -> str:
    body = tok.text[1:-1] if tok.closed else tok.text[1:]
    return body.replace('\\"', '"').replace("\\\\", "\\")


def members(a: Analysis, t: Type, replace: Span) -> list[Completion]:
    out: list[Completion] = []

    def add(label: str, kind: str, detail: str, doc: str = "", insert: str | None = None,
            snippet: bool = False) -> None:
        out.append(Completion(label, kind, detail, doc, insert if insert is not None else label,
                              snippet, replace, f"{len(out):04d}"))

    # the model's groups and tensors first
    if isinstance(t, (ModelType, ModelNodeType)):  # navigation: model.blk[0].attn_q.weight
        for c in model_nav.children(t):
            add(c.name, "field", c.detail, c.doc)
    if isinstance(t, TensorType):
        add("shape", "property", str(ShapeType(t.dims)), "The sizes of the tensor.")
        add("T", "property", str(member_type(t, "T", None)) if t.dims is not None and
            len(t.dims) == 2 else "tensor", "The transpose of a 2-D tensor.")
        add("dtype", "property", "string", "The element type name.")
        add("ndim", "property", "int", "The number of dimensions.")
        add("size", "property", "int", "The number of elements.")
    elif isinstance(t, ModelType):
        for name in MODEL_METHODS:
            b = BUILTINS[name]
            rest = b.params[1:]
            detail = f"{name}({', '.join(p.label() for p in rest)}) -> {b.returns}"
            if not rest:
                add(name, "method", detail, b.doc, f"{name}()")
            else:
                quoted = rest[0].kind in STRING_KINDS
                add(name, "method", detail, b.doc, f'{name}("$1")' if quoted else f"{name}($1)",
                    True)
        add("metadata", "property", "Metadata", "The file's metadata: format, quantization, "
            "architecture and every key of the header.")
        add("path", "property", "string", "The model file's path.")
    elif isinstance(t, TensorBufferType):
        for name in BUFFER_METHODS:
            b = BUILTINS[f"TensorBuffer::{name}"]
            detail = f"{name}({', '.join(p.label() for p in b.params[1:])}) -> {b.returns}"
            add(name, "method", detail, b.doc, f"{name}($1)", True)
    elif isinstance(t, MetadataType):
        add("format", "property", "string", "The file format.")
        h = t.header
        if h is not None:
            for k, v in h.metadata.items():
                if k.isidentifier() and k != "format":
                    text = str(v)
                    add(k, "property", text if len(text) < 60 else text[:57] + "...")
    elif isinstance(t, StructType):
        # structs are declared in the script scope, made at once: `a.bindings` would place
        # every reused item first (~60 ms right after an edit of a large file)
        script = a.script_scope
        src = a.base.text if isinstance(a, Overlay) else a.text  # the text of the tree
        for b in script.bindings if script is not None else a.bindings:
            if b.kind == "struct" and b.name == t.name and isinstance(b.node, A.StructDecl):
                for f in b.node.fields:
                    add(f.name, "field", src[f.type.span.start:f.type.span.end])
        for it in a.program.items:  # its methods (impl blocks of this file)
            if isinstance(it, A.ImplDecl) and it.trait is None and it.target.name == t.name:
                for m in it.methods:
                    if takes_self(m):
                        sig = src[m.name_span.start:m.body.span.start].strip()
                        add(m.name, "method", sig, "", f"{m.name}($1)", True)
    return out


# ---------------------------------------------------------------------------
# Completion


def best_completions(items: list[Completion], limit: int) -> tuple[list[Completion], bool]:
    """At most `limit` (> 0) of `items`, the best first by `(sort_text or label, label)`
    (ties keep their order), and whether any were left out; all of them, in their order,
    when `limit` <= 0. The client filters and sorts what it gets; an incomplete list makes
    it ask again as the user types."""
    if limit <= 0:
        return items, False
    if len(items) <= limit:
        return sorted(items, key=_sort_key), False
    return heapq.nsmallest(limit, items, key=_sort_key), True


def _sort_key(c: Completion) -> tuple[str, str]:
    return (c.sort_text or c.label, c.label)


def complete(a: Analysis, offset: int, limit: int = 0) -> tuple[list[Completion], bool]:
    """The completions at `offset`, cut by `best_completions(..., limit)`. Names in scope
    (thousands in a large file) are ranked before their items are built."""
    toks = tokens_before(a, offset)
    last = toks[-1] if toks else None
    if last is not None and last.kind == "comment" and last.end >= offset:
        if last.text.startswith("//") or not last.closed or offset < last.end:
            return [], False
    if last is not None and last.kind == "string" and last.start < offset and \
            (not last.closed or offset < last.end):
        return best_completions(complete_string(a, toks, offset), limit)
    prefix = last if last is not None and last.kind == "ident" and last.end == offset else None
    replace = a.line_index.span(prefix.start if prefix else offset, offset)
    k = len(toks) - (2 if prefix else 1)
    before = toks[k] if k >= 0 else None
    if before is not None and before.text == "." and before.end == (
            prefix.start if prefix else offset) or before is not None and before.text == ".":
        if k - 1 >= 0 and toks[k - 1].kind == "number":
            return [], False
        t = receiver_type(a, toks, k, offset)
        return best_completions(members(a, t, replace), limit)
    if before is not None and _type_position(toks, k):
        return best_completions(type_completions(a, replace), limit)
    if before is not None and before.text == "::":
        return best_completions([_builtin_completion(name, b, replace)
                                 for name, b in BUILTINS.items()], limit)
    return general(a, offset, replace, limit)


TYPE_WORDS = tuple(dict.fromkeys(DTYPES + SCALAR_TYPES + ("Model",)))


def _type_position(toks: list[Tok], k: int) -> bool:
    """Is the token at k (`:`, `->`, `<`, `as`) followed by a type here?"""
    t = toks[k].text
    if t in ("->", "as"):
        return True
    if t == "<":
        return k >= 1 and toks[k - 1].text == "tensor"
    if t != ":" or k < 1 or toks[k - 1].kind != "ident":
        return False
    if k >= 2 and toks[k - 2].text in ("let", "tensor"):
        return True
    # a parameter of `fn name(...)`: the unmatched '(' before is preceded by `fn name`
    depth = 0
    for i in range(k - 1, -1, -1):
        x = toks[i].text
        if x in (")", "]"):
            depth += 1
        elif x in ("(", "["):
            if depth == 0:
                return x == "(" and i >= 2 and toks[i - 2].text == "fn"
            depth -= 1
        elif x in ("{", "}"):
            return False
    return False


def type_completions(a: Analysis, replace: Span) -> list[Completion]:
    out = [Completion(w, "type", "element type" if w[0].islower() and w not in (
        "int", "float", "string", "void", "bool") else "type", "", w, False, replace, f"0{w}")
        for w in TYPE_WORDS]
    # structs are declared visible everywhere: only those names are looked up (the whole
    # `visible` dict costs ~10 ms on the first request after an edit of a large file)
    vis = a.visible_at(replace.start)
    wide = vis.wide_names()
    found = [(n, vis.get(n)) for n in wide] if wide is not None else \
        list(a.visible(replace.start).items())
    for name, b in found:
        if b is not None and b.kind == "struct":
            out.append(Completion(name, "struct", "struct", "", name, False, replace, f"1{name}"))
    return out


def general(a: Analysis, offset: int, replace: Span,
            limit: int = 0) -> tuple[list[Completion], bool]:
    """Names in scope, built-ins, keywords and snippets; with `limit` > 0 the best `limit`
    of them, best first, as `best_completions` cuts. With a typed prefix only labels
    starting with its first letter (any case) are returned, as editors filter that way.

    The hot path of completion: with nothing typed in a large file thousands of names are
    in scope and the server keeps only `limit` of them, which `_general_cut` picks without
    building or sorting the rest. tests/ide/test_completion_limit.py compares every answer
    with building all items and sorting them."""
    typed = a.text[replace.start:replace.end]
    first = typed[:1].lower()
    if limit > 0:
        return _general_cut(a, offset, first, replace, limit)
    visible = a.visible(offset)
    rest = _rest_keys(visible.__contains__, first)
    scope_names: Iterable[Binding] = visible.values() if not first else [
        b for name, b in visible.items() if name[:1].lower() == first]
    new = _new_completion
    info = [(b.name, _binding_info(a, b)) for b in scope_names]
    return [new(name, i[0], i[1], i[2], name, replace, i[3]) for name, i in info] + [
        _rest_item(r[3], replace) for r in rest], False


def _general_cut(a: Analysis, offset: int, first: str, replace: Span,
                 limit: int) -> tuple[list[Completion], bool]:
    """`general`'s best `limit` items without ranking all of them. A binding's sort text
    is its group and its name (`_sort_text`), so the best names are the first ones in
    name order (`VisibleAt.names`, sorted once per analysis) that are visible, the other
    names before the functions; the built-ins, keywords and snippets come after both
    (groups 2-4) and are built only when they make the cut. Only the names looked at are
    resolved, so right after an edit this does not wait for the whole scope's positions.
    Same order and ties as sorting every item (tests/ide/test_completion_limit.py)."""
    vis = a.visible_at(offset)
    get = vis.get
    rest = _rest_keys(lambda name: get(name) is not None, first)
    others: list[tuple[str, Binding]] = []
    functions: list[tuple[str, Binding]] = []
    for name in vis.names(first):
        b = get(name)
        if b is None:
            continue
        if _sort_group(b) == "0":
            others.append((name, b))
            if len(others) > limit:
                break
        else:
            functions.append((name, b))
    best = others[:limit + 1]
    if len(best) <= limit:
        # the functions that are nothing else (thousands in a large file) only now
        seen = {name for name, _b in functions}
        alone = ((name, b) for name in vis.function_names(first) if name not in seen
                 and (b := get(name)) is not None and _sort_group(b) == "1")
        best += islice(heapq.merge(functions, alone, key=itemgetter(0)),
                       limit + 1 - len(best))
    new = _new_completion
    out = []
    for name, b in best[:limit]:
        i = _binding_info(a, b)
        out.append(new(name, i[0], i[1], i[2], name, replace, i[3]))
    if len(best) <= limit:
        rest.sort(key=_key3)
        out += [_rest_item(r[3], replace) for r in rest[:limit - len(best)]]
        return out, len(best) + len(rest) > limit
    return out, True


def _key3(r: tuple) -> tuple:
    return (r[0], r[1], r[2])


def _rest_keys(shadowed: Callable[[str], bool], first: str) -> list[tuple]:
    """(sort text, label, position among the others, what to build) of the built-ins
    not shadowed by a name in scope, the keywords and the snippets that `general` lists,
    in its order."""
    out: list[tuple] = []
    n = 0
    for name, bi in BUILTINS.items():
        if not shadowed(name) and (not first or name[:1].lower() == first):
            n += 1
            out.append((f"2{name}", name, n, ("builtin", name, bi)))
    for kw in KEYWORD_LIST:
        if not first or kw[:1].lower() == first:
            n += 1
            out.append((f"3{kw}", kw, n, ("keyword", kw)))
    for label, body, detail in SNIPPETS:
        if not first or label[:1].lower() == first:
            n += 1
            out.append((f"4{label}", label, n, ("snippet", label, body, detail)))
    return out


def _rest_item(what: tuple, replace: Span) -> Completion:
    if what[0] == "builtin":
        return _builtin_completion(what[1], what[2], replace)
    if what[0] == "keyword":
        return _new_completion(what[1], "keyword", "keyword", "", what[1], replace,
                               f"3{what[1]}")
    _kind, label, body, detail = what
    return Completion(label, "snippet", detail, "", body, True, replace, f"4{label}")


KEYWORD_LIST = tuple(sorted(RESERVED)) + EXTRA_KEYWORDS


def _completion_maker():  # noqa: ANN202
    """A constructor equal to `Completion(label, kind, detail, doc, insert_text, False,
    replace_span, sort_text)` at 2.5x the speed: it fills the slots through their
    descriptors instead of the frozen dataclass' `__init__` (eight `object.__setattr__`
    calls). Completion with nothing typed builds thousands per keystroke in a large file;
    tests/ide compare it with the constructor."""
    new = object.__new__
    slot = Completion.__dict__
    s_label, s_kind, s_detail, s_doc, s_ins, s_snip, s_span, s_sort = (
        slot[f].__set__ for f in ("label", "kind", "detail", "doc", "insert_text",
                                  "is_snippet", "replace_span", "sort_text"))

    def make(label: str, kind: str, detail: str, doc: str, insert_text: str,
             replace_span: Span | None, sort_text: str) -> Completion:
        c = new(Completion)
        s_label(c, label)
        s_kind(c, kind)
        s_detail(c, detail)
        s_doc(c, doc)
        s_ins(c, insert_text)
        s_snip(c, False)
        s_span(c, replace_span)
        s_sort(c, sort_text)
        return c

    return make


_new_completion = _completion_maker()


def _builtin_completion(name: str, b: Builtin, replace: Span) -> Completion:
    return _new_completion(name, "function", _builtin_label(name, b), b.doc, name, replace,
                           f"2{name}")


def _builtin_label(name: str, b: Builtin) -> str:
    label = _BUILTIN_LABELS.get(name)
    if label is None or label[0] is not b:
        # formatted once per built-in: completion lists every built-in on each keystroke
        label = _BUILTIN_LABELS[name] = (b, signature_label(b))
    return label[1]


def prepare() -> None:
    """Format every built-in's label now (a server at start, in the background). Made on
    first use, they were made amid a document's objects, and these few lasting ones kept
    Python's allocator from returning that memory after the document closed (issue 18)."""
    for name, b in BUILTINS.items():
        _builtin_label(name, b)


_BUILTIN_LABELS: dict[str, tuple[Builtin, str]] = {}


def _binding_info(a: Analysis, b: Binding) -> tuple[str, str, str, str]:
    """(kind, detail, doc, sort text) of a binding, memoized per analysis: a file with
    thousands of names would otherwise format thousands of types on every keystroke."""
    cache = a.ide_cache.completion_info
    info = cache.get(id(b))
    if info is None:
        # the same name, kind and (immutable, shared) type object as in the document's
        # previous analyses formats the same: an edit re-checks a few items and reuses the
        # others' types. The memo is the document's (`SharedMemo`), none without a host.
        shared = a.ide_cache.shared
        memo = shared.completion if shared is not None else None
        t = b.type
        key = (b.name, b.kind, b.doc, isinstance(b.node, A.FnDecl), id(t))
        hit = memo.get(key) if memo is not None else None
        if hit is not None and hit[0] is t:
            info = hit[1]
        else:
            if b.kind == "function":
                info = ("function", fn_label(b), b.doc, _sort_text(b))
            else:
                kind = {"parameter": "parameter", "struct": "struct", "entity": "enum",
                        "relation": "function"}.get(b.kind, "variable")
                if isinstance(t, ModelType):
                    kind = "model"
                info = (kind, str(t), "", _sort_text(b))
            if memo is not None:
                if len(memo) >= SHARED_MAX:  # the details of old types go
                    memo.clear()
                memo[key] = (t, info)
        cache[id(b)] = info
    return info


# the most bindings whose completion details a document keeps across its analyses (each
# answer builds at most the configured limit of items, 100 by default): ~4 MB at most
SHARED_MAX = 20_000


def _sort_text(b: Binding) -> str:
    """Functions after the other names, each group by name (`_general_cut` relies on this
    form: group, then the name)."""
    return _sort_group(b) + b.name


def _sort_group(b: Binding) -> str:
    return "1" if b.kind == "function" else "0"


def call_before(toks: list[Tok], idx: int) -> tuple[int, str, bool] | None:
    """For a string token at `idx`: (index of the '(' token, callee name, is_method)."""
    depth = 0
    i = idx - 1
    while i >= 0:
        t = toks[i].text
        if t in (")", "]", "}"):
            depth += 1
        elif t in ("(", "[", "{"):
            if depth == 0:
                if t != "(":
                    return None
                if i - 1 >= 0 and toks[i - 1].kind == "ident":
                    is_method = i - 2 >= 0 and toks[i - 2].text == "."
                    return i, toks[i - 1].text, is_method
                if i - 1 >= 0 and toks[i - 1].text == ">":
                    return i, "tensor", False
                return None
            depth -= 1
        i -= 1
    return None


def complete_string(a: Analysis, toks: list[Tok], offset: int) -> list[Completion]:
    s = toks[-1]
    typed = a.text[s.start + 1:offset]
    replace = a.line_index.span(s.start + 1, offset)
    if len(toks) >= 2 and toks[-2].text == "import":
        return file_completions(a, typed, replace, (".tl",))
    if len(toks) >= 3 and toks[-2].text == "[":
        # model.metadata["general.  -> the header's metadata keys
        t = receiver_type(a, toks, len(toks) - 2, offset)
        if isinstance(t, MetadataType) and t.header is not None:
            out = []
            for i, (k, v) in enumerate(t.header.metadata.items()):
                if k.startswith(typed):
                    text = str(v)
                    out.append(Completion(k, "property", text if len(text) < 60 else
                                          text[:57] + "...", "", k, False, replace,
                                          f"{i:06d}"))
            return out
        return []
    found = call_before(toks, len(toks) - 1)
    if found is None:
        return []
    paren, callee, is_method = found
    b = BUILTINS.get(callee)
    if b is None:
        return []
    position, keyword = _arg_at(toks, paren)
    p = param_at(b, position, keyword, method=is_method)
    if p is not None and p.kind == "model_path":
        return file_completions(a, typed, replace, model_formats.extensions())
    if p is None or p.kind != "tensor_name":
        return []
    if is_method:
        model = receiver_type(a, toks, paren - 2, offset)
    else:
        args = toks[paren + 1:len(toks) - 1]
        model = UNKNOWN
        if args and args[0].kind == "ident":
            model = binding_type_at(a, args[0].text, offset)
    if not isinstance(model, ModelType) or model.header is None:
        return []
    out = []
    for i, (name, info) in enumerate(model.header.tensors.items()):
        if not name.startswith(typed):
            continue
        detail = f"float16{list(info.shape)} · {info.dtype}"
        if not info.is_float:
            detail = f"{info.dtype}{list(info.shape)} · integer (cannot be loaded)"
        out.append(Completion(name, "field", detail, "", name, False, replace, f"{i:06d}"))
    return out


def _arg_at(toks: list[Tok], paren: int) -> tuple[int, str | None]:
    """(positional index, keyword name or None) of the argument ending the tokens, in the
    call whose `(` is token `paren`."""
    depth = index = 0
    for t in toks[paren + 1:-1]:
        depth += (t.text in ("(", "[", "{")) - (t.text in (")", "]", "}"))
        index += t.text == "," and depth == 0
    return index, current_keyword(toks, paren)


def file_completions(a: Analysis, typed: str, replace: Span,
                     exts: tuple[str, ...]) -> list[Completion]:
    base = os.path.dirname(os.path.abspath(a.path)) if a.path else os.getcwd()
    found: list[str] = []
    _walk(base, "", exts, found, 0)
    out = []
    for rel in sorted(found):
        if not rel.startswith(typed):
            continue
        try:
            full = os.path.join(base, rel)
            size = os.path.getsize(full) if os.path.isfile(full) else 0
        except OSError:
            size = 0
        out.append(Completion(rel, "file", human_size(size) if size else "", "", rel, False,
                              replace, rel))
    return out


# The most directory entries one file completion looks at: completing a path in a program
# that lives in a huge tree (a home folder, a dataset, /) costs this much, not a walk of it.
WALK_ENTRIES = 20_000


def _walk(root: str, rel: str, exts: tuple[str, ...], out: list[str], depth: int,
          budget: list[int] | None = None) -> None:
    """Files under `root/rel` ending in `exts` into `out` (at most 500, 4 folders deep),
    looking at no more than `WALK_ENTRIES` entries in all (`budget` counts them down)."""
    if budget is None:
        budget = [WALK_ENTRIES]
    if depth > 4 or len(out) >= 500 or budget[0] <= 0:
        return
    entries = []
    try:
        with os.scandir(os.path.join(root, rel)) as listing:
            for e in listing:  # lazily: a folder of millions of files is not listed whole
                budget[0] -= 1
                if budget[0] < 0:
                    break
                entries.append(e)
    except OSError:
        return
    entries.sort(key=lambda e: e.name)
    for e in entries:
        name = e.name
        path = f"{rel}/{name}" if rel else name
        if name.endswith(exts):
            out.append(path)
            continue
        if name.startswith(".") or name in SKIP_DIRS:
            continue
        try:
            is_dir = e.is_dir(follow_symlinks=False)
        except OSError:
            continue
        if is_dir:
            _walk(root, path, exts, out, depth + 1, budget)
