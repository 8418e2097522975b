"""The one table of element types: names, short aliases, kinds and the MLX dtype of each.

The checker, the runtime, the parser, the IDE and the TextMate grammar read their dtype words
from here (`syntaxes/gen_grammar.py` writes them into the grammar). MLX is named by
attribute only (`mlx`), so importing this module never imports MLX.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DType:
    """One element type. `kind` is "float", "int", "bool" or "complex"; `aliases` are the
    other names accepted in casts and `tensor<T>`; `mlx` is the attribute of `mlx.core` that
    holds it; `annotation` says whether it may head a tensor type such as `float16[N, D]`."""

    name: str
    kind: str
    aliases: tuple[str, ...] = ()
    mlx: str = ""
    annotation: bool = True


TABLE: tuple[DType, ...] = (
    DType("float16", "float", ("f16", "float", "half"), "float16"),
    DType("float32", "float", ("f32",), "float32"),
    DType("float64", "float", ("f64",), "float64"),
    DType("bfloat16", "float", ("bf16",), "bfloat16"),
    # MLX has no complex16; complex64 stands in for it.
    DType("complex16", "complex", ("complex64",), "complex64"),
    DType("int32", "int", ("i32",), "int32"),
    DType("int64", "int", ("i64", "int"), "int64"),
    DType("int16", "int", ("i16",), "int16"),
    DType("int8", "int", (), "int8", annotation=False),
    DType("uint8", "int", (), "uint8", annotation=False),
    DType("bool", "bool", (), "bool_", annotation=False),
)

BY_NAME: dict[str, DType] = {d.name: d for d in TABLE}
ALIASES: dict[str, str] = {a: d.name for d in TABLE for a in d.aliases}

# Canonical names, in table order (int8/uint8 are runtime-only: results of MLX, not written).
DTYPES: tuple[str, ...] = tuple(d.name for d in TABLE if d.name not in ("int8", "uint8"))
FLOAT_DTYPES: tuple[str, ...] = tuple(d.name for d in TABLE if d.kind in ("float", "complex"))
INT_DTYPES: tuple[str, ...] = tuple(d.name for d in TABLE if d.kind == "int")
# Names that head a tensor type annotation: `float16[N, D]`.
ELEMENT_TYPES: frozenset[str] = frozenset(d.name for d in TABLE if d.annotation)

# `f32::ones([2])`: namespaces whose calls produce that element type (None: no cast).
NAMESPACES: dict[str, str | None] = {
    "f16": "float16", "f32": "float32", "f64": "float64", "bf16": "bfloat16",
    "i32": "int32", "i64": "int64", "Tensor": None, "KVCache": None,
}

# Scalar type words of the language (not element types).
SCALAR_TYPES: tuple[str, ...] = ("int", "float", "bool", "string", "void")

WORKING_DTYPE = "float16"  # tensors compute in float16 unless a program asks otherwise

# The original's cast targets (UPSTREAM.md 6.3): on a 1-element tensor they give its value
# as a number (`x[0, 1] as float` is a float, never a float16 tensor); on a larger tensor
# (an error in the original) ours converts the dtype.
VALUE_CASTS: frozenset[str] = frozenset({"f32", "f64", "float", "i32", "i64", "int"})


def canonical_dtype(name: str) -> str | None:
    """`f32` -> `float32`; an unknown element type -> None."""
    if name in BY_NAME:
        return name
    return ALIASES.get(name)


def kind_of(name: str) -> str | None:
    """"float", "int", "bool" or "complex" for any accepted name, else None."""
    c = canonical_dtype(name)
    return None if c is None else BY_NAME[c].kind


def is_int_dtype(dtype: str) -> bool:
    return dtype in INT_DTYPES


def all_names() -> dict[str, str]:
    """Every accepted name (canonical or alias) -> its canonical name."""
    out = {d.name: d.name for d in TABLE}
    out.update(ALIASES)
    return out
