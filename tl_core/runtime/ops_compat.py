"""The original TensorLogic's remaining built-ins, on the ops of `tl_core.runtime.ops`:
`append_token` (UPSTREAM.md 13), `cleanup` and `TensorBuffer` (20), `save`/`load` (12.1), the weight
caches (12.1, the same Models as `load_model`) and the Candle-backed `cndl_*` calls (21),
registered into the registry entries of `tl_core.lang.builtins` like the other ops."""

from __future__ import annotations

from typing import Any

import mlx.core as mx
import numpy as np

from tl_core.lang.builtins import implements
from tl_core.models.tensorfile import read_tensor, write_tensor
from tl_core.runtime import ops
from tl_core.runtime import ops_generate as gen
from tl_core.runtime.errors import OpError
from tl_core.runtime.ops import OpContext, as_float, as_int, as_shape, as_str, as_tensor
from tl_core.runtime.values import TensorBuffer, shape_text, tensor_type, type_name


@implements("append_token")
def op_append_token(ctx: OpContext, ids: Any, id: Any) -> mx.array:  # noqa: A002
    if isinstance(id, bool) or not isinstance(id, int):
        raise OpError(f"append_token takes an int id, found {type_name(id)}", arg="id")
    return gen.op_append(ctx, as_tensor(ids, "ids", mx.int32), id)


@implements("cleanup")
def op_cleanup(ctx: OpContext, *names: Any) -> None:
    for n in names:
        if not isinstance(n, str):
            raise OpError(f"cleanup takes names (strings), found {type_name(n)}", arg="names")


def _weight_cache(ctx: OpContext, path: Any, capacity: Any = 0) -> Any:
    as_int(capacity, "capacity")
    return ops.op_load_model(ctx, path)


for _name in ("load_weight_cache_f16", "load_weight_cache_f32", "load_weight_cache_gguf_f16",
              "load_weight_cache_gguf_f32"):
    implements(_name)(_weight_cache)


# ---------------------------------------------------------------------------
# cndl_* (UPSTREAM.md 21)

@implements("cndl_matmul")
def op_cndl_matmul(ctx: OpContext, a: Any, b: Any) -> mx.array:
    return ops.op_matmul(ctx, a, b)


@implements("cndl_transpose")
def op_cndl_transpose(ctx: OpContext, x: Any, dim_a: Any, dim_b: Any) -> mx.array:
    t = as_tensor(x)
    axes = []
    for v, arg in ((dim_a, "dim_a"), (dim_b, "dim_b")):
        d = as_int(v, arg)
        if not -t.ndim <= d < t.ndim:
            raise OpError(f"dim {d} is out of range for {tensor_type(t)} ({t.ndim} "
                          f"dimensions); valid: {-t.ndim} to {t.ndim - 1}", arg=arg)
        axes.append(d % t.ndim)
    return mx.swapaxes(t, axes[0], axes[1])


@implements("cndl_reshape")
def op_cndl_reshape(ctx: OpContext, x: Any, shape: Any) -> mx.array:
    if isinstance(shape, mx.array) and mx.issubdtype(shape.dtype, mx.floating):
        shape = [int(v) for v in shape.tolist()]  # the original's shape tensor
    return ops.op_reshape(ctx, x, shape)


@implements("cndl_softmax")
def op_cndl_softmax(ctx: OpContext, x: Any, dim: Any) -> mx.array:
    return ops.op_softmax(ctx, x, dim)


@implements("cndl_log_softmax")
def op_cndl_log_softmax(ctx: OpContext, x: Any, dim: Any) -> mx.array:
    t = ops.op_softmax(ctx, x, dim)  # checks x and dim
    src = as_tensor(x)
    axis = as_int(dim, "dim")
    f = src.astype(mx.float32) if src.dtype != mx.float32 else src
    return (f - mx.logsumexp(f, axis=axis, keepdims=True)).astype(t.dtype)


@implements("cndl_gelu")
def op_cndl_gelu(ctx: OpContext, x: Any) -> mx.array:
    return ops.op_gelu(ctx, x, "tanh")


@implements("cndl_silu")
def op_cndl_silu(ctx: OpContext, x: Any) -> mx.array:
    return ops.op_silu(ctx, x)


@implements("cndl_relu")
def op_cndl_relu(ctx: OpContext, x: Any) -> mx.array:
    return ops.op_relu(ctx, x)


@implements("cndl_tanh")
def op_cndl_tanh(ctx: OpContext, x: Any) -> mx.array:
    return ops.op_tanh(ctx, x)


@implements("cndl_layer_norm")
def op_cndl_layer_norm(ctx: OpContext, x: Any, normalized_shape: Any = None, w: Any = None,
                       b: Any = None, eps: Any = 1e-5) -> mx.array:
    return ops.op_layer_norm(ctx, x, None, None, eps)


@implements("cndl_rms_norm")
def op_cndl_rms_norm(ctx: OpContext, x: Any, w: Any = None, eps: Any = 1e-5) -> mx.array:
    t = ops._floatify(as_tensor(x))
    return mx.fast.rms_norm(t, None, as_float(eps, "eps"))


@implements("cndl_embedding")
def op_cndl_embedding(ctx: OpContext, ids: Any, table: Any) -> mx.array:
    if isinstance(ids, mx.array) and mx.issubdtype(ids.dtype, mx.floating):
        ids = ids.astype(mx.int32)  # the original's float ids, truncated
    return ops.op_embedding(ctx, table, ids)


@implements("cndl_rope")
def op_cndl_rope(ctx: OpContext, x: Any, position: Any, theta: Any = 10000.0) -> mx.array:
    return ops.op_rope(ctx, x, position, base=theta, halves=True)


def _load(ctx: OpContext, path: Any) -> Any:
    return ops.op_load_model(ctx, path)


@implements("cndl_load_safetensor")
def op_cndl_load_safetensor(ctx: OpContext, path: Any, name: Any) -> mx.array:
    return ops.op_get_tensor(ctx, _load(ctx, path), name)


implements("cndl_load_gguf_tensor")(op_cndl_load_safetensor)


@implements("cndl_list_safetensors")
def op_cndl_list_safetensors(ctx: OpContext, path: Any) -> list[str]:
    return ops.op_names(ctx, _load(ctx, path))


implements("cndl_list_gguf_tensors")(op_cndl_list_safetensors)
implements("cndl_load_model_safetensor")(_load)


@implements("cndl_save_model_safetensor")
def op_cndl_save_model_safetensor(ctx: OpContext, model: Any, path: Any) -> None:
    ops.op_save_model(ctx, model, path)


@implements("cndl_save_safetensor")
def op_cndl_save_safetensor(ctx: OpContext, t: Any, path: Any, name: Any) -> None:
    model = ops.op_model_from(ctx, **{as_str(name, "name"): as_tensor(t, "t")})
    ops.op_save_model(ctx, model, path)


# ---------------------------------------------------------------------------
# save / load (UPSTREAM.md 12.1; the file layout: tl_core.models.tensorfile)

@implements("save")
def op_save(ctx: OpContext, t: Any, file: Any) -> None:
    x = as_tensor(t, "t")
    if x.dtype != mx.float16:
        raise OpError(f"save writes float16 tensors only (the file format holds float16), "
                      f"found {tensor_type(x)}; convert it first: f16::from_array(t)", arg="t")
    path = as_str(file, "file")
    write_tensor(str(ctx.resolve_path(path)), np.array(x))
    ctx.write(f"Saved tensor to: {path}\n")


@implements("load")
def op_load(ctx: OpContext, file: Any) -> mx.array:
    path = as_str(file, "file")
    values = read_tensor(str(ctx.resolve_path(path)), path)
    ctx.write(f"Loaded tensor from: {path} (shape: {shape_text(values.shape)})\n")
    return mx.array(values)


# ---------------------------------------------------------------------------
# TensorBuffer (UPSTREAM.md 20)

@implements("new_tensor_buffer")
def op_new_tensor_buffer(ctx: OpContext, bytes: Any) -> TensorBuffer:  # noqa: A002
    n = as_int(bytes, "bytes")
    if n < 0:
        raise OpError(f"a TensorBuffer's size is a number of bytes >= 0, found {n}",
                      arg="bytes")
    return TensorBuffer(n)


def _buffer(v: Any) -> TensorBuffer:
    if not isinstance(v, TensorBuffer):
        raise OpError(f"expected a TensorBuffer (from new_tensor_buffer), found "
                      f"{type_name(v)}", arg="buf")
    return v


@implements("TensorBuffer::zeros")
def op_buffer_zeros(ctx: OpContext, buf: Any, shape: Any) -> mx.array:
    _buffer(buf)
    return ops.op_zeros(ctx, shape)


@implements("TensorBuffer::ones")
def op_buffer_ones(ctx: OpContext, buf: Any, shape: Any) -> mx.array:
    _buffer(buf)
    return ops.op_ones(ctx, shape)


@implements("TensorBuffer::alloc")
def op_buffer_alloc(ctx: OpContext, buf: Any, shape: Any, count: Any, elem_size: Any) -> None:
    _buffer(buf)
    as_shape(shape)
    n, size = as_int(count, "count"), as_int(elem_size, "elem_size")
    if n < 0:
        raise OpError(f"count is a number of tensors >= 0, found {n}", arg="count")
    if size < 1:
        raise OpError(f"elem_size is a number of bytes >= 1, found {size}", arg="elem_size")


# ---------------------------------------------------------------------------
# rank / norm (the original's constraint functions, UPSTREAM.md 17.3)

@implements("rank")
def op_rank(ctx: OpContext, x: Any) -> int:
    return as_tensor(x, "x").ndim


@implements("norm")
def op_norm(ctx: OpContext, x: Any) -> mx.array:
    t = as_tensor(x, "x").astype(mx.float32)
    return mx.sqrt(mx.sum(t * t))
