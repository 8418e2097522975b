"""Model navigation at run time, on the real files: `model.blk[0].attn_q.weight` loads the
tensor `blk.0.attn_q.weight` (values against the `gguf` and `safetensors` readers), and
every navigation error reads as the checker's, at the same place."""

from __future__ import annotations

import gguf
import mlx.core as mx
import numpy as np
import pytest
import safetensors.numpy

from tests.model_files import minilm_path, smollm2_path
from tl_core.check import analyze
from tl_core.diagnostics import Severity
from tl_core.runtime import Session


@pytest.fixture(scope="module")
def gguf_reader():
    return gguf.GGUFReader(str(smollm2_path()))


def gguf_reference(reader: gguf.GGUFReader, name: str) -> np.ndarray:
    """A tensor as the `gguf` package reads it, float16, in PyTorch order."""
    t = next(t for t in reader.tensors if t.name == name)
    values = gguf.quants.dequantize(t.data, t.tensor_type)
    return values.reshape(tuple(int(d) for d in reversed(t.shape))).astype(np.float16)


def run(text: str, path=None) -> Session:
    path = path or smollm2_path()
    s = Session(base_dir=path.parent, device="cpu")
    r = s.run(text)
    assert r.errors == (), r.errors
    return s


def value(s: Session, name: str) -> np.ndarray:
    v = s.interpreter.globals.vars[name]
    assert isinstance(v, mx.array)
    return np.array(v)


SMOL = f'model = load_model("{smollm2_path().name}")\n'


def test_gguf_navigation_loads_the_named_tensors(gguf_reader):
    s = run(SMOL + "q = model.blk[0].attn_q.weight\nn = model.output_norm.weight\n"
                   "layer = model.blk[29]\nk = layer.attn_k.weight\nlast = model.blk[-1].ffn_norm.weight\n")
    for var, name in [("q", "blk.0.attn_q.weight"), ("n", "output_norm.weight"),
                      ("k", "blk.29.attn_k.weight"), ("last", "blk.29.ffn_norm.weight")]:
        expected = gguf_reference(gguf_reader, name)
        got = value(s, var)
        assert got.dtype == np.float16 and got.shape == expected.shape, var
        np.testing.assert_array_equal(got, expected, err_msg=var)


def test_token_embedding_shape_and_a_row(gguf_reader):
    s = run(SMOL + "e = model.token_embd.weight\nrow = e[1234]\n")
    assert value(s, "e").shape == (49152, 576)
    np.testing.assert_array_equal(value(s, "row"), gguf_reference(gguf_reader, "token_embd.weight")[1234])


def test_navigation_in_a_loop_equals_get_tensor():
    s = run(SMOL + "total = 0.0\nfor i in range(30) {\n"
                   "    total = total + sum(model.blk[i].attn_norm.weight as float32)\n}\n"
                   "ref = 0.0\nfor i in range(30) {\n"
                   "    ref = ref + sum(model.get_tensor(\"blk.\" + str(i) + \".attn_norm.weight\") "
                   "as float32)\n}\n")
    assert float(value(s, "total")) == float(value(s, "ref"))


def test_safetensors_navigation_loads_the_named_tensors():
    path = minilm_path()
    reference = safetensors.numpy.load_file(str(path))
    s = run(f'bert = load_model("{path.name}")\n'
            "q = bert.encoder.layer[3].attention.self.query.weight\n"
            "b = bert.encoder.layer[3].attention.self.query.bias\n"
            "ln = bert.embeddings.LayerNorm.weight\npos = bert.embeddings.position_ids\n", path)
    np.testing.assert_array_equal(value(s, "q"), reference[
        "encoder.layer.3.attention.self.query.weight"].astype(np.float16))
    np.testing.assert_array_equal(value(s, "b"), reference[
        "encoder.layer.3.attention.self.query.bias"].astype(np.float16))
    np.testing.assert_array_equal(value(s, "ln"), reference[
        "embeddings.LayerNorm.weight"].astype(np.float16))
    assert value(s, "pos").dtype == np.int64
    np.testing.assert_array_equal(value(s, "pos"), np.arange(512)[None, :])


def test_a_group_prints_what_it_holds():
    s = Session(base_dir=smollm2_path().parent, device="cpu")
    r = s.run(SMOL + "print(model.blk[0].attn_q)\nprint(model.blk)\n")
    assert r.errors == ()
    assert r.stdout == "<model group 'blk.0.attn_q': weight>\n<model group 'blk': [0..29]>\n"


@pytest.mark.parametrize("line", [
    "x = model.blk[30].attn_q.weight",
    "x = model.blk[0].attn_qq.weight",
    "x = model.output.weight",
    "x = model.blk[0].attn_q.sum()",
    "x = model.token_embd + 1.0",
    "x = model.blk[0:2]",
    "x = model.token_embd[0]",
    "x = model.blk[1.5]",
    "x = model.names",
    "let layer = model.blk[1]\nx = layer.ffn_upp.weight",
])
def test_run_and_check_report_the_same_error(line):
    text = SMOL + line + "\n"
    checked = [d for d in analyze(text, str(smollm2_path().parent / "x.tl")).diagnostics
               if d.severity == Severity.ERROR]
    r = Session(base_dir=smollm2_path().parent, device="cpu").run(text)
    assert len(checked) == 1 and len(r.errors) == 1, (checked, r.errors)
    assert r.errors[0].message == checked[0].message
    assert r.errors[0].span.start == checked[0].span.start


@pytest.mark.parametrize("loader", ["load_model_f16", "load_model_f32",
                                    "load_weight_cache_gguf_f32"])
def test_the_originals_loaders_read_the_gguf_as_the_gguf_package_does(gguf_reader, loader):
    """UPSTREAM.md 12.1: `load_model_f16(path)` / `load_model_f32(path)` (and the GGUF
    weight cache) navigate like `load_model`; values as the `gguf` package reads them."""
    args = f'"{smollm2_path().name}"' + (", 200" if "cache" in loader else "")
    s = run(f"let m = {loader}({args})\nlet w = m.blk[3].ffn_norm.weight\n"
            "let e = m.token_embd.weight\n")
    w = np.array(s.interpreter.globals.vars["w"])
    np.testing.assert_array_equal(w, gguf_reference(gguf_reader, "blk.3.ffn_norm.weight"))
    assert s.interpreter.globals.vars["e"].shape == (49152, 576)
