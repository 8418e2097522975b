"""Loading to float16 MLX arrays, Models, model_from and atomic save_model."""

from __future__ import annotations

import os

import gguf
import mlx.core as mx
import numpy as np
import pytest
import safetensors.numpy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.models.builders import write_gguf, write_safetensors
from tl_core.models import (
    ModelFileError,
    load_model,
    load_tensor,
    model_from,
    read_header,
    save_model,
)
from tl_core.models import gguf as gguf_format
from tl_core.models import loader as loader_module
from tl_core.models import reading as reading_module
from tl_core.models.loader import read_bytes


def f16(t) -> np.ndarray:
    assert t.array.dtype == mx.float16
    return np.array(t.array)


def test_safetensors_float_types_and_overflow(tmp_path):
    a32 = np.array([[1.5, -2.0], [1e5, -7e4]], np.float32)
    a64 = np.array([0.1, 1e300, -1e-9], np.float64)
    a16 = np.array([1, 2, 3], np.float16)
    path = write_safetensors(tmp_path / "m.safetensors", {"a32": a32, "a64": a64, "a16": a16})
    t = load_tensor(path, "a32")
    with np.errstate(over="ignore"):
        assert np.array_equal(f16(t), a32.astype(np.float16)) and t.overflow == 2
    t = load_tensor(path, "a64")
    with np.errstate(over="ignore"):
        assert np.array_equal(f16(t), a64.astype(np.float16)) and t.overflow == 1
    t = load_tensor(path, "a16")
    assert np.array_equal(f16(t), a16) and t.overflow == 0


def test_inf_in_source_is_not_overflow(tmp_path):
    a = np.array([np.inf, -np.inf, np.nan, 7e4], np.float32)
    path = write_safetensors(tmp_path / "m.safetensors", {"a": a})
    assert load_tensor(path, "a").overflow == 1


def test_bf16(tmp_path):
    values = np.array([1.0, -3.5, 1e30, 0.15625], np.float32)
    bits = (values.view(np.uint32) >> 16).astype(np.uint16)
    header = {"b": {"dtype": "BF16", "shape": [2, 2], "data_offsets": [0, 8]}}
    from tests.models.builders import safetensors_bytes

    path = tmp_path / "b.safetensors"
    path.write_bytes(safetensors_bytes(header, bits.tobytes()))
    t = load_tensor(path, "b")
    with np.errstate(over="ignore"):
        expected = (bits.astype(np.uint32) << 16).view(np.float32).astype(np.float16).reshape(2, 2)
    assert np.array_equal(f16(t), expected)
    assert t.overflow == 1


@pytest.mark.parametrize("qtype", ["Q4_0", "Q4_1", "Q8_0"])
def test_gguf_mlx_dequantization_matches_gguf_quants(tmp_path, qtype):
    rng = np.random.default_rng(3)
    arr = rng.standard_normal((3, 5, 64)).astype(np.float32) * 4
    path = write_gguf(tmp_path / "q.gguf", {"w": (arr, qtype)})
    h = read_header(path)
    info = h.tensors["w"]
    raw = np.frombuffer(read_bytes(h, info), np.uint8).reshape(15, -1)
    expected = gguf.quants.dequantize(raw, gguf.GGMLQuantizationType[qtype])
    t = load_tensor(path, "w")
    assert t.array.shape == (3, 5, 64)
    assert np.array_equal(f16(t), expected.reshape(3, 5, 64).astype(np.float16))


def test_gguf_k_quant_through_gguf_quants(tmp_path):
    rng = np.random.default_rng(4)
    blocks = rng.integers(0, 255, (4, 210), dtype=np.uint8)
    blocks[:, 208:210] = np.frombuffer(np.float16(0.01).tobytes(), np.uint8)  # finite scale
    path = write_gguf(tmp_path / "k.gguf", {"w": (blocks, "Q6_K")})
    expected = gguf.quants.dequantize(blocks, gguf.GGMLQuantizationType.Q6_K)
    t = load_tensor(path, "w")
    assert t.array.shape == (4, 256)
    assert np.array_equal(f16(t), expected.astype(np.float16))


def test_gguf_plain_types(tmp_path):
    a = np.linspace(-1, 1, 64, dtype=np.float32).reshape(2, 32)
    path = write_gguf(tmp_path / "p.gguf", {"f32": (a, None), "f16": (a.astype(np.float16), None),
                                            "f64": (a.astype(np.float64), None)})
    for name in ("f32", "f16", "f64"):
        assert np.array_equal(f16(load_tensor(path, name)), a.astype(np.float16)), name


def test_undequantizable_type_names_it(tmp_path):
    blocks = np.zeros((1, 40), np.uint8)
    path = write_gguf(tmp_path / "q81.gguf", {"w": (blocks, "Q8_1")})
    with pytest.raises(ModelFileError) as e:
        load_tensor(path, "w")
    assert e.value.message.startswith(
        'tensor "w" uses GGUF quantization Q8_1, which cannot be dequantized here'
    )


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.int8, np.uint8, np.int16, np.bool_])
def test_integer_tensors_load_with_their_type(tmp_path, dtype):
    values = (np.arange(12).reshape(3, 4) % 5).astype(dtype)
    path = write_safetensors(tmp_path / "i.safetensors", {"ids": values})
    loaded = load_tensor(path, "ids")
    assert loaded.overflow == 0
    # widened without loss: 8/16-bit -> int32, 64-bit stays, bool stays
    expected = {np.bool_: mx.bool_, np.int64: mx.int64}.get(dtype, mx.int32)
    assert loaded.array.dtype == expected
    assert read_header(path).tensors["ids"].loaded_dtype == str(expected).split(".")[-1].rstrip("_")
    np.testing.assert_array_equal(np.array(loaded.array), values)


@pytest.mark.parametrize("dtype,expected", [(np.uint16, mx.int32), (np.uint32, mx.int64),
                                            (np.uint64, mx.int64)])
def test_unsigned_tensors_widen_without_loss(tmp_path, dtype, expected):
    info = np.iinfo(dtype)
    top = min(int(info.max), 2**63 - 1)  # U64 past int64 is an error (below)
    values = np.array([0, 1, top], dtype)
    path = tmp_path / "u.safetensors"
    safetensors.numpy.save_file({"u": values}, str(path))
    loaded = load_tensor(path, "u").array
    assert loaded.dtype == expected and loaded.tolist() == [0, 1, top]


def test_u64_values_past_int64_are_an_error_not_a_wrap(tmp_path):
    """A U64 value of 2^63 or more has no int64 (the language's widest integer): it wrapped
    to a negative number silently."""
    path = tmp_path / "u.safetensors"
    safetensors.numpy.save_file({"u": np.array([[1, 2], [2**63, 2**64 - 1]], np.uint64)},
                                str(path))
    with pytest.raises(ModelFileError) as e:
        load_tensor(path, "u")
    assert e.value.message == (
        'tensor "u" (U64[2, 2]) cannot be loaded: its value 18446744073709551615 is larger '
        "than int64 can hold (at most 9223372036854775807), the widest integer of the "
        "language")


def test_integer_tensor_of_zero_elements(tmp_path):
    path = write_safetensors(tmp_path / "z.safetensors", {"ids": np.zeros((0, 3), np.int32)})
    a = load_tensor(path, "ids").array
    assert a.shape == (0, 3) and a.dtype == mx.int32


def test_unknown_name_suggests(tmp_path):
    path = write_safetensors(tmp_path / "n.safetensors", {"layer.0.weight": np.ones(2, np.float32)})
    with pytest.raises(ModelFileError) as e:
        load_model(path).get_tensor("layer.0.wieght")
    assert e.value.message == (
        'no tensor named "layer.0.wieght" in this model (1 tensors); did you mean '
        '"layer.0.weight"?'
    )


def test_host_path_tensors_keep_their_own_memory(tmp_path, monkeypatch):
    """The host path converts into the memory of a fresh MLX array: tensors of one shape loaded
    one after another must not share it (nor a zeros constant), and later arrays of zeros stay
    zeros."""
    monkeypatch.setattr(loader_module, "host_conversion", lambda: True)
    a, b = np.full((64, 8), 3, np.float32), np.full((64, 8), -5, np.float32)
    m = load_model(write_safetensors(tmp_path / "s.safetensors", {"a": a, "b": b}))
    ta, tb = m.get_tensor("a").array, m.get_tensor("b").array
    assert (np.array(ta) == 3).all() and (np.array(tb) == -5).all()
    assert (np.array(mx.zeros((64, 8), mx.float16)) == 0).all()
    assert (np.array(ta + tb) == -2).all()


def test_model_is_lazy_and_caches(tmp_path, monkeypatch):
    path = write_safetensors(tmp_path / "m.safetensors",
                             {"a": np.ones(2, np.float32), "b": np.zeros(3, np.float32)})
    calls = []
    real = reading_module.TensorReader.view
    monkeypatch.setattr(reading_module.TensorReader, "view",
                        lambda self, i, d: calls.append(i.name) or real(self, i, d))
    m = load_model(path)
    assert calls == [] and m.names() == ["a", "b"] and "a" in m and len(m) == 2
    assert m.metadata["format"] == "safetensors"
    first = m.get_tensor("a")
    assert m.get_tensor("a") is first
    assert calls == ["a"]


@pytest.mark.parametrize("variant", [None, *reading_module.CUDA_LOAD_VARIANTS])
def test_float32_to_float16_on_both_paths_equals_numpy(tmp_path, monkeypatch, variant):
    """The MLX path (Apple GPUs) and the host-threads path (CPU, CUDA) in each of its CUDA
    variants round alike, and count the same overflow; chunks small enough that a tensor
    spans several threads."""
    monkeypatch.setattr(loader_module, "host_conversion", lambda: variant is not None)
    monkeypatch.setenv("TL_CUDA_LOAD", variant or "")
    monkeypatch.setattr(reading_module, "CHUNK_ELEMENTS", 1000)
    monkeypatch.setattr(reading_module, "SMALL_ELEMENTS", 100)  # the chunked path, not the small one
    rng = np.random.default_rng(1)
    values = (rng.standard_normal((37, 301)) * 3e4).astype(np.float32)
    values[5, 7] = np.nan
    values[1, 2], values[3, 4] = np.inf, -np.inf  # already inf: not overflow
    flat = values.reshape(-1)
    flat[2000:4000] = 1.0  # a chunk whose only overflow is negative, one whose only inf is -inf
    flat[2500], flat[3500] = -7e4, -np.inf
    path = write_safetensors(tmp_path / "b.safetensors", {"w": values})
    loaded = load_model(path).get_tensor("w")
    with np.errstate(over="ignore"):
        expected = values.astype(np.float16)
    assert loaded.array.dtype == mx.float16 and loaded.array.shape == values.shape
    np.testing.assert_array_equal(np.array(loaded.array), expected)
    assert loaded.overflow == int(np.count_nonzero(np.isinf(expected) & np.isfinite(values)))
    assert loaded.overflow > 0


def test_truncated_after_load_model_is_an_error_not_a_crash(tmp_path):
    path = write_safetensors(tmp_path / "t.safetensors", {"a": np.ones(1000, np.float32)})
    m = load_model(path)
    with open(path, "r+b") as f:
        f.truncate(200)
    with pytest.raises(ModelFileError) as e:
        m.get_tensor("a")
    assert e.value.message == "the file changed since its header was read; call load_model again"


def test_overflow_count_is_lazy_and_exact(tmp_path):
    values = np.array([1.0, 7e4, -1e5, np.inf, 65519.0, 65520.0], np.float32)
    path = write_safetensors(tmp_path / "o.safetensors", {"a": values})
    loaded = load_model(path).get_tensor("a")
    with np.errstate(over="ignore"):
        halves = values.astype(np.float16)
    expected = int(np.count_nonzero(np.isinf(halves) & np.isfinite(values)))
    assert loaded.overflow == expected == 3
    np.testing.assert_array_equal(np.array(loaded.array), halves)


def test_changed_file_is_detected(tmp_path):
    path = write_safetensors(tmp_path / "m.safetensors", {"a": np.ones(2, np.float32)})
    m = load_model(path)
    write_safetensors(path, {"a": np.ones(4, np.float32)})
    with pytest.raises(ModelFileError) as e:
        m.get_tensor("a")
    assert e.value.message == "the file changed since its header was read; call load_model again"


def test_model_from_and_save_round_trip(tmp_path):
    w = mx.array(np.arange(6, dtype=np.float32).reshape(2, 3) * 2e4)
    m = model_from({"layer.0.weight": w, "layer.0.bias": mx.array([0.5, 1.5], mx.float16)})
    assert m.names() == ["layer.0.weight", "layer.0.bias"]
    assert m.get_tensor("layer.0.weight").overflow == 2  # 8e4 and 1e5 > 65504
    out = tmp_path / "out.safetensors"
    save_model(m, out)
    back = safetensors.numpy.load_file(str(out))
    assert back["layer.0.weight"].dtype == np.float16
    assert np.array_equal(back["layer.0.weight"], np.array(m.get_tensor("layer.0.weight").array))
    assert np.array_equal(back["layer.0.bias"], np.array([0.5, 1.5], np.float16))
    h = read_header(out)
    assert h.metadata["source_format"] == "memory"
    assert oct(os.stat(out).st_mode & 0o777) == oct(0o644)


def test_model_from_refuses_integers():
    with pytest.raises(ModelFileError) as e:
        model_from({"ids": mx.array([1, 2, 3])})
    assert e.value.message == (
        'model_from: tensor "ids" is int32; a Model holds floating-point tensors only '
        "(convert it with `as float16`)"
    )


def test_save_gguf_model_to_safetensors(tmp_path):
    rng = np.random.default_rng(5)
    src = write_gguf(tmp_path / "s.gguf", {"w": (rng.standard_normal((2, 32)), "Q8_0"),
                                          "n": (np.arange(3, dtype=np.int32), None)})
    m = load_model(src)
    out = tmp_path / "s.safetensors"
    save_model(m, out)
    back = safetensors.numpy.load_file(str(out))
    assert np.array_equal(back["w"], np.array(m.get_tensor("w").array))
    assert np.array_equal(back["n"], np.arange(3, dtype=np.int32))  # integers copied unchanged
    assert read_header(out).metadata["source_format"] == "gguf"


def test_save_over_its_own_source(tmp_path):
    path = write_safetensors(tmp_path / "m.safetensors", {"a": np.ones(2, np.float32),
                                                          "b": np.full(2, 3, np.float32)})
    save_model(load_model(path), path)
    back = safetensors.numpy.load_file(str(path))
    assert back["a"].dtype == np.float16 and np.array_equal(back["b"], np.full(2, 3, np.float16))


@pytest.mark.parametrize("ext,kind", [(".gguf", "GGUF"), (".mlmodel", "CoreML"), (".mlpackage", "CoreML")])
def test_save_to_read_only_format_is_refused(tmp_path, ext, kind):
    m = model_from({"a": mx.ones((2,), mx.float16)})
    with pytest.raises(ModelFileError) as e:
        save_model(m, tmp_path / f"out{ext}")
    assert e.value.message == (
        f"cannot save to a {ext} file: {kind} files are read-only sources; save_model writes "
        f"SafeTensors (use a .safetensors path)"
    )
    assert list(tmp_path.iterdir()) == []


def test_failed_save_keeps_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    out = tmp_path / "out.safetensors"
    out.write_bytes(b"old contents")
    m = model_from({"a": mx.ones((4,), mx.float16), "b": mx.zeros((4,), mx.float16)})
    writes = []

    def failing_write(f, data):
        writes.append(len(data))
        if len(writes) == 3:
            raise OSError(28, "No space left on device")
        f.write(data)

    monkeypatch.setattr(loader_module, "_write", failing_write)
    with pytest.raises(ModelFileError) as e:
        save_model(m, out)
    assert e.value.message == "cannot save the model: No space left on device"
    assert out.read_bytes() == b"old contents"
    assert [p.name for p in tmp_path.iterdir()] == ["out.safetensors"]


def test_interrupted_save_leaves_no_temp(tmp_path, monkeypatch):
    m = model_from({"a": mx.ones((4,), mx.float16)})

    def interrupted(f, data):
        raise KeyboardInterrupt

    monkeypatch.setattr(loader_module, "_write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_model(m, tmp_path / "x.safetensors")
    assert list(tmp_path.iterdir()) == []


def test_the_safetensors_library_reads_a_saved_file_bit_exact(tmp_path):
    """The reference library (its Rust core, as `safetensors.torch` uses it; PyTorch itself
    is no longer installed for this one check: from PyPI it brought 4.6 GB of CUDA wheels
    to a fresh machine) reads what `save_model` wrote, bit for bit."""
    from safetensors.numpy import load_file

    m = model_from({"a": mx.array([1.0, 2.5, -3.0], mx.float16),
                    "b": mx.array([[0.1, -65504.0], [6.1e-5, 0.0]], mx.float16)})
    save_model(m, tmp_path / "t.safetensors")
    back = load_file(str(tmp_path / "t.safetensors"))
    assert sorted(back) == ["a", "b"]
    assert back["a"].dtype == np.float16 and back["a"].shape == (3,)
    assert back["a"].tobytes() == np.array([1.0, 2.5, -3.0], np.float16).tobytes()
    assert back["b"].tobytes() == np.array([[0.1, -65504.0], [6.1e-5, 0.0]],
                                           np.float16).tobytes()


def test_empty_tensors(tmp_path):
    path = write_safetensors(tmp_path / "z.safetensors", {"z": np.zeros((0, 3), np.float32)})
    t = load_tensor(path, "z")
    assert t.array.shape == (0, 3) and t.array.dtype == mx.float16


def test_save_into_missing_directory(tmp_path):
    m = model_from({"a": mx.ones((2,), mx.float16)})
    with pytest.raises(ModelFileError) as e:
        save_model(m, tmp_path / "nope" / "out.safetensors")
    assert e.value.message == f"cannot write in {tmp_path / 'nope'}: No such file or directory"


def test_save_onto_a_directory(tmp_path):
    (tmp_path / "d.safetensors").mkdir()
    m = model_from({"a": mx.ones((2,), mx.float16)})
    with pytest.raises(ModelFileError) as e:
        save_model(m, tmp_path / "d.safetensors")
    assert e.value.message == ("is a directory; save_model writes a file (add a file name to "
                               "the path)")
    assert [p.name for p in tmp_path.iterdir()] == ["d.safetensors"]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    tensors=st.dictionaries(
        st.text(st.characters(min_codepoint=33, max_codepoint=0x10FFFF, exclude_categories=("Cs",)),
                min_size=1, max_size=10),
        st.lists(st.integers(0, 3), min_size=0, max_size=3).flatmap(
            lambda shape: st.binary(min_size=2 * int(np.prod(shape)),
                                    max_size=2 * int(np.prod(shape))).map(
                lambda raw, shape=shape: np.frombuffer(raw, np.float16).reshape(shape))),
        max_size=4,
    )
)
def test_save_is_bit_exact(tmp_path, tensors):
    """Any float16 bit pattern (NaN payloads included) survives model_from -> save_model ->
    safetensors.numpy.load_file, and names of any Unicode."""
    path = tmp_path / "p.safetensors"
    save_model(model_from({k: mx.array(v) for k, v in tensors.items()}), path)
    back = safetensors.numpy.load_file(str(path))
    assert set(back) == set(tensors)
    for k, v in tensors.items():
        assert back[k].dtype == np.float16 and back[k].shape == v.shape
        assert back[k].tobytes() == v.tobytes()
    again = load_model(path)
    for k, v in tensors.items():
        assert np.array(again.get_tensor(k).array).tobytes() == v.tobytes()


def test_model_from_reserved_name():
    with pytest.raises(ModelFileError) as e:
        model_from({"__metadata__": mx.ones((1,), mx.float16)})
    assert e.value.message == (
        'model_from: "__metadata__" is reserved by SafeTensors; choose another name'
    )


def test_quantized_overflow_is_counted(tmp_path):
    d = np.frombuffer(np.float16(1000).tobytes(), np.uint8)
    q_big = np.full(32, 100, np.int8).view(np.uint8)  # 100 * 1000 > 65504
    q_small = np.arange(-16, 16, dtype=np.int8).view(np.uint8)  # at most 16000
    blocks = np.stack([np.concatenate([d, q_big]), np.concatenate([d, q_small])])
    path = write_gguf(tmp_path / "o.gguf", {"w": (blocks, "Q8_0")})
    t = load_tensor(path, "w")
    assert t.overflow == 32
    values = np.array(t.array).reshape(-1)
    assert np.isinf(values[:32]).all()
    assert np.array_equal(values[32:], (np.arange(-16, 16) * 1000).astype(np.float16))


def test_quantized_overflow_recounts_only_when_the_scales_allow_inf(tmp_path):
    calls: list[int] = []
    assert gguf_format.QuantOverflow(mx.array(65000.0), lambda: calls.append(1) or 5).item() == 0
    assert calls == []  # the scales bound every value below 65504: nothing dequantized again
    for bound in (65504.0, float("nan")):
        assert gguf_format.QuantOverflow(mx.array(bound), lambda: 5).item() == 5
    # Q4_1 with a NaN scale, and one whose bound (15 * 5000 + 0) passes 65504 but whose values
    # (at most 4 * 5000) do not: both are counted from the values, and neither overflowed
    nan, big, zero = (np.frombuffer(np.float16(v).tobytes(), np.uint8) for v in (np.nan, 5000, 0))
    qs = np.full(16, 0x44, np.uint8)  # every nibble 4
    blocks = np.stack([np.concatenate([nan, zero, qs]), np.concatenate([big, zero, qs])])
    t = load_tensor(write_gguf(tmp_path / "n.gguf", {"w": (blocks, "Q4_1")}), "w")
    assert t.overflow == 0
    values = np.array(t.array).reshape(-1)
    assert np.isnan(values[:32]).all() and (values[32:] == 20000).all()


@given(st.lists(st.sampled_from([0x7C00, 0xFC00, 0x7E00, 0xFE01, 0x7FFF, 0xFFFF, 0x7BFF,
                                  0xFBFF, 0x0000, 0x8000, 0x3C00, 0xBC00]), min_size=1))
def test_special_float16_finds_every_inf_and_nan(bits):
    values = np.array(bits, np.uint16).view(np.float16)
    assert reading_module.special_float16(values) == bool((~np.isfinite(values)).any())


def test_device_overflow_count_excludes_source_infinities():
    """The GPU path counts infs of the result less those of the source (float16 keeps inf)."""
    values = np.array([np.inf, -np.inf, np.nan, 7e4, 1.0, -1e6], np.float32)
    src = mx.array(values)
    out = src.astype(mx.float16)
    n = reading_module.overflow_count(src, out)
    assert loader_module.LoadedTensor(out, n).overflow == 2


@pytest.mark.parametrize("shape", [(7,), (300, 41), (3, 5, 129)])
def test_the_compiled_overflow_count_equals_numpy_for_every_shape(shape):
    """One compiled (shapeless) count serves tensors of any shape and rank in turn."""
    rng = np.random.default_rng(len(shape))
    values = (rng.standard_normal(shape) * 5e4).astype(np.float32)
    values.reshape(-1)[:4] = [np.inf, -np.inf, np.nan, 7e4]  # 7e4: past float16
    with np.errstate(over="ignore", invalid="ignore"):
        expected = int(np.count_nonzero(np.isinf(values.astype(np.float16)) & np.isfinite(values)))
    src = mx.array(values)
    assert expected > 0
    assert reading_module.overflow_count(src, src.astype(mx.float16)).item() == expected


def test_the_cuda_load_variant_comes_from_the_environment(monkeypatch):
    for name in reading_module.CUDA_LOAD_VARIANTS:
        monkeypatch.setenv("TL_CUDA_LOAD", name)
        assert reading_module.cuda_load_variant() == name
    monkeypatch.setenv("TL_CUDA_LOAD", "fastest")
    assert reading_module.cuda_load_variant() == "host-register-ahead"
    monkeypatch.delenv("TL_CUDA_LOAD")
    assert reading_module.cuda_load_variant() == "host-register-ahead"


def test_unloaded_bytes_follow_the_loads(tmp_path):
    a, b = np.ones((4, 8), np.float32), np.ones(3, np.float16)
    m = load_model(write_safetensors(tmp_path / "u.safetensors", {"a": a, "b": b}))
    assert m.unloaded_bytes == a.nbytes + b.nbytes
    m.get_tensor("a")
    m.get_tensor("a")
    assert m.unloaded_bytes == b.nbytes
    with pytest.raises(ModelFileError):
        m.get_tensor("c")
    m.get_tensor("b")
    assert m.unloaded_bytes == 0
    fresh = load_model(tmp_path / "u.safetensors")
    fresh.get_tensor("b")  # loaded before the first count
    assert fresh.unloaded_bytes == a.nbytes


def _primitives(*arrays) -> int:
    """The MLX primitives (graph nodes) that evaluating `arrays` would run."""
    import io
    import re

    dot = io.StringIO()
    mx.export_to_dot(dot, *arrays)
    return len(re.findall(r"shape=rectangle", dot.getvalue()))


@pytest.mark.parametrize(("qtype", "most"), [("Q4_0", 21), ("Q4_1", 21), ("Q8_0", 13)])
def test_quantized_tensors_build_small_graphs_and_never_wait(tmp_path, monkeypatch, qtype, most):
    """Each primitive costs host time when a GPU evaluates it: a Q4_1 tensor with its overflow
    bound built 39 before (Q8_0: 22, Q4_0: 37); loading one evaluates nothing."""
    arr = np.random.default_rng(5).standard_normal((4, 64)).astype(np.float32)
    path = write_gguf(tmp_path / "q.gguf", {"w": (arr, qtype)})
    model = load_model(path)
    waits: list[str] = []
    monkeypatch.setattr(mx, "eval", lambda *a: waits.append("eval"))
    monkeypatch.setattr(mx, "async_eval", lambda *a: waits.append("async_eval"))
    t = model.get_tensor("w")
    assert waits == []
    assert _primitives(t.array, t.pending_overflow.bound) <= most


def test_small_float32_tensors_load_without_waiting(tmp_path, monkeypatch):
    """A norm's few values are converted by NumPy on the host path, with no evaluation of a
    fresh array per tensor (61 waits for SmolLM2's GGUF before); values and overflow as NumPy
    rounds them."""
    values = np.array([1.5, 7e4, -1e5, np.inf, np.nan, 65519.0, 65520.0], np.float32)
    path = write_gguf(tmp_path / "n.gguf", {"norm": (values, None)})
    monkeypatch.setattr(loader_module, "host_conversion", lambda: True)
    model = load_model(path)
    waits: list[str] = []
    monkeypatch.setattr(mx, "eval", lambda *a: waits.append("eval"))
    t = model.get_tensor("norm")
    assert waits == []
    monkeypatch.undo()
    with np.errstate(over="ignore", invalid="ignore"):
        halves = values.astype(np.float16)
    np.testing.assert_array_equal(np.array(t.array), halves)
    assert t.overflow == int(np.count_nonzero(np.isinf(halves) & np.isfinite(values))) == 3
