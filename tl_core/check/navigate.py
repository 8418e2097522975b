"""The checker's model navigation: types every step of `model.blk[i].attn_q.weight` from
the model's header (tl_core.models.navigation), and reports a missing child (with "did you
mean", or the tied-head hint), an index out of range, a slice, a group used as a tensor.

Each function takes the checker (`c`: its `error` and `src`) and returns the step's type: a
`ModelNodeType` for a group, a `TensorType` for a tensor, UNKNOWN when the header is not known
(nothing is reported then: the file is read at run time). The messages are the runtime's
(`NameTree.missing` and friends).
"""

from __future__ import annotations

from typing import Any

from tl_core.lang import shapes as S
from tl_core.lang.shapes import IndexItem, ShapeError
from tl_core.lang.types import (
    UNKNOWN,
    UNKNOWN_DIM,
    ModelNodeType,
    ModelType,
    TensorType,
    Type,
)
from tl_core.models.navigation import (
    WILD,
    NameTree,
    bad_index,
    is_index,
    join,
    one_index,
    sliced,
    tree_of,
    written,
)
from tl_core.syntax import ast as A


def short(text: str, prefix: str) -> str:
    """How a message names a navigated value: as written when short, else by its prefix."""
    if len(text) <= 40 and "\n" not in text:
        return text
    return "model" + ("." + written(prefix) if prefix else "")


def where(c: Any, node: object, prefix: str) -> str:
    return short(c.src(node.span), prefix)  # type: ignore[attr-defined]


def root_text(c: Any, node: object) -> str:
    """The model at the root of a navigation (`m` of `m.blk[0].attn_q`), as written."""
    while isinstance(node, (A.Field, A.Index)):
        node = node.obj
    return short(c.src(node.span), "")  # type: ignore[attr-defined]


def tensor_type(header: object, tree: NameTree, prefix: str) -> TensorType:
    """The loaded type of the tensor(s) at `prefix` (all its layers agree, or `?` where not);
    a ShapeError when one cannot be loaded."""
    types = [S.model_tensor(header, name) for name in tree.concrete(prefix)]
    out = types[0]
    for t in types[1:]:
        if t.dtype != out.dtype or out.dims is None or t.dims is None or \
                len(t.dims) != len(out.dims):
            return TensorType(out.dtype if t.dtype == out.dtype else "float16", None)
        out = TensorType(out.dtype, tuple(a if S.same_dim(a, b) else UNKNOWN_DIM
                                          for a, b in zip(out.dims, t.dims, strict=True)))
    return out


def step(t: ModelType | ModelNodeType, prefix: str, c: Any, span: object) -> Type:
    """The type of the group or tensor at `prefix` below the model of `t`."""
    tree = tree_of(t.header)
    if not tree.is_tensor(prefix):
        return ModelNodeType(prefix, t.path, t.header)
    try:
        return tensor_type(t.header, tree, prefix)
    except ShapeError as err:
        c.error(span, err.full_message(), "unknown-tensor")
        return TensorType("float16", None)


def field(c: Any, t: ModelType | ModelNodeType, e: A.Field) -> Type:
    """`obj.name` on a model or a group of it."""
    if t.header is None:
        return UNKNOWN
    prefix = t.prefix if isinstance(t, ModelNodeType) else ""
    tree = tree_of(t.header)
    found = tree.field(prefix, e.name)
    if found is not None:
        return step(t, found, c, e.name_span)
    c.error(e.name_span, tree.missing(where(c, e.obj, prefix), prefix, e.name,
                                      root_text(c, e.obj)), "unknown-member")
    return UNKNOWN


def index(c: Any, t: ModelType | ModelNodeType, e: A.Index, items: list[IndexItem],
          item_types: list[Type]) -> Type:
    """`obj[i]` on a model or a group of it: the numbered child `i`."""
    if t.header is None:
        return UNKNOWN
    prefix = t.prefix if isinstance(t, ModelNodeType) else ""
    tree = tree_of(t.header)
    at = where(c, e.obj, prefix)
    if not tree.indices(prefix):
        c.error(e.span, tree.not_indexable(at, prefix), "unknown-member")
        return UNKNOWN
    if len(items) != 1:
        c.error(e.span, one_index(at, len(items)), "unknown-member")
        return UNKNOWN
    item = items[0]
    if item.kind == "slice":
        c.error(e.span, sliced(at), "unknown-member")
        return UNKNOWN
    if item.kind != "int":
        it = item_types[0]
        if not (isinstance(it, TensorType) and it.dims == ()) and it is not UNKNOWN:
            c.error(e.items[0].span, bad_index(at, str(it)), "type-mismatch")
            return UNKNOWN
    found = tree.index(prefix, item.value if item.kind == "int" else None)
    if found is None:
        c.error(e.items[0].span, tree.out_of_range(at, prefix, item.value), "unknown-member")
        return UNKNOWN
    return step(t, found, c, e.span)


def join_nodes(a: ModelNodeType, b: ModelNodeType) -> Type:
    """After branches or a loop: `blk.0.attn_q` and `blk.3.attn_q` are `blk.*.attn_q`."""
    if a.header is not b.header:
        return UNKNOWN
    pa, pb = a.prefix.split("."), b.prefix.split(".")
    if len(pa) != len(pb):
        return UNKNOWN
    out = ""
    for x, y in zip(pa, pb, strict=True):
        if x == y:
            out = join(out, x)
        elif (is_index(x) or x == WILD) and (is_index(y) or y == WILD):
            out = join(out, WILD)
        else:
            return UNKNOWN
    return ModelNodeType(out, a.path, a.header)


def no_method(c: Any, t: ModelNodeType, f: A.Field) -> None:
    """`group.name(...)`: a group of tensors has no methods; say what it holds."""
    if t.header is not None:
        c.error(f.name_span, tree_of(t.header).no_method(where(c, f.obj, t.prefix), t.prefix,
                                                         f.name), "unknown-member")


def not_a_tensor(c: Any, t: ModelNodeType, node: object) -> None:
    """A group used where a tensor is needed (`model.token_embd + 1.0`)."""
    if t.header is not None:
        c.error(node.span, tree_of(t.header).not_a_tensor(  # type: ignore[attr-defined]
            where(c, node, t.prefix), t.prefix), "type-mismatch")


def tensor_hint(t: Type, text: str) -> str:
    """`; did you mean m.token_embd.weight?` for a group `text` holding one tensor, else ""."""
    if not isinstance(t, ModelNodeType) or t.header is None:
        return ""
    return tree_of(t.header).tensor_hint(text, t.prefix)
