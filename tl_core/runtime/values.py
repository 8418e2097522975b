"""Runtime values: how TensorLogic values are represented in Python, and their type names.

- tensors are `mx.array` (float16 unless the program asks otherwise);
- `int`, `float`, `bool`, `string` are Python `int`, `float`, `bool`, `str`;
- lists (and shapes, `x.shape`) are Python lists; tuples are Python tuples;
- a model is a `tl_core.models.Model`; its `metadata` is a `Record` (field access by key);
- `void` is `None`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import mlx.core as mx

from tl_core.lang.dtypes import BY_NAME, TABLE, WORKING_DTYPE, all_names

# Every element type name the language accepts (tl_core.lang.dtypes) -> its MLX dtype.
DTYPES: dict[str, Any] = {name: getattr(mx, BY_NAME[canon].mlx)
                          for name, canon in all_names().items()}

# MLX dtype -> the name a program sees (MLX's own name: complex16 computes as complex64).
_DTYPE_NAMES: dict[Any, str] = {getattr(mx, d.mlx): d.mlx.rstrip("_") for d in TABLE}

FLOAT = getattr(mx, WORKING_DTYPE)  # the working type


def dtype_name(dtype: Any) -> str:
    return _DTYPE_NAMES.get(dtype, str(dtype).replace("mlx.core.", ""))


def is_tensor(v: object) -> bool:
    return isinstance(v, mx.array)


def shape_text(shape: tuple[int, ...] | list[int]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def tensor_type(a: mx.array) -> str:
    """`float16[4, 3]`."""
    return dtype_name(a.dtype) + shape_text(a.shape)


@dataclass(frozen=True)
class Record:
    """A read-only table with field access (`model.metadata.format`)."""

    title: str
    items: dict[str, Any]

    def get(self, key: str) -> Any:
        return self.items[key]


@dataclass(frozen=True)
class FnValue:
    """A user function as a value (`fn` names evaluate to this)."""

    name: str


@dataclass(frozen=True)
class BuiltinValue:
    name: str


@dataclass(eq=False)
class Vec:
    """An `IntVec`/`FloatVec`/`StringVec`/`BoolVec` (tl_core.lang.collections): a mutable
    list shared by reference (`let b = a` then `b.push(1)` changes `a` too)."""

    kind: str
    items: list[Any]


@dataclass(eq=False)
class TensorBuffer:
    """`new_tensor_buffer(bytes)` (UPSTREAM.md 20): the original's GPU memory pool. MLX
    pools memory itself, so this records the size and makes tensors (`buf.zeros(shape)`)."""

    size: int

    def __str__(self) -> str:
        return f"<TensorBuffer: {self.size} bytes>"


def type_name(v: object) -> str:
    """The TensorLogic type of a value, as error messages write it."""
    if isinstance(v, mx.array):
        return tensor_type(v)
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "string"
    if isinstance(v, (list, range)):
        return "list"
    if isinstance(v, tuple):
        return "tuple"
    if v is None:
        return "void"
    if isinstance(v, Record):
        return "record"
    if isinstance(v, Vec):
        return v.kind
    if isinstance(v, (FnValue, BuiltinValue)):
        return "function"
    if type(v).__name__ == "Model":
        return "Model"
    named = getattr(v, "type_name", None)  # values that name themselves (a model group)
    return named() if callable(named) else type(v).__name__
