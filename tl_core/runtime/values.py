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

# TensorLogic element type names -> MLX dtypes. MLX has no complex16; complex64 stands in.
DTYPES: dict[str, Any] = {
    "float16": mx.float16, "f16": mx.float16, "float": mx.float16, "half": mx.float16,
    "float32": mx.float32, "f32": mx.float32,
    "float64": mx.float64, "f64": mx.float64,
    "bfloat16": mx.bfloat16, "bf16": mx.bfloat16,
    "int32": mx.int32, "i32": mx.int32, "int": mx.int64,
    "int64": mx.int64, "i64": mx.int64,
    "int16": mx.int16, "i16": mx.int16,
    "int8": mx.int8, "uint8": mx.uint8,
    "bool": mx.bool_,
    "complex16": mx.complex64, "complex64": mx.complex64,
}

_DTYPE_NAMES: dict[Any, str] = {
    mx.float16: "float16", mx.float32: "float32", mx.float64: "float64",
    mx.bfloat16: "bfloat16", mx.int32: "int32", mx.int64: "int64", mx.int16: "int16",
    mx.int8: "int8", mx.uint8: "uint8", mx.uint32: "uint32", mx.uint16: "uint16",
    mx.uint64: "uint64", mx.bool_: "bool", mx.complex64: "complex64",
}

FLOAT = mx.float16  # the working type


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
    if isinstance(v, (FnValue, BuiltinValue)):
        return "function"
    if type(v).__name__ == "Model":
        return "Model"
    return type(v).__name__
