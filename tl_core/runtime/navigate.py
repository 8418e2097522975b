"""Model navigation at run time: `model.blk[0].attn_q.weight` loads the tensor
`blk.0.attn_q.weight` (through `get_tensor`, so its progress bar and overflow warning too).

A step short of a tensor is a `ModelNode` (the model and the name prefix it stands for). The
words of every error are the checker's (tl_core.models.navigation.NameTree).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import mlx.core as mx

from tl_core.models.navigation import (
    bad_index,
    one_index,
    sliced,
    tree_of,
    uncalled_method,
    written,
)
from tl_core.runtime import ops
from tl_core.runtime.errors import TLRuntimeError
from tl_core.runtime.values import type_name
from tl_core.syntax.span import Span


@dataclass(frozen=True, eq=False)
class ModelNode:
    """A group of a model's tensors reached by navigation (`model.blk`, `model.blk[0]`)."""

    model: Any
    prefix: str

    def __str__(self) -> str:
        tree = tree_of(self.model.header)
        return f"<model group '{self.prefix}': {tree.summary(self.prefix)}>"

    def type_name(self) -> str:
        return f"model group '{self.prefix}'"


def _parts(obj: Any) -> tuple[Any, str]:
    return (obj.model, obj.prefix) if isinstance(obj, ModelNode) else (obj, "")


def _short(text: str, prefix: str) -> str:
    if text and len(text) <= 40 and "\n" not in text:
        return text
    return "model" + ("." + written(prefix) if prefix else "")


def _arrive(ctx: Any, model: Any, prefix: str) -> Any:
    """The tensor at `prefix` (loaded as `get_tensor` loads it), or the group there."""
    tree = tree_of(model.header)
    if tree.is_tensor(prefix):
        return ops.op_get_tensor(ctx, model, prefix)
    return ModelNode(model, prefix)


def field(ctx: Any, obj: Any, name: str, at: str, root: str, span: Span) -> Any:
    """`obj.name` on a Model (not one of its own fields) or a ModelNode; `at` and `root` are
    the source texts of `obj` and of the model at the root of the navigation."""
    model, prefix = _parts(obj)
    tree = tree_of(model.header)
    found = tree.field(prefix, name)
    if found is None:
        raise TLRuntimeError(tree.missing(_short(at, prefix), prefix, name,
                                          _short(root, "")), span)
    return _arrive(ctx, model, found)


def index(ctx: Any, obj: Any, items: list[Any], at: str, span: Span,
          item_span: Span) -> Any:
    """`obj[i]` on a Model or a ModelNode; `items` are the evaluated index items (a Python
    `slice` for `a:b`)."""
    model, prefix = _parts(obj)
    tree = tree_of(model.header)
    at = _short(at, prefix)
    if not tree.indices(prefix):
        raise TLRuntimeError(tree.not_indexable(at, prefix), span)
    if len(items) != 1:
        raise TLRuntimeError(one_index(at, len(items)), span)
    i = items[0]
    if isinstance(i, slice):
        raise TLRuntimeError(sliced(at), span)
    if isinstance(i, mx.array) and i.size == 1 and not mx.issubdtype(i.dtype, mx.inexact) \
            and i.dtype != mx.bool_:
        i = int(i.item())
    if isinstance(i, bool) or not isinstance(i, int):
        raise TLRuntimeError(bad_index(at, type_name(i)), item_span)
    found = tree.index(prefix, i)
    if found is None:
        raise TLRuntimeError(tree.out_of_range(at, prefix, i), item_span)
    return _arrive(ctx, model, found)


def no_method(obj: ModelNode, name: str, at: str, span: Span) -> TLRuntimeError:
    return TLRuntimeError(tree_of(obj.model.header).no_method(_short(at, obj.prefix),
                                                              obj.prefix, name), span)


def not_a_tensor(obj: ModelNode, at: str, span: Span) -> TLRuntimeError:
    return TLRuntimeError(tree_of(obj.model.header).not_a_tensor(_short(at, obj.prefix),
                                                                 obj.prefix), span)


__all__ = ["ModelNode", "field", "index", "no_method", "not_a_tensor", "uncalled_method"]
