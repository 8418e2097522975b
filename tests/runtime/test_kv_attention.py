"""KVCache (UPSTREAM.md §14.4) and attention_with_cache (§10.7, real GQA) against NumPy."""

from __future__ import annotations

import mlx.core as mx
import numpy as np
import pytest

from tl_core.runtime.attention import attention_with_cache
from tl_core.runtime.errors import OpError
from tl_core.runtime.kvcache import KVCache

RNG = np.random.default_rng(0)


def test_cache_appends_like_concat():
    cache = KVCache(2, mx.float32)
    assert repr(cache) == "<KVCache: 2 layers>"
    ks, vs = [], []
    for n in (5, 1, 1, 300, 1):  # crosses the 256-row step
        k = RNG.standard_normal((n, 3, 4)).astype(np.float32)
        v = RNG.standard_normal((n, 3, 4)).astype(np.float32)
        cache.append(1, mx.array(k), mx.array(v))
        ks.append(k)
        vs.append(v)
        np.testing.assert_array_equal(np.array(cache.get_k(1)), np.concatenate(ks))
        np.testing.assert_array_equal(np.array(cache.get_v(1)), np.concatenate(vs))
    assert cache.length(1) == 308 and cache.capacity(1) == 512 and cache.length(0) == 0
    cache.set(1, mx.ones((2, 3, 4)), mx.zeros((2, 3, 4)))
    assert cache.get_k(1).shape == (2, 3, 4) and cache.length(1) == 2


def test_views_taken_earlier_keep_their_values():
    cache = KVCache(1)
    cache.append(0, mx.ones((1, 2)), mx.ones((1, 2)))
    before = cache.get_k(0)
    cache.append(0, mx.full((1, 2), 7.0), mx.ones((1, 2)))
    assert np.array(before).tolist() == [[1.0, 1.0]]
    assert cache.get_k(0).dtype == mx.float16  # KVCache::new / new_f16


def test_cache_errors():
    cache = KVCache(2)
    with pytest.raises(OpError) as err:
        cache.get_k(0)
    assert str(err.value) == "No cache entry for layer 0"
    with pytest.raises(OpError) as err:
        cache.append(2, mx.ones((1, 4)), mx.ones((1, 4)))
    assert str(err.value) == "Layer index 2 out of bounds (cache has 2 layers)"
    cache.append(0, mx.ones((1, 4)), mx.ones((1, 4)))
    with pytest.raises(OpError) as err:
        cache.append(0, mx.ones((1, 5)), mx.ones((1, 5)))
    assert str(err.value) == (
        "K rows of shape [5] cannot follow the [4] rows stored in layer 0 (cache: [1, 4])"
    )


def rope_interleaved(x: np.ndarray, offset: int, base: float) -> np.ndarray:
    """UPSTREAM.md §11.1: x [s, H, D], pair p = (2p, 2p+1), angle (t+offset) * base^(-2p/D)."""
    s, _, d = x.shape
    out = x.copy()
    for t in range(s):
        for p in range(d // 2):
            theta = (t + offset) * base ** (-2 * p / d)
            a, b = x[t, :, 2 * p], x[t, :, 2 * p + 1]
            out[t, :, 2 * p] = a * np.cos(theta) - b * np.sin(theta)
            out[t, :, 2 * p + 1] = a * np.sin(theta) + b * np.cos(theta)
    return out


def ref_attention(q, k, v, w_o, base):
    """Per-head causal attention, query head h on kv head h // (Hq/Hkv), float64."""
    s, hq, d = q.shape
    c, hkv, _ = k.shape
    qr = rope_interleaved(q.astype(np.float64), c - s, base)
    out = np.zeros((s, hq, d))
    for h in range(hq):
        g = h // (hq // hkv)
        scores = qr[:, h, :] @ k[:, g, :].T / np.sqrt(d)
        for t in range(s):
            scores[t, c - s + t + 1 :] = -np.inf
        p = np.exp(scores - scores.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        out[:, h, :] = p @ v[:, g, :]
    return out.reshape(s, hq * d) @ w_o.T


@pytest.mark.parametrize(("s", "c", "hq", "hkv"), [(4, 4, 9, 3), (1, 6, 9, 3), (3, 7, 4, 4), (2, 5, 6, 1)])
def test_attention_matches_numpy(s, c, hq, hkv):
    d = 8
    q = RNG.standard_normal((s, hq, d)).astype(np.float32)
    k = RNG.standard_normal((c, hkv, d)).astype(np.float32)
    v = RNG.standard_normal((c, hkv, d)).astype(np.float32)
    w_o = RNG.standard_normal((5, hq * d)).astype(np.float32)
    want = ref_attention(q, k, v, w_o, 100000.0)
    got = attention_with_cache(mx.array(q), mx.array(k), mx.array(v), mx.array(w_o), base=100000.0)
    np.testing.assert_allclose(np.array(got), want, rtol=1e-4, atol=1e-4)
    flat = attention_with_cache(
        mx.array(q.reshape(s, -1)), mx.array(k.reshape(c, -1)), mx.array(v.reshape(c, -1)),
        mx.array(w_o), heads=hq, base=100000.0,
    )
    np.testing.assert_allclose(np.array(flat), want, rtol=1e-4, atol=1e-4)
    half = attention_with_cache(*(mx.array(a).astype(mx.float16) for a in (q, k, v, w_o)),
                                base=100000.0)
    assert half.dtype == mx.float16
    np.testing.assert_allclose(np.array(half.astype(mx.float32)), want, rtol=0.05, atol=0.05)


def test_decoding_step_by_step_equals_prefill():
    """Prefill of n positions == n one-token steps over the growing cache."""
    s, hq, hkv, d = 5, 6, 2, 4
    q = RNG.standard_normal((s, hq, d)).astype(np.float32)
    k = RNG.standard_normal((s, hkv, d)).astype(np.float32)
    v = RNG.standard_normal((s, hkv, d)).astype(np.float32)
    w_o = np.eye(hq * d, dtype=np.float32)
    whole = attention_with_cache(mx.array(q), mx.array(k), mx.array(v), mx.array(w_o))
    cache = KVCache(1, mx.float32)
    rows = []
    for t in range(s):
        cache.append(0, mx.array(k[t : t + 1]), mx.array(v[t : t + 1]))
        rows.append(attention_with_cache(mx.array(q[t : t + 1]), cache.get_k(0), cache.get_v(0),
                                         mx.array(w_o)))
    np.testing.assert_allclose(np.array(mx.concatenate(rows)), np.array(whole), rtol=1e-5, atol=1e-5)


def test_attention_errors():
    q, kv, w = mx.zeros((2, 8)), mx.zeros((2, 4)), mx.zeros((3, 8))
    with pytest.raises(OpError) as err:
        attention_with_cache(q, kv, kv, w)
    assert str(err.value) == (
        "the head count of a 2-D Q float32[2, 8] is unknown: pass heads: N, or Q as "
        "[s, heads, head_dim]"
    )
    with pytest.raises(OpError) as err:
        attention_with_cache(mx.zeros((3, 2, 4)), mx.zeros((2, 2, 4)), mx.zeros((2, 2, 4)), w)
    assert str(err.value) == (
        "the cache holds 2 positions but Q has 3: append this step's K and V to the cache first"
    )
    with pytest.raises(OpError) as err:
        attention_with_cache(mx.zeros((1, 3, 4)), mx.zeros((2, 2, 4)), mx.zeros((2, 2, 4)),
                             mx.zeros((3, 12)))
    assert str(err.value) == "the 3 query heads must be a multiple of the 2 key/value heads"
