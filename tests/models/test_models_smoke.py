"""First smoke tests of read_header on the real files (fuller tests in the other files)."""

from tests.model_files import minilm_path, smollm2_path
from tl_core.models import read_header


def test_smollm2_header_shapes_are_row_major():
    h = read_header(smollm2_path())
    assert h.format == "gguf"
    t = h.tensors["token_embd.weight"]
    assert (t.shape, t.dtype) == ((49152, 576), "Q8_0")
    assert h.metadata["llama.embedding_length"] == 576


def test_minilm_header():
    h = read_header(minilm_path())
    assert h.format == "safetensors"
    t = h.tensors["embeddings.position_ids"]
    assert (t.shape, t.dtype, t.is_float) == ((1, 512), "I64", False)
