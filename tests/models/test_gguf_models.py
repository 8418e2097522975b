"""Our GGUF header reader against gguf.GGUFReader (the oracle) on generated files."""

from __future__ import annotations

import struct

import gguf
import mlx.core as mx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.models.builders import gguf_bytes, gguf_string, write_gguf
from tl_core.models import ArrayInfo, ModelFileError, clear_cache, load_tensor, read_header
from tl_core.models.gguf import SMALL_ARRAY


def oracle(path):
    """What gguf.GGUFReader says: tensors (name, shape, type, offset, nbytes), metadata."""
    r = gguf.GGUFReader(path)
    tensors = [
        (t.name, tuple(int(d) for d in t.shape), t.tensor_type.name, int(t.data_offset), int(t.n_bytes))
        for t in r.tensors
    ]
    meta = {}
    for key, field in r.fields.items():
        if key.startswith("GGUF."):
            continue
        if field.types[0] == gguf.GGUFValueType.ARRAY:
            meta[key] = ("array", len(field.data), field.contents() if len(field.data) <= SMALL_ARRAY else None)
        else:
            meta[key] = field.contents()
    return tensors, meta


def ours(path):
    h = read_header(path)
    tensors = [
        (t.name, tuple(reversed(t.shape)), t.dtype, t.offset, t.nbytes) for t in h.tensors.values()
    ]
    meta = {}
    for key, value in h.metadata.items():
        if key in ("format", "architecture", "quantization", "gguf.version"):
            continue
        if isinstance(value, ArrayInfo):
            meta[key] = ("array", value.count, None)
        elif isinstance(value, list):
            meta[key] = ("array", len(value), value)
        else:
            meta[key] = value
    return tensors, meta


def test_generated_file_matches_gguf_reader(tmp_path):
    rng = np.random.default_rng(1)
    kv = {
        "test.u32": 7,
        "test.f32": 0.1,
        "test.bool": True,
        "test.str": "한국어 テキスト",
        "test.small_ints": [1, 2, 3],
        "test.small_strs": ["a", "bé"],
        "test.big_floats": [float(i) / 3 for i in range(1000)],
    }
    tensors = {
        "f32.3d": (rng.standard_normal((2, 3, 32)).astype(np.float32), None),
        "f16": (rng.standard_normal((5, 7)).astype(np.float16), None),
        "i32": (np.arange(6, dtype=np.int32).reshape(2, 3), None),
        "q4_0": (rng.standard_normal((3, 64)), "Q4_0"),
        "q4_1": (rng.standard_normal((3, 64)), "Q4_1"),
        "q8_0": (rng.standard_normal((2, 2, 32)), "Q8_0"),
        "q6_k": (rng.integers(0, 255, (2, 210), dtype=np.uint8), "Q6_K"),
        "scalar_like": (np.ones((1,), np.float32), None),
    }
    path = write_gguf(tmp_path / "gen.gguf", tensors, kv, vocab=500)
    assert ours(path) == oracle(path)
    h = read_header(path)
    assert h.tensors["q8_0"].shape == (2, 2, 32)
    assert h.tensors["q6_k"].shape == (2, 256)
    assert (h.tensors["i32"].dtype, h.tensors["i32"].is_float) == ("I32", False)
    ids = load_tensor(path, "i32").array  # an integer tensor loads as one (issue 16)
    assert ids.dtype == mx.int32 and ids.tolist() == [[0, 1, 2], [3, 4, 5]]
    assert h.tensors["q4_1"].quantization == "Q4_1"
    assert h.tensors["f16"].quantization is None
    tokens = h.metadata["tokenizer.ggml.tokens"]
    assert (tokens.element_type, tokens.count) == ("string", 500)
    assert str(h.metadata["tokenizer.ggml.tokens"]) == "[500 x string]"
    assert h.metadata["format"] == "gguf" and h.metadata["architecture"] == "llama"


def test_version_2_is_read(tmp_path):
    data = gguf_bytes(
        kvs=[("general.architecture", 8, gguf_string("llama"))],
        tensors=[("w", (4, 2), 0, 0)],
        data=b"\0" * 32,
        version=2,
    )
    path = tmp_path / "v2.gguf"
    path.write_bytes(data)
    h = read_header(path)
    assert h.metadata["gguf.version"] == 2
    assert h.tensors["w"].shape == (2, 4)
    assert ours(path) == oracle(path)


def test_custom_alignment(tmp_path):
    kvs = [("general.alignment", 4, struct.pack("<I", 64))]
    data = gguf_bytes(kvs=kvs, tensors=[("a", (4,), 0, 0), ("b", (4,), 0, 64)],
                      data=b"\0" * 80, alignment=64)
    path = tmp_path / "al.gguf"
    path.write_bytes(data)
    assert ours(path) == oracle(path)


def test_changed_file_is_read_again(tmp_path):
    path = write_gguf(tmp_path / "c.gguf", {"a": (np.ones(4, np.float32), None)})
    assert list(read_header(path).tensors) == ["a"]
    write_gguf(path, {"a": (np.ones(4, np.float32), None), "bb": (np.ones(8, np.float32), None)})
    assert list(read_header(path).tensors) == ["a", "bb"]


def test_header_is_cached(tmp_path):
    path = write_gguf(tmp_path / "c.gguf", {"a": (np.ones(4, np.float32), None)})
    first = read_header(path)
    assert read_header(str(path)) is first
    (tmp_path / "sub").mkdir()
    assert read_header(tmp_path / "sub" / ".." / "c.gguf") is first  # keyed by resolved path
    clear_cache()
    assert read_header(path) is not first


_names = st.text(st.characters(min_codepoint=33, max_codepoint=0x2FFF, exclude_categories=("Cs",)),
                 min_size=1, max_size=12)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    kv=st.dictionaries(
        _names.map(lambda s: "k." + s),
        st.one_of(st.integers(0, 2**32 - 1), st.booleans(), st.text(max_size=8),
                  st.lists(st.integers(0, 2**31 - 1), min_size=1, max_size=80)),
        max_size=5,
    ),
    shapes=st.lists(
        st.tuples(st.lists(st.integers(1, 3), min_size=0, max_size=3),
                  st.sampled_from([None, "F16", "Q4_0", "Q4_1", "Q8_0"])),
        max_size=4,
    ),
    vocab=st.sampled_from([0, 3, 70]),
)
def test_random_files_match_gguf_reader(tmp_path_factory, kv, shapes, vocab):
    tensors = {}
    for i, (dims, qtype) in enumerate(shapes):
        shape = (*dims, 32)
        tensors[f"t{i}.weight"] = (np.linspace(-2, 2, int(np.prod(shape)), dtype=np.float32).reshape(shape), qtype)
    path = write_gguf(tmp_path_factory.mktemp("h") / "r.gguf", tensors, kv, vocab=vocab)
    assert ours(path) == oracle(path)


def test_big_endian_is_refused(tmp_path):
    path = tmp_path / "be.gguf"
    path.write_bytes(b"GGUF" + struct.pack(">IQQ", 3, 0, 0))
    with pytest.raises(ModelFileError) as e:
        read_header(path)
    assert e.value.message == "big-endian GGUF files are not supported; use a little-endian conversion"
    assert e.value.offset == 4


def test_concurrent_reads_agree(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    paths = [write_gguf(tmp_path / f"c{i}.gguf", {"a": (np.ones(4 * (i + 1), np.float32), None)},
                        vocab=80) for i in range(3)]

    def read(i):
        clear_cache()
        return read_header(paths[i % 3]).tensors["a"].shape

    with ThreadPoolExecutor(6) as pool:
        shapes = list(pool.map(read, range(60)))
    assert shapes == [(4 * (i % 3 + 1),) for i in range(60)]
