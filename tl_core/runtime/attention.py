"""`attention_with_cache(Q, K, V, W_o)`: one attention step over cached keys and values
(UPSTREAM.md §10.7, with its defects fixed as the Decisions section asks).

Shapes: `Q [s, Hq, D]`, `K`/`V [c, Hkv, D]` (the cache, this step's rows included), or the
original's 2-D `Q [s, Hq*D]`, `K`/`V [c, Hkv*D]` with `heads: Hq` given (the original fixed
32 heads; we never guess). `W_o [out, Hq*D]`. Hq must be a multiple of Hkv.

1. RoPE on Q inside, as the original does: interleaved pairs (element 2p with 2p+1),
   positions `c - s + t`, `base` 10000 unless given (K is stored already rotated).
2. Real grouped-query attention: query head h reads key/value head `h // (Hq / Hkv)`, scores
   per head scaled by `1/sqrt(D)` (the original mixed all heads in one score matrix).
3. Causal: query t (absolute position `c - s + t`) sees keys `0 ..= c - s + t`. The original
   needs `c == s` when `s > 1`; any `c >= s` works here (prefill after earlier text).
4. Softmax, `@ V`, heads concatenated to `[s, Hq*D]`, then `@ W_oᵀ` -> `[s, out]`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import mlx.core as mx

from tl_core.runtime.decode_form import BIAS, decode_attention_form, padded_width
from tl_core.runtime.errors import OpError
from tl_core.runtime.tracecache import CacheView, Untraceable, folded
from tl_core.runtime.values import tensor_type


def attention_with_cache(
    q: mx.array,
    k: mx.array,
    v: mx.array,
    w_o: mx.array,
    *,
    heads: int | None = None,
    base: float = 10000.0,
    tracing: bool = False,
) -> mx.array:
    """`tracing`: called inside a trace (mx.compile), where W_o's transpose is folded."""
    q3, k3, v3 = _heads(q, k, v, heads)
    s, c = q3.shape[0], k3.shape[0]
    if c < s:
        raise OpError(
            f"the cache holds {c} positions but Q has {s}: append this step's K and V to the "
            f"cache first",
            arg="K",
        )
    # MLX's "causal" is aligned to the last key: query t sees keys 0 ..= c - s + t (rule 3
    # above) without a mask array, which lets the fused attention kernels run
    return _attend(q3, k3, v3, w_o, base, c - s, "causal" if s > 1 else None, tracing)


def attention_with_cache_view(
    q: mx.array, k: CacheView, v: CacheView, w_o: mx.array, *, heads: int | None = None,
    base: float = 10000.0,
) -> mx.array:
    """`attention_with_cache` in a compiled step (tl_core.runtime.tracecache): K and V are
    the layer's whole buffers and its filled length is a device scalar. The rows past the
    length get no weight, so the result is attention over the filled prefix, with shapes
    that do not change from one token to the next. A one-query step attends in the form
    `decode_attention_form()` names (tl_core.runtime.decode_form); steps of several queries
    with the mask."""
    if k.base is not v.base or k.rows != v.rows or k.rows < 1 or k.width != v.width:
        raise Untraceable("K and V of layers of different lengths, or of a layer this step "
                          "left alone")
    q3, k3, v3 = _heads(q, k.given(), v.given(), heads)
    s, _, d = q3.shape
    if k.rows < s:  # the uncompiled run reports that the cache holds fewer rows than Q
        raise Untraceable("fewer rows appended than Q has")
    form = decode_attention_form() if s == 1 else "mask"
    if form == "bias" and padded_width(d) is not None:
        return _attend(q3, *_bias_kv(k, v, k3, v3, d), w_o, base, k.first(s), None, True,
                       _bias_query)
    if form == "two-call":
        return _attend(q3, k3, v3, w_o, base, k.first(s), None, True,
                       _two_call(k.shared("indicator", (k3.shape[1], d, str(v3.dtype)),
                                          lambda: _indicator(k, k3.shape[1], d, v3.dtype))))
    return _attend(q3, k3, v3, w_o, base, k.first(s), k.mask(s), True)


def _bias_kv(k: CacheView, v: CacheView, k3: mx.array, v3: mx.array, d: int
             ) -> tuple[mx.array, mx.array]:
    """K' = [K, b, 0...] and V' = [V, 0...] of `padded_width(d)` (decode_form): the buffers
    themselves when the cache stores them padded, else padded here (a copy per layer; the
    bias and zero columns made once per step)."""
    wide = padded_width(d)
    assert wide is not None
    if k.width == d and k.buffer.ndim == 3 and k.buffer.shape[-1] == wide:
        return k.buffer, v.buffer
    cap, hkv, _ = k3.shape

    def tail(keys: bool) -> mx.array:
        zeros = mx.zeros((cap, hkv, wide - d), dtype=k3.dtype)
        if not keys:
            return zeros
        bias = mx.where(k.filled(), 0.0, BIAS).astype(k3.dtype)[:, None, None]
        return mx.concatenate([mx.broadcast_to(bias, (cap, hkv, 1)), zeros[..., 1:]], axis=-1)

    k_tail = k.shared("bias keys", (hkv, wide, str(k3.dtype)), lambda: tail(True))
    v_tail = k.shared("bias values", (hkv, wide, str(v3.dtype)), lambda: tail(False))
    return mx.concatenate([k3, k_tail], axis=-1), mx.concatenate([v3, v_tail], axis=-1)


def _bias_query(qh: mx.array, kh: mx.array, vh: mx.array, scale: float) -> mx.array:
    """Attention of the "bias" form: Q' = [Q, 1, 0...] (its weight on K's bias channel) over
    the padded K' and V', no mask; the first D columns of the result."""
    b, hq, s, d = qh.shape
    extra = mx.zeros((b, hq, s, kh.shape[-1] - d), dtype=qh.dtype)
    extra[..., 0] = 1
    qp = mx.concatenate([qh, folded(extra)], axis=-1)
    out = mx.fast.scaled_dot_product_attention(qp, kh, vh, scale=scale)
    return out[..., :d]


def _indicator(k: CacheView, hkv: int, d: int, dtype: mx.Dtype) -> mx.array:
    """[capacity, hkv, d]: 1 on the filled rows, 0 past them ("two-call", made once per
    step)."""
    cap = k.buffer.shape[0]
    return mx.broadcast_to(k.filled().astype(dtype)[:, None, None], (cap, hkv, d))


def _two_call(indicator: mx.array) -> Callable[..., mx.array]:
    """Attention of the "two-call" form (decode_form): the weights of the rows past the
    length, whose values are zeros, cancel in the quotient."""

    def attend(qh: mx.array, kh: mx.array, vh: mx.array, scale: float) -> mx.array:
        ind = indicator.astype(vh.dtype).transpose(1, 0, 2)[None]
        num = mx.fast.scaled_dot_product_attention(qh, kh, vh, scale=scale)
        den = mx.fast.scaled_dot_product_attention(qh, kh, ind, scale=scale)
        return num / den

    return attend


def _attend(q3: mx.array, k3: mx.array, v3: mx.array, w_o: mx.array, base: float,
            offset: int | mx.array, mask: mx.array | str | None, tracing: bool,
            attend: Callable[..., mx.array] | None = None) -> mx.array:
    """RoPE on Q, attention, heads concatenated, `@ W_oᵀ`. `attend(qh, kh, vh, scale)`:
    attention of another form than `mx.fast.scaled_dot_product_attention` with `mask`."""
    s, hq, d = q3.shape
    if w_o.ndim != 2 or w_o.shape[1] != hq * d:
        raise OpError(
            f"W_o must be [out, {hq * d}] (heads x head_dim of Q), found {tensor_type(w_o)}",
            arg="W_o",
        )
    dtype = q3.dtype if q3.dtype in (mx.float16, mx.bfloat16, mx.float32) else mx.float16
    qh = q3.astype(dtype).transpose(1, 0, 2)[None]  # [1, Hq, s, D]
    kh = k3.astype(dtype).transpose(1, 0, 2)[None]
    vh = v3.astype(dtype).transpose(1, 0, 2)[None]
    qh = mx.fast.rope(qh, d, traditional=True, base=base, scale=1.0, offset=offset)
    scale = 1.0 / math.sqrt(d)
    if attend is None:
        out = mx.fast.scaled_dot_product_attention(qh, kh, vh, scale=scale, mask=mask)
    else:
        out = attend(qh, kh, vh, scale)
    out = out.transpose(0, 2, 1, 3).reshape(s, hq * d)  # [1, Hq, s, D] -> [s, Hq * D]
    w_t = w_o.astype(dtype).T
    return out @ (folded(w_t) if tracing else w_t)


def _heads(
    q: mx.array, k: mx.array, v: mx.array, heads: int | None
) -> tuple[mx.array, mx.array, mx.array]:
    if q.ndim == 3:
        if k.ndim != 3 or v.ndim != 3:
            raise OpError(
                f"with Q [s, heads, head_dim], K and V must be [c, kv_heads, head_dim], found "
                f"K {tensor_type(k)} and V {tensor_type(v)}",
                arg="K",
            )
        q3, k3, v3 = q, k, v
    elif q.ndim == 2:
        if heads is None:
            raise OpError(
                f"the head count of a 2-D Q {tensor_type(q)} is unknown: pass heads: N, or Q "
                f"as [s, heads, head_dim]",
                arg="Q",
            )
        if heads < 1 or q.shape[1] % heads:
            raise OpError(f"heads: {heads} does not divide Q's width {q.shape[1]}", arg="heads")
        d = q.shape[1] // heads
        for name, t in (("K", k), ("V", v)):
            if t.ndim != 2 or t.shape[1] % d:
                raise OpError(
                    f"{name} must be [c, kv_heads * {d}] (head_dim {d} from Q and heads), "
                    f"found {tensor_type(t)}",
                    arg=name,
                )
        q3 = q.reshape(q.shape[0], heads, d)
        k3 = k.reshape(k.shape[0], -1, d)
        v3 = v.reshape(v.shape[0], -1, d)
    else:
        raise OpError(f"Q must be [s, heads, head_dim] or [s, E], found {tensor_type(q)}", arg="Q")
    s, hq, d = q3.shape
    c, hkv, dk = k3.shape
    if dk != d or v3.shape != k3.shape:
        raise OpError(
            f"K and V must both be [c, kv_heads, {d}] like Q's head_dim, found K "
            f"{tensor_type(k3)} and V {tensor_type(v3)}",
            arg="K",
        )
    if d % 2:
        raise OpError(f"RoPE needs an even head_dim, found {d}", arg="Q")
    if hq % hkv:
        raise OpError(
            f"the {hq} query heads must be a multiple of the {hkv} key/value heads", arg="K"
        )
    return q3, k3, v3
