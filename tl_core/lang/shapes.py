"""Shape rules on types: broadcasting, matmul, reshape, einsum, indexing, concat, ...

Pure functions over `tl_core.lang.types`; they raise `ShapeError` with the user-facing message.
Unknown stays unknown: a rule only reports what it can prove from known sizes.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from math import prod

from tl_core.lang.dtypes import FLOAT_DTYPES
from tl_core.lang.types import (
    UNKNOWN,
    UNKNOWN_DIM,
    Dim,
    DimVar,
    ScalarType,
    ShapeType,
    TensorType,
    Type,
    UnknownDim,
    dim_value,
    dims_str,
)
from tl_core.models.navigation import tree_of


class ShapeError(Exception):
    """A shape or type error; `param` names the argument to point at, `hint` a likely fix."""

    def __init__(self, message: str, param: str | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.hint = hint

    def full_message(self) -> str:
        return self.message if not self.hint else f"{self.message}; {self.hint}"


@dataclass(slots=True)
class ArgInfo:
    """What the checker knows about one argument: its type, its compile-time value (an int,
    float, str, bool, or a list of those / None for unknown entries) and its source text."""

    type: Type
    value: object = None
    text: str = ""
    is_int_literal: bool = False


@dataclass(slots=True)
class RuleArgs:
    """The bound arguments of one built-in call, as a shape rule sees them."""

    name: str
    named: dict[str, ArgInfo] = field(default_factory=dict)
    rest: tuple[ArgInfo, ...] = ()
    keywords: dict[str, ArgInfo] = field(default_factory=dict)
    dtype: str | None = None  # `f32::ones(...)`, `tensor<int>(...)`
    # The Model the checker opened for each "model_path" argument (its header read).
    opened: dict[str, Type] = field(default_factory=dict)
    # Parameters filled by position (the original TensorLogic has no keyword arguments).
    by_position: frozenset[str] = frozenset()
    # Warnings a rule leaves for the checker: (message, parameter to point at).
    notes: list[tuple[str, str | None]] = field(default_factory=list)

    def note(self, message: str, param: str | None = None) -> None:
        self.notes.append((message, param))

    def get(self, name: str) -> ArgInfo | None:
        return self.named.get(name)

    def type(self, name: str) -> Type:
        a = self.named.get(name)
        return UNKNOWN if a is None else a.type

    def tensor(self, name: str) -> TensorType | None:
        """The argument as a tensor type with known rank, or None when unknown/absent."""
        t = self.type(name)
        if isinstance(t, TensorType) and t.dims is not None:
            return t
        if isinstance(t, ScalarType) and t.name in ("int", "float"):
            return TensorType("float16", ())
        return None

    def int(self, name: str) -> int | None:
        a = self.named.get(name)
        if a is None:
            return None
        v = a.value
        if isinstance(v, bool) or not isinstance(v, int):
            return None
        return v

    def given(self, name: str) -> bool:
        a = self.named.get(name)
        return a is not None and not (a.value is None and isinstance(a.type, ScalarType)
                                      and a.type.name == "void")

    def dims(self, name: str) -> tuple[Dim, ...] | None:
        a = self.named.get(name)
        return None if a is None else dims_of_shape_arg(a)


def dims_of_shape_arg(a: ArgInfo) -> tuple[Dim, ...] | None:
    """A shape argument (`[2, 3]`, `x.shape`, an int) as dimensions; None when unknown."""
    if isinstance(a.type, ShapeType):
        return a.type.dims
    v = a.value
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return (v,)
    if isinstance(v, list) and len(v) == 1 and isinstance(v[0], TensorType):
        return None  # `[[2, 3]]`: the original's 2-D literal of sizes (values not kept)
    if isinstance(v, (list, tuple)):
        out: list[Dim] = []
        for x in v:
            if isinstance(x, bool):
                return None
            if isinstance(x, int):
                out.append(x)
            elif isinstance(x, (DimVar, UnknownDim)):
                out.append(x)
            else:
                out.append(UNKNOWN_DIM)
        return tuple(out)
    return None


# ---------------------------------------------------------------------------
# Dimensions


def same_dim(a: Dim, b: Dim) -> bool | None:
    """True/False when provable, None when unknown."""
    va, vb = dim_value(a), dim_value(b)
    if va is not None and vb is not None:
        return va == vb
    if isinstance(a, DimVar) and isinstance(b, DimVar) and a.name == b.name:
        return True
    return None


def differ(a: Dim, b: Dim) -> bool:
    return same_dim(a, b) is False


def dstr(d: Dim) -> str:
    v = dim_value(d)
    return str(v) if v is not None else str(d)


def result_dtype(a: str, b: str) -> str:
    if a == b:
        return a
    if a in FLOAT_DTYPES and b not in FLOAT_DTYPES:
        return a
    if b in FLOAT_DTYPES and a not in FLOAT_DTYPES:
        return b
    return "float16"


def norm_axis(dim: int, rank: int, x: TensorType, param: str = "dim", extra: int = 0) -> int:
    """`dim` normalized into 0..rank-1 (+extra for unsqueeze); an error when out of range."""
    n = rank + extra
    if -n <= dim < n:
        return dim + n if dim < 0 else dim
    raise ShapeError(
        f"dim {dim} is out of range for {x} ({rank} dimension{'s' if rank != 1 else ''}); "
        f"valid: {-n} to {n - 1}" if n > 0 else f"dim {dim} is out of range for {x}",
        param=param)


# ---------------------------------------------------------------------------
# Broadcasting


def broadcast_dims(a: tuple[Dim, ...], b: tuple[Dim, ...]) -> tuple[Dim, ...] | str:
    """NumPy broadcasting; returns the result dims or an error fragment."""
    n = max(len(a), len(b))
    pa = (1,) * (n - len(a)) + tuple(a)
    pb = (1,) * (n - len(b)) + tuple(b)
    out: list[Dim] = []
    for x, y in zip(pa, pb, strict=False):
        vx, vy = dim_value(x), dim_value(y)
        if vx == 1:
            out.append(y)
        elif vy == 1:
            out.append(x)
        elif vx is not None and vy is not None:
            if vx != vy:
                return f"dimensions {vx} and {vy} cannot be broadcast together"
            out.append(x if isinstance(x, int) else y)
        elif same_dim(x, y):
            out.append(x)
        elif vx is not None:
            out.append(x)
        elif vy is not None:
            out.append(y)
        else:
            out.append(UNKNOWN_DIM)
    return tuple(out)


def broadcast(a: Type, b: Type, op: str = "+") -> Type:
    """The type of `a op b` for element-wise operators."""
    ta = _as_tensor(a)
    tb = _as_tensor(b)
    if ta is None or tb is None:
        if isinstance(a, TensorType):
            return TensorType(a.dtype, None)
        if isinstance(b, TensorType):
            return TensorType(b.dtype, None)
        return UNKNOWN
    dtype = result_dtype(ta.dtype, tb.dtype)
    if ta.dims is None or tb.dims is None:
        return TensorType(dtype, None)
    r = broadcast_dims(ta.dims, tb.dims)
    if isinstance(r, str):
        raise ShapeError(f"{ta} {op} {tb}: {r}")
    return TensorType(dtype, r)


def _as_tensor(t: Type) -> TensorType | None:
    if isinstance(t, TensorType):
        return t
    if isinstance(t, ScalarType) and t.name in ("int", "float", "bool"):
        return TensorType("float16", ())
    return None


# ---------------------------------------------------------------------------
# matmul


def matmul(a: TensorType, b: TensorType, a_text: str = "", b_text: str = "",
           op: str = "@") -> TensorType:
    """NumPy `matmul` shape rule (1-D, 2-D, batched)."""
    dtype = result_dtype(a.dtype, b.dtype)
    if a.dims is None or b.dims is None:
        return TensorType(dtype, None)
    if len(a.dims) == 0 or len(b.dims) == 0:
        raise ShapeError(f"{a} {op} {b}: matrix product needs tensors with at least "
                         f"1 dimension; use * for scalars")
    ad, bd = a.dims, b.dims
    a1 = len(ad) == 1
    b1 = len(bd) == 1
    if a1:
        ad = (1,) + ad
    if b1:
        bd = bd + (1,)
    k1, k2 = ad[-1], bd[-2]
    if differ(k1, k2):
        hint = None
        if len(a.dims) == 2 and len(b.dims) == 2:
            if same_dim(a.dims[1], b.dims[1]):
                hint = f"did you mean transpose({b_text or 'B'})?"
            elif same_dim(a.dims[0], b.dims[0]):
                hint = f"did you mean transpose({a_text or 'A'})?"
        raise ShapeError(f"{a} {op} {b}: inner dimensions {dstr(k1)} and {dstr(k2)} differ",
                         hint=hint)
    batch = broadcast_dims(ad[:-2], bd[:-2])
    if isinstance(batch, str):
        raise ShapeError(f"{a} {op} {b}: batch {batch}")
    out = tuple(batch)
    if not a1:
        out += (ad[-2],)
    if not b1:
        out += (bd[-1],)
    return TensorType(dtype, out)


# ---------------------------------------------------------------------------
# reshape, permute, squeeze ...


def reshape(x: TensorType, target: tuple[Dim, ...]) -> TensorType:
    neg = [i for i, d in enumerate(target) if dim_value(d) == -1]
    if len(neg) > 1:
        raise ShapeError(f"reshape allows at most one -1 dimension; found {len(neg)} in "
                         f"{dims_str(target)}", param="shape")
    for d in target:
        v = dim_value(d)
        if v is not None and v < -1:
            raise ShapeError(f"reshape: invalid size {v} in {dims_str(target)}", param="shape")
    total = numel(x)
    rest_vals = [dim_value(d) for i, d in enumerate(target) if i not in neg]
    rest = prod(v for v in rest_vals) if all(v is not None for v in rest_vals) else None
    if neg:
        i = neg[0]
        fill: Dim = UNKNOWN_DIM
        if total is not None and rest is not None:
            if rest == 0 or total % rest != 0:
                raise ShapeError(
                    f"cannot reshape {x} ({total} elements) to {dims_str(target)}: "
                    f"{total} is not divisible by {rest}", param="shape")
            fill = total // rest
        return TensorType(x.dtype, target[:i] + (fill,) + target[i + 1:])
    if total is not None and rest is not None and total != rest:
        raise ShapeError(f"cannot reshape {x} ({total} elements) to {dims_str(target)} "
                         f"({rest} elements)", param="shape")
    return TensorType(x.dtype, tuple(target))


def numel(x: TensorType) -> int | None:
    if x.dims is None:
        return None
    vals = [dim_value(d) for d in x.dims]
    if any(v is None for v in vals):
        return None
    return prod(vals)  # type: ignore[arg-type]


def reshapes_to(declared: tuple[Dim, ...], actual: tuple[Dim, ...]) -> bool:
    """A declared tensor takes a value of another shape by reshaping (UPSTREAM.md 3.6) when
    every size is known on both sides and the element counts agree."""
    d = [dim_value(x) for x in declared]
    a = [dim_value(x) for x in actual]
    if any(v is None for v in d) or any(v is None for v in a):
        return False
    return prod(d) == prod(a)  # type: ignore[arg-type]


def permute(x: TensorType, order: list[int]) -> TensorType:
    assert x.dims is not None
    r = len(x.dims)
    if len(order) != r:
        raise ShapeError(f"permute: {x} has {r} dimensions but {len(order)} were given "
                         f"({dims_str(tuple(order))})", param="dims")
    norm = [o + r if o < 0 else o for o in order]
    if sorted(norm) != list(range(r)):
        raise ShapeError(f"permute: {dims_str(tuple(order))} is not a permutation of "
                         f"the {r} dimensions of {x}", param="dims")
    return TensorType(x.dtype, tuple(x.dims[i] for i in norm))


def transpose(x: TensorType, name: str = "transpose") -> TensorType:
    assert x.dims is not None
    if len(x.dims) != 2:
        raise ShapeError(f"{name} needs a 2-D tensor; found {x}; use permute(x, dims) for "
                         f"other ranks", param="x")
    return TensorType(x.dtype, (x.dims[1], x.dims[0]))


def concat(items: list[TensorType], dim: int) -> TensorType:
    first = items[0]
    assert first.dims is not None
    r = len(first.dims)
    axis = norm_axis(dim, r, first)
    total: Dim = 0
    for i, t in enumerate(items):
        assert t.dims is not None
        if len(t.dims) != r:
            raise ShapeError(f"concat: tensor {i + 1} is {t} but tensor 1 is {first}; every "
                             f"tensor needs {r} dimensions", param="tensors")
        for j in range(r):
            if j != axis and differ(t.dims[j], first.dims[j]):
                raise ShapeError(
                    f"concat: tensor {i + 1} is {t} but tensor 1 is {first}; shapes must "
                    f"match except in dimension {axis}", param="tensors")
        tv, cur = dim_value(t.dims[axis]), dim_value(total)
        total = tv + cur if tv is not None and cur is not None else UNKNOWN_DIM
    dims = list(first.dims)
    dims[axis] = total
    return TensorType(first.dtype, tuple(dims))


def reduce(x: TensorType, dim: int | None, keepdim: bool, dim_given: bool) -> TensorType:
    assert x.dims is not None
    if not dim_given:
        return TensorType(x.dtype, (1,) * len(x.dims) if keepdim else ())
    if dim is None:
        return TensorType(x.dtype, None)
    axis = norm_axis(dim, len(x.dims), x)
    dims = list(x.dims)
    if keepdim:
        dims[axis] = 1
    else:
        del dims[axis]
    return TensorType(x.dtype, tuple(dims))


# ---------------------------------------------------------------------------
# einsum


def einsum(spec: str, ops: list[Type]) -> Type:
    s = spec.replace(" ", "")
    if "..." in s:
        return TensorType("float16", None)
    if "->" in s:
        lhs, _, out = s.partition("->")
        explicit = True
    else:
        lhs, out, explicit = s, "", False
    terms = lhs.split(",")
    for ch in (lhs.replace(",", "") + out):
        if not ch.isalpha():
            raise ShapeError(f"einsum spec \"{spec}\": '{ch}' is not a letter; subscripts are "
                             f"letters, operands separated by ',' and the output after '->'",
                             param="spec")
    if len(terms) != len(ops):
        raise ShapeError(f"einsum spec \"{spec}\" has {len(terms)} operand"
                         f"{'s' if len(terms) != 1 else ''} but {len(ops)} "
                         f"{'were' if len(ops) != 1 else 'was'} given", param="spec")
    sizes: dict[str, tuple[Dim, int]] = {}
    for i, (term, t) in enumerate(zip(terms, ops, strict=False)):
        if not isinstance(t, TensorType) or t.dims is None:
            continue
        if len(term) != len(t.dims):
            raise ShapeError(f"einsum operand {i + 1} is {t} ({len(t.dims)} dimensions) but "
                             f"its subscripts \"{term}\" name {len(term)}", param="spec")
        for ch, d in zip(term, t.dims, strict=False):
            if ch in sizes:
                prev, j = sizes[ch]
                if differ(prev, d) and dim_value(prev) != 1 and dim_value(d) != 1:
                    raise ShapeError(f"einsum index '{ch}' is {dstr(prev)} in operand {j + 1} "
                                     f"but {dstr(d)} in operand {i + 1}", param="spec")
            else:
                sizes[ch] = (d, i)
    letters = lhs.replace(",", "")
    if explicit:
        for ch in out:
            if ch not in letters:
                raise ShapeError(f"einsum spec \"{spec}\": output index '{ch}' does not appear "
                                 f"in any operand", param="spec")
        if len(set(out)) != len(out):
            raise ShapeError(f"einsum spec \"{spec}\": output repeats an index", param="spec")
    else:
        out = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    dims = tuple(sizes[c][0] if c in sizes else UNKNOWN_DIM for c in out)
    return TensorType("float16", dims)


# ---------------------------------------------------------------------------
# Indexing


@dataclass(frozen=True)
class IndexItem:
    """One item of `x[...]`: kind "int" (value may be None), "slice" (start/stop/step values
    may be None) or "tensor" (a gather index of type `type`)."""

    kind: str
    value: int | None = None
    start: int | None = None
    stop: int | None = None
    step: int | None = None
    has_start: bool = False
    has_stop: bool = False
    type: Type = UNKNOWN


def slice_len(size: int, start: int | None, stop: int | None, step: int | None) -> int:
    return len(range(size)[slice(start, stop, step)])


def index(x: TensorType, items: list[IndexItem]) -> TensorType:
    if x.dims is None:
        return TensorType(x.dtype, None)
    r = len(x.dims)
    if len(items) > r:
        raise ShapeError(f"{x} has {r} dimension{'s' if r != 1 else ''} but {len(items)} "
                         f"indices were given")
    out: list[Dim] = []
    gathered = False
    unknown_rank = False
    for axis, it in enumerate(items):
        d = x.dims[axis]
        size = dim_value(d)
        if it.kind == "int":
            if it.value is not None and size is not None and not (-size <= it.value < size):
                raise ShapeError(f"index {it.value} is out of range for dimension {axis} of "
                                 f"{x} (size {size})")
        elif it.kind == "slice":
            if not it.has_start and not it.has_stop and it.step is None:
                out.append(d)
            elif size is not None and (it.start is not None or not it.has_start) and \
                    (it.stop is not None or not it.has_stop) and (it.step or 1) != 0:
                out.append(slice_len(size, it.start, it.stop, it.step))
            elif it.has_start and it.start is not None and not it.has_stop and \
                    it.step is None and it.start >= 0 and isinstance(d, DimVar):
                out.append(UNKNOWN_DIM)
            else:
                out.append(UNKNOWN_DIM)
        else:
            t = it.type
            if isinstance(t, TensorType) and t.dims is not None:
                if not gathered:
                    out.extend(t.dims)
                    gathered = True
                else:
                    unknown_rank = True
            else:
                unknown_rank = True
    out.extend(x.dims[len(items):])
    if unknown_rank:
        return TensorType(x.dtype, None)
    return TensorType(x.dtype, tuple(out))


# ---------------------------------------------------------------------------
# Models


def closest(name: str, names: list[str], n: int = 3, cutoff: float = 0.5) -> list[str]:
    """Up to `n` names closest to `name` (difflib ratio), best first."""
    return difflib.get_close_matches(name, names, n=n, cutoff=cutoff)


def did_you_mean(name: str, names: list[str], cutoff: float = 0.5) -> str | None:
    close = closest(name, names, cutoff=cutoff)
    if not close:
        return None
    return "did you mean " + " or ".join(f"'{c}'" for c in close) + "?"


def model_tensor(header: object, name: str) -> TensorType:
    """The type `get_tensor` gives tensor `name` of a model header (float16, or int32/int64/
    bool for integer tensors), or a ShapeError on `name`."""
    tensors = getattr(header, "tensors", {})
    info = tensors.get(name)
    if info is None:
        path = getattr(header, "path", "")
        base = path.replace("\\", "/").rsplit("/", 1)[-1]

        raise ShapeError(f"model '{base}' has no tensor named '{name}'", param="name",
                         hint=tree_of(header).tied_head(name) or
                         did_you_mean(name, list(tensors)))
    dtype = getattr(info, "loaded_dtype", "float16")
    if dtype is None:
        raise ShapeError(f"tensor '{name}' is {info.dtype} {list(info.shape)}: this dtype "
                         f"cannot be loaded", param="name")
    return TensorType(dtype, tuple(info.shape))
