"""The original's Candle-backed `cndl_*` built-ins (UPSTREAM.md 21), `append_token`,
`detokenize_incremental`, `cleanup` and the weight caches, each against NumPy or the
built-in it equals, with the checker and the runtime agreeing."""

from __future__ import annotations

import math

import mlx.core as mx
import numpy as np
import pytest

from tests.model_files import smollm2_path
from tl_core.check import analyze
from tl_core.lang.builtins import BUILTINS
from tl_core.runtime import Session  # the interpreter registers every implementation
from tl_core.runtime.errors import OpError

RNG = np.random.default_rng(3)


def f32(*shape: int) -> np.ndarray:
    return RNG.normal(size=shape).astype(np.float32)


def close(got: mx.array, want: np.ndarray, tol: float = 1e-5) -> None:
    np.testing.assert_allclose(np.array(got.astype(mx.float32)), want, rtol=tol, atol=tol)


def test_cndl_math_matches_numpy(ctx):
    a, b = f32(2, 3, 4), f32(2, 4, 5)
    close(BUILTINS["cndl_matmul"].impl()(ctx, mx.array(a), mx.array(b)), a @ b)
    close(BUILTINS["cndl_transpose"].impl()(ctx, mx.array(a), 0, -1), a.swapaxes(0, 2))
    close(BUILTINS["cndl_reshape"].impl()(ctx, mx.array(a), mx.array([4.0, 6.0])),
          a.reshape(4, 6))
    e = np.exp(a - a.max(1, keepdims=True))
    close(BUILTINS["cndl_softmax"].impl()(ctx, mx.array(a), 1), e / e.sum(1, keepdims=True))
    lse = np.log(np.exp(a).sum(-1, keepdims=True))
    close(BUILTINS["cndl_log_softmax"].impl()(ctx, mx.array(a), 2), a - lse)
    tanh_gelu = 0.5 * a * (1 + np.tanh(math.sqrt(2 / math.pi) * (a + 0.044715 * a ** 3)))
    close(BUILTINS["cndl_gelu"].impl()(ctx, mx.array(a)), tanh_gelu)
    close(BUILTINS["cndl_silu"].impl()(ctx, mx.array(a)), a / (1 + np.exp(-a)))
    close(BUILTINS["cndl_relu"].impl()(ctx, mx.array(a)), np.maximum(a, 0))
    close(BUILTINS["cndl_tanh"].impl()(ctx, mx.array(a)), np.tanh(a))


def test_cndl_norms_ignore_their_weights_as_the_original(ctx):
    x, w = f32(3, 8), f32(8)
    mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    close(BUILTINS["cndl_layer_norm"].impl()(ctx, mx.array(x), [8], mx.array(w), mx.array(w)),
          (x - mean) / np.sqrt(var + 1e-5), 1e-4)
    close(BUILTINS["cndl_rms_norm"].impl()(ctx, mx.array(x), mx.array(w)),
          x / np.sqrt((x * x).mean(-1, keepdims=True) + 1e-5), 1e-4)
    src = "let x = tensor<float32>([[1.0, 2.0]])\nlet y = cndl_rms_norm(x, x[0])\n"
    assert [d.message for d in analyze(src).diagnostics] == [
        "cndl_rms_norm ignores w, as the original does (plain normalization over the last "
        "axis); use rms_norm(x, w, eps) to apply it"]


def test_cndl_embedding_and_rope(ctx):
    table = f32(10, 4)
    got = BUILTINS["cndl_embedding"].impl()(ctx, mx.array([3.0, 0.0, 9.0]), mx.array(table))
    close(got, table[[3, 0, 9]])
    x = f32(5, 2, 8)  # [seq, heads, head_dim], halves layout, positions 3..7
    pos = np.arange(3, 8)[:, None, None]
    freq = 500.0 ** (-2 * np.arange(4) / 8)
    ang = pos * freq
    lo, hi = x[..., :4], x[..., 4:]
    want = np.concatenate([lo * np.cos(ang) - hi * np.sin(ang),
                           lo * np.sin(ang) + hi * np.cos(ang)], -1)
    close(BUILTINS["cndl_rope"].impl()(ctx, mx.array(x), 3, 500.0), want, 1e-4)


def test_cndl_files_and_weight_caches(tmp_path):
    src = ("let w = tensor<float32>([[1.0, 2.0], [3.0, 4.0]])\n"
           "cndl_save_safetensor(w, \"one.safetensors\", \"layer.weight\")\n"
           "print(cndl_list_safetensors(\"one.safetensors\"))\n"
           "let back = cndl_load_safetensor(\"one.safetensors\", \"layer.weight\")\n"
           "let m = load_weight_cache_f32(\"one.safetensors\", 8)\n"
           "cndl_save_model_safetensor(m, \"two.safetensors\")\n"
           "let m2 = cndl_load_model_safetensor(\"two.safetensors\")\n"
           "print(m.layer.weight, get_tensor(m2, \"layer.weight\"))\n"
           "cleanup(\"w\", \"m\")\n")
    r = Session(base_dir=tmp_path, device="cpu").run(src)
    assert [e.message for e in r.errors] == []
    assert r.stdout.splitlines()[0] == '["layer.weight"]'
    from safetensors.numpy import load_file

    got = load_file(str(tmp_path / "two.safetensors"))["layer.weight"]
    np.testing.assert_array_equal(got.astype(np.float32), [[1, 2], [3, 4]])
    r = Session(device="cpu").run("cleanup(1)")
    assert [e.message for e in r.errors] == ["cleanup takes names (strings), found int"]


def test_append_token_and_detokenize_incremental(ctx):
    ids = mx.array([5, 7], dtype=mx.int32)
    out = BUILTINS["append_token"].impl()(ctx, ids, 9)
    assert out.tolist() == [5, 7, 9] and out.dtype == mx.int32
    with pytest.raises(OpError, match="append_token takes an int id, found float"):
        BUILTINS["append_token"].impl()(ctx, ids, 9.0)
    src = "let ids = int_to_tokenids(3)\nlet more = ids.append_token(4)\nlet n: int32[2] = more\n"
    assert [d.message for d in analyze(src).diagnostics] == []


def test_detokenize_incremental_decodes_everything_with_special_tokens():
    """The original's detokenize_incremental keeps no state: the whole list, specials kept
    (the SmolLM2 GGUF's tokenizer, read by the `tokenizers`-backed API)."""
    from tl_core.tokenizer import load_tokenizer

    p = smollm2_path()
    tok = load_tokenizer(p)
    ids = tok.tokenize("<|im_start|>user Hi", False)
    src = (f'let tok = load_tokenizer("{p.name}")\n'
           'print(detokenize_incremental(tok, tokenize(tok, "<|im_start|>user Hi", false)))\n')
    r = Session(base_dir=p.parent, device="cpu").run(src)
    assert [e.message for e in r.errors] == []
    assert r.stdout == tok.detokenize(ids, False) + "\n"
    assert r.stdout.startswith("<|im_start|>")


@pytest.mark.parametrize("name", ["transe_score", "sample", "generate", "graph_attention"])
def test_the_originals_stubs_are_errors_saying_so_in_check_and_run(name):
    src = f"let x = ones([3])\nlet y = {name}(x)\n"
    checked = [(d.message, d.span.line, d.span.col) for d in analyze(src).diagnostics]
    assert len(checked) == 1 and checked[0][1:] == (1, 8)
    assert checked[0][0].startswith(f"'{name}' is a stub in the original TensorLogic (calling "
                                    f"it always failed there: not yet implemented)")
    r = Session(device="cpu").run(src)
    assert [(e.message, e.span.line, e.span.col) for e in r.errors] == checked


def test_a_user_function_named_like_a_stub_is_called():
    src = "fn sample(x: float16[?]) -> float16[?] { return x * 2.0 }\nprint(sample(ones([2])))\n"
    assert [d.message for d in analyze(src).diagnostics] == []
    assert Session(device="cpu").run(src).stdout == "tensor([2, 2], float16[2], cpu)\n"
