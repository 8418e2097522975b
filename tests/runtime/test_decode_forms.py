"""The forms a compiled decode step attends in (`TL_DECODE_ATTENTION`, tl_core.runtime.
decode_form): "mask", "bias" (a key bias channel, no mask array, the cache stored padded)
and "two-call". Each is checked against a float64 NumPy reference of attention and against
the same program run uncompiled, over decode steps crossing the cache's buffer growth, GQA
9/3 heads, 2-D and 3-D K/V, and a several-query step into a filled cache; and the padding
of the "bias" form never shows in what the cache gives back."""

from __future__ import annotations

import mlx.core as mx
import numpy as np
import pytest

from bench.generate import tiny_model
from tests.runtime.test_compiled_step import decode, logits
from tests.runtime.test_kv_attention import ref_attention
from tl_core.runtime import Session
from tl_core.runtime.decode_form import BIAS, ENV, FORMS, decode_attention_form, padded_width
from tl_core.runtime.errors import OpError
from tl_core.runtime.kvcache import KVCache

STEP_PROGRAM = '''
fn step3(q: float16[S, H, D], k: float16[S, G, D], v: float16[S, G, D], w: float16[O, E],
    cache: KVCache) -> float16[S, O] {
    cache.append(0, k, v)
    return attention_with_cache(q, cache.get_k(0), cache.get_v(0), w)
}
fn step2(q: float16[S, E], k: float16[S, F], v: float16[S, F], w: float16[O, E],
    cache: KVCache) -> float16[S, O] {
    cache.append(0, k, v)
    return attention_with_cache(q, cache.get_k(0), cache.get_v(0), w, heads: 9)
}
let cache = KVCache::new_f16(1)
'''

# Queries per call: a prefill, one-row steps crossing the buffers' ends (KVCache.STEP 8 in
# the tests: 8 and 16 rows), a 3-query step into the filled cache, more one-row steps.
CALLS = [5] + [1] * 6 + [3] + [1] * 6


def assert_close_f16(got: np.ndarray, want: np.ndarray) -> None:
    """float16 results: within a few float16 steps of the values' scale."""
    np.testing.assert_allclose(got, want, rtol=2e-2, atol=4e-3 * float(np.abs(want).max()))


@pytest.fixture
def small_steps(monkeypatch):
    monkeypatch.setattr(KVCache, "STEP", 8)


@pytest.fixture
def sdpa_calls(monkeypatch):
    """(queries, key rows, key width, mask) of every mx.fast.scaled_dot_product_attention
    call (a compiled step calls it when traced, not when replayed)."""
    real = mx.fast.scaled_dot_product_attention
    calls: list[tuple[int, int, int, object]] = []

    def spy(q, k, v, *, scale, mask=None, **kw):
        calls.append((q.shape[2], k.shape[2], k.shape[-1],
                      mask if mask is None or isinstance(mask, str) else "array"))
        return real(q, k, v, scale=scale, mask=mask, **kw)

    monkeypatch.setattr(mx.fast, "scaled_dot_product_attention", spy)
    return calls


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("layout", ["3-D", "2-D"])
def test_every_form_equals_numpy_attention(form, layout, monkeypatch, small_steps, sdpa_calls):
    monkeypatch.setenv(ENV, form)
    rng = np.random.default_rng(1)
    hq, hkv, d, out = 9, 3, 64, 24
    s = Session(device="cpu")
    r = s.run(STEP_PROGRAM)
    assert [x.message for x in r.errors] == []
    g = s.interpreter.globals.vars
    g["w"] = mx.array(rng.standard_normal((out, hq * d)).astype(np.float16) / 8)
    ks, vs = np.zeros((0, hkv, d), np.float16), np.zeros((0, hkv, d), np.float16)
    for n in CALLS:
        q, k, v = (rng.standard_normal((n, h, d)).astype(np.float16) for h in (hq, hkv, hkv))
        ks, vs = np.concatenate([ks, k]), np.concatenate([vs, v])
        flat = layout == "2-D"
        for name, x in (("q", q), ("k", k), ("v", v)):
            g[name] = mx.array(x.reshape(n, -1) if flat else x)
        r = s.run(f"let o = step{2 if flat else 3}(q, k, v, w, cache)")
        assert [x.message for x in r.errors] == []
        want = ref_attention(q, ks, vs, np.array(g["w"]).astype(np.float64), 10000.0)
        assert_close_f16(np.array(g["o"].astype(mx.float32)), want)
    # the traces of one-query steps over the whole buffer (8, 16, 24 rows): the mask form
    # only with a mask array; the 3-query step with one in every form
    over_buffer = {(n, rows, m) for n, rows, _, m in sdpa_calls if rows % 8 == 0}
    masked = form == "mask"
    want_mask = "array" if masked else None
    assert {(1, rows, want_mask) for rows in (8, 16, 24)} <= over_buffer
    assert (1, 8, "array" if not masked else None) not in over_buffer
    assert (3, 16, "array") in over_buffer
    if form == "bias":
        assert {w for n, rows, w, m in sdpa_calls if n == 1 and rows % 8 == 0} == {
            padded_width(d)}
    cache = g["cache"]
    assert cache.length(0) == len(ks) == 20 and cache.capacity(0) == 24
    rows = (lambda a: a.reshape(len(a), -1)) if layout == "2-D" else (lambda a: a)
    # what the cache gives back is what was appended, with no trace of a padding
    np.testing.assert_array_equal(np.array(cache.get_k(0)), rows(ks))
    np.testing.assert_array_equal(np.array(cache.get_v(0)), rows(vs))
    info = s.interpreter.fns[f"step{2 if layout == '2-D' else 3}"]
    assert info.plans, "no step ran compiled"
    entry = cache._layers[0]
    padded = form == "bias" and layout == "3-D"  # 2-D rows are padded in the step instead
    assert entry.width == (d if padded else None)
    assert entry.k.shape[-1] == (padded_width(d) if padded else rows(ks).shape[-1])


def test_the_bias_form_pads_2d_rows_in_the_step(monkeypatch, small_steps, sdpa_calls):
    """2-D rows (the head split unknown when appended) are stored as given; a one-query
    step pads them to the fused width and attends without a mask."""
    monkeypatch.setenv(ENV, "bias")
    s = Session(device="cpu")
    s.run(STEP_PROGRAM)
    g = s.interpreter.globals.vars
    g["w"] = mx.ones((4, 9 * 64), dtype=mx.float16)
    for n in (3, 1, 1, 1):
        g["q"] = mx.ones((n, 9 * 64), dtype=mx.float16)
        g["k"] = g["v"] = mx.ones((n, 3 * 64), dtype=mx.float16)
        assert not s.run("let o = step2(q, k, v, w, cache)").errors
    # the prefill (its rows known in the trace) causal; the first step uncompiled (a new
    # layout of the cache), the next traced over the whole padded buffer, then replayed
    assert sdpa_calls == [(3, 3, 64, "causal"), (1, 4, 64, None),
                          (1, 8, padded_width(64), None)]


@pytest.mark.parametrize("form", FORMS)
def test_every_form_decodes_the_example_like_the_uncompiled_run(form, tmp_path, monkeypatch,
                                                                 small_steps):
    """examples/chat_smollm2.tl's decode steps (a tiny SmolLM2-shaped model) crossing
    buffer ends: every step's logits and greedy token as uncompiled."""
    monkeypatch.setenv(ENV, form)
    path = tiny_model(tmp_path, n_layer=3)
    ids = [5, 17, 300, 2, 41, 7]
    plain, fast = decode(path, False, ids), decode(path, True, ids)
    got, want = logits(fast), logits(plain)
    assert got.shape == want.shape == (9, 512)
    assert_close_f16(got, want)
    assert (got.argmax(-1) == want.argmax(-1)).all()
    assert fast.interpreter.fns["next_logits"].plans, "no decode step ran compiled"
    c = fast.interpreter.globals.vars["cache"]
    assert c.get_k(1).shape == (len(ids) + 8, 3, 8)
    assert all(e.width == (8 if form == "bias" else None) for e in c._layers)


def test_rows_read_back_in_a_trace_have_no_padding(monkeypatch):
    """In a step's trace a layer allocated there (its length known) gives back its rows:
    the rows as appended, not the padded buffer."""
    monkeypatch.setenv(ENV, "bias")
    s = Session(device="cpu")
    r = s.run('''
fn keys(x: float16[T, G, D], cache: KVCache) -> float16[T, G, D] {
    cache.append(0, x, x * 2.0)
    return cache.get_k(0) + cache.get_v(0)
}
let cache = KVCache::new_f16(1)
let a = keys((ones([3, 2, 8]) as float16) * 0.5, cache)
''')
    assert [x.message for x in r.errors] == []
    a = s.interpreter.globals.vars["a"]
    assert s.interpreter.fns["keys"].plans, "the first call was not traced"
    assert a.shape == (3, 2, 8)
    np.testing.assert_array_equal(np.array(a), np.full((3, 2, 8), 1.5))


def test_a_padded_cache_gives_back_rows_as_given(monkeypatch, small_steps):
    monkeypatch.setenv(ENV, "bias")
    cache = KVCache(1)
    rng = np.random.default_rng(2)
    ks, vs = [], []
    for n in (5, 1, 4, 9):  # crosses 8 and 16 rows
        k = rng.standard_normal((n, 3, 64)).astype(np.float16)
        v = rng.standard_normal((n, 3, 64)).astype(np.float16)
        cache.append(0, mx.array(k), mx.array(v))
        ks.append(k)
        vs.append(v)
        np.testing.assert_array_equal(np.array(cache.get_k(0)), np.concatenate(ks))
        np.testing.assert_array_equal(np.array(cache.get_v(0)), np.concatenate(vs))
    entry = cache._layers[0]
    assert cache.length(0) == 19 and cache.capacity(0) == 24
    assert entry.k.shape == entry.v.shape == (24, 3, padded_width(64))
    # the invariant the form relies on: bias 0 on filled rows, BIAS past them, zeros after
    k = np.array(entry.k.astype(mx.float32))
    assert (k[:19, :, 64] == 0).all() and (k[19:, :, 64] == BIAS).all()
    assert (k[:, :, 65:] == 0).all() and (np.array(entry.v)[:, :, 64:] == 0).all()
    with pytest.raises(OpError) as err:
        cache.append(0, mx.ones((1, 3, 32)), mx.ones((1, 3, 32)))
    assert str(err.value) == ("K rows of shape [3, 32] cannot follow the [3, 64] rows stored "
                              "in layer 0 (cache: [19, 3, 64])")
    cache.set(0, mx.ones((2, 3, 64)), mx.zeros((2, 3, 64)))
    assert cache.get_k(0).shape == (2, 3, 64) and cache.length(0) == 2


def test_the_default_form_is_bias_only_with_mlxs_cuda_backend(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    assert decode_attention_form() == "mask"  # the CPU
    for gpu, cuda, want in ((True, True, "bias"), (True, False, "mask"), (False, True, "mask")):
        monkeypatch.setattr(mx, "default_device", lambda g=gpu: mx.gpu if g else mx.cpu)
        monkeypatch.setattr(mx.cuda, "is_available", lambda c=cuda: c)
        assert decode_attention_form() == want
        for form in FORMS:
            monkeypatch.setenv(ENV, form)
            assert decode_attention_form() == form
        monkeypatch.delenv(ENV)
    monkeypatch.setenv(ENV, "fused")
    with pytest.raises(OpError) as err:
        decode_attention_form()
    assert str(err.value) == ("the environment variable TL_DECODE_ATTENTION must be mask, "
                              "bias, bias:W (a head width) or two-call, found 'fused': unset "
                              "it for the device's default")


def test_a_bad_form_name_is_a_clear_error_at_the_first_append(monkeypatch):
    monkeypatch.setenv(ENV, "fused")
    r = Session(device="cpu").run("let c = KVCache::new_f16(1)\n"
                                  "c.append(0, ones([1, 2, 8]), ones([1, 2, 8]))")
    assert [x.message for x in r.errors] == [
        "the environment variable TL_DECODE_ATTENTION must be mask, bias, bias:W (a head "
        "width) or two-call, found 'fused': unset it for the device's default"]


def test_padded_widths_are_the_fused_ones(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    assert [padded_width(d) for d in (8, 63, 64, 80, 96, 128, 256)] == [64, 64, 96, 96, 128,
                                                                         256, None]
    monkeypatch.setenv(ENV, "bias:128")  # another width to time (bench/generate.py)
    assert decode_attention_form() == "bias"
    assert [padded_width(d) for d in (64, 96, 128)] == [128, 128, 256]
    for bad in ("bias:", "bias:x", "bias:0", "mask:128", "two-call:96"):
        monkeypatch.setenv(ENV, bad)
        with pytest.raises(OpError):
            decode_attention_form()


def test_another_padded_width_gives_the_same_results(monkeypatch, small_steps, sdpa_calls):
    """TL_DECODE_ATTENTION=bias:128: a cache stored 128 wide, the same attention."""
    monkeypatch.setenv(ENV, "bias:128")
    rng = np.random.default_rng(3)
    cache = KVCache(1)
    q = rng.standard_normal((1, 9, 64)).astype(np.float16)
    for n in (4, 1, 5):
        k = rng.standard_normal((n, 3, 64)).astype(np.float16)
        cache.append(0, mx.array(k), mx.array(k * 0.5))
    assert cache._layers[0].k.shape == (16, 3, 128)
    ks = np.array(cache.get_k(0))
    assert ks.shape == (10, 3, 64)
    s = Session(device="cpu")
    s.run(STEP_PROGRAM)
    g = s.interpreter.globals.vars
    g["w"] = mx.eye(9 * 64, dtype=mx.float16)
    calls = [5, 1, 1, 1, 1]
    got = []
    for n in calls:
        g["q"], g["k"], g["v"] = (mx.array(x) for x in (q.repeat(n, 0), ks[:n], ks[:n]))
        assert not s.run("let o = step3(q, k, v, w, cache)").errors
        got.append(np.array(g["o"].astype(mx.float32)))
    assert s.interpreter.globals.vars["cache"]._layers[0].k.shape[-1] == 128
    assert (1, 8, 128, None) in sdpa_calls  # the one-query step traced over the buffer
    rows = np.concatenate([ks[:n] for n in calls])
    want = ref_attention(q, rows, rows, np.eye(9 * 64), 10000.0)
    assert_close_f16(got[-1], want)



def test_a_prefill_into_an_empty_cache_writes_at_known_offsets(monkeypatch):
    """A layer the trace allocates has a known length, so its rows are written by slice
    updates at host offsets: no `DynamicSliceUpdate` (on CUDA each computes its offset in a
    kernel of its own, ~5 us of the host's encoding), and the rows are those given."""
    import re
    import tempfile
    from pathlib import Path

    from tl_core.runtime.interpreter import Interpreter

    monkeypatch.setenv(ENV, "bias")
    real, graphs = Interpreter._call_compiled, []

    def capture(self, info, fn, key, args, caches, dynamic):
        out = real(self, info, fn, key, args, caches, dynamic)
        written = [b for c in caches for e in c._layers if e is not None for b in (e.k, e.v)]
        with tempfile.TemporaryDirectory() as d:
            mx.export_to_dot(str(Path(d) / "g.dot"), out, *written)
            graphs.append(re.findall(r'label ="(\w+)', (Path(d) / "g.dot").read_text()))
        return out

    monkeypatch.setattr(Interpreter, "_call_compiled", capture)
    s = Session(device="cpu")
    s.run(STEP_PROGRAM)
    g = s.interpreter.globals.vars
    rng = np.random.default_rng(3)
    g["w"] = mx.ones((4, 9 * 64), dtype=mx.float16)
    k, v = (mx.array(rng.standard_normal((5, 3, 64)).astype(np.float16)) for _ in range(2))
    g["q"], g["k"], g["v"] = mx.ones((5, 9, 64), dtype=mx.float16), k, v
    assert not s.run("let o = step3(q, k, v, w, cache)").errors
    assert len(graphs) == 1, "the prefill did not run compiled"
    assert "SliceUpdate" in graphs[0] and "DynamicSliceUpdate" not in graphs[0]
    np.testing.assert_array_equal(np.array(g["cache"].get_k(0)), np.array(k))
    np.testing.assert_array_equal(np.array(g["cache"].get_v(0)), np.array(v))
