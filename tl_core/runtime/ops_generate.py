"""Built-ins for generating text: the tokenizer calls (UPSTREAM.md §13, on
`tl_core.tokenizer`), sampling (§14.1, `tl_core.runtime.sampling`), the KV cache (§14.4,
`tl_core.runtime.kvcache`) and `attention_with_cache` (§10.7, `tl_core.runtime.attention`),
registered into the registry entries of `tl_core.lang.builtins` like the ops of
`tl_core.runtime.ops`.

Token ids are 1-D int32 tensors (what `embedding` takes); a list of ints is accepted too.
"""

from __future__ import annotations

import weakref
from typing import Any

import mlx.core as mx

from tl_core.lang.builtins import implements
from tl_core.runtime import sampling
from tl_core.runtime.attention import attention_with_cache, attention_with_cache_view
from tl_core.runtime.errors import OpError
from tl_core.runtime.kvcache import KVCache
from tl_core.runtime.ops import OpContext, as_float, as_int, as_shape, as_str, as_tensor
from tl_core.runtime.tracecache import CacheView
from tl_core.runtime.values import tensor_type, type_name
from tl_core.tokenizer import Tokenizer, TokenizerError, load_tokenizer, new_text


def _tok(v: Any) -> Tokenizer:
    if not isinstance(v, Tokenizer):
        raise OpError(f"expected a Tokenizer (from load_tokenizer), found {type_name(v)}",
                      arg="tok")
    return v


def _flag(v: Any, arg: str) -> bool:
    if not isinstance(v, bool):
        raise OpError(f"expected true or false, found {type_name(v)}", arg=arg)
    return v


def _ids(v: Any) -> list[int]:
    if isinstance(v, mx.array):
        if v.ndim > 1 or mx.issubdtype(v.dtype, mx.inexact):
            raise OpError(f"expected token ids (a 1-D int tensor), found {tensor_type(v)}",
                          arg="ids")
        return [int(i) for i in v.reshape(-1).tolist()]
    if isinstance(v, (list, tuple, range)):
        return [as_int(i, "ids") for i in v]
    raise OpError(f"expected token ids (a 1-D int tensor), found {type_name(v)}", arg="ids")


@implements("load_tokenizer")
def op_load_tokenizer(ctx: OpContext, path: Any) -> Tokenizer:
    written = as_str(path, "path")
    full = str(ctx.resolve_path(written))
    try:
        return load_tokenizer(full)
    except TokenizerError as exc:
        why = str(exc).removeprefix(f"{full}: ")
        raise OpError(f"Failed to load tokenizer '{written}': {why}", arg="path") from None


@implements("tokenize")
def op_tokenize(ctx: OpContext, tok: Any, text: Any, add_special: Any) -> mx.array:
    ids = _tok(tok).tokenize(as_str(text, "text"), _flag(add_special, "add_special"))
    return mx.array(ids, dtype=mx.int32)


@implements("detokenize")
def op_detokenize(ctx: OpContext, tok: Any, ids: Any, skip_special: Any) -> str:
    try:
        return _tok(tok).detokenize(_ids(ids), _flag(skip_special, "skip_special"))
    except TokenizerError as exc:
        raise OpError(str(exc), arg="ids") from None


@implements("detokenize_single")
def op_detokenize_single(ctx: OpContext, tok: Any, id: Any, skip_special: Any) -> str:  # noqa: A002
    try:
        return _tok(tok).detokenize_single(as_int(id, "id"), _flag(skip_special, "skip_special"))
    except TokenizerError as exc:
        raise OpError(str(exc), arg="id") from None


@implements("detokenize_incremental")
def op_detokenize_incremental(ctx: OpContext, tok: Any, ids: Any, shown: Any = None) -> str:
    if shown is None:  # the original's form: the whole text
        return op_detokenize(ctx, tok, ids, False)
    shown = as_str(shown, "shown")
    try:
        return new_text(op_detokenize(ctx, tok, ids, False), shown)
    except TokenizerError as exc:
        raise OpError(str(exc), arg="shown") from None


@implements("chat_prompt")
def op_chat_prompt(ctx: OpContext, tok: Any, messages: Any,
                   add_generation_prompt: Any = True) -> str:
    if isinstance(messages, str):
        messages = [["user", messages]]
    if not isinstance(messages, list):
        raise OpError(f"expected a list of [role, content] pairs or a string, found "
                      f"{type_name(messages)}", arg="messages")
    turns = []
    for i, m in enumerate(messages):
        if not (isinstance(m, (list, tuple)) and len(m) == 2
                and all(isinstance(x, str) for x in m)):
            raise OpError(f"message {i} must be a [role, content] pair of strings, found "
                          f"{ctx.format(m)}", arg="messages")
        turns.append({"role": m[0], "content": m[1]})
    try:
        return _tok(tok).chat_prompt(turns, _flag(add_generation_prompt, "add_generation_prompt"))
    except TokenizerError as exc:
        raise OpError(str(exc), arg="tok") from None


@implements("temperature_sample")
def op_temperature_sample(ctx: OpContext, logits: Any, T: Any) -> int:  # noqa: N803
    # one int comes back to the host: the chosen id, never the logits
    return int(sampling.temperature_sample(as_tensor(logits, "logits"), as_float(T, "T")).item())


@implements("top_k")
def op_top_k(ctx: OpContext, logits: Any, k: Any) -> mx.array:
    return sampling.top_k(as_tensor(logits, "logits"), as_int(k, "k"))


@implements("top_p")
def op_top_p(ctx: OpContext, logits: Any, p: Any) -> mx.array:
    return sampling.top_p(as_tensor(logits, "logits"), as_float(p, "p"))


@implements("seed")
def op_seed(ctx: OpContext, n: Any) -> None:
    sampling.seed(as_int(n, "n"))


@implements("KVCache::new")
@implements("KVCache::new_f16")
def op_kvcache_new_f16(ctx: OpContext, n: Any) -> KVCache:
    return KVCache(as_int(n, "n"), mx.float16)


@implements("KVCache::new_f32")
def op_kvcache_new_f32(ctx: OpContext, n: Any) -> KVCache:
    return KVCache(as_int(n, "n"), mx.float32)


def _cache(v: Any) -> KVCache:
    if not isinstance(v, KVCache):
        raise OpError(f"expected a KVCache (from KVCache::new_f16 or KVCache::new_f32), found "
                      f"{type_name(v)}", arg="cache")
    return v


@implements("set")
def op_set(ctx: OpContext, cache: Any, layer: Any, K: Any, V: Any) -> None:  # noqa: N803
    _cache(cache).set(as_int(layer, "layer"), as_tensor(K, "K"), as_tensor(V, "V"))


@implements("append")
def op_append(ctx: OpContext, x: Any, *values: Any) -> Any:
    if isinstance(x, KVCache):
        if len(values) != 3:
            raise OpError(f"KVCache append takes a layer, K and V (3 values), found "
                          f"{len(values)}", arg="x")
        layer, k, v = values
        x.append(as_int(layer, "layer"), as_tensor(k, "K"), as_tensor(v, "V"))
        return None
    if isinstance(x, mx.array) and x.ndim == 1 and not mx.issubdtype(x.dtype, mx.inexact):
        if len(values) != 1:
            raise OpError(f"appending to token ids takes one id, found {len(values)} values",
                          arg="x")
        return mx.concatenate([x, mx.array([_one_id(values[0])], dtype=x.dtype)])
    if isinstance(x, mx.array):
        if len(values) != 1:
            raise OpError(f"appending rows to a tensor takes one tensor of rows, found "
                          f"{len(values)} values", arg="x")
        return _append_rows(ctx, x, values[0])
    raise OpError(f"append needs a KVCache, token ids (a 1-D int tensor) or a tensor, found "
                  f"{type_name(x)}", arg="x")


class _Capacities:
    """The row capacity of each live `Tensor::create_cache` buffer and of the tensors its
    appends return, by array id; an entry goes with its array (a weak reference)."""

    def __init__(self) -> None:
        self._by_id: dict[int, tuple[weakref.ref, int]] = {}

    def get(self, a: mx.array) -> int | None:
        entry = self._by_id.get(id(a))
        return entry[1] if entry is not None and entry[0]() is a else None

    def set(self, a: mx.array, n: int) -> None:
        key = id(a)

        def gone(ref: weakref.ref, key: int = key) -> None:
            entry = self._by_id.get(key)
            if entry is not None and entry[0] is ref:
                del self._by_id[key]

        self._by_id[key] = (weakref.ref(a, gone), n)


def _capacities(ctx: OpContext) -> _Capacities:
    """The run's table (kept on the interpreter, so a kernel session keeps it too)."""
    table = getattr(ctx, "append_capacities", None)
    if table is None:
        table = _Capacities()
        ctx.append_capacities = table  # type: ignore[attr-defined]
    return table


@implements("Tensor::create_cache")
def op_create_cache(ctx: OpContext, max_len: Any, shape_rest: Any) -> mx.array:
    n = as_int(max_len, "max_len")
    if n < 0:
        raise OpError(f"max_len must be non-negative; found {n}", arg="max_len")
    out = mx.zeros((0, *as_shape(shape_rest, "shape_rest")), dtype=mx.float32)
    _capacities(ctx).set(out, n)
    return out


def _append_rows(ctx: OpContext, x: mx.array, rows: Any) -> mx.array:
    """`t.append(rows)` (UPSTREAM.md 14.5): rows along axis 0 in x's dtype."""
    if x.ndim == 0:
        raise OpError(f"append adds rows along axis 0; a 0-d tensor has none "
                      f"({tensor_type(x)})", arg="x")
    given = as_tensor(rows, "values", x.dtype)
    r = given[None] if given.ndim == x.ndim - 1 else given
    if r.ndim != x.ndim or r.shape[1:] != x.shape[1:]:
        raise OpError(f"append: the rows must be {x.ndim - 1}-D or {x.ndim}-D with the "
                      f"trailing shape of {tensor_type(x)}, found {tensor_type(given)}",
                      arg="values")
    table = _capacities(ctx)
    cap = table.get(x)
    total = x.shape[0] + r.shape[0]
    if cap is not None and total > cap:
        raise OpError(f"Cache overflow: {x.shape[0]} rows + {r.shape[0]} would exceed the "
                      f"capacity of {cap} (Tensor::create_cache's max_len)", arg="values")
    out = mx.concatenate([x, r], axis=0)
    if cap is not None:
        table.set(out, cap)
    return out


def _one_id(v: Any) -> int:
    """An Integer, a Float (truncated) or a one-element tensor, as the original accepts."""
    if isinstance(v, float):
        return int(v)
    if isinstance(v, mx.array) and v.size == 1:
        return int(v.item())
    return as_int(v, "values")


@implements("get_k")
def op_get_k(ctx: OpContext, cache: Any, layer: Any) -> mx.array:
    return _cache(cache).get_k(as_int(layer, "layer"))


@implements("get_v")
def op_get_v(ctx: OpContext, cache: Any, layer: Any) -> mx.array:
    return _cache(cache).get_v(as_int(layer, "layer"))


@implements("int_to_tokenids")
def op_int_to_tokenids(ctx: OpContext, id: Any) -> mx.array:  # noqa: A002
    return mx.array([as_int(id, "id")], dtype=mx.int32)


@implements("attention_with_cache")
def op_attention_with_cache(ctx: OpContext, Q: Any, K: Any, V: Any, W_o: Any,  # noqa: N803
                            heads: Any = None, base: Any = 10000.0) -> mx.array:
    heads = None if heads is None else as_int(heads, "heads")
    if isinstance(K, CacheView) and isinstance(V, CacheView):  # in a compiled step
        return attention_with_cache_view(as_tensor(Q, "Q"), K, V, as_tensor(W_o, "W_o"),
                                         heads=heads, base=as_float(base, "base"))
    return attention_with_cache(
        as_tensor(Q, "Q"), as_tensor(K, "K"), as_tensor(V, "V"), as_tensor(W_o, "W_o"),
        heads=heads, base=as_float(base, "base"), tracing=bool(getattr(ctx, "tracing", 0)))
