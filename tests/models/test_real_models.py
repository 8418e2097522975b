"""The real files: SmolLM2 (GGUF Q4_1) and all-MiniLM-L6-v2 (SafeTensors)."""

from __future__ import annotations

import gguf
import mlx.core as mx
import numpy as np
import pytest
import safetensors.numpy

from tests.model_files import minilm_path, smollm2_path
from tl_core.models import load_model, read_header
from tl_core.models.loader import read_bytes


@pytest.fixture(scope="module")
def smollm2():
    return read_header(smollm2_path())


def test_smollm2_header(smollm2):
    h = smollm2
    assert h.format == "gguf" and len(h.tensors) == 272
    t = h.tensors["token_embd.weight"]
    assert (t.shape, t.dtype, t.quantization) == ((49152, 576), "Q8_0", "Q8_0")
    assert h.tensors["blk.0.ffn_down.weight"].shape == (576, 1536)
    assert h.tensors["blk.0.attn_k.weight"].shape == (192, 576)
    assert h.tensors["blk.0.attn_norm.weight"].dtype == "F32"
    md = h.metadata
    assert md["llama.embedding_length"] == 576
    assert md["llama.block_count"] == 30
    assert md["llama.attention.head_count"] == 9
    assert md["architecture"] == "llama" and md["quantization"] == "Q4_1"
    assert md["tokenizer.ggml.tokens"].count == 49152
    assert md["tokenizer.ggml.merges"].count == 48900
    types = {t.dtype for t in h.tensors.values()}
    assert types == {"Q4_1", "Q8_0", "F32"}


@pytest.mark.slow
def test_smollm2_matches_gguf_reader(smollm2):
    from tests.models.test_gguf_models import oracle, ours

    assert ours(smollm2_path()) == oracle(smollm2_path())


@pytest.mark.slow
def test_smollm2_every_quantized_tensor_matches_gguf_quants(smollm2):
    model = load_model(smollm2_path())
    checked = 0
    for name, info in smollm2.tensors.items():
        if info.quantization not in ("Q4_1", "Q8_0"):
            continue
        raw = np.frombuffer(read_bytes(smollm2, info), np.uint8).reshape(-1, info.nbytes // (info.numel // info.shape[-1]))
        expected = gguf.quants.dequantize(raw, gguf.GGMLQuantizationType[info.quantization])
        loaded = model.get_tensor(name)
        assert loaded.array.shape == info.shape
        assert loaded.overflow == 0
        assert np.array_equal(np.array(loaded.array), expected.reshape(info.shape).astype(np.float16)), name
        model._loaded.clear()  # keep memory flat
        checked += 1
    assert checked == 211


@pytest.mark.slow
def test_minilm_tensors_match_safetensors_numpy():
    path = minilm_path()
    model = load_model(path)
    reference = safetensors.numpy.load_file(str(path))
    assert model.names() and set(model.names()) == set(reference)
    for name in model.names():
        info = model.header.tensors[name]
        assert info.shape == reference[name].shape
        if not info.is_float:
            continue
        loaded = model.get_tensor(name)
        assert np.array_equal(np.array(loaded.array), reference[name].astype(np.float16)), name


def test_minilm_header_and_integer_tensor():
    path = minilm_path()
    h = read_header(path)
    assert h.format == "safetensors" and len(h.tensors) == 104
    assert h.tensors["embeddings.word_embeddings.weight"].shape == (30522, 384)
    assert h.tensors["embeddings.word_embeddings.weight"].dtype == "F32"
    ids = h.tensors["embeddings.position_ids"]
    assert (ids.dtype, ids.is_float) == ("I64", False)
    position_ids = load_model(path).get_tensor("embeddings.position_ids").array
    assert position_ids.dtype == mx.int64
    np.testing.assert_array_equal(np.array(position_ids), np.arange(512)[None, :])


def test_bench_minilm_shaped_file_has_the_real_models_tensors(tmp_path):
    """bench/load.py --minilm-shaped (for a machine without network) loads a file of MiniLM's
    tensors: the same names, types and shapes, in the same order in the file."""
    from bench.load import write_minilm_shaped

    real = read_header(minilm_path())
    write_minilm_shaped(tmp_path / "m.safetensors")
    made = read_header(tmp_path / "m.safetensors")

    def layout(h):
        return [(n, t.dtype, t.shape) for n, t in sorted(h.tensors.items(),
                                                          key=lambda kv: kv[1].offset)]

    assert layout(made) == layout(real)
