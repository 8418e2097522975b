"""`save(t, file)` / `load(file)` (UPSTREAM.md 12.1; the layout documented in
tl_core/models/tensorfile.py and docs/language.md) and `new_tensor_buffer` with its methods
(UPSTREAM.md 20): round trips against NumPy's own reading and writing of the documented
layout, hostile files, and what the checker says."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tl_core.check import analyze
from tl_core.models.errors import ModelFileError
from tl_core.models.tensorfile import read_tensor, write_tensor
from tl_core.runtime import Session


def numpy_file(values: np.ndarray, magic: bytes = b"TLTENSOR", version: int = 1) -> bytes:
    """The documented layout, written with NumPy and struct only (not our writer)."""
    a = np.asarray(values, dtype="<f2")
    return (magic + struct.pack("<II", version, a.ndim)
            + struct.pack(f"<{a.ndim}Q", *a.shape) + a.tobytes())


def numpy_read(data: bytes) -> np.ndarray:
    """The documented layout, read with NumPy and struct only (not our reader)."""
    assert data[:8] == b"TLTENSOR"
    version, ndim = struct.unpack_from("<II", data, 8)
    assert version == 1
    shape = struct.unpack_from(f"<{ndim}Q", data, 16)
    body = data[16 + 8 * ndim:]
    assert len(body) == 2 * int(np.prod(shape, dtype=np.int64))
    return np.frombuffer(body, dtype="<f2").reshape(shape)


def errors(r) -> list[str]:  # noqa: ANN001 - a RunResult
    return [e.message for e in r.errors]


def test_a_program_saves_and_loads_with_the_originals_messages(tmp_path: Path):
    src = ('let t = f16::from_array([1.5, -2.25, 3.0, 0.1, 65504.0, -0.0], [2, 3])\n'
           'save(t, "t.tlt")\nlet back = load("t.tlt")\nprint(back.shape)\n'
           'print(sum(abs(back - t)))\n')
    assert [d.message for d in analyze(src, str(tmp_path / "p.tl")).diagnostics] == []
    r = Session(base_dir=tmp_path, device="cpu").run(src)
    assert errors(r) == []
    assert r.stdout == ("Saved tensor to: t.tlt\nLoaded tensor from: t.tlt (shape: [2, 3])\n"
                        "[2, 3]\ntensor(0, float16[], cpu)\n")
    want = np.array([[1.5, -2.25, 3.0], [0.1, 65504.0, -0.0]], np.float16)
    got = numpy_read((tmp_path / "t.tlt").read_bytes())
    assert got.dtype == np.float16 and got.tobytes() == want.tobytes()  # bit-exact, -0 too


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float16, hnp.array_shapes(min_dims=0, max_dims=4, min_side=0,
                                               max_side=5)))
def test_round_trips_bit_exact_against_numpy(tmp_path_factory, values):
    d = tmp_path_factory.mktemp("rt")
    ours = d / "ours.tlt"
    write_tensor(str(ours), values)
    assert ours.read_bytes() == numpy_file(values)
    theirs = d / "theirs.tlt"
    theirs.write_bytes(numpy_file(values))
    back = read_tensor(str(theirs))
    assert back.shape == values.shape and back.tobytes() == values.tobytes()


def test_load_of_a_numpy_written_file_in_a_program(tmp_path: Path):
    x = np.arange(24, dtype=np.float16).reshape(2, 3, 4) / 8
    (tmp_path / "x.tlt").write_bytes(numpy_file(x))
    r = Session(base_dir=tmp_path, device="cpu").run(
        'let x = load("x.tlt")\nprint(sum(x, dim: 2))\n')
    assert errors(r) == []
    lines = r.stdout.splitlines()
    assert lines[0] == "Loaded tensor from: x.tlt (shape: [2, 3, 4])"
    assert "float16[2, 3]" in r.stdout
    got = [float(v) for v in r.stdout.split("[[", 1)[1].split("]]")[0].replace("[", "")
           .replace("]", "").split(",")]
    np.testing.assert_allclose(got, x.astype(np.float32).sum(2).ravel(), rtol=1e-3)


GOOD = numpy_file(np.ones((2, 3), np.float16))


@pytest.mark.parametrize(("data", "message"), [
    (b"", "not a tensor file of save(): expected the bytes TLTENSOR at its start, found b'' "
          "(an empty file); files written by the original TensorLogic's save() use its own "
          "layout, which is not read here: save the tensor again with save() of this "
          "implementation"),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "not a tensor file of save(): expected the bytes "
          "TLTENSOR at its start, found b'\\x89PNG\\r\\n\\x1a\\n'; files written by the "
          "original TensorLogic's save() use its own layout, which is not read here: save "
          "the tensor again with save() of this implementation"),
    (GOOD[:12], "truncated: the header needs 16 bytes, the file has 12; save the tensor "
                "again with save() of this implementation"),
    (GOOD[:20], "truncated: the header announces 2 sizes (32 bytes of header), the file has "
                "20 bytes; save the tensor again with save() of this implementation"),
    (GOOD[:-1], "truncated: a float16 tensor of shape [2, 3] needs 44 bytes (32 of header, "
                "12 of data), the file has 43; save the tensor again with save() of this "
                "implementation"),
    (GOOD + b"x", "has extra bytes: a float16 tensor of shape [2, 3] needs 44 bytes (32 of "
                  "header, 12 of data), the file has 45; save the tensor again with save() "
                  "of this implementation"),
    (numpy_file(np.ones(2, np.float16), version=2),
     "tensor file format version 2, this implementation reads version 1; save the tensor "
     "again with save() of this implementation"),
    (b"TLTENSOR" + struct.pack("<II", 1, 4_000_000_000),
     "the header says the tensor has 4000000000 dimensions; at most 64 are possible, so the "
     "file is damaged; save the tensor again with save() of this implementation"),
    (b"TLTENSOR" + struct.pack("<IIQQ", 1, 2, 2**40, 2**40) + b"\0" * 64,
     "size 0 of the header: dimension 1099511627776 is too large: a dimension can be at "
     "most 2147483647 (2^31 - 1); the file is damaged; save the tensor again with save() of "
     "this implementation"),
    (b"TLTENSOR" + struct.pack("<IIQQ", 1, 2, 2**31 - 1, 2**31 - 1) + b"\0" * 64,
     "truncated: a float16 tensor of shape [2147483647, 2147483647] needs "
     f"{32 + 2 * (2**31 - 1) ** 2} bytes (32 of header, {2 * (2**31 - 1) ** 2} of data), the "
     "file has 96; save the tensor again with save() of this implementation"),
])
def test_hostile_files_are_clear_errors(tmp_path: Path, data: bytes, message: str):
    (tmp_path / "bad.tlt").write_bytes(data)
    with pytest.raises(ModelFileError) as e:
        read_tensor(str(tmp_path / "bad.tlt"), "bad.tlt")
    assert e.value.message == message
    r = Session(base_dir=tmp_path, device="cpu").run('let x = load("bad.tlt")\n')
    assert errors(r) == [f"bad.tlt: {message}"]


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_any_truncation_or_bit_flip_is_an_error_or_a_tensor(tmp_path_factory, data):
    """Never a traceback or a huge allocation: a ModelFileError, or a valid tensor."""
    raw = bytearray(numpy_file(np.arange(12, dtype=np.float16).reshape(3, 4)))
    cut = data.draw(st.integers(0, len(raw)))
    flips = data.draw(st.lists(st.integers(0, len(raw) * 8 - 1), max_size=3))
    for bit in flips:
        raw[bit // 8] ^= 1 << (bit % 8)
    f = tmp_path_factory.mktemp("h") / "f.tlt"
    f.write_bytes(bytes(raw[:cut]))
    try:
        back = read_tensor(str(f))
    except ModelFileError as exc:
        assert exc.message and "Traceback" not in exc.message
    else:
        assert back.dtype == np.float16


def test_missing_file_and_other_dtypes_are_errors_the_checker_sees_first(tmp_path: Path):
    r = Session(base_dir=tmp_path, device="cpu").run('let x = load("none.tlt")\n')
    assert errors(r) == ["none.tlt: no such file; write it first with save(t, file)"]
    src = 'let t = f32::ones([2])\nsave(t, "t.tlt")\n'
    msg = ("save writes float16 tensors only (the file format holds float16), found "
           "float32[2]; convert it first: f16::from_array(t)")
    assert [d.message for d in analyze(src).diagnostics] == [msg]
    r = Session(base_dir=tmp_path, device="cpu").run(src)
    assert errors(r) == [msg]
    assert not (tmp_path / "t.tlt").exists()
    assert [d.message for d in analyze('save(load_model("m.gguf"), 1)\n').diagnostics
            if d.severity.value == "error"] == ["save(): argument 't' must be a tensor; found Model"]
    assert [d.message for d in analyze('save(ones([2]), 1)\n').diagnostics] == [
        "save(): argument 'file' must be a string; found int"]


def test_the_checker_types_load_as_a_float16_tensor_of_unknown_shape():
    src = 'let x = load("w.tlt")\nlet y = x @ x\n'
    a = analyze(src)
    from tl_core import ide

    h = ide.hover_at(a, src.index("x ="))
    assert h is not None and "x: float16" in h.markdown and "[" not in h.markdown.split(
        "x: float16")[1].split("\n")[0]
    h = ide.hover_at(a, src.index("load(") + 1)
    assert "load(file: string) -> tensor" in h.markdown and "Loaded tensor from" in h.markdown


# -- TensorBuffer ----------------------------------------------------------------------

BUFFER = """let buf = new_tensor_buffer(4096)
let z = buf.zeros([2, 3])
let o = buf.ones([4])
buf.alloc([2, 3], 4, 2)
print(buf)
print(z.shape, o.shape, sum(z), sum(o))
"""


def test_tensor_buffer_makes_float16_zeros_and_ones(tmp_path: Path):
    assert [d.message for d in analyze(BUFFER).diagnostics] == []
    s = Session(device="cpu")
    r = s.run(BUFFER)
    assert errors(r) == []
    assert r.stdout.splitlines()[0] == "<TensorBuffer: 4096 bytes>"
    import mlx.core as mx

    z, o = s.interpreter.globals.lookup("z")[1], s.interpreter.globals.lookup("o")[1]
    assert z.dtype == o.dtype == mx.float16
    np.testing.assert_array_equal(np.array(z), np.zeros((2, 3), np.float16))
    np.testing.assert_array_equal(np.array(o), np.ones(4, np.float16))


def test_tensor_buffer_methods_are_checked_and_hovered():
    from tl_core import ide

    src = "let buf = new_tensor_buffer(64)\nlet z = buf.zeros([2, 3])\n"
    a = analyze(src)
    h = ide.hover_at(a, src.index("z ="))
    assert h is not None and "float16[2, 3]" in h.markdown
    h = ide.hover_at(a, src.index("zeros") + 1)
    assert h is not None and "filled with 0" in h.markdown
    h = ide.hover_at(a, src.index("new_tensor_buffer") + 1)
    assert "new_tensor_buffer(bytes: int) -> TensorBuffer" in h.markdown
    items = ide.complete_at(analyze(src + "buf."), len(src) + 4)
    assert [c.label for c in items] == ["zeros", "ones", "alloc"]


@pytest.mark.parametrize(("src", "message"), [
    ("let b = new_tensor_buffer(64)\nb.zero([2])",
     "TensorBuffer has no method 'zero'; methods: zeros, ones, alloc; did you mean 'zeros'?"),
    ("let b = new_tensor_buffer(-1)", "a TensorBuffer's size is a number of bytes >= 0, "
                                      "found -1"),
    ("let b = new_tensor_buffer(64)\nb.alloc([2], -1, 2)",
     "count is a number of tensors >= 0, found -1"),
    ("let b = new_tensor_buffer(64)\nb.alloc([2], 1, 0)",
     "elem_size is a number of bytes >= 1, found 0"),
])
def test_tensor_buffer_errors_in_the_checker_and_the_runtime(src, message):
    assert [d.message for d in analyze(src).diagnostics] == [message]
    r = Session(device="cpu").run(src)
    got = errors(r)
    assert len(got) == 1 and got[0].startswith(message.split("; did you mean")[0])


def test_signature_help_of_a_buffer_method():
    from tl_core import ide

    src = "let buf = new_tensor_buffer(64)\nbuf.alloc([2], "
    h = ide.signature_at(analyze(src), len(src))
    assert h is not None
    sig = h.signatures[0]
    assert sig.label == ("TensorBuffer::alloc(buf: TensorBuffer, shape: shape, count: int, "
                         "elem_size: int) -> void")
    assert sig.params[h.active_param][0] == "count: int"
