"""Static types of TensorLogic values and their printing in the language's own syntax.

A tensor type is an element type and a tuple of dimensions; each dimension is an `int`, a
shape variable (`DimVar`, optionally with a known binding shown as `N=4`) or `UNKNOWN_DIM`
(`?`). `dims is None` means the rank itself is unknown (printed as the bare element type).
`UNKNOWN` is the type of anything the checker cannot know; nothing is ever reported about it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class DimVar:
    """A shape variable such as `N` or `D_in`; `value` is a known binding (printed `N=4`)."""

    name: str
    value: int | None = None

    def __str__(self) -> str:
        return self.name if self.value is None else f"{self.name}={self.value}"


@dataclass(frozen=True, slots=True)
class UnknownDim:
    def __str__(self) -> str:
        return "?"


UNKNOWN_DIM = UnknownDim()
Dim = int | DimVar | UnknownDim


def dim_str(d: Dim) -> str:
    return str(d)


def dim_value(d: Dim) -> int | None:
    """The integer a dimension is known to have, or None."""
    if isinstance(d, bool):
        return None
    if isinstance(d, int):
        return d
    if isinstance(d, DimVar):
        return d.value
    return None


def dims_str(dims: tuple[Dim, ...]) -> str:
    return "[" + ", ".join(dim_str(d) for d in dims) + "]"


class Type:
    """Base class of every static type."""

    __slots__ = ()

    def __str__(self) -> str:  # pragma: no cover - overridden
        return "?"


@dataclass(frozen=True, slots=True)
class UnknownType(Type):
    def __str__(self) -> str:
        return "?"


UNKNOWN = UnknownType()


@dataclass(frozen=True, slots=True)
class TensorType(Type):
    """`float16[N, 3]`; `dims=None` is a tensor of unknown rank (printed `float16`)."""

    dtype: str = "float16"
    dims: tuple[Dim, ...] | None = None

    @property
    def rank(self) -> int | None:
        return None if self.dims is None else len(self.dims)

    def __str__(self) -> str:
        if self.dims is None:
            return self.dtype
        return self.dtype + dims_str(self.dims)

    def plain(self) -> str:
        """Printed without the `=value` bindings of shape variables."""
        if self.dims is None:
            return self.dtype
        return self.dtype + "[" + ", ".join(
            d.name if isinstance(d, DimVar) else str(d) for d in self.dims) + "]"

    def resolved(self) -> TensorType:
        """Shape variables with a known value replaced by that value: `float16[4, 2]`."""
        if self.dims is None:
            return self
        return TensorType(self.dtype, tuple(
            d.value if isinstance(d, DimVar) and d.value is not None else d for d in self.dims))


@dataclass(frozen=True, slots=True)
class ScalarType(Type):
    """`int`, `float`, `bool`, `string` or `void`; `value` holds a compile-time constant."""

    name: str
    value: Any = field(default=None, compare=False, hash=False)

    def __str__(self) -> str:
        return self.name


INT = ScalarType("int")
FLOAT = ScalarType("float")
BOOL = ScalarType("bool")
STRING = ScalarType("string")
VOID = ScalarType("void")


@dataclass(frozen=True, slots=True)
class ModelType(Type):
    """The value of `load_model(...)`; `header` is the `ModelHeader` when the file was read."""

    path: str | None = None
    header: Any = field(default=None, compare=False, hash=False)

    def __str__(self) -> str:
        return "Model"


@dataclass(frozen=True, slots=True)
class ModelNodeType(Type):
    """A step of model navigation short of a tensor: `model.blk`, `model.blk[0]`,
    `model.blk[0].attn_q` (`prefix` "blk.0.attn_q"; a `*` stands for an index known only at
    run time, tl_core.models.navigation). `header` is the model's header."""

    prefix: str
    path: str | None = None
    header: Any = field(default=None, compare=False, hash=False)

    def __str__(self) -> str:
        return f"model group '{self.prefix}'"


@dataclass(frozen=True, slots=True)
class TokenizerType(Type):
    """The value of `load_tokenizer(...)`; `tokenizer` is the loaded `Tokenizer` when the
    checker could read the file (its `info` feeds hover, `tokenize` of a constant string
    gets its exact length)."""

    path: str | None = None
    tokenizer: Any = field(default=None, compare=False, hash=False)

    def __str__(self) -> str:
        return "Tokenizer"


@dataclass(frozen=True, slots=True)
class KVCacheType(Type):
    """A `KVCache::new_f16(n)` / `new_f32(n)` value: `n` layers of keys and values."""

    dtype: str = "float16"
    layers: int | None = None

    def __str__(self) -> str:
        return "KVCache"


@dataclass(frozen=True, slots=True)
class TensorBufferType(Type):
    """A `new_tensor_buffer(bytes)` value (UPSTREAM.md 20): makes float16 tensors with its
    methods `zeros`, `ones`, `alloc` (entries `TensorBuffer::name` of the registry)."""

    def __str__(self) -> str:
        return "TensorBuffer"


@dataclass(frozen=True, slots=True)
class MetadataType(Type):
    """`model.metadata`: the header's key/value table (`model.metadata.format`)."""

    header: Any = field(default=None, compare=False, hash=False)

    def __str__(self) -> str:
        return "Metadata"


@dataclass(frozen=True, slots=True)
class DeviceType(Type):
    def __str__(self) -> str:
        return "Device"


DEVICE = DeviceType()


@dataclass(frozen=True, slots=True)
class ShapeType(Type):
    """The value of `x.shape` / `shape(x)`: a list of dimension sizes."""

    dims: tuple[Dim, ...] | None = None

    def __str__(self) -> str:
        return "shape" if self.dims is None else "shape" + dims_str(self.dims)


@dataclass(frozen=True, slots=True)
class VecType(Type):
    """An `IntVec`, `FloatVec`, `StringVec` or `BoolVec` (tl_core.lang.collections)."""

    kind: str

    def __str__(self) -> str:
        return self.kind


@dataclass(frozen=True, slots=True)
class ListType(Type):
    elem: Type = UNKNOWN
    length: int | None = None

    def __str__(self) -> str:
        return f"list[{self.elem}]"


@dataclass(frozen=True, slots=True)
class TupleType(Type):
    items: tuple[Type, ...] = ()

    def __str__(self) -> str:
        return "(" + ", ".join(str(t) for t in self.items) + ")"


@dataclass(frozen=True, slots=True)
class StructType(Type):
    name: str
    args: tuple[Type, ...] = ()

    def __str__(self) -> str:
        if not self.args:
            return self.name
        return f"{self.name}<" + ", ".join(str(a) for a in self.args) + ">"


@dataclass(frozen=True, slots=True)
class FnType(Type):
    """A user function or a built-in; `params` are (name, type) pairs."""

    params: tuple[tuple[str, Type], ...] = ()
    ret: Type = UNKNOWN
    name: str = ""

    def __str__(self) -> str:
        ps = ", ".join(f"{n}: {t}" for n, t in self.params)
        return f"fn {self.name}({ps}) -> {self.ret}"


def is_tensor(t: Type) -> bool:
    return isinstance(t, TensorType)


def tensor(*dims: Dim | str, dtype: str = "float16") -> TensorType:
    """Shorthand for tests and rules: `tensor(4, "N")` -> `float16[4, N]`; "?" is unknown."""
    out: list[Dim] = []
    for d in dims:
        if isinstance(d, str):
            out.append(UNKNOWN_DIM if d == "?" else DimVar(d))
        else:
            out.append(d)
    return TensorType(dtype, tuple(out))
