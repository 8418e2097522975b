import numpy as np
import pytest
from safetensors.numpy import save_file


@pytest.fixture
def model_dir(tmp_path):
    """A directory with a small SafeTensors model (float and integer tensors) and a
    sub-folder with a GGUF-named file, for path completion."""
    return write_tiny_model(tmp_path)


def write_tiny_model(tmp_path):
    """`model_dir`'s files, written into `tmp_path` (returned)."""
    save_file({
        "layer.0.weight": np.zeros((2, 3), np.float32),
        "layer.0.bias": np.zeros((2,), np.float32),
        "layer.1.weight": np.zeros((4, 2), np.float16),
        "embed.ids": np.zeros((5,), np.int64),
    }, str(tmp_path / "tiny.safetensors"), metadata={"architecture": "toy"})
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "other.safetensors").write_bytes(
        (tmp_path / "tiny.safetensors").read_bytes())
    (tmp_path / "notes.txt").write_text("not a model")
    return tmp_path
