"""The Python API's promise: `load_model(path)` and `Model.get_tensor(name)` raise only
`ModelFileError` for a bad file, whatever its header says (odd shapes, huge dimensions,
zero-size tensors, quantized scalars, too many dimensions, giant numbers)."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.models.builders import gguf_bytes, safetensors_bytes, write_gguf
from tl_core.limits import MAX_DIM
from tl_core.models import ModelFileError, clear_cache, load_model
from tl_core.models.safetensors import DTYPES


def load_all(path) -> None:
    """Read the header and load every tensor; only ModelFileError may come out."""
    clear_cache()
    try:
        model = load_model(path)
        for name in model.names():
            model.get_tensor(name)
    except ModelFileError as err:
        assert err.message and err.path == str(path)
        assert len(err.message) < 2000  # never a whole header in a message


def raw_safetensors(header_json: bytes, data: bytes = b"") -> bytes:
    return struct.pack("<Q", len(header_json)) + header_json + data


# Numbers a hostile header holds: small, at the int32 / int64 / uint64 edges, beyond.
_edges = st.sampled_from([0, 1, 2, 3, 8, 31, 32, 256, MAX_DIM, MAX_DIM + 1, 2**32, 2**63 - 1,
                          2**63, 2**64 - 1, 2**64, 10**30])
_numbers = st.one_of(_edges, st.integers(0, 70))
_settings = settings(max_examples=200, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])


@_settings
@given(dtype=st.one_of(st.sampled_from(sorted(DTYPES)), st.text(max_size=4)),
       shape=st.lists(_numbers, max_size=6), begin=_numbers, length=_numbers,
       data=st.binary(max_size=64), junk=st.booleans())
def test_safetensors_headers_only_model_file_errors(tmp_path, dtype, shape, begin, length,
                                                     data, junk):
    end = begin + length
    if junk:  # offsets that fit the data, so the loader (not only the header) is reached
        begin, end = 0, min(length, len(data))
    header = {"t": {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}}
    p = tmp_path / "m.safetensors"
    p.write_bytes(safetensors_bytes(header, data))
    load_all(p)


_u64 = st.sampled_from([0, 1, 2, 32, 64, 256, MAX_DIM + 1, 2**32, 2**63, 2**64 - 1])


@_settings
@given(dims=st.lists(_u64, max_size=4),
       ggml_type=st.sampled_from([0, 1, 2, 3, 6, 7, 8, 10, 12, 14, 24, 26, 28, 30, 99]),
       offset=st.sampled_from([0, 32, 2**63]), data=st.binary(max_size=300))
def test_gguf_tensor_infos_only_model_file_errors(tmp_path, dims, ggml_type, offset, data):
    p = tmp_path / "m.gguf"
    p.write_bytes(gguf_bytes(tensors=[("t", tuple(dims), ggml_type, offset)], data=data))
    load_all(p)


@pytest.fixture(scope="module")
def valid_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("valid")
    rng = np.random.default_rng(1)
    gguf = write_gguf(d / "v.gguf", {"a": (rng.standard_normal((2, 32)), "Q4_0"),
                                     "b": (rng.standard_normal((3, 32)), "Q8_0"),
                                     "c": (np.ones(5, np.float32), None)}).read_bytes()
    header = {"a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
              "b": {"dtype": "BF16", "shape": [4], "data_offsets": [16, 24]}}
    return {"gguf": gguf, "safetensors": safetensors_bytes(header, bytes(range(24)))}


@_settings
@given(kind=st.sampled_from(["gguf", "safetensors"]),
       flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1,
                      max_size=8))
def test_corrupted_headers_loaded_only_model_file_errors(tmp_path, valid_files, kind, flips):
    data = bytearray(valid_files[kind])
    header_end = 400 if kind == "gguf" else len(data) - 24
    for pos, value in flips:
        data[pos % header_end] = value
    p = tmp_path / f"m.{kind}"
    p.write_bytes(bytes(data))
    load_all(p)


# --- the cases the fuzzing found, with their messages ------------------------------------


def error_of(path) -> str:
    clear_cache()
    with pytest.raises(ModelFileError) as e:
        model = load_model(path)
        for name in model.names():
            model.get_tensor(name)
    return e.value.message


def test_zero_size_tensor_with_a_dimension_over_int32(tmp_path):
    header = {"t": {"dtype": "F16", "shape": [0, 2**31], "data_offsets": [0, 0]}}
    p = tmp_path / "z.safetensors"
    p.write_bytes(safetensors_bytes(header))
    assert error_of(p) == (
        'tensor "t" (F16[0, 2147483648]) cannot be loaded: dimension 2147483648 is too '
        "large: a dimension can be at most 2147483647 (2^31 - 1)")


def test_dimension_beyond_int64(tmp_path):
    p = tmp_path / "z.gguf"
    p.write_bytes(gguf_bytes(tensors=[("t", (2**64 - 1, 0), 1, 0)]))
    assert error_of(p) == (
        'tensor "t" (F16[0, 18446744073709551615]) cannot be loaded: dimension '
        "18446744073709551615 is too large: a dimension can be at most 2147483647 (2^31 - 1)")


def test_too_many_dimensions(tmp_path):
    header = {"t": {"dtype": "F16", "shape": [1] * 100, "data_offsets": [0, 2]}}
    p = tmp_path / "r.safetensors"
    p.write_bytes(safetensors_bytes(header, b"\0\0"))
    assert error_of(p) == (
        'tensor "t" (F16[1, 1, 1, 1, 1, 1, 1, 1, ...] (100 dimensions)) cannot be loaded: it '
        "has 100 dimensions, at most 64 are supported")


def test_integer_of_5000_digits_in_the_header(tmp_path):
    blob = b'{"t": {"dtype": "F16", "shape": [' + b"9" * 5000 + b'], "data_offsets": [0, 2]}}'
    p = tmp_path / "d.safetensors"
    p.write_bytes(raw_safetensors(blob, b"\0\0"))
    assert error_of(p) == ("SafeTensors header is not valid: it holds an integer of more "
                           "than 4300 digits")


def test_size_mismatch_of_giant_shape_is_short(tmp_path):
    shape = [10**30] * 20
    blob = json.dumps({"t": {"dtype": "F16", "shape": shape, "data_offsets": [0, 2]}})
    p = tmp_path / "g.safetensors"
    p.write_bytes(raw_safetensors(blob.encode(), b"\0\0"))
    message = error_of(p)
    assert message.startswith('tensor "t": shape [1000000000000000000000000000000, ')
    assert message.endswith("] (20 dimensions) of F16 needs 200000...000 (601 digits) bytes, but "
                            "data_offsets [0, 2] hold 2")


def test_quantized_tensor_of_no_dimensions(tmp_path):
    p = tmp_path / "s.gguf"
    p.write_bytes(gguf_bytes(tensors=[("t", (), 2, 0)], data=bytes(18)))  # Q4_0, block 32
    assert error_of(p) == "tensor \"t\": row length 1 is not a multiple of the Q4_0 block size 32"
