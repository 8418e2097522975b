"""Hostile and broken files: every one is a ModelFileError with a message and the byte offset
where reading stopped, with bounded memory, never a hang or another exception."""

from __future__ import annotations

import json
import os
import struct
import threading
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.models.builders import gguf_bytes, gguf_string, safetensors_bytes, write_gguf
from tl_core.models import HEADER_LIMIT, ModelFileError, ModelHeader, clear_cache, read_header


def fail(path) -> ModelFileError:
    with pytest.raises(ModelFileError) as e:
        read_header(path)
    err = e.value
    assert err.message and str(err) == f"{path}: {err.message}"
    assert err.path == str(path)
    return err


def put(tmp_path, name: str, data: bytes):
    p = tmp_path / name
    p.write_bytes(data)
    return p


def small_peak(fn) -> int:
    fn()  # first-time imports are not the reader's memory
    clear_cache()  # read the file again (read_header caches its header or its error)
    tracemalloc.start()
    try:
        fn()
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak


# --- file types ---------------------------------------------------------------------------


def test_empty_file(tmp_path):
    err = fail(put(tmp_path, "e.safetensors", b""))
    assert err.message == "empty file (0 bytes); expected a GGUF, SafeTensors or CoreML model"
    assert err.offset == 0


def test_directory(tmp_path):
    (tmp_path / "d.gguf").mkdir()
    err = fail(tmp_path / "d.gguf")
    assert err.message.startswith("is a directory, not a model file")
    assert err.offset == 0


def test_dev_zero():
    err = fail("/dev/zero")
    assert err.message == (
        "is not a regular file (it is a character device); model files must be regular files"
    )
    assert err.offset == 0


def test_fifo_does_not_block(tmp_path):
    fifo = tmp_path / "p.gguf"
    os.mkfifo(fifo)
    result: list[object] = []
    t = threading.Thread(target=lambda: result.append(_catch(fifo)), daemon=True)
    t.start()
    t.join(10)
    assert not t.is_alive(), "read_header blocked on a FIFO"
    err = result[0]
    assert isinstance(err, ModelFileError)
    assert err.message == (
        "is not a regular file (it is a FIFO (named pipe)); model files must be regular files"
    )


def _catch(path):
    try:
        read_header(path)
    except ModelFileError as exc:
        return exc
    return None


def test_symlink_loop(tmp_path):
    a, b = tmp_path / "a.gguf", tmp_path / "b.gguf"
    os.symlink(b, a)
    os.symlink(a, b)
    err = fail(a)
    assert err.message == "too many levels of symbolic links (a symlink loop?)"
    assert err.offset == 0


def test_missing_file(tmp_path):
    err = fail(tmp_path / "nope.safetensors")
    assert err.message.startswith("no such file")
    assert err.offset is None


def test_unknown_format(tmp_path):
    err = fail(put(tmp_path, "x.bin", b"hello world, not a model"))
    assert err.message == (
        'not a model file: it does not start like a GGUF file (the bytes "GGUF") or a '
        'SafeTensors file (an 8-byte length, then "{"), and its extension is not '
        ".gguf, .safetensors or .mlmodel")
    assert err.offset == 0


SECRET = b"root:$6$saltsalt$hashhashhash:19000:0:99999:7:::\n"


@pytest.mark.parametrize(("name", "message"), [
    ("shadow", "not a model file: it does not start like a GGUF file"),
    ("shadow.gguf", 'not a GGUF file: it does not start with the bytes "GGUF"'),
    ("shadow.safetensors", 'not a SafeTensors file: byte 8 is not "{", the start of its '
                           "JSON header"),
])
def test_a_non_model_file_is_named_not_quoted(tmp_path, name, message):
    """The error says what the file is not, never what it holds (it may be a secret)."""
    err = fail(put(tmp_path, name, SECRET))
    assert err.message.startswith(message)
    for piece in (b"root", b"salt", b"hash", b"19000"):
        assert piece.decode() not in err.message
    little = str(int.from_bytes(SECRET[:8], "little"))
    assert little not in err.message and str(int.from_bytes(SECRET[4:8], "little")) not in \
        err.message


# --- SafeTensors ----------------------------------------------------------------------------


def test_safetensors_header_length_2_64_minus_1(tmp_path):
    p = put(tmp_path, "h.safetensors", struct.pack("<Q", 2**64 - 1) + b"{}")
    peak = small_peak(lambda: fail(p))
    err = fail(p)
    assert err.message == (
        f"SafeTensors header length is {2**64 - 1} bytes, over the header size limit of "
        f"{HEADER_LIMIT} bytes (100 MiB); the file is corrupt or not a SafeTensors file"
    )
    assert err.offset == 0
    assert peak < 1_000_000


def test_safetensors_header_longer_than_file(tmp_path):
    err = fail(put(tmp_path, "h.safetensors", struct.pack("<Q", 1000) + b"{}"))
    assert err.message == (
        "truncated file: the SafeTensors header length says 1000 bytes, but only 2 bytes "
        "follow the length field; the file is incomplete (download it again)"
    )
    assert err.offset == 8


def test_safetensors_shorter_than_length_field(tmp_path):
    err = fail(put(tmp_path, "h.safetensors", b"\x05\x00\x00"))
    assert err.message == (
        "truncated file: the SafeTensors header length needs 8 bytes at byte 0, but the file "
        "ends at byte 3; the file is incomplete or not a model file (download it again)"
    )
    assert err.offset == 0


def _st(tmp_path, header, data=b"\0" * 16):
    return put(tmp_path, "t.safetensors", safetensors_bytes(header, data))


def test_safetensors_unknown_dtype(tmp_path):
    err = fail(_st(tmp_path, {"w": {"dtype": "X99", "shape": [2], "data_offsets": [0, 8]}}))
    assert err.message.startswith('tensor "w": unknown dtype \'X99\' (known: BOOL, U8')
    assert err.offset == 9  # the name's position in the JSON


def test_safetensors_out_of_range(tmp_path):
    err = fail(_st(tmp_path, {"w": {"dtype": "F32", "shape": [8], "data_offsets": [0, 32]}}))
    assert err.message == (
        'tensor "w": data_offsets [0, 32] reach past the end of the data (the data section '
        "holds 16 bytes); the file is truncated or corrupt"
    )


def test_safetensors_overlap(tmp_path):
    header = {
        "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
        "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]},
    }
    err = fail(_st(tmp_path, header))
    start = 8 + len(json.dumps(header)) + 8
    assert err.message == (
        f'tensors "a" and "b" overlap (bytes {start - 8}..{start} and {start - 4}..{start + 4})'
    )


def test_safetensors_shape_size_mismatch(tmp_path):
    err = fail(_st(tmp_path, {"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}))
    assert err.message == (
        'tensor "w": shape [3] of F32 needs 12 bytes, but data_offsets [0, 8] hold 8'
    )


def test_safetensors_negative_offsets(tmp_path):
    err = fail(_st(tmp_path, {"w": {"dtype": "F32", "shape": [2], "data_offsets": [-8, 0]}}))
    assert err.message == (
        'tensor "w": data_offsets must be [begin, end] with 0 <= begin <= end, found [-8, 0]'
    )


def test_safetensors_not_json(tmp_path):
    err = fail(put(tmp_path, "j.safetensors", struct.pack("<Q", 5) + b"{oops"))
    assert err.message == (
        "SafeTensors header is not valid JSON: Expecting property name enclosed in double "
        "quotes at byte 9"
    )
    assert err.offset == 9


def test_safetensors_non_utf8_name(tmp_path):
    blob = b'{"\xff\xfe": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}}'
    err = fail(put(tmp_path, "u.safetensors", struct.pack("<Q", len(blob)) + blob))
    assert err.message == "SafeTensors header is not valid UTF-8 (byte 0xff at byte 10)"
    assert err.offset == 10


# --- GGUF -----------------------------------------------------------------------------------


def test_gguf_tensor_count_2_63(tmp_path):
    p = put(tmp_path, "c.gguf", gguf_bytes(n_tensors=2**63))
    peak = small_peak(lambda: fail(p))
    err = fail(p)
    assert err.message == (
        f"tensor count {2**63} at byte 8 cannot fit in the 8 bytes that follow; the file is "
        f"corrupt"
    )
    assert err.offset == 8
    assert peak < 1_000_000


def test_gguf_kv_count_2_63(tmp_path):
    err = fail(put(tmp_path, "c.gguf", gguf_bytes(n_kv=2**63)))
    assert err.offset == 16
    assert err.message.startswith(f"metadata key/value count {2**63} at byte 16 cannot fit")


def test_gguf_array_count_2_63(tmp_path):
    value = struct.pack("<IQ", 8, 2**63)
    p = put(tmp_path, "c.gguf", gguf_bytes(kvs=[("tokenizer.ggml.tokens", 9, value)]))
    peak = small_peak(lambda: fail(p))
    err = fail(p)
    assert err.message == (
        f'metadata "tokenizer.ggml.tokens": array of {2**63} string elements at byte 61 needs '
        f"at least {2**66} bytes, but only 27 remain in the file; the file is truncated or corrupt"
    )
    assert err.offset == 61
    assert peak < 1_000_000


def test_gguf_key_length_past_end(tmp_path):
    data = b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 2**40) + b"abc" * 10
    err = fail(put(tmp_path, "s.gguf", data))
    assert err.message == (
        f"metadata key 0: string length {2**40} at byte 24 reaches past the end of the file "
        f"(byte 62); the file is truncated or corrupt"
    )
    assert err.offset == 24


def test_gguf_string_in_vocabulary_past_end(tmp_path):
    strings = b"".join(gguf_string(f"t{i}") for i in range(100))
    bad = struct.pack("<Q", 10**6) + b"xx"
    value = struct.pack("<IQ", 8, 101) + strings + bad
    data = gguf_bytes(kvs=[("tokenizer.ggml.tokens", 9, value)])
    err = fail(put(tmp_path, "v.gguf", data))
    bad_at = data.index(bad)
    assert err.message == (
        f'metadata "tokenizer.ggml.tokens"[100]: string length 1000000 at byte {bad_at} '
        f"reaches past the end of the file (byte {len(data)}); the file is truncated or corrupt"
    )
    assert err.offset == bad_at


def test_gguf_string_past_end_in_a_later_block_is_walked_once(tmp_path, monkeypatch):
    """A corrupt length in the second fast-path block of a 10,000-string vocabulary: the
    error names that element, and only its block is walked again with checks (the whole
    array was walked twice: SmolLM2's header with a flipped length cost 2x)."""
    from tl_core.models import gguf as gguf_format

    strings = b"".join(gguf_string(f"t{i}") for i in range(5000))
    bad = struct.pack("<Q", 10**6) + b"xx"
    rest = b"".join(gguf_string(f"u{i}") for i in range(4999))
    value = struct.pack("<IQ", 8, 10000) + strings + bad + rest
    data = gguf_bytes(kvs=[("tokenizer.ggml.tokens", 9, value)])
    walked = []
    checked = gguf_format._Reader._skip_strings_checked

    def spy(self, count, *args):  # noqa: ANN001, ANN202
        walked.append(count)
        return checked(self, count, *args)

    monkeypatch.setattr(gguf_format._Reader, "_skip_strings_checked", spy)
    err = fail(put(tmp_path, "v.gguf", data))
    bad_at = data.index(bad)
    assert err.message == (
        f'metadata "tokenizer.ggml.tokens"[5000]: string length 1000000 at byte {bad_at} '
        f"reaches past the end of the file (byte {len(data)}); the file is truncated or corrupt"
    )
    assert err.offset == bad_at
    assert walked == [4096]  # the second block only (elements 4,096..8,191), not all 10,000


def test_an_error_is_cached_like_a_header(tmp_path, monkeypatch):
    """A file whose bytes are not a model is not read again while its (path, size, mtime)
    stay (the checker asks at every keystroke); a changed file is read again."""
    from tl_core.models import header as header_module

    path = put(tmp_path, "v.gguf", b"GGUF" + struct.pack("<I", 9) + bytes(40))
    reads = []
    real = header_module._read_file
    monkeypatch.setattr(header_module, "_read_file",
                        lambda *a: (reads.append(a[0]), real(*a))[1])
    first, second = fail(path), fail(path)
    assert first.message == second.message == "unknown GGUF version 9 (supported: 2 and 3)"
    assert first.offset == second.offset == 4
    assert len(reads) == 1
    path.write_bytes(b"GGUF" + struct.pack("<I", 1) + bytes(41))  # another size
    assert fail(path).message.startswith("GGUF version 1 (from before August 2023)")
    assert len(reads) == 2


def test_gguf_unknown_ggml_type(tmp_path):
    data = gguf_bytes(tensors=[("w", (4,), 99, 0)], data=b"\0" * 32)
    err = fail(put(tmp_path, "t.gguf", data))
    assert err.message.startswith('tensor "w": unknown ggml type 99 at byte 45 (known: F32, F16')
    assert err.offset == 45


def test_gguf_unknown_value_type(tmp_path):
    data = gguf_bytes(kvs=[("a.b", 77, b"\0" * 8)])
    err = fail(put(tmp_path, "t.gguf", data))
    assert err.message == 'metadata "a.b": unknown GGUF value type 77 at byte 35 (known: 0..12)'
    assert err.offset == 35


def test_gguf_non_utf8_tensor_name(tmp_path):
    data = gguf_bytes(tensors=[(b"w\xff", (4,), 0, 0)], data=b"\0" * 32)
    err = fail(put(tmp_path, "n.gguf", data))
    assert err.message == "the name of tensor 0 is not valid UTF-8 (byte 0xff at byte 33): b'w\\xff'"
    assert err.offset == 33


def test_gguf_non_utf8_key(tmp_path):
    data = gguf_bytes(kvs=[(b"\xc3(", 4, struct.pack("<I", 1))])
    err = fail(put(tmp_path, "n.gguf", data))
    assert err.message == "metadata key 0 is not valid UTF-8 (byte 0xc3 at byte 32): b'\\xc3('"
    assert err.offset == 32


def test_gguf_offset_out_of_range(tmp_path):
    data = gguf_bytes(tensors=[("w", (8,), 0, 64)], data=b"\0" * 32)
    err = fail(put(tmp_path, "o.gguf", data))
    assert err.message == (
        f'tensor "w": data at bytes 128..160 reaches past the end of the file (byte '
        f"{len(data)}); the file is truncated or corrupt"
    )
    assert err.offset == 24


def test_gguf_overlapping_tensors(tmp_path):
    data = gguf_bytes(tensors=[("a", (8,), 0, 0), ("b", (8,), 0, 0)], data=b"\0" * 64)
    err = fail(put(tmp_path, "o.gguf", data))
    assert err.message == 'tensors "a" and "b" overlap (bytes 96..128 and 96..128)'


def test_gguf_version_1(tmp_path):
    err = fail(put(tmp_path, "v.gguf", b"GGUF" + struct.pack("<III", 1, 0, 0)))
    assert err.message.startswith("GGUF version 1 (from before August 2023) is not supported")
    assert err.offset == 4


def test_gguf_too_many_dims(tmp_path):
    data = gguf_bytes(tensors=[("w", (1, 1, 1, 1, 4), 0, 0)], data=b"\0" * 32)
    err = fail(put(tmp_path, "d.gguf", data))
    assert err.message == 'tensor "w": 5 dimensions at byte 33, at most 4 allowed'


def test_gguf_block_size_mismatch(tmp_path):
    data = gguf_bytes(tensors=[("w", (31,), 8, 0)], data=b"\0" * 64)
    err = fail(put(tmp_path, "q.gguf", data))
    assert err.message == 'tensor "w": row length 31 is not a multiple of the Q8_0 block size 32'


# --- truncation at every offset ---------------------------------------------------------------


@pytest.fixture(scope="module")
def valid_gguf(tmp_path_factory):
    rng = np.random.default_rng(0)
    path = write_gguf(
        tmp_path_factory.mktemp("v") / "v.gguf",
        {"a": (rng.standard_normal((2, 32)), "Q8_0"), "b": (np.ones(5, np.float32), None)},
        {"x.y": 3, "x.s": "hé"},
        vocab=70,
    )
    return path.read_bytes()


@pytest.fixture(scope="module")
def valid_safetensors():
    header = {
        "__metadata__": {"k": "v"},
        "a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
        "b": {"dtype": "F16", "shape": [4], "data_offsets": [16, 24]},
    }
    return safetensors_bytes(header, bytes(range(24)))


def test_gguf_truncated_at_every_offset(tmp_path, valid_gguf):
    full = read_header(put(tmp_path, "full.gguf", valid_gguf))
    end = max(t.offset + t.nbytes for t in full.tensors.values())
    for n in range(end):
        p = put(tmp_path, f"t{n}.gguf", valid_gguf[:n])
        err = fail(p)
        assert err.offset is not None and 0 <= err.offset <= n, (n, err)
        p.unlink()


def test_safetensors_truncated_at_every_offset(tmp_path, valid_safetensors):
    for n in range(len(valid_safetensors)):
        p = put(tmp_path, f"t{n}.safetensors", valid_safetensors[:n])
        err = fail(p)
        assert err.offset is not None and 0 <= err.offset <= n, (n, err)
        p.unlink()


# --- mutated headers (hypothesis) -------------------------------------------------------------


def _check_mutant(directory, name: str, data: bytes) -> None:
    p = directory / name
    p.write_bytes(data)
    try:
        h = read_header(p)
    except ModelFileError as err:
        assert err.message
        assert err.offset is not None and 0 <= err.offset <= len(data)
        return
    assert isinstance(h, ModelHeader)
    for t in h.tensors.values():
        assert 0 <= t.offset and t.offset + t.nbytes <= len(data)


_mutations = st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=6)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutations=_mutations, cut=st.one_of(st.none(), st.integers(0, 10**6)), big=st.booleans())
def test_mutated_gguf_headers(tmp_path, valid_gguf, mutations, cut, big):
    data = bytearray(valid_gguf)
    header_end = 2200  # the key/values and tensor infos of this file
    for pos, value in mutations:
        i = pos % header_end
        data[i] = value if not big else 0xFF
    if cut is not None:
        data = data[: cut % len(data)]
    _check_mutant(tmp_path, "m.gguf", bytes(data))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutations=_mutations, cut=st.one_of(st.none(), st.integers(0, 10**6)))
def test_mutated_safetensors_headers(tmp_path, valid_safetensors, mutations, cut):
    data = bytearray(valid_safetensors)
    header_end = len(data) - 24
    for pos, value in mutations:
        data[pos % header_end] = value
    if cut is not None:
        data = data[: cut % len(data)]
    _check_mutant(tmp_path, "m.safetensors", bytes(data))


def test_safetensors_deeply_nested_json(tmp_path):
    blob = b'{"a": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    err = fail(put(tmp_path, "n.safetensors", struct.pack("<Q", len(blob)) + blob))
    assert err.message == "SafeTensors header is not valid: its JSON is nested too deeply"
    assert err.offset == 8


def test_safetensors_lone_surrogate_name(tmp_path):
    blob = b'{"\\udcff": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}}'
    err = fail(put(tmp_path, "s.safetensors", struct.pack("<Q", len(blob)) + blob))
    assert err.message == (
        "tensor name '\\udcff' is not valid Unicode (it escapes a lone surrogate)"
    )


def test_gguf_misaligned_offset(tmp_path):
    data = gguf_bytes(tensors=[("w", (4,), 0, 4)], data=b"\0" * 64)
    err = fail(put(tmp_path, "a.gguf", data))
    assert err.message == 'tensor "w": data offset 4 is not a multiple of the alignment 32'
    assert err.offset == 24


def test_gguf_duplicate_tensor_name(tmp_path):
    data = gguf_bytes(tensors=[("w", (8,), 0, 0), ("w", (8,), 0, 32)], data=b"\0" * 64)
    err = fail(put(tmp_path, "d.gguf", data))
    assert err.message == 'duplicate tensor name "w" at byte 57'
    assert err.offset == 57


def test_gguf_duplicate_key(tmp_path):
    kv = ("a.b", 4, struct.pack("<I", 1))
    err = fail(put(tmp_path, "d.gguf", gguf_bytes(kvs=[kv, kv])))
    assert err.message == 'duplicate metadata key "a.b" at byte 43'
    assert err.offset == 43


def test_gguf_bad_alignment(tmp_path):
    data = gguf_bytes(kvs=[("general.alignment", 4, struct.pack("<I", 24))])
    err = fail(put(tmp_path, "a.gguf", data))
    assert err.message == "general.alignment must be a power of two, found 24"
    assert err.offset == 24


def test_safetensors_header_not_an_object(tmp_path):
    err = fail(put(tmp_path, "l.safetensors", safetensors_bytes([1, 2])))  # type: ignore[arg-type]
    assert err.message == "SafeTensors header must be a JSON object, found list"
    assert err.offset == 8


def test_safetensors_bad_metadata(tmp_path):
    err = fail(_st(tmp_path, {"__metadata__": {"n": 1}}))
    assert err.message == "SafeTensors __metadata__ must be an object of string values"
    assert err.offset == 9


def test_safetensors_entry_not_an_object(tmp_path):
    err = fail(_st(tmp_path, {"w": [1, 2]}))
    assert err.message == 'tensor "w": expected an object with dtype, shape and data_offsets'


def test_header_size_limit(tmp_path, valid_gguf):
    from tl_core.models import gguf as gguf_reader
    from tl_core.models.types import Source

    p = put(tmp_path, "big.gguf", valid_gguf)
    fd = os.open(p, os.O_RDONLY)
    try:
        with pytest.raises(ModelFileError) as e:
            gguf_reader.parse_header(Source(fd, len(valid_gguf), str(p), limit=1000))
    finally:
        os.close(fd)
    assert e.value.message.startswith("header too large: ")
    assert e.value.message.endswith("reaches past the header size limit of 1000 bytes")
    assert e.value.offset < 1000
