"""MLX implementations of the built-in functions: one `op_<name>` per registry entry.

Each op is installed into its registry entry (`tl_core.lang.builtins.BUILTINS`) by
`@implements(name)`; the interpreter calls `BUILTINS[name].impl()`. The generation and
compatibility built-ins live in `ops_generate` and `ops_compat` (on top of this module);
`tl_core.runtime.implementations` loads all three.

Calling convention: every op takes the run context first, then the bound arguments by
parameter name (positional for variadic ones):
`op_softmax(ctx, x=t, dim=-1)`. Arguments already hold runtime values (`mx.array`, int,
float, bool, str, list, Model). Ops raise `OpError(message, arg=<param name>)` for a bad
argument so the interpreter can point at it.

Numerics: tensors are float16; reductions and normalisations accumulate in float32 and
return float16 (what MLX's fast kernels do too). NumPy in float64 is the oracle in
tests/runtime/test_runtime_ops.py.
"""

from __future__ import annotations

import contextlib
import difflib
import math
import os
from pathlib import Path
from typing import Any, Protocol

import mlx.core as mx

from tl_core.lang.builtins import implements
from tl_core.lang.rules import GELU_FORMS
from tl_core.lang.text import FormatError, print_text
from tl_core.limits import dim_problem
from tl_core.models import model_from, save_model
from tl_core.models.navigation import tree_of
from tl_core.runtime.errors import AssertionFailed, OpError
from tl_core.runtime.tracecache import DeviceInt, folded
from tl_core.runtime.values import (
    DTYPES,
    FLOAT,
    Record,
    Vec,
    shape_text,
    tensor_type,
    type_name,
)


class OpContext(Protocol):
    """What ops need from the interpreter."""

    device: str  # "gpu" | "cpu"

    def write(self, text: str) -> None: ...
    def resolve_path(self, path: str) -> Path: ...
    def warn(self, message: str) -> None: ...
    def format(self, value: Any) -> str: ...
    def load_model(self, path: Path) -> Any: ...


# ---------------------------------------------------------------------------
# argument helpers


def as_tensor(v: Any, arg: str = "x", dtype: Any = None) -> mx.array:
    """A tensor from a tensor, a number or a (nested) list of numbers."""
    if isinstance(v, mx.array):
        return v if dtype is None or v.dtype == dtype else v.astype(dtype)
    if isinstance(v, bool):
        return mx.array(v)
    if isinstance(v, (int, float)):
        return mx.array(v, dtype=dtype or FLOAT)
    if isinstance(v, range):
        v = list(v)
    if isinstance(v, (list, tuple)):
        try:
            return mx.array(_nested(v), dtype=dtype or FLOAT)
        except (ValueError, TypeError) as exc:
            raise OpError(f"expected a tensor, found a list that is not rectangular ({exc})",
                          arg=arg) from None
    raise OpError(f"expected a tensor, found {type_name(v)}", arg=arg)


def _nested(v: Any) -> Any:
    if isinstance(v, mx.array):
        return v.tolist()
    if isinstance(v, (list, tuple)):
        return [_nested(x) for x in v]
    return v


def as_int(v: Any, arg: str) -> int:
    if isinstance(v, bool):
        raise OpError("expected an int, found bool", arg=arg)
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, mx.array) and v.size == 1 and not mx.issubdtype(v.dtype, mx.floating):
        return int(v.item())
    raise OpError(f"expected an int, found {_describe(v)}", arg=arg)


def as_bound(v: Any, arg: str) -> int:
    """A bound of `range_i`/`arange` as the original reads one (UPSTREAM.md 3.3): an int, a
    float truncated toward zero, or a 1-element tensor (its value truncated)."""
    if isinstance(v, float) or isinstance(v, mx.array) and v.size == 1:
        f = as_float(v, arg)
        if not math.isfinite(f):
            raise OpError(f"expected a finite bound, found {f}", arg=arg)
        return int(f)
    return as_int(v, arg)


def as_float(v: Any, arg: str) -> float:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)
    if isinstance(v, mx.array) and v.size == 1:
        return float(v.item())
    raise OpError(f"expected a number, found {_describe(v)}", arg=arg)


def as_shape(v: Any, arg: str = "shape") -> tuple[int, ...]:
    if isinstance(v, int) and not isinstance(v, bool):
        v = [v]
    if isinstance(v, mx.array) and v.ndim <= 2 and (v.ndim < 2 or v.shape[0] == 1):
        # the original's shapes are tensors of sizes (float16 or float32, also `[[2, 3]]`)
        v = v.reshape(-1).tolist()
    if isinstance(v, list) and len(v) == 1 and isinstance(v[0], list):
        v = v[0]  # `[[2, 3]]`: the original's 2-D literal of sizes
    if not isinstance(v, (list, tuple)):
        raise OpError(f"expected a shape such as [2, 3], found {_describe(v)}", arg=arg)
    dims = []
    for d in v:
        if isinstance(d, bool) or not isinstance(d, int):
            if isinstance(d, float) and d.is_integer():
                d = int(d)
            else:
                raise OpError(f"expected a shape of integers, found {_describe(d)} in it",
                              arg=arg)
        problem = dim_problem(d)
        if problem is not None:
            raise OpError(problem, arg=arg)
        dims.append(d)
    return tuple(dims)


def as_str(v: Any, arg: str) -> str:
    if not isinstance(v, str):
        raise OpError(f"expected a string, found {_describe(v)}", arg=arg)
    return v


def _describe(v: Any) -> str:
    t = type_name(v)
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return f"{t} {v}"
    return t


def norm_axis(dim: Any, ndim: int, arg: str = "dim", extra: int = 0) -> int:
    """A dimension index, negative counting from the end; `extra` allows ndim+extra."""
    d = as_int(dim, arg)
    n = ndim + extra
    if not -n <= d < n:
        raise OpError(f"dimension {d} is out of range for a tensor with {ndim} "
                      f"dimension{'s' if ndim != 1 else ''} (valid: {-n} to {n - 1})", arg=arg)
    return d + n if d < 0 else d


def _opt_axis(dim: Any, ndim: int) -> int | None:
    return None if dim is None else norm_axis(dim, ndim)


def _f32(x: mx.array) -> mx.array:
    return x.astype(mx.float32) if x.dtype in (mx.float16, mx.bfloat16) else x


def _back(y: mx.array, like: mx.array) -> mx.array:
    return y.astype(like.dtype) if y.dtype != like.dtype else y


def _floatify(x: mx.array) -> mx.array:
    """Integer and bool tensors enter float math as float16."""
    return x if mx.issubdtype(x.dtype, mx.inexact) else x.astype(FLOAT)


def _broadcast_check(a: mx.array, b: mx.array, op: str) -> None:
    sa, sb = a.shape, b.shape
    for i in range(1, min(len(sa), len(sb)) + 1):
        x, y = sa[-i], sb[-i]
        if x != y and x != 1 and y != 1:
            raise OpError(f"{tensor_type(a)} {op} {tensor_type(b)}: shapes do not broadcast "
                          f"(dimension {-i}: {x} vs {y})")


def _binary_tensors(a: Any, b: Any) -> tuple[Any, Any]:
    """Numbers stay Python numbers (MLX keeps the tensor's dtype for them)."""
    if isinstance(a, list):
        a = as_tensor(a, "a")
    if isinstance(b, list):
        b = as_tensor(b, "b")
    for v, name in ((a, "a"), (b, "b")):
        if not isinstance(v, (mx.array, int, float)):
            raise OpError(f"expected a tensor or a number, found {type_name(v)}", arg=name)
    return a, b


def _elementwise(a: Any, b: Any, sym: str, fn: Any) -> Any:
    a, b = _binary_tensors(a, b)
    if not isinstance(a, mx.array) and not isinstance(b, mx.array):
        return fn(mx.array(a, dtype=FLOAT), mx.array(b, dtype=FLOAT))
    if isinstance(a, mx.array) and isinstance(b, mx.array):
        _broadcast_check(a, b, sym)
    return fn(a, b)


# ---------------------------------------------------------------------------
# Model


@implements("load_model")
def op_load_model(ctx: OpContext, path: Any) -> Any:
    return ctx.load_model(ctx.resolve_path(as_str(path, "path")))


@implements("load_model_f16")
def op_load_model_f16(ctx: OpContext, path: Any) -> Any:
    return op_load_model(ctx, path)


@implements("load_model_f32")
def op_load_model_f32(ctx: OpContext, path: Any) -> Any:
    return op_load_model(ctx, path)


def _check_model(model: Any, arg: str = "model") -> Any:
    if type(model).__name__ != "Model":
        raise OpError(f"expected a Model (the value of load_model), found {type_name(model)}",
                      arg=arg)
    return model


@implements("get_tensor")
def op_get_tensor(ctx: OpContext, model: Any, name: Any) -> mx.array:
    _check_model(model)
    name = as_str(name, "name")
    loaded = model.loaded(name)  # loaded before: no bar, no lookups (once per layer per token)
    if loaded is not None and not loaded.overflow:
        return loaded.array
    if name not in model:  # a dict lookup: looping over 32k tensors stays linear


        names = model.names()
        close = difflib.get_close_matches(name, names, n=1)
        tied = tree_of(model.header).tied_head(name)
        hint = f"; {tied}" if tied else f"; did you mean \"{close[0]}\"?" if close else ""
        raise OpError(f"no tensor named \"{name}\" in the model ({len(names)} tensors){hint}",
                      arg="name")
    bar = getattr(ctx, "tensor_load_bar", None)
    with bar(model, name) if bar is not None else contextlib.nullcontext(None) as progress:
        loaded = model.get_tensor(name, progress=progress)
        # data, not the loader's graph: a compiled function that captures it must not
        # convert it per call (in a trace too: a tensor of the file is a constant of it)
        mx.eval(loaded.array)
    if loaded.overflow:
        ctx.warn(f"{loaded.overflow} value{'s' if loaded.overflow != 1 else ''} of \"{name}\" "
                 f"overflowed float16 and became inf")
    return loaded.array


@implements("save_model")
def op_save_model(ctx: OpContext, model: Any, path: Any) -> None:
    _check_model(model)
    save_model(model, ctx.resolve_path(as_str(path, "path")))


@implements("model_from")
def op_model_from(ctx: OpContext, *args: Any, **tensors: Any) -> Any:
    """Named tensors arrive as Python keyword arguments (names may contain dots)."""
    if args:
        raise OpError("model_from takes named tensors only: model_from(\"layer.0.weight\": W)")
    mapping = {}
    for name, value in tensors.items():
        mapping[name] = as_tensor(value, name)
    return model_from(mapping)


# ---------------------------------------------------------------------------
# Creation


@implements("tensor")
def op_tensor(ctx: OpContext, data: Any, device: Any = "gpu", dtype: Any = "float16") -> mx.array:
    """`tensor<T>(data, device: gpu)`; the interpreter passes T as `dtype`. MLX arrays have no
    per-array device: where they compute is the run's device (see docs/kernel.md)."""
    dt = DTYPES.get(dtype) if isinstance(dtype, str) else dtype
    if dt is None:
        raise OpError(f"unknown element type {dtype!r}", arg="dtype")
    return as_tensor(data, "data", dt)


def _from_array(dtype: Any) -> Any:
    def op(ctx: OpContext, data: Any, shape: Any = None) -> mx.array:
        t = as_tensor(data, "data", dtype)
        if shape is None:
            return t
        return op_reshape(ctx, t, shape)

    return op


op_f16_from_array = implements("f16::from_array")(_from_array(mx.float16))
op_f32_from_array = implements("f32::from_array")(_from_array(mx.float32))


def made_dtype(ctx: OpContext, default: Any = FLOAT) -> Any:
    """The dtype a creation built-in makes: its namespace's (`f32::arange`, computed in that
    dtype, never rounded through float16 first), else `default`."""
    return getattr(ctx, "creation_dtype", None) or default


@implements("zeros")
def op_zeros(ctx: OpContext, shape: Any) -> mx.array:
    return mx.zeros(_creation_shape(shape), dtype=made_dtype(ctx))


@implements("ones")
def op_ones(ctx: OpContext, shape: Any) -> mx.array:
    return mx.ones(_creation_shape(shape), dtype=made_dtype(ctx))


@implements("full")
def op_full(ctx: OpContext, shape: Any, value: Any) -> mx.array:
    return mx.full(_creation_shape(shape), as_float(value, "value"), dtype=made_dtype(ctx))


def _creation_shape(shape: Any) -> tuple[int, ...]:
    dims = as_shape(shape)
    for d in dims:
        if d < 0:
            raise OpError(f"shape {shape_text(dims)} has a negative dimension", arg="shape")
    return dims


@implements("arange")
def op_arange(ctx: OpContext, a: Any, b: Any = None) -> mx.array:
    """`arange(n)` or `arange(a, b)` (empty when b <= a)."""
    if b is None:
        lo, hi = 0, as_bound(a, "a")
        if hi < 0:
            raise OpError(f"arange needs n >= 0, found {hi}", arg="a")
    else:
        lo, hi = as_bound(a, "a"), as_bound(b, "b")
    if (problem := dim_problem(max(hi - lo, 0))) is not None:
        raise OpError(problem, arg="b" if b is not None else "a")
    return mx.arange(lo, max(hi, lo), dtype=made_dtype(ctx, mx.float32))  # the original's f32


@implements("rand")
def op_rand(ctx: OpContext, shape: Any) -> mx.array:
    return mx.random.uniform(shape=_creation_shape(shape), dtype=made_dtype(ctx))


@implements("randn")
def op_randn(ctx: OpContext, shape: Any) -> mx.array:
    return mx.random.normal(shape=_creation_shape(shape), dtype=made_dtype(ctx))


# ---------------------------------------------------------------------------
# Shape


@implements("shape")
def op_shape(ctx: OpContext, x: Any) -> list[int]:
    return list(as_tensor(x).shape)


@implements("len")
def op_len(ctx: OpContext, x: Any) -> int:
    if isinstance(x, str):
        return len(x.encode("utf-8", "surrogatepass"))  # bytes, as the original counts
    if isinstance(x, (list, tuple, range)):
        return len(x)
    if isinstance(x, Vec):
        return len(x.items)
    if isinstance(x, mx.array):
        if x.ndim == 0:
            raise OpError(f"len of a 0-dimensional tensor ({tensor_type(x)})", arg="x")
        return x.shape[0]
    if type(x).__name__ == "Model":
        return len(x.names())
    raise OpError(f"len needs a tensor, list or string, found {type_name(x)}", arg="x")


@implements("reshape")
def op_reshape(ctx: OpContext, x: Any, shape: Any) -> mx.array:
    x = as_tensor(x)
    dims = list(as_shape(shape))
    if dims.count(-1) > 1:
        raise OpError(f"reshape to {shape_text(dims)}: only one -1 is allowed", arg="shape")
    known = math.prod(d for d in dims if d != -1)
    if -1 in dims:
        if known == 0 or x.size % known:
            raise OpError(f"cannot reshape {tensor_type(x)} ({x.size} elements) to "
                          f"{shape_text(dims)}", arg="shape")
        dims[dims.index(-1)] = x.size // known
    elif known != x.size:
        raise OpError(f"cannot reshape {tensor_type(x)} ({x.size} elements) to "
                      f"{shape_text(dims)} ({known} elements)", arg="shape")
    return x.reshape(dims)


@implements("transpose")
def op_transpose(ctx: OpContext, x: Any) -> mx.array:
    x = as_tensor(x)
    if x.ndim != 2:
        raise OpError(f"transpose needs a 2-D tensor, found {tensor_type(x)}; "
                      f"use permute(x, dims) for other ranks", arg="x")
    return x.T


@implements("permute")
def op_permute(ctx: OpContext, x: Any, dims: Any) -> mx.array:
    x = as_tensor(x)
    axes = [norm_axis(d, x.ndim, "dims") for d in as_shape(dims, "dims")]
    if sorted(axes) != list(range(x.ndim)):
        raise OpError(f"permute of {tensor_type(x)} needs a permutation of "
                      f"{list(range(x.ndim))}, found {list(as_shape(dims, 'dims'))}", arg="dims")
    return mx.transpose(x, axes)


@implements("flatten")
def op_flatten(ctx: OpContext, x: Any) -> mx.array:
    return as_tensor(x).reshape(-1)


@implements("squeeze")
def op_squeeze(ctx: OpContext, x: Any, dim: Any = None) -> mx.array:
    x = as_tensor(x)
    if dim is None:  # every axis of size 1 gives [1], as the original (UPSTREAM.md 4.4)
        return x.reshape(1) if x.ndim and x.size == 1 else mx.squeeze(x)
    d = norm_axis(dim, x.ndim)
    if x.shape[d] != 1:
        raise OpError(f"squeeze: dimension {as_int(dim, 'dim')} of {tensor_type(x)} has size "
                      f"{x.shape[d]}, not 1", arg="dim")
    return mx.squeeze(x, d)


@implements("unsqueeze")
def op_unsqueeze(ctx: OpContext, x: Any, dim: Any) -> mx.array:
    x = as_tensor(x)
    return mx.expand_dims(x, norm_axis(dim, x.ndim, extra=1))


@implements("concat")
def op_concat(ctx: OpContext, a: Any, b: Any = None, dim: Any = None) -> mx.array:
    """`concat(a, b, dim)` (the original's form) or `concat([a, b, ...], dim)`."""
    if isinstance(a, (list, tuple)):
        if b is not None and dim is not None:
            raise OpError("concat of a list takes one axis: concat([a, b], dim)", arg="dim")
        tensors, axis, arg = a, (b if b is not None else dim), "a"
        if not tensors:
            raise OpError("concat needs a non-empty list of tensors", arg="a")
    else:
        if b is None:
            raise OpError("concat needs two tensors and an axis: concat(a, b, dim), or a "
                          "list: concat([a, b], dim)", arg="a")
        tensors, axis, arg = [a, b], dim, "b"
    ts = [as_tensor(t, arg) for t in tensors]
    d = norm_axis(0 if axis is None else axis, ts[0].ndim)
    for t in ts[1:]:
        if t.ndim != ts[0].ndim or any(
            x != y for i, (x, y) in enumerate(zip(t.shape, ts[0].shape, strict=False)) if i != d
        ):
            raise OpError(f"concat along dimension {d}: {tensor_type(ts[0])} and "
                          f"{tensor_type(t)} differ in another dimension", arg=arg)
    return mx.concatenate(ts, axis=d)


def _pieces(x: mx.array, size: int, d: int) -> list[mx.array]:
    n = x.shape[d]
    idx = [slice(None)] * x.ndim
    out = []
    for start in range(0, n, size):
        idx[d] = slice(start, min(start + size, n))
        out.append(x[tuple(idx)])
    return out


@implements("split")
def op_split(ctx: OpContext, x: Any, size: Any, dim: Any = 0) -> list[mx.array]:
    """Pieces of `size` along `dim`, the last one smaller when `size` does not divide it."""
    x = as_tensor(x)
    d = norm_axis(dim, x.ndim)
    k = as_int(size, "size")
    if k <= 0:
        raise OpError(f"split: the piece size must be positive; found {k}", arg="size")
    return _pieces(x, k, d)


@implements("chunk")
def op_chunk(ctx: OpContext, x: Any, chunks: Any, dim: Any = 0) -> list[mx.array]:
    """`chunks` pieces of size ceil(n / chunks) along `dim` (fewer when n is small)."""
    x = as_tensor(x)
    d = norm_axis(dim, x.ndim)
    k = as_int(chunks, "chunks")
    if k <= 0:
        raise OpError(f"chunk: the number of chunks must be positive; found {k}", arg="chunks")
    return _pieces(x, max(1, -(-x.shape[d] // k)), d)


@implements("slice")
def op_slice(ctx: OpContext, x: Any, a: Any, b: Any, c: Any = None, dim: Any = None
             ) -> mx.array:
    """`slice(v, start, end)`: entries start..end-1 along `dim` (default 0);
    `slice(m, row, start, end)`: `m[row, start:end]`."""
    x = as_tensor(x)
    if c is not None:
        if dim is not None:
            raise OpError("slice(m, row, start, end) takes no dim", arg="dim")
        if x.ndim < 2:
            raise OpError(f"slice(m, row, start, end) needs a tensor of at least 2 "
                          f"dimensions, found {tensor_type(x)}", arg="x")
        row = as_int(a, "a")
        if not -x.shape[0] <= row < x.shape[0]:
            raise OpError(f"row {row} is out of range for {tensor_type(x)} "
                          f"({x.shape[0]} rows)", arg="a")
        return x[row, as_int(b, "b"):as_int(c, "c")]
    d = norm_axis(0 if dim is None else dim, x.ndim)
    idx = [slice(None)] * x.ndim
    idx[d] = slice(as_int(a, "a"), as_int(b, "b"))
    return x[tuple(idx)]


@implements("slice_last")
def op_slice_last(ctx: OpContext, x: Any, dim: Any = 0) -> mx.array:
    """The last entry along `dim`, with that dimension removed."""
    x = as_tensor(x)
    d = norm_axis(dim, x.ndim)
    if x.shape[d] == 0:
        raise OpError(f"slice_last: dimension {d} of {tensor_type(x)} is empty", arg="x")
    idx = [slice(None)] * x.ndim
    idx[d] = -1
    return x[tuple(idx)]


@implements("broadcast_to")
def op_broadcast_to(ctx: OpContext, x: Any, shape: Any) -> mx.array:
    x = as_tensor(x)
    dims = as_shape(shape)
    try:
        return mx.broadcast_to(x, dims)
    except ValueError:
        raise OpError(f"cannot broadcast {tensor_type(x)} to {shape_text(dims)}",
                      arg="shape") from None


# ---------------------------------------------------------------------------
# Math


def matmul_check(a: mx.array, b: mx.array) -> None:
    if a.ndim == 0 or b.ndim == 0:
        raise OpError(f"{tensor_type(a)} @ {tensor_type(b)}: matrix product needs tensors of "
                      f"at least 1 dimension")
    k1 = a.shape[-1]
    k2 = b.shape[-2] if b.ndim >= 2 else b.shape[0]
    if k1 != k2:
        hint = ""
        if b.ndim == 2 and b.shape[-1] == k1:
            hint = "; did you mean transpose(...) of the right operand?"
        raise OpError(f"{tensor_type(a)} @ {tensor_type(b)}: inner dimensions {k1} and {k2} "
                      f"differ{hint}")
    if a.ndim > 2 and b.ndim > 2:
        _broadcast_check(a[..., :1, :1], b[..., :1, :1], "@")


@implements("matmul")
def op_matmul(ctx: OpContext, a: Any, b: Any) -> mx.array:
    a = _floatify(as_tensor(a, "a"))
    b = _floatify(as_tensor(b, "b"))
    matmul_check(a, b)
    return mx.matmul(a, b)


@implements("add")
def op_add(ctx: OpContext, a: Any, b: Any) -> Any:
    return _elementwise(a, b, "+", mx.add)


@implements("sub")
def op_sub(ctx: OpContext, a: Any, b: Any) -> Any:
    return _elementwise(a, b, "-", mx.subtract)


@implements("mul")
def op_mul(ctx: OpContext, a: Any, b: Any) -> Any:
    return _elementwise(a, b, "*", mx.multiply)


@implements("div")
def op_div(ctx: OpContext, a: Any, b: Any) -> Any:
    def div(x: Any, y: Any) -> mx.array:
        if isinstance(x, mx.array) and not mx.issubdtype(x.dtype, mx.inexact):
            x = x.astype(FLOAT)
        return mx.divide(x, y)

    return _elementwise(a, b, "/", div)


@implements("pow")
def op_pow(ctx: OpContext, a: Any, b: Any) -> Any:
    return _elementwise(a, b, "**", mx.power)


def _unary(name: str, fn: Any) -> Any:
    def op(ctx: OpContext, x: Any) -> mx.array:
        t = _floatify(as_tensor(x))
        return _back(fn(_f32(t)), t)

    op.__name__ = f"op_{name}"
    op.__doc__ = f"Element-wise {name} (computed in float32, returned in the input's type)."
    return op


def _gelu(x: mx.array) -> mx.array:
    """The original's (tanh) form."""
    return 0.5 * x * (1.0 + mx.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x * x * x)))


def _gelu_exact(x: mx.array) -> mx.array:
    return 0.5 * x * (1.0 + mx.erf(x / math.sqrt(2.0)))


_op_gelu_tanh = _unary("gelu", _gelu)
_op_gelu_exact = _unary("gelu", _gelu_exact)


@implements("gelu")
def op_gelu(ctx: OpContext, x: Any, approximate: Any = "tanh") -> mx.array:
    form = as_str(approximate, "approximate")
    if form not in GELU_FORMS:
        raise OpError(f"gelu: approximate must be \"tanh\" or \"none\", found \"{form}\"",
                      arg="approximate")
    return (_op_gelu_tanh if form == "tanh" else _op_gelu_exact)(ctx, x)


op_exp = implements("exp")(_unary("exp", mx.exp))
op_log = implements("log")(_unary("log", mx.log))
op_sqrt = implements("sqrt")(_unary("sqrt", mx.sqrt))
_op_abs_tensor = _unary("abs", mx.abs)


@implements("abs")
def op_abs(ctx: OpContext, x: Any) -> Any:
    """A number gives a number of its kind (the original's: `abs(-7) / 2` is 3), a tensor a
    tensor."""
    if isinstance(x, bool):
        raise OpError("abs needs a number or a tensor, found bool", arg="x")
    if isinstance(x, (int, float)):
        return abs(x)
    return _op_abs_tensor(ctx, x)


op_sin = implements("sin")(_unary("sin", mx.sin))
op_cos = implements("cos")(_unary("cos", mx.cos))
op_tan = implements("tan")(_unary("tan", mx.tan))
op_tanh = implements("tanh")(_unary("tanh", mx.tanh))
op_sigmoid = implements("sigmoid")(_unary("sigmoid", mx.sigmoid))
op_relu = implements("relu")(_unary("relu", lambda x: mx.maximum(x, 0.0)))
op_silu = implements("silu")(_unary("silu", lambda x: x * mx.sigmoid(x)))


def _rounding(name: str, fn: Any) -> Any:
    def op(ctx: OpContext, x: Any) -> Any:
        if isinstance(x, bool):
            raise OpError(f"{name} needs a number or a tensor, found bool", arg="x")
        if isinstance(x, int):
            return x
        if isinstance(x, float):
            if not math.isfinite(x):
                raise OpError(f"{name} of {x} is not an integer", arg="x")
            return int(fn(x))
        t = as_tensor(x)
        if not mx.issubdtype(t.dtype, mx.inexact):
            return t
        return _back(fn(_f32(t)), t)

    op.__name__ = f"op_{name}"
    return op


def _round_half_away(v: Any) -> Any:
    if isinstance(v, float):
        return math.copysign(math.floor(abs(v) + 0.5), v)
    return mx.sign(v) * mx.floor(mx.abs(v) + 0.5)


op_floor = implements("floor")(_rounding("floor", lambda v: math.floor(v) if isinstance(
    v, float) else mx.floor(v)))
op_ceil = implements("ceil")(_rounding("ceil", lambda v: math.ceil(v) if isinstance(
    v, float) else mx.ceil(v)))
op_round = implements("round")(_rounding("round", _round_half_away))


def _index_tensor(index: Any) -> mx.array:
    i = as_tensor(index, "index")
    return i.astype(mx.int32) if not mx.issubdtype(i.dtype, mx.integer) else i


@implements("gather")
def op_gather(ctx: OpContext, x: Any, dim: Any, index: Any) -> mx.array:
    """PyTorch gather along `dim`: the result has index's shape."""
    t, i = as_tensor(x), _index_tensor(index)
    d = norm_axis(dim, t.ndim)
    if i.ndim != t.ndim:
        raise OpError(f"gather: index {tensor_type(i)} needs as many dimensions as x "
                      f"{tensor_type(t)}", arg="index")
    _check_positions(i, t.shape[d], d, t)
    return mx.take_along_axis(t, i, axis=d)


@implements("scatter")
def op_scatter(ctx: OpContext, x: Any, dim: Any, index: Any, src: Any) -> mx.array:
    """PyTorch scatter along `dim` into a copy of x."""
    t, i = as_tensor(x), _index_tensor(index)
    d = norm_axis(dim, t.ndim)
    v = as_tensor(src, "src", t.dtype)
    if i.ndim != t.ndim:
        raise OpError(f"scatter: index {tensor_type(i)} needs as many dimensions as x "
                      f"{tensor_type(t)}", arg="index")
    if v.ndim and v.shape != i.shape:
        raise OpError(f"scatter: src {tensor_type(v)} must have the shape of index "
                      f"{tensor_type(i)}", arg="src")
    _check_positions(i, t.shape[d], d, t)
    return mx.put_along_axis(t, i, mx.broadcast_to(v, i.shape), axis=d)


def _check_positions(i: mx.array, n: int, d: int, t: mx.array) -> None:
    if i.size:
        lo, hi = int(mx.min(i).item()), int(mx.max(i).item())
        if lo < 0 or hi >= n:
            raise OpError(f"index {hi if hi >= n else lo} is out of range for dimension {d} "
                          f"of {tensor_type(t)} (size {n})", arg="index")


@implements("softmax")
def op_softmax(ctx: OpContext, x: Any, dim: Any = -1) -> mx.array:
    t = _floatify(as_tensor(x))
    d = norm_axis(dim, max(t.ndim, 1))
    if t.ndim == 0:
        return mx.softmax(t, axis=d, precise=True)
    # The original's kernel (UPSTREAM.md 9.5): the maximum over the finite entries only,
    # a non-finite entry (-inf, +inf, NaN) weighs 0, and a row with nothing finite is
    # uniform (1/n), never NaN; a finite row is the usual max-subtracted softmax.
    f = _f32(t)
    finite = mx.isfinite(f)
    m = mx.max(mx.where(finite, f, -math.inf), axis=d, keepdims=True)
    e = mx.where(finite, mx.exp(f - mx.where(mx.isfinite(m), m, 0.0)), 0.0)
    s = mx.sum(e, axis=d, keepdims=True)
    return _back(mx.where(s > 0, e / mx.maximum(s, 1e-38), 1.0 / t.shape[d]), t)


def _reduce(name: str, fn: Any, index: bool = False) -> Any:
    def op(ctx: OpContext, x: Any, dim: Any = None, keepdim: Any = False) -> mx.array:
        t = as_tensor(x)
        if t.size == 0:
            raise OpError(f"{name} of an empty tensor ({tensor_type(t)})", arg="x")
        axis = _opt_axis(dim, t.ndim)
        keep = bool(keepdim)
        if index:
            return fn(t, axis=axis, keepdims=keep).astype(mx.int64)
        if name in ("sum", "mean") and t.dtype in (mx.float16, mx.bfloat16):
            return _back(fn(_f32(t), axis=axis, keepdims=keep), t)
        return fn(t, axis=axis, keepdims=keep)

    op.__name__ = f"op_{name}"
    return op


op_sum = implements("sum")(_reduce("sum", mx.sum))
op_mean = implements("mean")(_reduce("mean", mx.mean))
op_max = implements("max")(_reduce("max", mx.max))
op_min = implements("min")(_reduce("min", mx.min))
op_argmax = implements("argmax")(_reduce("argmax", mx.argmax, index=True))
op_argmin = implements("argmin")(_reduce("argmin", mx.argmin, index=True))


# ---------------------------------------------------------------------------
# NN


@implements("linear")
def op_linear(ctx: OpContext, x: Any, W: Any, b: Any = None) -> mx.array:  # noqa: N803
    """PyTorch convention: y = x @ W.T + b with W of shape [out, in]."""
    x = _floatify(as_tensor(x))
    w = _floatify(as_tensor(W, "W"))
    if w.ndim != 2:
        raise OpError(f"linear needs a 2-D weight [out, in], found {tensor_type(w)}", arg="W")
    if x.ndim == 0 or x.shape[-1] != w.shape[1]:
        hint = "; the weight looks transposed (use x @ W)" if x.ndim and x.shape[-1] == w.shape[0] else ""
        raise OpError(f"linear: input {tensor_type(x)} has {x.shape[-1] if x.ndim else 0} "
                      f"features but the weight {tensor_type(w)} expects {w.shape[1]} "
                      f"(weight is [out, in]){hint}", arg="W")
    w_t = folded(w.T) if getattr(ctx, "tracing", 0) else w.T  # a weight's: data in a trace
    if b is None:
        return x @ w_t
    bias = _floatify(as_tensor(b, "b"))
    if bias.shape == (w.shape[0],):
        return mx.addmm(bias, x, w_t) if x.ndim == 2 else x @ w_t + bias
    y = x @ w_t  # the original's [m, out] bias, or any bias that broadcasts to y
    if bias.ndim == 0 or bias.ndim > y.ndim or bias.shape[-1] != w.shape[0] or any(
            p != q and p != 1 for p, q in zip(reversed(bias.shape), reversed(y.shape),
                                              strict=False)):
        raise OpError(f"linear: bias {tensor_type(bias)} should be [{w.shape[0]}] (or "
                      f"broadcast to the result {tensor_type(y)})", arg="b")
    return y + bias


def _norm_weight(x: mx.array, w: Any, arg: str, what: str) -> mx.array:
    w = _floatify(as_tensor(w, arg))
    if w.shape != (x.shape[-1],):
        raise OpError(f"{what}: weight {tensor_type(w)} should be [{x.shape[-1]}] for input "
                      f"{tensor_type(x)}", arg=arg)
    return w


@implements("rms_norm")
def op_rms_norm(ctx: OpContext, x: Any, w: Any, eps: Any = 1e-6) -> mx.array:
    x = _floatify(as_tensor(x))
    w = _norm_weight(x, w, "w", "rms_norm")
    return mx.fast.rms_norm(x, w.astype(x.dtype), as_float(eps, "eps"))


@implements("layer_norm")
def op_layer_norm(ctx: OpContext, x: Any, w: Any = None, b: Any = None,
                  eps: Any = 1e-5) -> mx.array:
    if isinstance(b, (int, float)) and not isinstance(b, bool) and eps == 1e-5:
        b, eps = None, b  # the original's layer_norm(x, w, eps)
    x = _floatify(as_tensor(x))
    w = None if w is None else _norm_weight(x, w, "w", "layer_norm").astype(x.dtype)
    b = None if b is None else _norm_weight(x, b, "b", "layer_norm").astype(x.dtype)
    return mx.fast.layer_norm(x, w, b, as_float(eps, "eps"))


@implements("embedding")
def op_embedding(ctx: OpContext, table: Any, ids: Any) -> mx.array:
    t = as_tensor(table, "table")
    if isinstance(ids, int) and not isinstance(ids, bool):
        ids = [ids]  # one id: [1, dim], as the original returns it
    i = ids if isinstance(ids, mx.array) else as_tensor(ids, "ids", mx.int32)
    if mx.issubdtype(i.dtype, mx.inexact):
        raise OpError(f"embedding ids must be an integer tensor (tensor<int>(...)), "
                      f"found {tensor_type(i)}", arg="ids")
    traced = getattr(ctx, "bound_in_trace", None)  # a compiled step checks after the call
    if not (getattr(ctx, "tracing", 0) and traced is not None and traced(i, t.shape[0])):
        check_gather(t, i, "ids")
    i = mx.where(i < 0, i + t.shape[0], i)  # negative ids count from the end
    return mx.take(t, i, axis=0)


def check_gather(t: mx.array, ids: mx.array, arg: str) -> None:
    if t.ndim == 0:
        raise OpError(f"cannot gather from a 0-dimensional tensor {tensor_type(t)}", arg=arg)
    if ids.size:
        if ids.size <= 64:  # a decode step's ids: read as they are, no op to run (an
            # evaluated input is read in place, with no wait for the device)
            values = ids.tolist() if ids.ndim == 1 else ids.reshape(-1).tolist()
            lo, hi = min(values), max(values)
        else:
            lo, hi = mx.stack([mx.min(ids), mx.max(ids)]).tolist()  # one host read
        n = t.shape[0]
        bad = hi if hi >= n else (lo if lo < -n else None)
        if bad is not None:
            raise OpError(f"index {bad} is out of range for dimension 0 of {tensor_type(t)} "
                          f"(size {n})", arg=arg)


@implements("causal_mask")
def op_causal_mask(ctx: OpContext, n: Any) -> mx.array:
    """[n, n] keep/drop mask: 1 where key <= query (on and below the diagonal), 0 above."""
    k = as_int(n, "n")
    if k < 0:
        raise OpError(f"causal_mask needs n >= 0, found {k}", arg="n")
    if (problem := dim_problem(k)) is not None:
        raise OpError(problem, arg="n")
    return mx.tril(mx.ones((k, k), dtype=FLOAT))


def big_negative(dtype: Any) -> float:
    """What a masked score becomes: -1e9 (the original's value) where the dtype holds it,
    -1e4 in float16 (whose largest finite value is 65504), so no mask ever makes a NaN."""
    return -1e4 if dtype == mx.float16 else -1e9


@implements("apply_attention_mask")
def op_apply_attention_mask(ctx: OpContext, scores: Any, mask: Any) -> mx.array:
    """`scores + (1 - mask) * big_negative`: keep where mask is 1 (true), push to a large
    finite negative where it is 0 (false); the mask broadcasts to the scores."""
    s = _floatify(as_tensor(scores, "scores"))
    m = as_tensor(mask, "mask")
    _broadcast_check(s, m, "+")
    keep = m.astype(s.dtype)
    return s + (1.0 - keep) * big_negative(s.dtype)


@implements("rope")
def op_rope(ctx: OpContext, x: Any, offset: Any = 0, sin: Any = None, base: Any = 10000.0,
            halves: Any = False) -> mx.array:
    """Rotary position embedding of `x` [..., seq, heads, head_dim] (a 2-D `x` is
    [seq, head_dim], one head): consecutive pairs (x[2p], x[2p+1]) rotate by
    (t + offset) * base^(-2p / head_dim) at sequence index t (llama.cpp / GGUF); with
    `halves: true`, x[i] pairs with x[i + head_dim/2] (HuggingFace / NeoX)."""
    t = _floatify(as_tensor(x))
    if t.ndim < 2 or t.shape[-1] % 2:
        raise OpError(f"rope needs a tensor [..., seq, heads, head_dim] with an even "
                      f"head_dim, found {tensor_type(t)}", arg="x")
    if isinstance(offset, mx.array) and offset.ndim == 2 or sin is not None:
        return _rope_tables(t, offset, sin, bool(halves))
    traditional = not bool(halves)
    b = as_float(base, "base")
    # a compiled step's position is a device scalar (tl_core.runtime.tracecache)
    off = offset.value if type(offset) is DeviceInt else as_int(offset, "offset")
    if t.ndim == 2:  # [seq, head_dim]
        return mx.fast.rope(t[None], t.shape[-1], traditional=traditional, base=b,
                            scale=1.0, offset=off)[0]
    # MLX rotates along axis -2: move the sequence axis there and back
    y = mx.fast.rope(mx.swapaxes(t, -3, -2), t.shape[-1], traditional=traditional, base=b,
                     scale=1.0, offset=off)
    return mx.swapaxes(y, -3, -2)


def _rope_tables(x: mx.array, cos: Any, sin: Any, halves: bool) -> mx.array:
    """`rope(x, cos, sin)`: x [seq, heads, head_dim], tables [>= seq, head_dim] whose columns
    2k and 2k+1 hold the angle of pair k (precompute_rope_cos/sin). Pair p turns by the
    angle in column 2p: the per-pair frequency the original meant (it read column p)."""
    c, s_ = as_tensor(cos, "offset"), as_tensor(sin, "sin")
    if x.ndim != 3 or c.ndim != 2 or s_.shape != c.shape or c.shape[1] != x.shape[2] \
            or c.shape[0] < x.shape[0]:
        raise OpError(f"rope(x, cos, sin) needs x [seq, heads, head_dim] and cos, sin "
                      f"[>= seq, head_dim]; found x {tensor_type(x)}, cos {tensor_type(c)}, "
                      f"sin {tensor_type(s_)}", arg="offset")
    seq, d = x.shape[0], x.shape[2]
    cos_p = c[:seq, 0::2].astype(mx.float32)[:, None, :]  # [seq, 1, d/2]
    sin_p = s_[:seq, 0::2].astype(mx.float32)[:, None, :]
    v = x.astype(mx.float32)
    if halves:
        a, b = v[..., : d // 2], v[..., d // 2:]
        out = mx.concatenate([a * cos_p - b * sin_p, a * sin_p + b * cos_p], axis=-1)
    else:
        a, b = v[..., 0::2], v[..., 1::2]
        out = mx.stack([a * cos_p - b * sin_p, a * sin_p + b * cos_p], axis=-1).reshape(v.shape)
    return out.astype(x.dtype)


def _rope_table(fn: Any, head_dim: Any, max_seq_len: Any, base: Any) -> mx.array:
    hd, n = as_int(head_dim, "head_dim"), as_int(max_seq_len, "max_seq_len")
    if hd <= 0 or hd % 2:
        raise OpError(f"head_dim must be even and positive; found {hd}", arg="head_dim")
    if n < 0:
        raise OpError(f"max_seq_len must be >= 0; found {n}", arg="max_seq_len")
    k = mx.arange(hd // 2, dtype=mx.float32)
    inv = mx.power(mx.array(as_float(base, "base"), mx.float32), -2.0 * k / hd)
    ang = mx.arange(n, dtype=mx.float32)[:, None] * inv[None, :]
    return mx.repeat(fn(ang), 2, axis=1).astype(FLOAT)


@implements("precompute_rope_cos")
def op_precompute_rope_cos(ctx: OpContext, head_dim: Any, max_seq_len: Any,
                           base: Any = 10000.0) -> mx.array:
    return _rope_table(mx.cos, head_dim, max_seq_len, base)


@implements("precompute_rope_sin")
def op_precompute_rope_sin(ctx: OpContext, head_dim: Any, max_seq_len: Any,
                           base: Any = 10000.0) -> mx.array:
    return _rope_table(mx.sin, head_dim, max_seq_len, base)


@implements("dropout")
def op_dropout(ctx: OpContext, x: Any, p: Any, training: Any = True) -> mx.array:
    t = _floatify(as_tensor(x))
    q = as_float(p, "p")
    if not 0.0 <= q < 1.0:
        raise OpError(f"dropout: p must be in [0, 1); found {q}", arg="p")
    if not truth(training) or q == 0.0:
        return t
    keep = mx.random.uniform(shape=t.shape) >= q
    return mx.where(keep, t / (1.0 - q), mx.zeros_like(t)).astype(t.dtype)


@implements("batch_norm")
def op_batch_norm(ctx: OpContext, x: Any, gamma: Any = None, beta: Any = None,
                  eps: Any = 1e-5) -> mx.array:
    t = _floatify(as_tensor(x))
    if t.ndim < 2:
        raise OpError(f"batch_norm needs a batch [N, ..., C], found {tensor_type(t)}", arg="x")
    axes = tuple(range(t.ndim - 1))
    v = _f32(t)
    y = (v - mx.mean(v, axis=axes)) / mx.sqrt(mx.var(v, axis=axes) + as_float(eps, "eps"))
    if gamma is not None:
        y = y * _f32(_norm_weight(t, gamma, "gamma", "batch_norm"))
    if beta is not None:
        y = y + _f32(_norm_weight(t, beta, "beta", "batch_norm"))
    return _back(y, t)


@implements("apply_mask")
def op_apply_mask(ctx: OpContext, scores: Any, mask: Any) -> mx.array:
    s = _floatify(as_tensor(scores, "scores"))
    m = as_tensor(mask, "mask")
    _broadcast_check(s, m, "+")
    return mx.where(m == 0, mx.array(-10000.0, s.dtype), s)


@implements("positional_encoding")
def op_positional_encoding(ctx: OpContext, seq_len: Any, d_model: Any) -> mx.array:
    """angle = pos / 10000^(i / d_model) for every column i; sin in even, cos in odd."""
    n, d = as_int(seq_len, "seq_len"), as_int(d_model, "d_model")
    if n < 0 or d < 0:
        raise OpError(f"positional_encoding needs sizes >= 0; found {n}, {d}")
    i = mx.arange(d, dtype=mx.float32)
    ang = mx.arange(n, dtype=mx.float32)[:, None] / mx.power(10000.0, i / max(d, 1))[None, :]
    even = (mx.arange(d) % 2 == 0)[None, :]
    return mx.where(even, mx.sin(ang), mx.cos(ang)).astype(FLOAT)


@implements("padding_mask")
def op_padding_mask(ctx: OpContext, lengths: Any, max_len: Any) -> mx.array:
    ls = as_tensor(lengths, "lengths")
    if ls.ndim != 1:
        raise OpError(f"padding_mask: lengths must be 1-D [batch], found {tensor_type(ls)}",
                      arg="lengths")
    n = as_int(max_len, "max_len")
    pos = mx.arange(n)[None, :]
    dt = ls.dtype if mx.issubdtype(ls.dtype, mx.floating) else FLOAT
    return (pos < ls.astype(mx.float32)[:, None]).astype(dt)


@implements("combine_masks")
def op_combine_masks(ctx: OpContext, a: Any, b: Any) -> Any:
    return _elementwise(a, b, "*", mx.multiply)


@implements("fused_add_relu")
def op_fused_add_relu(ctx: OpContext, a: Any, b: Any) -> mx.array:
    return op_relu(ctx, _elementwise(a, b, "+", mx.add))


@implements("fused_mul_relu")
def op_fused_mul_relu(ctx: OpContext, a: Any, b: Any) -> mx.array:
    return op_relu(ctx, _elementwise(a, b, "*", mx.multiply))


@implements("fused_affine")
def op_fused_affine(ctx: OpContext, x: Any, scale: Any, bias: Any) -> Any:
    return _elementwise(_elementwise(x, scale, "*", mx.multiply), bias, "+", mx.add)


@implements("fused_gelu_linear")
def op_fused_gelu_linear(ctx: OpContext, x: Any, W: Any, b: Any) -> Any:  # noqa: N803
    return _elementwise(op_matmul(ctx, op_gelu(ctx, x), W), b, "+", mx.add)


@implements("einsum")
def op_einsum(ctx: OpContext, spec: Any, *operands: Any) -> mx.array:
    """Variadic: the operands arrive positionally after the spec."""
    spec = as_str(spec, "spec")
    ts = [_floatify(as_tensor(o, "operands")) for o in operands]
    lhs = spec.split("->")[0]
    if lhs.count(",") + 1 != len(ts):
        raise OpError(f"einsum \"{spec}\" names {lhs.count(',') + 1} operands, found {len(ts)}",
                      arg="spec")
    try:
        return mx.einsum(spec, *ts)
    except ValueError as exc:
        shapes = ", ".join(tensor_type(t) for t in ts)
        raise OpError(f"einsum \"{spec}\" on {shapes}: {exc}", arg="spec") from None


# ---------------------------------------------------------------------------
# Training marks


@implements("learnable")
def op_learnable(ctx: OpContext, t: Any) -> mx.array:
    return as_tensor(t, "t")


# ---------------------------------------------------------------------------
# Utility


@implements("print")
def op_print(ctx: OpContext, *values: Any, end: Any = "\n") -> None:
    """`print("x = {}", x)` formats; `print(a, b)` joins by spaces (see tl_core.lang.text);
    `end` follows (a newline unless given)."""
    try:
        ctx.write(print_text(list(values), ctx.format) + as_str(end, "end"))
    except FormatError as exc:
        raise OpError(f"print: {exc}") from None


@implements("assert")
def op_assert(ctx: OpContext, cond: Any, msg: Any = "") -> None:
    if not truth(cond):
        text = f"assertion failed: {ctx.format(msg)}" if msg not in (None, "") else "assertion failed"
        raise AssertionFailed(text)


@implements("assert_eq")
def op_assert_eq(ctx: OpContext, a: Any, b: Any) -> None:
    if isinstance(a, mx.array) or isinstance(b, mx.array):
        ta, tb = as_tensor(a, "a"), as_tensor(b, "b")
        if ta.shape != tb.shape:
            raise AssertionFailed(f"assert_eq: shapes differ: {tensor_type(ta)} vs "
                                  f"{tensor_type(tb)}")
        if ta.size == 0:
            return
        fa, fb = _f32(_floatify(ta)), _f32(_floatify(tb))
        # Equal within float16 rounding: |a - b| <= 1e-3 + 2^-9 |b|.
        ok = mx.all(mx.abs(fa - fb) <= 1e-3 + (2.0 ** -9) * mx.abs(fb)).item()
        if not ok:
            diff = mx.abs(fa - fb)
            worst = int(mx.argmax(diff.reshape(-1)).item())
            raise AssertionFailed(
                f"assert_eq: tensors differ: {ctx.format(ta)} vs {ctx.format(tb)} "
                f"(largest difference {diff.reshape(-1)[worst].item():.4g} at flat index {worst})")
        return
    if a != b:
        raise AssertionFailed(f"assert_eq: {ctx.format(a)} != {ctx.format(b)}")


def truth(v: Any) -> bool:
    if isinstance(v, mx.array):
        if v.size != 1:
            raise OpError(f"a condition must be a single value, found {tensor_type(v)}; "
                          f"use all(...) or any(...)")
        return bool(v.item())
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)):
        return v != 0
    raise OpError(f"a condition must be a bool, found {type_name(v)}")


@implements("env")
def op_env(ctx: OpContext, name: Any) -> str:
    key = as_str(name, "name")
    return os.environ.get(key, "")


@implements("str")
def op_str(ctx: OpContext, x: Any) -> str:
    return ctx.format(x)


@implements("range")
def op_range(ctx: OpContext, a: Any, b: Any = None) -> range:
    """A lazy Python range (a list of ints to the language: len, index, iterate, print)."""
    if b is None:
        return range(as_bound(a, "a"))
    return range(as_bound(a, "a"), as_bound(b, "b"))


@implements("range_i")
def op_range_i(ctx: OpContext, a: Any, b: Any = None) -> range:
    return op_range(ctx, a, b)


@implements("input")
def op_input(ctx: OpContext, prompt: Any = "") -> str:
    """One line from the terminal, trailing whitespace stripped (UPSTREAM.md 15.5)."""
    text = as_str(prompt, "prompt")
    read = getattr(ctx, "read_input", None)
    if read is None:
        raise OpError("input() needs a terminal, and this run has none (an editor or kernel "
                      "run); give the value in the program, or read it with env(\"NAME\")")
    line = read(text)
    if line is None:
        raise OpError("input(): the input ended (no line to read)")
    return line.rstrip()


@implements("to_int")
def op_to_int(ctx: OpContext, x: Any) -> int:
    if isinstance(x, bool):
        return int(x)
    if isinstance(x, int):
        return x
    if isinstance(x, float):
        if not math.isfinite(x):
            raise OpError(f"to_int of {x}", arg="x")
        return int(x)
    if isinstance(x, mx.array) and x.size == 1:
        return int(x.item())
    raise OpError(f"to_int needs an int, a float or a 1-element tensor, found {_describe(x)}",
                  arg="x")


@implements("get")
def op_get(ctx: OpContext, items: Any, i: Any) -> Any:
    k = as_int(i, "i")
    if isinstance(items, mx.array):
        if items.ndim != 1:
            raise OpError(f"get needs a list or a 1-D tensor, found {tensor_type(items)}",
                          arg="items")
        n = items.shape[0]
    elif isinstance(items, Vec):
        items = items.items
        n = len(items)
    elif isinstance(items, (list, tuple, range)):
        n = len(items)
    else:
        raise OpError(f"get needs a list or a 1-D tensor, found {type_name(items)}",
                      arg="items")
    if not -n <= k < n:
        raise OpError(f"index {k} is out of range for length {n}", arg="i")
    v = items[k]
    return v.item() if isinstance(v, mx.array) else v


@implements("string_length")
def op_string_length(ctx: OpContext, s: Any) -> int:
    return len(as_str(s, "s").encode("utf-8", "surrogatepass"))


@implements("string_substring")
def op_string_substring(ctx: OpContext, s: Any, start: Any, length: Any) -> str:
    text, a, n = as_str(s, "s"), as_int(start, "start"), as_int(length, "length")
    if a < 0 or n < 0:
        raise OpError(f"string_substring needs start >= 0 and length >= 0; found {a}, {n}",
                      arg="start" if a < 0 else "length")
    return text[a:a + n]


@implements("assert_about_eq")
def op_assert_about_eq(ctx: OpContext, a: Any, b: Any, eps: Any) -> None:
    e = as_float(eps, "eps")
    ta, tb = as_tensor(a, "a", mx.float32), as_tensor(b, "b", mx.float32)
    if ta.shape != tb.shape:
        raise AssertionFailed(f"assert_about_eq: shapes differ: {tensor_type(ta)} vs "
                              f"{tensor_type(tb)}")
    if ta.size == 0:
        return
    diff = mx.abs(ta - tb).reshape(-1)
    worst = int(mx.argmax(diff).item())
    if not float(diff[worst].item()) < e:
        raise AssertionFailed(f"assert_about_eq: {ctx.format(a)} and {ctx.format(b)} differ "
                              f"by {diff[worst].item():.4g} at flat index {worst}, not less "
                              f"than {e:g}")


# ---------------------------------------------------------------------------


def metadata_record(model: Any) -> Record:
    items: dict[str, Any] = {"format": model.header.format}
    for k, v in model.metadata.items():
        items.setdefault(k, v)
    return Record("metadata", items)


@implements("names")
def op_names(ctx: OpContext, model: Any) -> list[str]:
    return list(_check_model(model).names())


__all__ = [k for k in globals() if k.startswith("op_")] + ["truth", "as_tensor"]
