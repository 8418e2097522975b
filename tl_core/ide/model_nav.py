"""Hover and completion of model navigation (`model.blk[0].attn_q.weight`), from the header.

`children` lists what follows `model.` / `model.blk[0].` with shape and dtype; `hover` shows
the group or tensor a step reaches. Both read the types the checker gave the steps
(tl_core.check.navigate) and the header's name tree (tl_core.models.navigation).
"""

from __future__ import annotations

from dataclasses import dataclass

from tl_core.check.model import Analysis
from tl_core.check.navigate import tensor_type
from tl_core.ide.markdown import code, human_size, tensor_markdown
from tl_core.ide.results import Hover
from tl_core.lang.shapes import ShapeError
from tl_core.lang.types import UNKNOWN, ModelNodeType, ModelType, Type
from tl_core.models.navigation import WILD, NameTree, join, tree_of
from tl_core.syntax import ast as A


@dataclass(frozen=True, slots=True)
class Child:
    """One name that may follow a navigation step: a group or a tensor."""

    name: str
    detail: str  # `float16[576, 576] · Q4_1`, `.weight: float16[576] · F32`, ...
    doc: str


def _tensor_detail(header: object, tree: NameTree, prefix: str) -> str:
    """`float16[576, 576] · Q4_1`: the type it loads as (`?` where layers differ), and the
    source dtype (as the completion of tensor-name strings shows them)."""
    names = tree.concrete(prefix)
    source = header.tensors[names[0]].dtype  # type: ignore[attr-defined]
    try:
        loaded = str(tensor_type(header, tree, prefix))
    except ShapeError:
        loaded = "cannot be loaded"
    return f"{loaded} · {source}"


def _group_detail(header: object, tree: NameTree, prefix: str) -> str:
    """`.weight: float16[576] F32` for a group of one tensor, `[0..29]`, or its names."""
    fields = tree.fields(prefix)
    idx = tree.indices(prefix)
    if idx and not fields:
        return f"{tree.range_text(prefix)}: {len(idx)} numbered groups"
    if len(fields) == 1 and not idx and tree.is_tensor(join(prefix, fields[0])):
        return f".{fields[0]}: {_tensor_detail(header, tree, join(prefix, fields[0]))}"
    return "group: " + tree.summary(prefix, limit=6)


def children(t: Type) -> list[Child]:
    """What may follow `.` after a model or a group of it (empty when the header is unknown)."""
    if not isinstance(t, (ModelType, ModelNodeType)) or t.header is None:
        return []
    prefix = t.prefix if isinstance(t, ModelNodeType) else ""
    header = t.header
    tree = tree_of(header)
    out = []
    for f in tree.fields(prefix):
        below = join(prefix, f)
        if tree.is_tensor(below):
            names = tree.concrete(below)
            doc = f"tensor `{names[0]}`" if len(names) == 1 else \
                f"tensor `{below.replace(WILD, '{i}')}` ({len(names)} layers)"
            out.append(Child(f, _tensor_detail(header, tree, below), doc))
        else:
            out.append(Child(f, _group_detail(header, tree, below), f"group `{below}` of the model"))
    return out


def hover(a: Analysis, offset: int) -> Hover | None:
    """On the name of a navigation step (`attn_q` in `m.blk[0].attn_q.weight`): the tensor
    (name in the file, shape, dtype, size) or the group (its children with their shapes)."""
    for n in reversed(a.chain_at(offset)):
        if isinstance(n, A.Field) and n.name_span.start <= offset <= n.name_span.end:
            t = a.type_of(n.obj)
            if not isinstance(t, (ModelType, ModelNodeType)) or t.header is None:
                return None
            prefix = t.prefix if isinstance(t, ModelNodeType) else ""
            tree = tree_of(t.header)
            below = tree.field(prefix, n.name)
            if below is None:
                return None
            return Hover(n.name_span, markdown(t.header, tree, below, a.text[
                n.span.start:n.span.end]))
    return None


def group_markdown(t: ModelNodeType, name: str) -> str:
    """Hover of a variable holding a group (`layer` of `let layer = model.blk[2]`)."""
    return markdown(t.header, tree_of(t.header), t.prefix, name)


def markdown(header: object, tree: NameTree, prefix: str, text: str) -> str:
    names = tree.concrete(prefix)
    if tree.is_tensor(prefix):
        if len(names) == 1:
            return tensor_markdown(header.tensors[names[0]])  # type: ignore[attr-defined]
        first = header.tensors[names[0]]  # type: ignore[attr-defined]
        total = sum(header.tensors[n].nbytes for n in names)  # type: ignore[attr-defined]
        return "\n".join([code(f"\"{prefix.replace(WILD, '{i}')}\": "
                               f"{_tensor_detail(header, tree, prefix).split(' · ')[0]}"),
                          "", f"- in {len(names)} layers: `{names[0]}` ... `{names[-1]}`",
                          f"- source dtype: {first.dtype}",
                          f"- size: {human_size(total)} in all"])
    lines = [code(f"{text}: model group '{prefix}'"), ""]
    if tree.indices(prefix):
        lines.append(f"- numbered {tree.range_text(prefix)}: index with `{text}[i]`")
    kids = children(ModelNodeType(prefix, None, header))
    for c in kids[:24]:
        lines.append(f"- `{c.name}`: {c.detail}")
    if len(kids) > 24:
        lines.append(f"- ... ({len(kids) - 24} more)")
    return "\n".join(lines)


def step_type(t: ModelType | ModelNodeType, name: str, index: str | None) -> Type:
    """The type of `t.name`, or of `t[index]` when `name` is "[]" (`index` the integer's
    text, None when not a literal), for completion on text that does not parse."""
    prefix = t.prefix if isinstance(t, ModelNodeType) else ""
    tree = tree_of(t.header)
    if name == "[]":
        below = tree.index(prefix, int(index) if index is not None and index.isdigit() else None)
    else:
        below = tree.field(prefix, name)
    if below is None:
        return UNKNOWN
    if tree.is_tensor(below):
        try:
            return tensor_type(t.header, tree, below)
        except ShapeError:
            return UNKNOWN
    return ModelNodeType(below, t.path, t.header)
