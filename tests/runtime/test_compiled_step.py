"""A whole decode step compiled (tl_core.runtime.tracecache): examples/chat_smollm2.tl's
`next_logits`, which appends to a KVCache and takes the position as an int, runs as one
mx.compile graph replayed per token (the cache as buffers and device lengths, the position a
device scalar). Every result is checked against the same program run uncompiled
(`Interpreter.compile` off, the path tests/runtime/test_chat_example.py checks against NumPy)
and, for the cache, against NumPy."""

from __future__ import annotations

from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest

from bench.generate import EXAMPLE, example_setup, tiny_model
from tl_core.runtime import Session
from tl_core.runtime.kvcache import KVCache
from tl_core.runtime.tracecache import DeviceInt, Untraceable

STEPS = 8
DECODE = f'''
let logits = next_logits(ids, model, cache, 0, n_layer, n_head, n_kv, eps, base)
let pos = len(ids)
let all = logits
for step in range({STEPS}) {{
    let next = temperature_sample(logits, 0.0)
    logits = next_logits(int_to_tokenids(next), model, cache, pos, n_layer, n_head, n_kv,
        eps, base)
    all = concat(all, logits, 0)
    pos = pos + 1
}}
'''


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return tiny_model(tmp_path_factory.mktemp("tiny"), n_layer=3)


def decode(path: Path, compile_on: bool, ids: list[int], device: str = "cpu",
           program: str = DECODE, trace_first: bool | None = None) -> Session:
    s = Session(base_dir=EXAMPLE.parent, device=device)
    s.interpreter.compile = compile_on
    s.interpreter.trace_first = trace_first
    r = s.run(example_setup(path) + f"let ids = tensor<int32>({ids})\n" + program)
    assert [d.message for d in r.errors] == []
    return s


# After the prefill, layer 1 gets a row more than the others.
UNEVEN = DECODE.replace("let pos = len(ids)\n", "let pos = len(ids)\nlet row = (ones([1, 3, 8]) "
                        "as float16) * 0.5\ncache.append(1, row, row)\n")


def logits(s: Session) -> np.ndarray:
    return np.stack([np.array(x.astype(mx.float32)) for x in s.interpreter.globals.vars["all"]])


def cache_rows(s: Session) -> list[tuple[np.ndarray, np.ndarray]]:
    c = s.interpreter.globals.vars["cache"]
    return [(np.array(c.get_k(i)), np.array(c.get_v(i))) for i in range(c.n_layers)]


def test_compiled_decode_steps_equal_the_uncompiled_run(tiny):
    ids = [5, 17, 300, 2, 41, 7]
    plain, fast = decode(tiny, False, ids), decode(tiny, True, ids)
    np.testing.assert_allclose(logits(fast), logits(plain), rtol=1e-3, atol=1e-3)
    assert fast.interpreter.globals.vars["pos"] == len(ids) + STEPS
    for (k0, v0), (k1, v1) in zip(cache_rows(plain), cache_rows(fast), strict=True):
        assert k1.shape == k0.shape == (len(ids) + STEPS, 3, 8)
        np.testing.assert_allclose(k1, k0, rtol=1e-3, atol=1e-3)
        np.testing.assert_allclose(v1, v0, rtol=1e-3, atol=1e-3)
    info = fast.interpreter.fns["next_logits"]
    assert info.dynamic == {3}  # pos: a device scalar, not a trace per position
    assert info.plans, "no decode step ran compiled"
    # every layer holds as many rows: one shared length (tracecache.cache_key)
    assert any(key[2][3] == (True,) * 3 and key[2][4] for key, _ in info.plans)


def test_layers_of_different_lengths_compiled_equal_the_uncompiled_run(tiny):
    """Layer 1 holds a row more than the others: the lengths enter one per layer, each
    layer's write position and mask its own."""
    ids = [5, 17, 300, 2]
    plain, fast = decode(tiny, False, ids, program=UNEVEN), decode(tiny, True, ids,
                                                                  program=UNEVEN)
    np.testing.assert_allclose(logits(fast), logits(plain), rtol=1e-3, atol=1e-3)
    for (k0, v0), (k1, v1) in zip(cache_rows(plain), cache_rows(fast), strict=True):
        np.testing.assert_allclose(k1, k0, rtol=1e-3, atol=1e-3)
        np.testing.assert_allclose(v1, v0, rtol=1e-3, atol=1e-3)
    assert [len(k) for k, _ in cache_rows(fast)] == [4 + STEPS, 5 + STEPS, 4 + STEPS]
    plans = fast.interpreter.fns["next_logits"].plans
    assert any(key[2][3] == (True,) * 3 and not key[2][4] for key, _ in plans)


def test_prefills_into_new_caches_compiled_equal_the_uncompiled_run(tiny):
    """Rounds as a chat program runs them: a new cache, a prefill, decode steps. From the
    third round the prefill is a compiled step too (its layers allocated in the trace)."""
    rounds = {}
    for compile_on in (False, True):
        s = decode(tiny, compile_on, [3, 1, 4, 1, 5])
        out = []
        for _ in range(3):
            r = s.run("cache = KVCache::new_f16(n_layer)\n" + DECODE)
            assert [d.message for d in r.errors] == []
            out.append(logits(s))
        rounds[compile_on] = (np.stack(out), cache_rows(s), s)
    np.testing.assert_allclose(rounds[True][0], rounds[False][0], rtol=1e-3, atol=1e-3)
    for (k0, v0), (k1, v1) in zip(rounds[False][1], rounds[True][1], strict=True):
        np.testing.assert_allclose(k1, k0, rtol=1e-3, atol=1e-3)
        np.testing.assert_allclose(v1, v0, rtol=1e-3, atol=1e-3)
    plans = rounds[True][2].interpreter.fns["next_logits"].plans
    assert any(key[2][3] == (False,) * 3 for key, _ in plans), "no prefill ran compiled"


@pytest.mark.parametrize("trace_first, prefill_compiled", [(None, True), (False, False)])
def test_the_first_prefill_is_traced_at_once(tiny, trace_first, prefill_compiled):
    """The first call of a function taking a KVCache (the example's one prefill) is traced
    at once, not run uncompiled first (Interpreter.trace_first None; False: the rule of
    other functions); get_tensor evaluates the weights inside the trace (constants, not the
    loader's graph). The prefill and the steps after it give the uncompiled run's values."""
    ids = [5, 17, 300, 2, 41, 7]
    plain, fast = decode(tiny, False, ids), decode(tiny, True, ids, trace_first=trace_first)
    np.testing.assert_allclose(logits(fast), logits(plain), rtol=1e-3, atol=1e-3)
    plans = fast.interpreter.fns["next_logits"].plans
    assert any(key[2][3] == (False,) * 3 for key, _ in plans) == prefill_compiled


def test_cache_growing_past_its_buffer_traces_again_with_the_same_values(tiny, monkeypatch):
    """Buffers of 4 rows: most steps cross a buffer's end, the host grows it first."""
    monkeypatch.setattr(KVCache, "STEP", 4)
    ids = [9, 8, 7]
    plain, fast = decode(tiny, False, ids), decode(tiny, True, ids)
    np.testing.assert_allclose(logits(fast), logits(plain), rtol=1e-3, atol=1e-3)
    for (k0, _), (k1, _) in zip(cache_rows(plain), cache_rows(fast), strict=True):
        np.testing.assert_allclose(k1, k0, rtol=1e-3, atol=1e-3)


STEP_FN = '''
fn step(x: float32[T, D], cache: KVCache, pos: int) -> float32[T, D] {
    cache.append(0, x, x)
    return BODY
}
let cache = KVCache::new_f32(1)
let out = IntVec::new()
for i in range(6) {
    let y = step((ones([1, 4]) as float32) * (i + 1), cache, i)
    out.push(to_int(sum(y)))
}
'''


@pytest.mark.parametrize("body, expected", [
    # the position used on the host: traced with it a constant, never a wrong value
    ("x * (pos as float)", lambda i: 4 * (i + 1) * i),
    ("x + len(str(pos))", lambda i: 4 * (i + 1) + 4),
    # the cache's rows read other than by attention_with_cache
    ("x + sum(cache.get_k(0))", lambda i: 4 * (i + 1) + 16 * sum(range(1, i + 2))),
])
def test_functions_using_the_position_or_rows_on_the_host_give_their_values(body, expected):
    s = Session(device="cpu")
    r = s.run(STEP_FN.replace("BODY", body))
    assert [d.message for d in r.errors] == []
    assert list(s.interpreter.globals.vars["out"].items) == [expected(i) for i in range(6)]
    assert s.interpreter.globals.vars["cache"].length(0) == 6
    # a trace with pos on the device was tried and refused: pos is a constant again
    assert s.interpreter.fns["step"].static == {2}


def test_an_out_of_range_id_in_a_compiled_step_is_the_same_error(tiny):
    s = decode(tiny, True, [5, 6])
    assert s.interpreter.fns["next_logits"].plans
    r = s.run("let bad = next_logits(int_to_tokenids(512), model, cache, pos, n_layer, "
              "n_head, n_kv, eps, base)")
    assert [d.message for d in r.errors] == [
        "index 512 is out of range for dimension 0 of float16[512, 72] (size 512)"]


def test_a_device_int_refuses_every_host_use():
    d = DeviceInt(mx.array(3, dtype=mx.int32))
    for use in (lambda: d == 3, lambda: str(d), lambda: bool(d), lambda: hash(d),
                lambda: int(d), lambda: f"{d}", lambda: d < 1):
        with pytest.raises(Untraceable):
            use()


def test_folded_evaluates_constants_in_a_trace_and_leaves_inputs_alone(tmp_path):
    """tracecache.folded: a weight's transpose becomes data the compiled graph holds (no
    node per replay); a value of the trace's inputs stays a node (MLX refuses its eval)."""
    from tl_core.runtime.tracecache import folded

    w = mx.arange(6, dtype=mx.float32).reshape(2, 3)
    mx.eval(w)

    def f(x):
        return folded(x.T) @ folded(w.T)

    x = mx.ones((3, 4))
    out = mx.compile(f)(x)
    mx.export_to_dot(str(tmp_path / "g.dot"), out)
    np.testing.assert_array_equal(np.array(out), np.ones((4, 3)) @ np.arange(6).reshape(2, 3).T)
    # the graph replayed per call: x's transpose and the product, not w's transpose
    assert (tmp_path / "g.dot").read_text().count('"Transpose"') == 1
