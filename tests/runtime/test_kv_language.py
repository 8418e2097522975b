"""KVCache, token-id append and attention_with_cache as built-ins: the checker's types and
errors, and runs checked against NumPy (concatenation; the per-head reference of
test_kv_attention)."""

from __future__ import annotations

import numpy as np

from tests.runtime.test_kv_attention import ref_attention
from tl_core import ide
from tl_core.check import analyze
from tl_core.runtime import Session


def run(text: str) -> str:
    r = Session(device="cpu").run(text)
    assert [d.message for d in r.errors] == []
    return r.stdout


def test_cache_methods_accumulate_like_concat():
    out = run(
        "let c = KVCache::new_f32(2)\nprint(c)\n"
        "c.append(1, tensor<float32>([[1.0, 2.0]]), tensor<float32>([[3.0, 4.0]]))\n"
        "append(c, 1, tensor<float32>([[5.0, 6.0], [7.0, 8.0]]), zeros([2, 2]))\n"
        "print(c.get_k(1))\nprint(get_v(c, 1).shape)\n"
        "c.set(1, ones([1, 2]), ones([1, 2]))\nprint(c.get_k(1).shape)\n")
    lines = out.splitlines()
    assert lines[0] == "<KVCache: 2 layers>"
    got = np.array([float(v) for v in out.split("tensor(")[1].split("]],")[0]
                    .replace("[", "").replace("]", "").replace(",", " ").split()])
    np.testing.assert_array_equal(got, [1, 2, 5, 6, 7, 8])
    assert "float32[3, 2]" in out and lines[-2:] == ["[3, 2]", "[1, 2]"]


def test_token_ids_append():
    out = run("let ids = int_to_tokenids(5)\nlet more = append(append(ids, 7), 2.9)\n"
              "print(more)\n")
    assert out.strip() == "tensor([5, 7, 2], int32[3], cpu)"


def test_attention_builtin_matches_numpy():
    rng = np.random.default_rng(3)

    def draw(*shape: int) -> np.ndarray:
        # float16-exact values: a nested literal passes through float16 on its way in
        return rng.standard_normal(shape).astype(np.float16).astype(np.float32)

    q, k, v, w = draw(2, 6, 4), draw(5, 2, 4), draw(5, 2, 4), draw(3, 24)

    def lit(a: np.ndarray) -> str:
        return f"tensor<float32>({a.tolist()})"

    s = Session(device="cpu")
    r = s.run(f"let out = attention_with_cache({lit(q)}, {lit(k)}, {lit(v)}, {lit(w)}, "
              f"base: 500.0)\n")
    assert [d.message for d in r.errors] == []
    import mlx.core as mx

    found, out = s.interpreter.globals.lookup("out")
    assert found
    got = np.array(out.astype(mx.float32))
    np.testing.assert_allclose(got, ref_attention(q, k, v, w, 500.0), rtol=1e-4, atol=1e-4)


def test_checker_types_and_errors():
    text = ("let c = KVCache::new_f16(2)\nc.append(0, ones([1, 4]), ones([1, 4]))\n"
            "let k = c.get_k(5)\nlet a = attention_with_cache(ones([3, 9, 64]), ones([3, 3, 64]),"
            " ones([3, 3, 64]), ones([576, 576]))\nlet bad = get_k(3, 0)\n")
    a = analyze(text)
    msgs = [d.message for d in a.diagnostics if d.severity.value == "error"]
    assert msgs == ["Layer index 5 out of bounds (cache has 2 layers)",
                    "get_k(): argument 'cache' must be a KVCache (from KVCache::new_f16 or "
                    "KVCache::new_f32); found int"]
    assert "c: KVCache" in ide.hover_at(a, text.index("c =")).markdown
    assert "a: float16[3, 576]" in ide.hover_at(a, text.index("a =")).markdown
    body = "fn f(c: KVCache) -> void {\n    let k = c.get_k(0)\n    print(k)\n}\n"
    fn = analyze(body)  # the annotation gives the parameter its type: methods resolve
    assert "k: float16" in ide.hover_at(fn, body.index("k =")).markdown
