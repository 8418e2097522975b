"""The loader's CUDA variants that call the CUDA runtime (`TL_CUDA_LOAD` "host-register",
"memcpy-f32", "memcpy-f32-serial"), off the GPU: a stand-in runtime copies with memmove, so
the control flow (what is registered, copied, unregistered, and the fallback when the runtime
refuses to register) and the values are checked on MLX's CPU device against NumPy."""

from __future__ import annotations

import ctypes
import mmap

import numpy as np
import pytest

from tests.models.builders import write_safetensors
from tl_core.models import cuda_runtime, load_model
from tl_core.models import loader as loader_module
from tl_core.models import reading as reading_module


class FakeRuntime:
    """A `CudaRuntime` stand-in: records each call; `copy` is a memmove."""

    can_prefetch = True

    def __init__(self, accept: bool = True) -> None:
        self.accept = accept
        self.registered: list[tuple[int, int]] = []
        self.unregistered: list[int] = []
        self.copies: list[tuple[int, int, int]] = []

    def register(self, ptr: int, nbytes: int) -> bool:
        self.registered.append((ptr, nbytes))
        return self.accept

    def unregister(self, ptr: int) -> bool:
        self.unregistered.append(ptr)
        return True

    def copy(self, dst: int, src: int, nbytes: int) -> None:
        self.copies.append((dst, src, nbytes))
        ctypes.memmove(dst, src, nbytes)


def tensors() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(5)
    big = (rng.standard_normal((37, 301)) * 3e4).astype(np.float32)  # values past float16's
    big[5, 7], big[1, 2] = np.nan, np.inf  # not overflow
    return {"big": big, "small": rng.standard_normal(50).astype(np.float32),
            "other": rng.standard_normal((50, 40)).astype(np.float32)}


@pytest.fixture
def fake(monkeypatch):
    runtime = FakeRuntime()
    monkeypatch.setattr(cuda_runtime, "runtime", lambda: runtime)
    monkeypatch.setattr(loader_module, "host_conversion", lambda: True)
    monkeypatch.setattr(reading_module, "SMALL_ELEMENTS", 100)  # "small" takes the small path
    monkeypatch.setattr(reading_module, "COPY_ELEMENTS", 1000)  # memcpy-f32: several pieces
    return runtime


def loaded(path, variant: str, monkeypatch) -> tuple[object, dict, list[int]]:
    """The model, each tensor loaded under `variant`, and the progress reported."""
    monkeypatch.setenv("TL_CUDA_LOAD", variant)
    m, seen = load_model(path), []
    return m, {n: m.get_tensor(n, seen.append) for n in m.names()}, seen


def assert_numpy_values(got: dict, values: dict[str, np.ndarray]) -> None:
    for name, v in values.items():
        with np.errstate(over="ignore", invalid="ignore"):
            expected = v.astype(np.float16)
        np.testing.assert_array_equal(np.array(got[name].array), expected)
        assert got[name].overflow == int(np.count_nonzero(np.isinf(expected) & np.isfinite(v)))
    assert got["big"].overflow > 0


def test_host_register_copies_each_tensor_once_from_the_registered_file(tmp_path, fake,
                                                                         monkeypatch):
    values = tensors()
    path = write_safetensors(tmp_path / "m.safetensors", values)
    m, got, seen = loaded(path, "host-register", monkeypatch)
    assert_numpy_values(got, values)
    _, default, _ = loaded(path, "device-zeros", monkeypatch)  # the host conversion: same
    for name in values:
        np.testing.assert_array_equal(np.array(got[name].array), np.array(default[name].array))
    size = path.stat().st_size
    [(base, nbytes)] = fake.registered  # the whole file, once, page-aligned
    assert base % mmap.PAGESIZE == 0 and nbytes % mmap.PAGESIZE == 0
    assert size <= nbytes < size + mmap.PAGESIZE
    # one copy per large tensor, from its bytes in the registered mapping
    assert [(src - base, n) for _, src, n in fake.copies] == [
        (m.header.tensors[name].offset, values[name].nbytes) for name in ("big", "other")]
    assert seen == [values[name].nbytes for name in m.names()]
    assert fake.unregistered == []
    m.close()
    assert fake.unregistered == [base]  # before the file is unmapped
    m.close()
    assert fake.unregistered == [base]


def test_host_register_refused_loads_by_the_default_path(tmp_path, fake, monkeypatch):
    fake.accept = False
    values = tensors()
    path = write_safetensors(tmp_path / "m.safetensors", values)
    m, got, _ = loaded(path, "host-register", monkeypatch)
    assert_numpy_values(got, values)
    assert len(fake.registered) == 1  # asked once for the file, not again per tensor
    assert fake.copies == []
    m.close()
    assert fake.unregistered == []


def test_host_register_without_a_runtime_loads_by_the_default_path(tmp_path, fake,
                                                                   monkeypatch):
    monkeypatch.setattr(cuda_runtime, "runtime", lambda: None)
    values = tensors()
    _, got, _ = loaded(write_safetensors(tmp_path / "m.safetensors", values), "host-register",
                       monkeypatch)
    assert_numpy_values(got, values)
    assert fake.registered == fake.copies == []


@pytest.mark.parametrize("variant", ["memcpy-f32", "memcpy-f32-serial"])
def test_memcpy_variants_copy_every_byte_once_in_pieces(tmp_path, fake, monkeypatch, variant):
    values = tensors()
    path = write_safetensors(tmp_path / "m.safetensors", values)
    m, got, seen = loaded(path, variant, monkeypatch)
    assert_numpy_values(got, values)
    assert fake.registered == []
    pieces = [4 * min(1000, v.size - a) for v in (values["big"], values["other"])
              for a in range(0, v.size, 1000)]  # COPY_ELEMENTS each, the rest last
    assert sorted(n for *_, n in fake.copies) == sorted(pieces)
    assert sum(seen) == sum(v.nbytes for v in values.values())


def test_registered_is_false_for_memory_outside_the_reader_maps(tmp_path):
    path = write_safetensors(tmp_path / "m.safetensors", tensors())
    reader = reading_module.TensorReader(load_model(path).header)
    runtime = FakeRuntime()
    assert reader.registered(runtime, np.zeros(4, np.float32)) is False
    view = reader.view(reader.header.tensors["big"], "<f4")
    assert reader.registered(runtime, view) is True
    assert reader.registered(runtime, np.zeros(4, np.float32)) is False
    assert len(runtime.registered) == 1
    del view
    reader.close()
    assert runtime.unregistered == [runtime.registered[0][0]]


def ahead_tensors() -> dict[str, np.ndarray]:
    """Three large F32 tensors with a small one and an int64 one between them, in file order."""
    values = tensors()  # big, small (the small path), other
    values["ids"] = np.arange(7, dtype=np.int64)
    values["third"] = np.linspace(-7e4, 7e4, 30 * 11, dtype=np.float32).reshape(30, 11)
    return values


def test_host_register_ahead_copies_the_following_tensors_with_the_first(tmp_path, fake,
                                                                         monkeypatch):
    values = ahead_tensors()
    path = write_safetensors(tmp_path / "m.safetensors", values)
    m, got, seen = loaded(path, "host-register-ahead", monkeypatch)
    assert_numpy_values({n: got[n] for n in values if n != "ids"},
                        {n: v for n, v in values.items() if n != "ids"})
    np.testing.assert_array_equal(np.array(got["ids"].array), values["ids"])
    t, base = m.header.tensors, fake.registered[0][0]
    # one copy from big's first byte to third's last, the bytes between included
    assert [(src - base, n) for _, src, n in fake.copies] == [
        (t["big"].offset, t["third"].offset + t["third"].nbytes - t["big"].offset)]
    assert seen == [values[name].nbytes for name in m.names() if name != "ids"]
    assert m._reader._ahead == {}  # every tensor copied ahead was converted
    m.close()
    assert fake.unregistered == [base]


def test_host_register_ahead_stops_at_ahead_bytes_and_at_tensors_taken(tmp_path, fake,
                                                                      monkeypatch):
    values = ahead_tensors()
    path = write_safetensors(tmp_path / "m.safetensors", values)
    t = load_model(path).header.tensors
    # "other" fits after "big", "third" does not
    monkeypatch.setattr(reading_module, "AHEAD_BYTES",
                        t["other"].offset + t["other"].nbytes - t["big"].offset)
    monkeypatch.setenv("TL_CUDA_LOAD", "host-register-ahead")
    m = load_model(path)
    third, other, big = (m.get_tensor(n) for n in ("third", "other", "big"))
    base = fake.registered[0][0]
    # "third" alone (nothing after it), then "other" alone ("third" is taken), then "big"
    # alone ("other" is taken): each loaded from its own bytes
    assert [(src - base, n) for _, src, n in fake.copies] == [
        (t[n].offset, t[n].nbytes) for n in ("third", "other", "big")]
    assert_numpy_values({"big": big, "other": other, "third": third},
                        {n: values[n] for n in ("big", "other", "third")})
    m2 = load_model(path)
    m2.get_tensor("big")  # brings "other" (within AHEAD_BYTES), not "third"
    assert set(m2._reader._ahead) == {"other"}
    m2.close()
    assert m2._reader._ahead == {}  # dropped with the mapping


def test_host_register_ahead_leaves_small_tensors_to_the_host(tmp_path, fake, monkeypatch):
    values = ahead_tensors()
    path = write_safetensors(tmp_path / "m.safetensors", values)
    monkeypatch.setenv("TL_CUDA_LOAD", "host-register-ahead")
    m = load_model(path)
    big = m.get_tensor("big")
    assert set(m._reader._ahead) == {"other", "third"}  # not "small", though between them
    small = m.get_tensor("small")
    assert isinstance(small.pending_overflow, int)  # converted on the host, counted there
    assert len(fake.copies) == 1
    assert_numpy_values({"small": small, "big": big, "other": m.get_tensor("other"),
                         "third": m.get_tensor("third")},
                        {n: values[n] for n in ("small", "big", "other", "third")})
