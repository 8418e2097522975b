"""The runtime on a GPU (NVIDIA through MLX's CUDA build, or Metal): the seed program, a
SmolLM2-shaped block, and every built-in against the CPU. Skipped without a GPU."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

mx = pytest.importorskip("mlx.core")

from tests.runtime import smollm2_ref  # noqa: E402
from tl_core.lang.builtins import BUILTINS  # noqa: E402
from tl_core.runtime import Session, ops  # noqa: E402
from tl_core.runtime.interpreter import gpu_available  # noqa: E402
from tl_core.runtime.values import TensorBuffer  # noqa: E402

needs_gpu = pytest.mark.skipif(not gpu_available(), reason="MLX has no GPU here")
pytestmark = pytest.mark.gpu

ROOT = Path(__file__).resolve().parent.parent.parent
SEED = (ROOT / "examples" / "seed_linear.tl")

rng = np.random.default_rng(7)


def r16(*shape: int) -> mx.array:
    return mx.array(rng.uniform(-2, 2, size=shape).astype(np.float16))


def pos16(*shape: int) -> mx.array:
    return mx.array(rng.uniform(0.1, 2, size=shape).astype(np.float16))


# name -> (positional args, keyword args), built fresh for each call
CASES: dict[str, Callable[[], tuple[list[Any], dict[str, Any]]]] = {
    "tensor": lambda: ([[[1.0, 2.0], [3.0, 4.0]]], {}),
    "zeros": lambda: ([[3, 4]], {}),
    "TensorBuffer::zeros": lambda: ([TensorBuffer(64), [3, 4]], {}),
    "norm": lambda: ([r16(64, 64) * 50], {}),
    "TensorBuffer::ones": lambda: ([TensorBuffer(64), [2, 5]], {}),
    "ones": lambda: ([[3, 4]], {}),
    "full": lambda: ([[3, 4], 2.5], {}),
    "arange": lambda: ([17], {}),
    "reshape": lambda: ([r16(4, 6), [3, -1]], {}),
    "transpose": lambda: ([r16(4, 6)], {}),
    "permute": lambda: ([r16(2, 3, 4), [2, 0, 1]], {}),
    "flatten": lambda: ([r16(2, 3, 4)], {}),
    "squeeze": lambda: ([r16(2, 1, 4)], {"dim": 1}),
    "unsqueeze": lambda: ([r16(2, 4)], {"dim": -1}),
    "concat": lambda: ([[r16(2, 4), r16(3, 4)]], {"dim": 0}),
    "split": lambda: ([r16(4, 7), 3], {"dim": -1}),
    "chunk": lambda: ([r16(7, 4), 3], {"dim": 0}),
    "slice": lambda: ([r16(5, 6), 1, 1, 4], {}),
    "slice_last": lambda: ([r16(5, 6)], {"dim": 0}),
    "broadcast_to": lambda: ([r16(1, 4), [3, 4]], {}),
    "matmul": lambda: ([r16(64, 96), r16(96, 32)], {}),
    "add": lambda: ([r16(3, 1, 4), r16(5, 4)], {}),
    "sub": lambda: ([r16(3, 4), r16(4)], {}),
    "mul": lambda: ([r16(3, 4), 1.5], {}),
    "div": lambda: ([r16(3, 4), pos16(3, 4)], {}),
    "pow": lambda: ([pos16(3, 4), r16(3, 4)], {}),
    "exp": lambda: ([r16(8, 8)], {}),
    "log": lambda: ([pos16(8, 8)], {}),
    "sqrt": lambda: ([pos16(8, 8)], {}),
    "abs": lambda: ([r16(8, 8)], {}),
    "sin": lambda: ([r16(8, 8)], {}),
    "cos": lambda: ([r16(8, 8)], {}),
    "tan": lambda: ([r16(8, 8) * 0.5], {}),
    "tanh": lambda: ([r16(8, 8)], {}),
    "sigmoid": lambda: ([r16(8, 8)], {}),
    "relu": lambda: ([r16(8, 8)], {}),
    "gelu": lambda: ([r16(8, 8)], {}),
    "silu": lambda: ([r16(8, 8)], {}),
    "softmax": lambda: ([r16(6, 9)], {"dim": -2}),
    "sum": lambda: ([r16(6, 9)], {"dim": 1}),
    "mean": lambda: ([r16(6, 9)], {"dim": -1, "keepdim": True}),
    "max": lambda: ([r16(6, 9)], {}),
    "min": lambda: ([r16(6, 9)], {"dim": 0}),
    "argmax": lambda: ([r16(6, 9)], {"dim": 1}),
    "argmin": lambda: ([r16(6, 9)], {"dim": 0}),
    "linear": lambda: ([r16(5, 16), r16(8, 16), r16(8)], {}),
    "rms_norm": lambda: ([r16(5, 64), r16(64)], {"eps": 1e-5}),
    "layer_norm": lambda: ([r16(5, 64), r16(64), r16(64)], {}),
    "embedding": lambda: ([r16(50, 8), mx.array([3, 49, 0, 3], dtype=mx.int32)], {}),
    "causal_mask": lambda: ([6], {}),
    "apply_attention_mask": lambda: ([r16(2, 6, 6), ops.op_causal_mask(None, 6)], {}),
    "rope": lambda: ([r16(2, 7, 3, 16)], {"offset": 2, "base": 10000.0}),
    "einsum": lambda: (["bij,bjk->bik", r16(2, 4, 5), r16(2, 5, 3)], {}),
    "learnable": lambda: ([r16(3, 3)], {}),
    "floor": lambda: ([r16(6, 9) * 4], {}),
    "ceil": lambda: ([r16(6, 9) * 4], {}),
    "round": lambda: ([r16(6, 9) * 4], {}),
    "gather": lambda: ([r16(5, 6), 1, mx.array(rng.integers(0, 6, (5, 3)), dtype=mx.int32)],
                       {}),
    "scatter": lambda: ([r16(5, 6), 0, mx.array(np.tile(np.arange(5)[::-1, None], (1, 6)),
                                                 dtype=mx.int32), r16(5, 6)], {}),
    "positional_encoding": lambda: ([16, 12], {}),
    "padding_mask": lambda: ([mx.array([3.0, 0.0, 7.0], dtype=mx.float16), 8], {}),
    "combine_masks": lambda: ([ops.op_causal_mask(None, 6), ops.op_causal_mask(None, 6).T], {}),
    "precompute_rope_cos": lambda: ([16, 9, 500.0], {}),
    "precompute_rope_sin": lambda: ([16, 9], {}),
    "batch_norm": lambda: ([r16(6, 5), r16(5), r16(5)], {}),
    "apply_mask": lambda: ([r16(2, 6, 6), ops.op_causal_mask(None, 6)], {}),
    "fused_add_relu": lambda: ([r16(4, 5), r16(4, 5)], {}),
    "fused_mul_relu": lambda: ([r16(4, 5), r16(5)], {}),
    "fused_affine": lambda: ([r16(4, 5), r16(5), r16(5)], {}),
    "fused_gelu_linear": lambda: ([r16(4, 8), r16(8, 5), r16(5)], {}),
    "top_k": lambda: ([r16(3, 50)], {"k": 7}),
    "top_p": lambda: ([r16(3, 50) * 3], {"p": 0.6}),
    "f16::from_array": lambda: ([[0.1, 0.2, 0.3, 0.4]], {"shape": [2, 2]}),
    "f32::from_array": lambda: ([[[0.1, 0.2], [0.3, 0.4]]], {}),
    "cndl_matmul": lambda: ([r16(2, 6, 8), r16(2, 8, 5)], {}),
    "cndl_transpose": lambda: ([r16(2, 6, 8), 0, 2], {}),
    "cndl_reshape": lambda: ([r16(2, 6), [3, 4]], {}),
    "cndl_softmax": lambda: ([r16(6, 9), 0], {}),
    "cndl_log_softmax": lambda: ([r16(6, 9), 1], {}),
    "cndl_gelu": lambda: ([r16(8, 8)], {}),
    "cndl_silu": lambda: ([r16(8, 8)], {}),
    "cndl_relu": lambda: ([r16(8, 8)], {}),
    "cndl_tanh": lambda: ([r16(8, 8)], {}),
    "cndl_layer_norm": lambda: ([r16(5, 64)], {}),
    "cndl_rms_norm": lambda: ([r16(5, 64)], {}),
    "cndl_embedding": lambda: ([mx.array([3, 49, 0], dtype=mx.int32), r16(50, 8)], {}),
    "cndl_rope": lambda: ([r16(7, 3, 16), 2], {}),
    "attention_with_cache": lambda: ([r16(3, 9, 64), r16(7, 3, 64), r16(7, 3, 64),
                                      r16(32, 576) * 0.1], {"base": 100000.0}),
}
# Built-ins with no tensor computation to compare (files, printing, host values).
NOT_NUMERIC = {"load_model", "load_model_f32", "save_model", "get_tensor", "model_from",
               "print", "assert", "assert_eq", "env", "str", "range", "range_i", "shape",
               "len", "rand", "randn", "names", "load_tokenizer", "tokenize", "detokenize",
               "detokenize_single", "detokenize_incremental", "chat_prompt", "seed", "to_int",
               "get", "string_length", "string_substring", "assert_about_eq", "load_model_f16",
               "input",
               "dropout",  # random: tests/runtime/test_upstream_builtins.py checks its law
               # an int: tests/runtime/test_sampling.py checks it against NumPy; on the
               # GPU see test_temperature_sample_on_gpu below
               "temperature_sample",
               # the cache's state (tests/runtime/test_kv_attention.py)
               "KVCache::new", "KVCache::new_f16", "KVCache::new_f32", "set", "append",
               "get_k", "get_v", "int_to_tokenids",
               "Tensor::create_cache",  # its capacity: test_append_buffer_on_gpu below
               "append_token", "cleanup", "load_weight_cache_f16",
               "load_weight_cache_f32", "load_weight_cache_gguf_f16",
               "load_weight_cache_gguf_f32", "cndl_load_safetensor", "cndl_load_gguf_tensor",
               "cndl_list_safetensors", "cndl_list_gguf_tensors",
               "cndl_load_model_safetensor", "cndl_save_model_safetensor",
               "cndl_save_safetensor",
               # a handle, a check of sizes, files: test_save_load_on_gpu below
               "new_tensor_buffer", "TensorBuffer::alloc", "save", "load",
               "rank"}  # an int from the shape


def test_cases_cover_every_numeric_builtin():
    assert set(CASES) | NOT_NUMERIC == set(BUILTINS)


def _as_list(v: Any) -> list[np.ndarray]:
    vs = v if isinstance(v, list) else [v]
    return [np.array(x.astype(mx.float32)) if x.dtype != mx.bool_ else np.array(x) for x in vs]


@needs_gpu
@pytest.mark.parametrize("name", sorted(CASES))
def test_builtin_on_gpu_matches_cpu(name):
    args, kwargs = CASES[name]()
    op = BUILTINS[name].impl()
    results = []
    for dev in (mx.gpu, mx.cpu):
        with mx.stream(dev):
            out = op(None, *args, **kwargs)
            mx.eval(out)
        results.append(_as_list(out))
    for g, c in zip(*results, strict=True):
        assert g.shape == c.shape
        np.testing.assert_allclose(g, c, rtol=4e-3, atol=4e-3)


@needs_gpu
def test_exact_gelu_on_gpu_matches_cpu():
    x = r16(8, 8)
    outs = []
    for dev in (mx.gpu, mx.cpu):
        with mx.stream(dev):
            out = ops.op_gelu(None, x, approximate="none")
            mx.eval(out)
        outs.append(np.array(out.astype(mx.float32)))
    np.testing.assert_allclose(outs[0], outs[1], rtol=4e-3, atol=4e-3)


@needs_gpu
def test_softmax_of_non_finite_rows_and_float32_arange_on_gpu_match_cpu():
    """The issue 12 audit's changes on the GPU: softmax's non-finite rule (uniform rows,
    never NaN) and arange's float32 past 2048."""
    inf = float("inf")
    x = mx.array([[-inf, -inf, -inf], [inf, 1.0, 2.0], [float("nan"), 1.0, -inf]])
    outs = []
    for dev in (mx.gpu, mx.cpu):
        with mx.stream(dev):
            out = [ops.op_softmax(None, x), ops.op_softmax(None, x.astype(mx.float16)),
                   ops.op_arange(None, 4097, 4100)]
            mx.eval(out)
        outs.append([np.array(o.astype(mx.float32)) for o in out])
    for g, c in zip(*outs, strict=True):
        assert not np.isnan(g).any()
        np.testing.assert_allclose(g, c, rtol=1e-3, atol=1e-3)
    assert outs[0][2].tolist() == [4097, 4098, 4099]


@needs_gpu
def test_append_buffer_on_gpu():
    src = ("let c = Tensor::create_cache(3, [4])\nlet d = c.append(f32::ones([2, 4]) * 0.5)\n"
           "let e = d.append(f32::ones([4]))\n")
    outs = []
    for device in ("gpu", "cpu"):
        s = Session(device=device)
        r = s.run(src + "let f = e.append(f32::ones([4]))\n")
        assert [d.message for d in r.errors] == [
            "Cache overflow: 3 rows + 1 would exceed the capacity of 3 "
            "(Tensor::create_cache's max_len)"]
        outs.append(np.array(s.interpreter.globals.vars["e"]))
    np.testing.assert_array_equal(outs[0], outs[1])
    np.testing.assert_array_equal(outs[0], np.array([[0.5] * 4, [0.5] * 4, [1.0] * 4]))


@needs_gpu
def test_save_load_on_gpu(tmp_path):
    """A tensor computed on the GPU saves to the same bytes as on the CPU, and loads back
    (on each device) to the same values; a TensorBuffer's tensors too."""
    src = ('let x = f16::from_array([0.1, -2.5, 3.0, 1000.0, 0.333, 7.0], [2, 3])\n'
           'let buf = new_tensor_buffer(1024)\nlet y = softmax(x * 0.01, 1) + buf.ones([2, 3])\n'
           'save(y, "y.tlt")\nlet back = load("y.tlt")\n')
    files, backs = [], []
    for device in ("gpu", "cpu"):
        d = tmp_path / device
        d.mkdir()
        s = Session(base_dir=d, device=device)
        r = s.run(src)
        assert [e.message for e in r.errors] == []
        files.append((d / "y.tlt").read_bytes())
        backs.append(np.array(s.interpreter.globals.vars["back"]))
    assert files[0] == files[1]
    np.testing.assert_array_equal(backs[0], backs[1])
    x = np.array([[0.1, -2.5, 3.0], [1000.0, 0.333, 7.0]], np.float16).astype(np.float32)
    e = np.exp(x * 0.01 - (x * 0.01).max(1, keepdims=True))
    np.testing.assert_allclose(backs[0], e / e.sum(1, keepdims=True) + 1, rtol=2e-3)


@needs_gpu
def test_seed_program_on_gpu():
    text = SEED.read_text(encoding="utf-8")
    g = Session(device="gpu")
    rg = g.run(text)
    assert [d.message for d in rg.errors] == []
    assert rg.device == "gpu"
    assert "Output shape: [4, 2]" in rg.stdout and "float16[4, 2], gpu)" in rg.stdout
    c = Session(device="cpu")
    c.run(text)
    out_g = np.array(g.interpreter.globals.vars["output"])
    out_c = np.array(c.interpreter.globals.vars["output"])
    np.testing.assert_allclose(out_g.astype(np.float32), out_c.astype(np.float32), rtol=2e-3)


@needs_gpu
def test_smollm2_shaped_block_on_gpu(tmp_path, monkeypatch):
    from tl_core.models import load_model

    path = smollm2_ref.write_smollm2_like(tmp_path / "smollm2_like.gguf")
    monkeypatch.setenv("TL_SMOLLM2", str(path))
    text = smollm2_ref.EXAMPLE.read_text(encoding="utf-8")
    outs = {}
    for device in ("gpu", "cpu"):
        s = Session(base_dir=smollm2_ref.EXAMPLE.parent, device=device)
        r = s.run(text)
        assert [d.message for d in r.errors if d.severity.value == "error"] == []
        outs[device] = np.array(s.interpreter.globals.vars["out"].astype(mx.float32))
    model = load_model(path)
    meta = model.metadata
    ref = smollm2_ref.reference_block(
        smollm2_ref.weights_f32(model), smollm2_ref.IDS, meta["llama.attention.head_count"],
        meta["llama.attention.head_count_kv"], meta["llama.attention.layer_norm_rms_epsilon"],
        meta["llama.rope.freq_base"])
    assert outs["gpu"].shape == (len(smollm2_ref.IDS), 576)
    assert smollm2_ref.relative_error(outs["gpu"], ref) < 1e-2
    assert smollm2_ref.relative_error(outs["gpu"], outs["cpu"].astype(np.float64)) < 1e-2


@needs_gpu
def test_compiled_function_on_gpu_equals_uncompiled():
    text = SEED.read_text(encoding="utf-8")
    s = Session(device="gpu")
    s.run(text)
    interp = s.interpreter
    info = interp.fns["forward"]
    assert info.compiled is not None
    args = [interp.globals.vars[k] for k in ("X", "W", "b")]
    plain = interp.run_body(info, args)
    np.testing.assert_array_equal(np.array(plain), np.array(interp.globals.vars["output"]))


@needs_gpu
def test_temperature_sample_on_gpu():
    """Greedy on the device equals NumPy's argmax; a seeded draw equals the CPU's."""
    from tl_core.runtime.sampling import seed, temperature_sample

    x = np.asarray(rng.standard_normal((4, 1000)), np.float32)
    with mx.stream(mx.gpu):
        assert int(temperature_sample(mx.array(x), 0.0).item()) == int(np.argmax(x[-1]))
        seed(5)
        on_gpu = [int(temperature_sample(mx.array(x), 0.9).item()) for _ in range(20)]
    with mx.stream(mx.cpu):
        seed(5)
        on_cpu = [int(temperature_sample(mx.array(x), 0.9).item()) for _ in range(20)]
    assert on_gpu == on_cpu


@needs_gpu
def test_model_loading_on_gpu_equals_numpy(tmp_path):
    """F32 (host threads on CUDA), BF16, integer and GGUF Q8_0 tensors load on the GPU as
    NumPy / gguf.quants compute them, with exact overflow counts."""
    import gguf

    from tests.models.builders import write_gguf, write_safetensors
    from tl_core.models import load_model

    rng = np.random.default_rng(3)
    big = (rng.standard_normal((700, 1100)) * 2e4).astype(np.float32)
    ids = rng.integers(0, 1000, (3, 5)).astype(np.int64)
    path = write_safetensors(tmp_path / "m.safetensors", {"big": big, "ids": ids})
    assert mx.default_device() == mx.gpu
    m = load_model(path)
    loaded = m.get_tensor("big")
    with np.errstate(over="ignore"):
        expected = big.astype(np.float16)
    np.testing.assert_array_equal(np.array(loaded.array), expected)
    assert loaded.overflow == int(np.count_nonzero(np.isinf(expected))) > 0
    got_ids = m.get_tensor("ids").array
    assert got_ids.dtype == mx.int64
    np.testing.assert_array_equal(np.array(got_ids), ids)
    q = rng.standard_normal((64, 256)).astype(np.float32)
    blocks = gguf.quants.quantize(q, gguf.GGMLQuantizationType.Q8_0)
    gpath = write_gguf(tmp_path / "q.gguf", tensors={"w": (q, "Q8_0")})
    ref = gguf.quants.dequantize(blocks, gguf.GGMLQuantizationType.Q8_0).astype(np.float16)
    w = load_model(gpath).get_tensor("w")
    np.testing.assert_array_equal(np.array(w.array), ref.reshape(64, 256))
    assert w.overflow == 0


@needs_gpu
@pytest.mark.parametrize("variant", ["device-zeros", "host-zeros", "host-zeros-touch",
                                     "raw-device-astype", "memcpy-f32", "memcpy-f32-serial",
                                     "host-zeros-prefetch", "host-register",
                                     "host-register-ahead"])
def test_every_cuda_load_variant_equals_numpy_on_the_gpu(tmp_path, monkeypatch, variant):
    """Each host-path variant (TL_CUDA_LOAD, compared for speed by bench/load.py --variants)
    gives NumPy's float16 values and overflow count, read back from a GPU computation."""
    from tests.models.builders import write_safetensors
    from tl_core.models import load_model, reading

    assert variant in reading.CUDA_LOAD_VARIANTS
    monkeypatch.setenv("TL_CUDA_LOAD", variant)
    rng = np.random.default_rng(4)
    tensors = {f"w{i}": (rng.standard_normal((300, 1000 + i)) * 2e4).astype(np.float32)
               for i in range(4)}
    m = load_model(write_safetensors(tmp_path / "v.safetensors", tensors))
    loaded = {name: m.get_tensor(name) for name in tensors}  # several in flight
    for name, values in tensors.items():
        with np.errstate(over="ignore"):
            expected = values.astype(np.float16)
        got = loaded[name]
        np.testing.assert_array_equal(np.array(got.array * 1), expected)  # a GPU op reads it
        assert got.overflow == int(np.count_nonzero(np.isinf(expected))) > 0


def _why_no_runtime() -> str:
    """What the CUDA runtime lookup saw (tl_core.models.cuda_runtime.runtime), for a failure."""
    import ctypes
    import traceback

    from tl_core.models import cuda_runtime

    maps = Path("/proc/self/maps").read_text(encoding="utf-8", errors="replace")
    lines = sorted({line.split(None, 5)[-1] for line in maps.splitlines() if "cudart" in line})
    path = cuda_runtime.loaded_cudart(maps) or cuda_runtime.packaged_cudart()
    try:
        made = cuda_runtime.CudaRuntime(ctypes.CDLL(path)) if path else None
        tail = f"made: can_register {getattr(made, 'can_register', None)}"
    except Exception:  # noqa: BLE001 - reported
        tail = traceback.format_exc(limit=3)
    return f"libcudart mapped: {lines}; chosen {path}; {tail}"


@pytest.mark.skipif(not (gpu_available() and mx.cuda.is_available()),
                    reason="MLX has no CUDA GPU here")
@pytest.mark.parametrize("variant", ["host-register", "host-register-ahead"])
def test_host_register_equals_the_host_conversion_on_the_gpu(tmp_path, monkeypatch, variant):
    """TL_CUDA_LOAD=host-register (the mapped file page-locked by cudaHostRegister, one
    cudaMemcpy per tensor, astype on the GPU; "-ahead": one copy for the four) gives the
    default path's float16 values and overflow counts, read back from a GPU computation; the file really was registered (not
    the fallback) and is unregistered on close, the tensors intact."""
    from tests.models.builders import write_safetensors
    from tl_core.models import load_model
    from tl_core.models.cuda_runtime import runtime

    cuda = runtime()
    assert cuda is not None and cuda.can_register, _why_no_runtime()
    calls: dict[str, list] = {"register": [], "copy": [], "unregister": []}
    for name, real in [(n, getattr(cuda, n)) for n in calls]:
        monkeypatch.setattr(cuda, name, lambda *a, name=name, real=real:
                            calls[name].append(a) or real(*a))
    rng = np.random.default_rng(6)
    tensors = {f"w{i}": (rng.standard_normal((300, 1000 + i)) * 2e4).astype(np.float32)
               for i in range(4)}
    tensors["norm"] = rng.standard_normal(384).astype(np.float32)  # the small path
    path = write_safetensors(tmp_path / "r.safetensors", tensors)
    monkeypatch.setenv("TL_CUDA_LOAD", "device-zeros")  # the host conversion
    default = load_model(path)
    want = {name: default.get_tensor(name) for name in tensors}
    monkeypatch.setenv("TL_CUDA_LOAD", variant)
    m = load_model(path)
    got = {name: m.get_tensor(name) for name in tensors}  # several in flight
    assert calls["register"][0][1] >= path.stat().st_size
    assert calls["register"] == calls["register"][:1] and calls["unregister"] == []
    sizes = [4 * 300 * (1000 + i) for i in range(4)]
    assert [n for *_, n in calls["copy"]] == (sizes if variant == "host-register"
                                              else [sum(sizes)])
    m.close()
    assert calls["unregister"] == [calls["register"][0][:1]]
    for name, values in tensors.items():
        with np.errstate(over="ignore"):
            expected = values.astype(np.float16)
        np.testing.assert_array_equal(np.array(got[name].array * 1), expected)
        np.testing.assert_array_equal(np.array(got[name].array * 1),
                                      np.array(want[name].array * 1))
        assert got[name].overflow == want[name].overflow == int(
            np.count_nonzero(np.isinf(expected)))


def chat_decode(tmp_path: Path, device: str) -> tuple[str, np.ndarray]:
    """Greedy prefill and four decode steps of examples/chat_smollm2.tl's functions on a
    generated SmolLM2-shaped GGUF (bench/generate.py's tiny model): the tokens printed and
    the last logits."""
    from bench.generate import EXAMPLE, example_setup, tiny_model

    tmp_path.mkdir(parents=True, exist_ok=True)
    s = Session(base_dir=EXAMPLE.parent, device=device)
    r = s.run(example_setup(tiny_model(tmp_path)) + '''
let ids = tensor<int32>([5, 17, 300, 2, 41, 7])
let logits = next_logits(ids, model, cache, 0, n_layer, n_head, n_kv, eps, base)
let pos = len(ids)
for step in range(4) {
    let next = temperature_sample(logits, 0.0)
    print(next, end: " ")
    logits = next_logits(int_to_tokenids(next), model, cache, pos, n_layer, n_head, n_kv,
        eps, base)
    pos = pos + 1
}
''')
    assert [d.message for d in r.errors] == []
    assert s.interpreter.fns["mlp"].compiled or not s.interpreter.compile
    return r.stdout, np.array(s.interpreter.globals.vars["logits"].astype(mx.float32))


@needs_gpu
def test_chat_example_compiled_with_constants_on_gpu_equals_uncompiled(tmp_path, monkeypatch):
    """heads() and mlp() run compiled per layer (a Model and strings as constants): the same
    greedy tokens and logits as with TL_NO_COMPILE, and as on the CPU."""
    compiled = chat_decode(tmp_path / "a", "gpu")
    cpu = chat_decode(tmp_path / "c", "cpu")
    monkeypatch.setenv("TL_NO_COMPILE", "1")
    plain = chat_decode(tmp_path / "b", "gpu")
    assert compiled[0] == plain[0] == cpu[0]
    np.testing.assert_allclose(compiled[1], plain[1], rtol=2e-2, atol=2e-2)
    np.testing.assert_allclose(compiled[1], cpu[1], rtol=2e-2, atol=2e-2)


def assert_logits_close(got: np.ndarray, want: np.ndarray) -> None:
    """float16 logits of the tiny model reach |36|, where one float16 step is 0.03: a fixed
    absolute tolerance of 0.02 failed on an H100 (2026-12-06: -0.068 vs -0.091 on 1 of 4,608
    values, the same in both tests below). The tolerance follows the logits' scale, and the
    greedy choice of every step must agree exactly."""
    np.testing.assert_allclose(got, want, rtol=2e-2, atol=2e-3 * float(np.abs(want).max()))
    assert (got.argmax(-1) == want.argmax(-1)).all()


@needs_gpu
def test_compiled_decode_steps_on_gpu_equal_uncompiled_cpu(tmp_path):
    """The whole decode step as one compiled graph (KV cache as buffers, the position a
    device scalar; tl_core.runtime.tracecache) on the GPU: the logits of every step and the
    cache equal the uncompiled run on the CPU."""
    from bench.generate import tiny_model
    from tests.runtime.test_compiled_step import cache_rows, decode, logits

    path = tiny_model(tmp_path, n_layer=4)
    ids = [5, 17, 300, 2, 41, 7]
    gpu, cpu = decode(path, True, ids, "gpu"), decode(path, False, ids, "cpu")
    assert gpu.interpreter.fns["next_logits"].plans, "no decode step ran compiled"
    assert_logits_close(logits(gpu), logits(cpu))
    for (k0, v0), (k1, v1) in zip(cache_rows(cpu), cache_rows(gpu), strict=True):
        np.testing.assert_allclose(k1, k0, rtol=2e-2, atol=2e-2)
        np.testing.assert_allclose(v1, v0, rtol=2e-2, atol=2e-2)


@needs_gpu
@pytest.mark.parametrize("uneven, trace_first", [(True, None), (False, False)])
def test_compiled_steps_of_every_cache_layout_on_gpu_equal_uncompiled_cpu(
        tmp_path, uneven, trace_first):
    """Layers of different lengths (one device length per layer, each layer its own mask),
    and the prefill run uncompiled before it is traced (Interpreter.trace_first False; by
    default it is traced at its first call) on the GPU: the logits and the cache equal the
    uncompiled run on the CPU."""
    from bench.generate import tiny_model
    from tests.runtime.test_compiled_step import DECODE, UNEVEN, cache_rows, decode, logits

    path = tiny_model(tmp_path, n_layer=4)
    ids = [5, 17, 300, 2, 41, 7]
    program = UNEVEN if uneven else DECODE
    gpu = decode(path, True, ids, "gpu", program=program, trace_first=trace_first)
    cpu = decode(path, False, ids, "cpu", program=program)
    assert gpu.interpreter.fns["next_logits"].plans, "no step ran compiled"
    assert_logits_close(logits(gpu), logits(cpu))
    for (k0, v0), (k1, v1) in zip(cache_rows(cpu), cache_rows(gpu), strict=True):
        np.testing.assert_allclose(k1, k0, rtol=2e-2, atol=2e-2)
        np.testing.assert_allclose(v1, v0, rtol=2e-2, atol=2e-2)


@needs_gpu
@pytest.mark.parametrize("form", ["mask", "bias", "two-call"])
def test_every_decode_attention_form_on_gpu_equals_uncompiled_cpu(tmp_path, monkeypatch, form):
    """The compiled step's decode-attention forms (TL_DECODE_ATTENTION,
    tl_core.runtime.decode_form) on the GPU, buffers crossing their ends (KVCache.STEP 8):
    every step's logits and greedy token as the uncompiled run on the CPU, the cache's rows
    as given (no padding shows)."""
    from bench.generate import tiny_model
    from tests.runtime.test_compiled_step import cache_rows, decode, logits
    from tl_core.runtime.kvcache import KVCache

    monkeypatch.setattr(KVCache, "STEP", 8)
    path = tiny_model(tmp_path, n_layer=4)
    ids = [5, 17, 300, 2, 41, 7]
    cpu = decode(path, False, ids, "cpu")
    monkeypatch.setenv("TL_DECODE_ATTENTION", form)
    gpu = decode(path, True, ids, "gpu")
    assert gpu.interpreter.fns["next_logits"].plans, "no decode step ran compiled"
    assert_logits_close(logits(gpu), logits(cpu))
    for (k0, v0), (k1, v1) in zip(cache_rows(cpu), cache_rows(gpu), strict=True):
        assert k1.shape == k0.shape
        np.testing.assert_allclose(k1, k0, rtol=2e-2, atol=2e-2)
        np.testing.assert_allclose(v1, v0, rtol=2e-2, atol=2e-2)
