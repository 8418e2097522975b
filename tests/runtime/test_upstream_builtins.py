"""Built-ins of the original TensorLogic (UPSTREAM.md), each against its formula in NumPy,
and through a whole program the checker and the runtime agree on."""

from __future__ import annotations

import math

import mlx.core as mx
import numpy as np
import pytest

from tests.runtime.test_runtime_ops import close, f16, mxa, rope_ref
from tl_core.check import analyze
from tl_core.diagnostics import Severity
from tl_core.runtime import Session, ops, ops_compat
from tl_core.runtime.errors import AssertionFailed, OpError


def test_arange_and_range_with_two_bounds(ctx):
    a = ops.op_arange(ctx, 3, 8)  # float32, as the original (UPSTREAM.md 3.4)
    assert a.dtype == mx.float32 and a.tolist() == list(range(3, 8))
    assert ops.op_arange(ctx, 4097, 4100).tolist() == [4097, 4098, 4099]  # float16: 4096, 4100
    assert ops.op_arange(ctx, 5, 2).shape == (0,)
    assert list(ops.op_range_i(ctx, 2, 6)) == list(range(2, 6))
    assert list(ops.op_range(ctx, 4)) == [0, 1, 2, 3]


@pytest.mark.parametrize("v", [2.5, -2.5, 0.5, -0.5, 1.49, -3.7, 7, 0.0])
def test_floor_ceil_round_of_numbers(ctx, v):
    """UPSTREAM.md 8: a number gives an int; round is half away from zero."""
    assert ops.op_floor(ctx, v) == math.floor(v) and isinstance(ops.op_floor(ctx, v), int)
    assert ops.op_ceil(ctx, v) == math.ceil(v)
    assert ops.op_round(ctx, v) == int(math.copysign(math.floor(abs(v) + 0.5), v))


def test_floor_ceil_round_of_tensors(ctx):
    x = np.array([2.5, -2.5, 0.49, -1.5, 3.75])
    close(ops.op_floor(ctx, mxa(x)), np.floor(x))
    close(ops.op_ceil(ctx, mxa(x)), np.ceil(x))
    close(ops.op_round(ctx, mxa(x)), np.sign(x) * np.floor(np.abs(x) + 0.5))


def test_gather_and_scatter_follow_pytorch(ctx):
    x = f16(3, 4)
    idx = np.array([[2, 0, 1, 2], [0, 0, 2, 1]])
    close(ops.op_gather(ctx, mxa(x), 0, mx.array(idx)), np.take_along_axis(x, idx, 0))
    idx1 = np.array([[3, 0], [1, 1], [0, 2]])
    # float index tensors (the original's) are truncated to positions
    close(ops.op_gather(ctx, mxa(x), 1, mxa(idx1.astype(float))), np.take_along_axis(x, idx1, 1))
    src = f16(3, 2)
    want = x.copy()
    np.put_along_axis(want, idx1, src, 1)
    close(ops.op_scatter(ctx, mxa(x), 1, mx.array(idx1), mxa(src)), want)
    with pytest.raises(OpError, match="index 4 is out of range for dimension 1"):
        ops.op_gather(ctx, mxa(x), 1, mx.array(np.array([[4]] * 3)))


def test_to_int_get_and_strings(ctx):
    assert [ops.op_to_int(ctx, v) for v in (7, -2.9, 3.9, mx.array([5.7]))] == [7, -2, 3, 5]
    assert ops.op_get(ctx, [10, 20, 30], -1) == 30
    assert ops.op_get(ctx, mx.array([4, 5, 6], dtype=mx.int32), 1) == 5
    with pytest.raises(OpError, match="index 3 is out of range for length 3"):
        ops.op_get(ctx, [1, 2, 3], 3)
    assert ops.op_string_length(ctx, "日本") == len("日本".encode()) == 6
    assert ops.op_len(ctx, "日本") == 6
    assert ops.op_string_substring(ctx, "héllo wörld", 1, 4) == "héllo wörld"[1:5]
    assert ops.op_string_substring(ctx, "abc", 2, 10) == "c"


def test_assert_about_eq(ctx):
    ops.op_assert_about_eq(ctx, mxa(np.array([1.0, 2.0])), mxa(np.array([1.0, 2.01])), 0.05)
    ops.op_assert_about_eq(ctx, 1.0, 1.0004, 0.001)
    with pytest.raises(AssertionFailed, match="differ by 0.5 at flat index 1"):
        ops.op_assert_about_eq(ctx, mxa(np.array([1.0, 2.0])), mxa(np.array([1.0, 2.5])),
                               0.1)


def test_positional_encoding_formula(ctx):
    """UPSTREAM.md 10.6: angle = pos / 10000^(i / d_model) for every column i."""
    n, d = 6, 5
    pos, i = np.arange(n)[:, None], np.arange(d)[None, :]
    ang = pos / 10000 ** (i / d)
    close(ops.op_positional_encoding(ctx, n, d), np.where(i % 2 == 0, np.sin(ang), np.cos(ang)))


def test_padding_and_combined_masks(ctx):
    lengths = np.array([2.0, 4.0, 0.0])
    want = (np.arange(5)[None, :] < lengths[:, None]).astype(float)
    m = ops.op_padding_mask(ctx, mxa(lengths), 5)
    close(m, want)
    close(ops.op_combine_masks(ctx, m, ops.op_causal_mask(ctx, 5)[:3]),
          want * np.tril(np.ones((5, 5)))[:3])


def test_rope_tables_and_rope_with_them(ctx):
    """UPSTREAM.md 11.2-11.3 with the per-pair frequency the original meant: the tables
    hold each angle twice, and rope(x, cos, sin) equals rope(x) at the same base."""
    hd, n, base = 8, 7, 500.0
    t, k = np.arange(n)[:, None], np.arange(hd)[None, :] // 2
    ang = t * base ** (-2.0 * k / hd)
    cos, sin = ops.op_precompute_rope_cos(ctx, hd, n, base), ops.op_precompute_rope_sin(ctx, hd, n, base)
    close(cos, np.cos(ang))
    close(sin, np.sin(ang))
    x = f16(5, 3, hd)
    close(ops.op_rope(ctx, mxa(x), cos, sin), rope_ref(x, base, 0, False), rtol=1e-2, atol=1e-2)
    close(ops.op_rope(ctx, mxa(x), cos, sin, halves=True), rope_ref(x, base, 0, True),
          rtol=1e-2, atol=1e-2)
    with pytest.raises(OpError, match="rope\\(x, cos, sin\\) needs"):
        ops.op_rope(ctx, mxa(f16(9, 3, hd)), cos, sin)  # 9 positions, 7 table rows


def test_fused_helpers(ctx):
    a, b, w = f16(4, 3), f16(4, 3), f16(3, 5)
    close(ops.op_fused_add_relu(ctx, mxa(a), mxa(b)), np.maximum(a + b, 0))
    close(ops.op_fused_mul_relu(ctx, mxa(a), mxa(b)), np.maximum(a * b, 0))
    close(ops.op_fused_affine(ctx, mxa(a), mxa(b), 0.5), a * b + 0.5)
    gelu = 0.5 * a * (1 + np.tanh(math.sqrt(2 / math.pi) * (a + 0.044715 * a**3)))
    bias = f16(5)
    close(ops.op_fused_gelu_linear(ctx, mxa(a), mxa(w), mxa(bias)), gelu @ w + bias,
          rtol=1e-2, atol=1e-2)


PROGRAM = """
let r = range_i(2, 5)
let a = arange(1, 4)
let g = gather([[1.0, 2.0], [3.0, 4.0]], 1, tensor<int>([[1, 0], [0, 0]]))
let pe = positional_encoding(4, 6)
let c = precompute_rope_cos(8, 4, 10000.0)
let s = precompute_rope_sin(8, 4, 10000.0)
let q = rope(ones([4, 2, 8]), c, s)
let m = combine_masks(padding_mask(tensor<float16>([1.0, 3.0]), 4), ones([2, 4]))
assert_about_eq(sum(m), 4.0, 0.001)
print(len(r), get(r, -1), a.shape, g.shape, pe.shape, q.shape, m.shape, floor(2.7),
      round(-2.5), to_int(3.9), string_length("日本"), string_substring("hello", 1, 3))
"""


def test_a_program_using_them_checks_clean_and_runs():
    assert [d.message for d in analyze(PROGRAM).diagnostics] == []
    r = Session(device="cpu").run(PROGRAM)
    assert [e.message for e in r.errors] == []
    assert r.stdout == "3 4 [3] [2, 2] [4, 6] [4, 2, 8] [2, 4] 2 -3 3 6 ell\n"


def test_tensor_without_a_type_and_namespaces_that_keep_results(ctx):
    """`tensor(literal)` is `tensor<float16>(literal)`; `f32::NAME` converts only what a
    creation built-in makes (UPSTREAM.md 1.4), in the checker and at run time alike."""
    from tl_core.check import analyze

    src = ("let a = tensor([[1.0, 2.0], [3.0, 4.0]])\nlet z = f32::zeros([2])\n"
           "let s = f32::softmax(a)\nprint(a.dtype, a.shape, z.dtype, s.dtype)")
    an = analyze(src)
    assert [d.message for d in an.diagnostics] == []
    assert [str(an.type_of(item.value)) for item in an.program.items[:3]] == \
        ["float16[2, 2]", "float32[2]", "float16[2, 2]"]
    r = Session(device="cpu").run(src)
    assert [e.message for e in r.errors] == []
    assert r.stdout == "float16 [2, 2] float32 float16\n"


def test_layer_norm_without_affine(ctx):
    x = f16(3, 8)
    want = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5)
    close(ops.op_layer_norm(ctx, mxa(x)), want, rtol=1e-2, atol=1e-2)


def test_layer_norm_takes_the_originals_eps_in_third_place():
    """UPSTREAM.md 9.4: `layer_norm(x, anything, eps)`: a number third is eps (here w
    still scales, with a checker warning that the original ignores it)."""
    x = np.array([[1.0, 2.0, 4.0], [3.0, 5.0, 9.0]], np.float32)
    w = np.array([1.0, 2.0, 3.0], np.float32)
    plain = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 0.5)
    src = ("let x = f32::from_array([1.0, 2.0, 4.0, 3.0, 5.0, 9.0], [2, 3])\n"
           "let w = f32::from_array([1.0, 2.0, 3.0])\n"
           "let a = layer_norm(x, w, 0.5)\nlet b = layer_norm(x, w: w, b: w, eps: 0.5)\n"
           "let c = layer_norm(x, w)\n")
    notes = [(d.severity, d.message) for d in analyze(src, "/tmp/ln.tl").diagnostics]
    warning = ("layer_norm(x, w, ...) scales by w here; the original TensorLogic ignores its "
               "second argument (its layer_norm has no scale or shift); write w: to say you "
               "mean the scale")
    assert notes == [(Severity.WARNING, warning)] * 2
    assert list(Session(device="cpu").run(src).errors) == []
    got = ops.op_layer_norm(None, mx.array(x), mx.array(w), 0.5)
    np.testing.assert_allclose(np.array(got), plain * w, rtol=1e-5, atol=1e-5)
    got = ops.op_layer_norm(None, mx.array(x), mx.array(w), mx.array(w), 0.5)
    np.testing.assert_allclose(np.array(got), plain * w + w, rtol=1e-5, atol=1e-5)


def test_input_reads_the_terminal_in_tl_run_and_is_an_error_in_a_session(tmp_path):
    import subprocess
    import sys

    prog = tmp_path / "ask.tl"
    prog.write_text('let name = input("name? ")\nprint("hello {}", name)\n')
    out = subprocess.run([sys.executable, "-m", "tl_core.cli", "run", str(prog), "--device",
                          "cpu"], input="Ada  \n", capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "name? hello Ada\n"
    r = Session(device="cpu").run('let name = input("name? ")')
    assert [e.message for e in r.errors] == [
        'input() needs a terminal, and this run has none (an editor or kernel run); give the '
        'value in the program, or read it with env("NAME")']


VECTORS = """
let v = IntVec::new()
v.push(3)
v.push(4)
let w = v
w.push(5)
print(len(v), get(v, -1), v.pop(), v.is_empty(), v)
let f = FloatVec::new()
f.push(2)
f.set(0, 2.5)
let s = StringVec::new()
s.push("a")
print(f, s, s.pop(), s.is_empty())
v.clear()
print(v.is_empty(), len(v))
"""


def test_vectors_are_shared_mutable_lists():
    """UPSTREAM.md 16.2: `T::new()`, push/pop/set/clear/is_empty, len/get, shared."""
    from tl_core.check import analyze

    assert [d.message for d in analyze(VECTORS).diagnostics] == []
    r = Session(device="cpu").run(VECTORS)
    assert [e.message for e in r.errors] == []
    # every argument is evaluated before any is shown, so s is already empty (shared)
    assert r.stdout == "3 5 5 false Vec[3, 4]\nVec[2.5] Vec[] a true\ntrue 0\n"


@pytest.mark.parametrize(("src", "checker", "runtime"), [
    ('let v = IntVec::new()\nv.push(1.5)', "IntVec holds int values, found float",
     "IntVec holds int values, found float"),
    ('let v = IntVec::new()\nv.append(1)', "IntVec has no method 'append'; methods: push, pop, "
     "set, clear, is_empty", "IntVec has no method 'append'; methods: push, pop, set, clear, "
     "is_empty"),
    ("let v = BoolVec::new()\nv.pop()", None, "BoolVec.pop() called on an empty vector"),
    ("let v = IntVec::new()\nv.set(0, 1)", None, "index 0 is out of range for length 0"),
])
def test_vector_errors(src, checker, runtime):
    from tl_core.check import analyze

    got = [d.message for d in analyze(src).diagnostics]
    assert got == ([checker] if checker else [])
    r = Session(device="cpu").run(src)
    assert [e.message for e in r.errors] == [runtime]


def test_dropout_batch_norm_and_apply_mask(ctx):
    """The original's stubs with their standard meaning."""
    x = np.ones((200, 50))
    mx.random.seed(3)
    y = np.array(ops.op_dropout(ctx, mxa(x), 0.25).astype(mx.float32))
    kept = y != 0
    assert set(np.unique(y)) <= {0.0, float(np.float16(1 / 0.75))}  # kept: scaled by 1/(1-p)
    assert abs(1 - kept.mean() - 0.25) < 0.02  # about p of them dropped (10,000 draws)
    close(ops.op_dropout(ctx, mxa(x[:3]), 0.5, False), x[:3])
    b, g, be = f16(6, 4), f16(4), f16(4)
    want = (b - b.mean(0)) / np.sqrt(b.var(0) + 1e-5) * g + be
    close(ops.op_batch_norm(ctx, mxa(b), mxa(g), mxa(be)), want, rtol=2e-2, atol=2e-2)
    s, m = f16(3, 3), np.tril(np.ones((3, 3)))
    close(ops.op_apply_mask(ctx, mxa(s), mxa(m)), np.where(m == 0, -10000.0, s))


def test_softmax_axis_rule_warns_where_the_original_differs(ctx):
    """softmax honours dim (ours); a positional dim other than the last axis, which the
    original ignores, gets a warning instead of silently different numbers."""
    from tl_core.check import analyze

    src = ("let x = randn([2, 3])\nlet a = softmax(x, 0)\nlet b = softmax(x, dim: 0)\n"
           "let c = softmax(x, 1)\nlet d = x.softmax(-2)\nprint(a, b, c, d)")
    got = [(d.span.line, d.code, d.message) for d in analyze(src).diagnostics]
    assert got == [
        (1, "compat", "softmax(x, 0) runs along axis 0 here; the original TensorLogic ignores "
                      "this argument and always uses the last axis; write dim: 0 to say you "
                      "mean axis 0"),
        (4, "compat", "softmax(x, -2) runs along axis 0 here; the original TensorLogic ignores "
                      "this argument and always uses the last axis; write dim: -2 to say you "
                      "mean axis 0")]
    x = f16(2, 3)
    e = np.exp(x - x.max(0, keepdims=True))
    close(ops.op_softmax(ctx, mxa(x), 0), e / e.sum(0, keepdims=True))


def test_linear_takes_the_originals_full_bias_and_embedding_one_id(ctx):
    """UPSTREAM.md 9.2: the original's bias is [m, out]; 9.7: one Integer id gives [1, dim]."""
    from tl_core.check import analyze

    x, w, bias = f16(4, 3), f16(2, 3), f16(4, 2)
    close(ops.op_linear(ctx, mxa(x), mxa(w), mxa(bias)), x @ w.T + bias, rtol=1e-2, atol=1e-2)
    with pytest.raises(OpError, match="should be \\[2\\] \\(or broadcast to the result"):
        ops.op_linear(ctx, mxa(x), mxa(w), mxa(f16(3, 2)))
    table = f16(5, 3)
    close(ops.op_embedding(ctx, mxa(table), 3), table[[3]])
    a = analyze("let t = randn([5, 3])\nlet e = embedding(t, 3)\n"
                "let y = linear(randn([4, 3]), randn([2, 3]), randn([4, 2]))\nprint(e, y)")
    assert [d.message for d in a.diagnostics] == []
    assert [str(a.type_of(it.value)) for it in a.program.items[1:3]] == \
        ["float16[1, 3]", "float16[4, 2]"]


def test_create_cache_and_append_rows():
    """UPSTREAM.md 14.5: `Tensor::create_cache(max_len, rest)` is f32 [0, *rest]; `append`
    adds rows along axis 0 (a row or a block of rows), "Cache overflow" past max_len."""
    from tl_core.check import analyze

    src = ("let c = Tensor::create_cache(3, [2])\nlet d = c.append([[1.0, 2.0]])\n"
           "let e = d.append([3.0, 4.0])\nlet f = append(e, [[5.0, 6.0]])\n"
           "let t: float32[3, 2] = f\nprint(c.shape, c.dtype, f.dtype)\nf\n")
    assert [d.message for d in analyze(src).diagnostics] == []
    r = Session(device="cpu").run(src)
    assert [e.message for e in r.errors] == []
    assert r.stdout == "[0, 2] float32 float32\n"
    s = Session(device="cpu")
    s.run(src)
    np.testing.assert_array_equal(np.array(s.interpreter.globals.vars["f"]),
                                  np.arange(1.0, 7.0, dtype=np.float32).reshape(3, 2))
    # a plain tensor has no capacity; its rows keep its dtype
    r = Session(device="cpu").run("let x = tensor([[1.0]])\nprint(x.append([[2.0], [3.0]]))")
    assert r.stdout == "tensor([[1],\n        [2],\n        [3]], float16[3, 1], cpu)\n"


@pytest.mark.parametrize(("src", "checker", "runtime"), [
    ("let c = Tensor::create_cache(3, [2])\nlet d = c.append([[1.0, 2.0, 3.0]])",
     "append: the rows must be 1-D or 2-D with the trailing shape of float32[0, 2], found "
     "float32[1, 3]", None),
    ("let c = Tensor::create_cache(1, [2])\nlet d = c.append([[1.0, 2.0], [3.0, 4.0]])",
     None, "Cache overflow: 0 rows + 2 would exceed the capacity of 1 "
           "(Tensor::create_cache's max_len)"),
    ("let c = Tensor::create_cache(-1, [2])", "max_len must be non-negative; found -1", None),
])
def test_append_errors(src, checker, runtime):
    from tl_core.check import analyze

    got = [d.message for d in analyze(src).diagnostics if d.severity.value == "error"]
    assert got == ([checker] if checker else [])
    r = Session(device="cpu").run(src)
    assert [e.message for e in r.errors] == [runtime or checker]


def test_gelu_is_the_originals_tanh_form_and_the_exact_one_by_keyword(ctx):
    """UPSTREAM.md 8: the original's gelu is 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3)));
    `approximate: "none"` is the erf form (float32 inputs: the forms differ by ~1e-3)."""
    x = np.linspace(-4, 4, 41, dtype=np.float32)
    tanh_form = 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    erf_form = 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))
    assert np.abs(tanh_form - erf_form).max() > 1e-4
    got = np.array(ops.op_gelu(ctx, mx.array(x)))
    np.testing.assert_allclose(got, tanh_form, rtol=1e-5, atol=1e-6)
    got = np.array(ops.op_gelu(ctx, mx.array(x), approximate="none"))
    np.testing.assert_allclose(got, erf_form, rtol=1e-5, atol=1e-6)
    with pytest.raises(OpError, match='approximate must be "tanh" or "none", found "erf"'):
        ops.op_gelu(ctx, mx.array(x), approximate="erf")


def test_from_array_makes_the_namespaces_dtype_from_the_literals_digits():
    """`f32::from_array(data, shape?)`: float32 rounded once from the digits (not through
    float16), reshaped when a shape is given; checker and runtime agree on a bad shape."""
    from tl_core.check import analyze

    src = "let a = f32::from_array([0.1, 0.2, 0.3], [3, 1])\nlet b = f16::from_array([0.1])\n"
    assert [d.message for d in analyze(src).diagnostics] == []
    s = Session(device="cpu")
    assert [e.message for e in s.run(src).errors] == []
    a = s.interpreter.globals.vars["a"]
    assert a.dtype == mx.float32 and a.shape == (3, 1)
    np.testing.assert_array_equal(np.array(a).ravel(), np.array([0.1, 0.2, 0.3], np.float32))
    assert s.interpreter.globals.vars["b"].dtype == mx.float16
    bad = "let a = f32::from_array([1.0, 2.0, 3.0], [2, 2])"
    msg = "cannot reshape float32[3] (3 elements) to [2, 2] (4 elements)"
    assert [d.message for d in analyze(bad).diagnostics] == [msg]
    assert [e.message for e in Session(device="cpu").run(bad).errors] == [msg]


def test_power_is_left_associative_as_in_the_original():
    """UPSTREAM.md 6.1: every binary level is left-associative, `**` included."""
    from tl_core.check import analyze

    src = "let a = 2 ** 3 ** 2\nlet b = 2.0 ** 0.5 ** 2\nprint(a, b)\n"
    assert [d.message for d in analyze(src).diagnostics] == []
    r = Session(device="cpu").run(src)
    assert r.stdout == f"{(2 ** 3) ** 2} {(2.0 ** 0.5) ** 2!r}\n"  # 64 2.0000000000000004


def test_shapes_may_be_the_originals_tensors_of_sizes():
    """UPSTREAM.md 1.5, 3.1, 4.7: shape and axis arguments are tensors (float16/float32)
    whose values are the sizes, also a 2-D literal `[[2, 3]]`."""
    from tl_core.check import analyze

    src = ("let s = tensor<float32>([2.0, 3.0])\nlet a = zeros(s)\nlet b = zeros([[2, 3]])\n"
           "let c = reshape(ones([6]), s)\nlet d = permute(ones([2, 3]), tensor([1.0, 0.0]))\n"
           "print(a.shape, b.shape, c.shape, d.shape)\n")
    assert [d.message for d in analyze(src).diagnostics if d.severity.value == "error"] == []
    r = Session(device="cpu").run(src)
    assert [e.message for e in r.errors] == []
    assert r.stdout == "[2, 3] [2, 3] [2, 3] [3, 2]\n"
    r = Session(device="cpu").run("let a = zeros(tensor([2.5]))")
    assert [e.message for e in r.errors] == ["expected a shape of integers, found float 2.5 in it"]


CONSTRAINTS = """let x = ones([2, 3]) * 300.0
if not rank(x) == 3 {
    print("rank", rank(x))
}
if not shape(x) == [3, 2] and not norm(x) < 100.0 {
    print("norm", norm(x))
}
let e = 1.0
print(e ≈ 1.0005, e ≈ 1.002, 2 ≈ 2, 2 ≈ 3, not (e ≈ 1.0) or true)
print(x[0, :] ≈ [300.0, 300.5, 299.9995])
let not = 4
let and = not + 1
print(not, and)
"""


def test_the_originals_constraint_words_approx_rank_and_norm():
    """UPSTREAM.md 2 and 17.3: `if not rank(x) == 2 {`, `and`/`or`, `a ≈ b` (1e-3),
    rank and the L2 norm; the words stay names elsewhere."""
    from tl_core.check import analyze

    assert [d.message for d in analyze(CONSTRAINTS).diagnostics] == []
    r = Session(device="cpu").run(CONSTRAINTS)
    assert [e.message for e in r.errors] == []
    x = np.full((2, 3), 300.0, np.float32)
    out = r.stdout.splitlines()
    assert out[0] == "rank 2"
    assert out[1].startswith("norm tensor(")
    assert float(out[1].split("(")[1].split(",")[0]) == pytest.approx(np.linalg.norm(x),
                                                                       rel=1e-6)
    assert out[2] == "true false true false true"
    near = np.abs(np.float16([300.0, 300.0, 300.0]).astype(np.float32)
                  - np.float32([300.0, 300.5, 299.9995])) < 1e-3
    assert out[3] == f"tensor({str(near.tolist()).lower()}, bool[3], cpu)"
    assert out[4] == "4 5"


def test_norm_is_computed_in_float32(ctx):
    x = np.full(1000, 300.0, np.float16)  # the float16 sum of squares would overflow
    assert float(ops_compat.op_norm(ctx, mx.array(x))) == pytest.approx(
        np.linalg.norm(x.astype(np.float64)), rel=1e-6)
    assert ops_compat.op_rank(ctx, 2.5) == 0 and ops_compat.op_rank(ctx, mx.ones((2, 1, 3))) == 3


@pytest.mark.parametrize("src", ["python import numpy as np\nlet a = 1\n",
                                 "let x = ones([2])\nlet y = python.call(\"f\", x)\n"])
def test_python_integration_is_one_clear_error_in_check_and_run(src):
    """UPSTREAM.md 20: compiled out of the original's default build; here never supported."""
    from tl_core.check import analyze
    from tl_core.lang.stubs import PYTHON_INTEGRATION

    assert PYTHON_INTEGRATION.startswith("the original's Python integration (`python import "
                                         "m`, `python.call(\"f\", ...)`) is not supported")
    assert [d.message for d in analyze(src).diagnostics] == [PYTHON_INTEGRATION]
    r = Session(device="cpu").run(src)
    assert [e.message for e in r.errors] == [PYTHON_INTEGRATION]


@pytest.mark.parametrize(("src", "message"), [
    ("let a = KVCache::foo(1)", "KVCache::foo is not a function of KVCache: a cache is made "
                                "with KVCache::new(n), KVCache::new_f16(n) or "
                                "KVCache::new_f32(n)"),
    ("let a = KVCache::zeros([2])", "KVCache::zeros is not a function of KVCache: a cache is "
                                    "made with KVCache::new(n), KVCache::new_f16(n) or "
                                    "KVCache::new_f32(n)"),
    ("let z = f32::zeross([2])", "f32::zeross is not implemented: f32:: calls the built-in of "
                                 "that name (f32::zeros(shape), f32::ones(shape), "
                                 "f32::arange(n) make f32 tensors), and there is no built-in "
                                 "'zeross'; did you mean f32::zeros?"),
    ("print(f16::PI)", "f16::PI is not a value: a path names an associated function, called "
                       "as f16::PI(...); there are no associated constants"),
])
def test_unknown_namespace_calls_are_the_same_error_in_check_and_run(src, message):
    """They passed tl check and stopped tl run with 'not supported yet'."""
    from tl_core.check import analyze

    assert [d.message for d in analyze(src).diagnostics] == [message]
    assert [e.message for e in Session(device="cpu").run(src).errors] == [message]


@pytest.mark.parametrize("src", ["let c = 1.0 + 2.0i",
                                 "for i in range(3) {\n    let c = 2.0i\n    print(c)\n}"])
def test_a_complex_literal_is_a_checker_error_not_two_statements(src):
    """`2.0i` lexes as the number 2.0 and a statement `i`; with `i` a loop variable that
    ran silently as `let c = 2.0`. The original's complex literals were a stub."""
    from tl_core.check import analyze

    assert [d.message for d in analyze(src).diagnostics] == [
        "a number directly followed by the name 'i': complex literals such as 2.0i are not "
        "supported (the original does not implement them either); write an operator between "
        "them (2.0 * i) or, for complex values, two real tensors"]
    assert [d.message for d in analyze("let c = 2.0 * 3.0\nlet d = c\n").diagnostics] == []


@pytest.mark.parametrize(("src", "name"), [
    ("let c = 1.0 + 2.0i", "i"),
    ("for i in range(3) {\n    let c = 2.0i\n    print(c)\n}", "i"),
    ("let x = 3\nlet y = 2x\nprint(y)", "x"),
])
def test_a_number_followed_by_a_name_is_the_same_error_in_check_and_run(src, name):
    """tl run ran `2.0i` as two statements (`let c = 2.0`, then `i`), printing 2 2 2."""
    from tl_core.check import analyze

    message = (f"a number directly followed by the name '{name}': complex literals such as "
               f"2.0i are not supported (the original does not implement them either); write "
               f"an operator between them (2.0 * {name}) or, for complex values, two real "
               f"tensors")
    assert [d.message for d in analyze(src).diagnostics] == [message]
    r = Session(device="cpu").run(src)
    assert [e.message for e in r.errors] == [message] and r.stdout == ""


def test_a_constraints_float_equality_is_within_1e_6():
    """UPSTREAM.md 17.3: in the original's constraints (a condition starting with `not`),
    `rank(x) OP n` and `norm(x) OP v` compare Floats with `==`/`!=` within 1e-6 (Integers
    exactly); a plain `==` is exact (6.1)."""
    from tl_core.runtime.interpreter import CONSTRAINT_TOLERANCE, binary_op

    assert CONSTRAINT_TOLERANCE == 1e-6
    assert 0.1 + 0.2 != 0.3 and binary_op("==", 0.1 + 0.2, 0.3) is False
    assert binary_op("==", 0.1 + 0.2, 0.3, CONSTRAINT_TOLERANCE) is True
    assert binary_op("!=", 0.1 + 0.2, 0.3, CONSTRAINT_TOLERANCE) is False
    assert binary_op("==", 1.0, 1.0 + 2e-6, CONSTRAINT_TOLERANCE) is False
    assert binary_op("==", 2, 3, CONSTRAINT_TOLERANCE) is False
    three = 3.0000004
    src = f"""let x = zeros([1, 1, 1])
let v = [3.0, 4.0]
if not rank(x) == {three!r} {{ print("a false") }} else {{ print("a true") }}
if not norm(v) == 5.0000005 {{ print("b false") }} else {{ print("b true") }}
if not norm(v) == 5.000002 {{ print("c false") }} else {{ print("c true") }}
if not norm(v) != 5.0000005 {{ print("d false") }} else {{ print("d true") }}
if not false and norm(v) == 5.0000005 {{ print("e true") }} else {{ print("e false") }}
let n = 0
while not norm(v) == 5.0000005 {{ n = n + 1 }}
print(n)
print(rank(x) == {three!r}, norm(v) == 5.0000005, 0.1 + 0.2 == 0.3)
"""
    r = Session(device="cpu").run(src)
    assert [e.message for e in r.errors] == []
    norm = float(np.linalg.norm(np.float32([3.0, 4.0])))

    def near(a: float, b: float) -> bool:  # the formula, in float32 for the norm's tensor
        return bool(abs(np.float32(a) - np.float32(b)) < 1e-6)

    expected = [f"a {str(abs(3 - three) < 1e-6).lower()}",
                f"b {str(near(norm, 5.0000005)).lower()}",
                f"c {str(near(norm, 5.000002)).lower()}",
                f"d {str(not near(norm, 5.0000005)).lower()}",
                f"e {str(near(norm, 5.0000005)).lower()}", "0"]
    assert expected[:5] == ["a true", "b true", "c false", "d false", "e true"]
    lines = r.stdout.splitlines()
    assert lines[:6] == expected
    assert lines[6] == "false tensor(false, bool[], cpu) false"  # exact outside constraints


def test_and_or_may_end_a_line():
    """The original's newlines are whitespace (UPSTREAM.md 2), so its constraints may break
    after `and`/`or`; here `and` at the end of a line made the next line a new statement."""
    src = """let v = [3.0, 4.0]
if not rank(v) == 2 and
    norm(v) ≈ 5.0 {
    print("and")
}
if not rank(v) == 1 or // a comment
   norm(v) ≈ 5.0 {
    print("or")
}
let and = 1
let or = and
print(and, or)
"""
    from tl_core.check import analyze

    assert [d.message for d in analyze(src).diagnostics] == []
    r = Session(device="cpu").run(src)
    assert [e.message for e in r.errors] == []
    assert r.stdout.splitlines() == ["and", "or", "1 1"]


@pytest.mark.parametrize(("src", "message"), [
    ("let x = 3\nif not x { }", "not needs a bool, found int"),
    ("let x = 3\nif !x { }", "! needs a bool, found int"),
    ("let s = \"a\"\nlet t = not s", "not needs a bool, found string"),
])
def test_a_not_error_names_the_operator_written(src, message):
    r = Session(device="cpu").run(src)
    assert [e.message for e in r.errors] == [message]


@pytest.mark.parametrize("v", [-7, 7, 0, -2.5, 2.5, -0.0])
def test_abs_of_a_number_keeps_its_kind(ctx, v):
    """UPSTREAM.md 8: abs of an Integer is an Integer, of a Float a Float."""
    got = ops.op_abs(ctx, v)
    assert got == abs(v) and type(got) is type(v)


def test_abs_of_an_int_divides_as_an_int_in_check_and_run():
    src = "let k: int = abs(-7) / 2\nlet f: float = abs(-2.5)\nprint(k, f)\n"
    a = analyze(src, "/tmp/abs.tl")
    assert [d.message for d in a.diagnostics] == []
    assert Session(device="cpu").run(src).stdout == "3 2.5\n"
    with pytest.raises(OpError, match="abs needs a number or a tensor, found bool"):
        ops.op_abs(None, True)


def test_strings_order_lexicographically_as_in_the_original():
    """UPSTREAM.md 6.1: String, String comparisons are lexicographic (Rust's byte order of
    UTF-8, which is Python's code-point order)."""
    pairs = [("abc", "abd"), ("b", "a"), ("é", "z"), ("a", "a"), ("", "a"), ("Z", "a")]
    src = "".join(f'print("{a}" < "{b}", "{a}" <= "{b}", "{a}" > "{b}", "{a}" >= "{b}")\n'
                  for a, b in pairs)
    assert [d.message for d in analyze(src, "/tmp/s.tl").diagnostics] == []
    want = "".join(" ".join(str(v).lower() for v in (
        a.encode() < b.encode(), a.encode() <= b.encode(), a.encode() > b.encode(),
        a.encode() >= b.encode())) + "\n" for a, b in pairs)
    assert Session(device="cpu").run(src).stdout == want


def test_a_string_ordered_against_a_number_is_the_same_error_in_check_and_run():
    src = 'let s = "x"\nprint(s < 1)\n'
    message = "string < int: not defined for strings"
    assert [d.message for d in analyze(src, "/tmp/s.tl").diagnostics] == [message]
    assert [d.message for d in Session(device="cpu").run(src).errors] == [message]


def test_a_match_literal_matches_its_own_kind_as_in_the_original():
    """UPSTREAM.md 18.3: an integer pattern matches an Integer only (`1` never matches
    1.0); a float pattern a Float within f64 epsilon."""
    src = """fn kind(v: float) -> string {
    match v {
        1 => "int one",
        1.0 => "float one",
        _ => "other",
    }
}
print(kind(1.0), kind(2.0))
print(match 1 { 1.0 => "float", 1 => "int", _ => "none" })
print(match 0.1 + 0.2 { 0.3 => "within epsilon", _ => "apart" })
print(match 0.3 + 1e-15 { 0.3 => "within epsilon", _ => "apart" })
"""
    assert abs((0.1 + 0.2) - 0.3) < 2.220446049250313e-16 <= abs((0.3 + 1e-15) - 0.3)
    r = Session(device="cpu").run(src)
    assert r.stdout == "float one other\nint\nwithin epsilon\napart\n"


def test_arrays_of_more_than_ten_print_as_the_original():
    """UPSTREAM.md 15.3: an array (or vector) of more than 10 elements prints
    `[first, second, ..., last] (len=N)` with Display (floats lose `.0`, strings unquoted);
    10 or fewer print whole, with Debug."""
    floats = [float(i) for i in range(1, 11)] + [11.5]
    src = ("print(range_i(0, 12))\nprint(range_i(0, 10))\n"
           f"print({floats})\n"
           'print(["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"])\n'
           'print(["a", "b"])\nlet v = IntVec::new()\n'
           "for i in range_i(0, 11) {\n    v.push(i)\n}\nprint(v)\n")
    want = ("[0, 1, ..., 11] (len=12)\n" + str(list(range(10))) + "\n"
            "[1, 2, ..., 11.5] (len=11)\n[a, b, ..., k] (len=11)\n"
            '["a", "b"]\nVec[0, 1, ..., 10] (len=11)\n')
    r = Session(device="cpu").run(src)
    assert list(r.errors) == [] and r.stdout == want


def test_a_namespace_makes_its_dtype_without_rounding_through_float16():
    """`f32::arange(2049, 2052)` was made in float16 and converted: [2048, 2050, 2052]."""
    src = ("let a = f32::arange(2049, 2052)\nlet f = f32::full([2], 2049.0)\n"
           "let h = f16::arange(0, 3)\nlet z = f32::zeros([2])\n"
           "print(a.dtype, f.dtype, h.dtype, z.dtype)\n")
    s = Session(device="cpu")
    r = s.run(src)
    assert list(r.errors) == [] and r.stdout == "float32 float32 float16 float32\n"
    assert s.run("print(to_int(a[0]), to_int(a[2]), to_int(f[1]))").stdout == "2049 2051 2049\n"


def test_squeeze_of_all_ones_is_one_element_as_in_the_original(ctx):
    """UPSTREAM.md 4.4: squeeze without dim removes every size-1 axis; all ones gives [1]."""
    for shape, want in (((1, 1), (1,)), ((1, 3, 1), (3,)), ((1,), (1,)), ((2, 1), (2,))):
        assert ops.op_squeeze(ctx, mx.ones(shape)).shape == want
    r = Session(device="cpu").run("let y = squeeze(ones([1, 1]))\nprint(shape(y), y[0])\n")
    assert list(r.errors) == [] and r.stdout.startswith("[1] ")


def test_the_originals_casts_of_one_element_give_its_value():
    """UPSTREAM.md 6.3: `as f32|f64|float` of a 1-element tensor is its value as a Float
    (an f32 0.1 widened: 0.10000000149011612, never rounded to float16), `as i32|i64|int`
    truncates; on a larger tensor ours converts the dtype (the original refuses)."""
    src = ("let x = f32::from_array([1.0, 0.1, -2.7], [1, 3])\n"
           "let v: float = x[0, 1] as float\nlet s: float = sum(x) as f64\n"
           "let i: int = x[0, 2] as int\nlet o = f32::ones([1, 1]) as i64\n"
           "print(v, s, i, o, x[0, 1] as f32)\nprint((x as f32).dtype, (x as float32).dtype)\n")
    assert [d.message for d in analyze(src, "/tmp/c.tl").diagnostics] == []
    x = np.array([1.0, 0.1, -2.7], np.float32)
    want = f"{float(x[1])} {float(x.sum(dtype=np.float32))} -2 1 {float(x[1])}\n"
    r = Session(device="cpu").run(src)
    assert list(r.errors) == [] and r.stdout == want + "float32 float32\n"


def test_for_over_an_entity_set_literal_as_in_the_original():
    """UPSTREAM.md 17.1: `for v in {a, b}` iterates the names as strings."""
    src = ("entity City = {paris, seoul}\nfor c in {paris, seoul} {\n    print(c + \"!\")\n}\n"
           "for c in City {\n    print(c)\n}\n")
    assert [d.message for d in analyze(src, "/tmp/f.tl").diagnostics] == []
    r = Session(device="cpu").run(src)
    assert list(r.errors) == [] and r.stdout == "paris!\nseoul!\nparis\nseoul\n"


def same_error_in_check_and_run(src: str, message: str) -> None:
    """`tl check` reports one error, `message`, and `tl run` stops with it at its range."""
    (checked,) = analyze(src, "/tmp/same.tl").diagnostics
    r = Session(device="cpu").run(src)
    assert [e.message for e in r.errors] == [checked.message] == [message]
    assert r.errors[0].span == checked.span


@pytest.mark.parametrize("cond", ["m > 0.0", "not m ≈ m"])
def test_a_condition_of_several_values_is_the_same_error_in_check_and_run(cond):
    src = f'let m = f32::from_array([1.0, 2.0], [1, 2])\nif {cond} {{\n    print("x")\n}}\n'
    message = "a condition must be a single value, found bool[1, 2]"
    same_error_in_check_and_run(src, message)


def test_softmax_weighs_non_finite_entries_zero_as_the_originals_kernel(ctx):
    """UPSTREAM.md 9.5: the maximum over the finite entries; -inf, +inf and NaN weigh 0; a
    row with nothing finite is uniform (never NaN)."""
    inf, nan = math.inf, math.nan
    rows = np.array([[-inf, -inf, -inf], [inf, 1.0, 2.0], [nan, 1.0, -inf], [1.0, 2.0, 3.0],
                     [nan, nan, inf]], np.float32)

    def reference(row: np.ndarray) -> np.ndarray:
        fin = np.isfinite(row)
        if not fin.any():
            return np.full(row.shape, 1 / row.size)
        e = np.where(fin, np.exp(np.where(fin, row, 0) - row[fin].max()), 0)
        return e / e.sum()

    want = np.stack([reference(r) for r in rows])
    got = ops.op_softmax(ctx, mx.array(rows))
    np.testing.assert_allclose(np.array(got), want, rtol=1e-6, atol=1e-7)
    got = ops.op_softmax(ctx, mx.array(rows.T.copy()), 0)  # along another axis too
    np.testing.assert_allclose(np.array(got).T, want, rtol=1e-6, atol=1e-7)
    close(ops.op_softmax(ctx, mx.array(rows).astype(mx.float16)), want, rtol=1e-3, atol=1e-3)


WITH = """entity Person
entity City = { paris }
relation Knows(x: entity, y: entity)
Knows(alice, bob)
with Person {
    let n = 2
    print("in", n)
}
let with = 3
print(with)
"""


def test_with_an_entity_type_runs_its_block_as_in_the_original():
    """UPSTREAM.md 17.5: `with T { ... }` runs its statements (`with` stays a name
    elsewhere); both parsers agree; a name that is no entity type is the same error in
    check and run."""
    from tl_core.syntax import parse
    from tl_core.syntax.format import format_text
    from tl_core.syntax.parser import lark_parse_chunk

    assert parse(WITH).program.items == lark_parse_chunk(WITH)[0]
    assert format_text(WITH) == WITH
    assert [d.message for d in analyze(WITH, "/tmp/w.tl").diagnostics] == []
    r = Session(device="cpu").run(WITH)
    assert list(r.errors) == [] and r.stdout == "in 2\n3\n"
    bad = WITH + "with Persn {\n    print(1)\n}\n"
    same_error_in_check_and_run(bad, "with Persn: Persn is not an entity type (declare it with "
                                "`entity Persn`); entity types: City, Person; did you mean "
                                "Person?")


def test_an_int_parameter_takes_a_whole_float_as_in_the_original():
    """UPSTREAM.md 17.2: `int` accepts whole Floats (here made ints: `a / 2` truncates); a
    fractional one is the same error in check and run."""
    src = "fn f(a: int) -> int {\n    return a / 2\n}\nprint(f(5.0), f(-3.0), f(4))\n"
    assert [d.message for d in analyze(src, "/tmp/p.tl").diagnostics] == []
    r = Session(device="cpu").run(src)
    assert list(r.errors) == [] and r.stdout == "2 -1 2\n"
    bad = src + "print(f(2.5))\n"
    same_error_in_check_and_run(bad, "f(): argument 'a' must be int; found float")


def test_range_bounds_may_be_floats_or_one_element_tensors_as_in_the_original(ctx):
    """UPSTREAM.md 3.3/3.4: bounds accept Integer, Float (truncated toward zero) or a
    1-element tensor."""
    assert list(ops.op_range_i(ctx, 3.7)) == [0, 1, 2]
    assert list(ops.op_range_i(ctx, -1.5, 2.9)) == [-1, 0, 1]
    assert list(ops.op_range_i(ctx, mx.array([2.0]))) == [0, 1]
    assert ops.op_arange(ctx, 1.9, 4.2).tolist() == [1, 2, 3]
    src = "let r = range_i(3.7)\nprint(r, len(r), arange(0.5, 2.5))\n"
    assert [d.message for d in analyze(src, "/tmp/r.tl").diagnostics] == []
    assert Session(device="cpu").run(src).stdout == \
        "[0, 1, 2] 3 tensor([0, 1], float32[2], cpu)\n"
