"""Every built-in's MLX implementation against NumPy in float64 on random inputs."""

from __future__ import annotations

import math

import mlx.core as mx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tl_core.runtime import ops
from tl_core.runtime.errors import AssertionFailed, OpError

RTOL = 4 * 2.0**-10  # a few float16 ulps
ATOL = 2e-3

rng = np.random.default_rng(1234)


def f16(*shape: int, lo: float = -2.0, hi: float = 2.0) -> np.ndarray:
    """Random float16 values, returned as float64 (exactly the values MLX sees)."""
    return rng.uniform(lo, hi, size=shape).astype(np.float16).astype(np.float64)


def mxa(a: np.ndarray) -> mx.array:
    return mx.array(a.astype(np.float16))


def close(got: mx.array, ref: np.ndarray, rtol: float = RTOL, atol: float = ATOL) -> None:
    assert got.dtype == mx.float16, got.dtype
    g = np.array(got.astype(mx.float32)).astype(np.float64)
    assert g.shape == ref.shape, (g.shape, ref.shape)
    err = np.abs(g - ref)
    bound = atol + rtol * np.abs(ref)
    assert np.all(err <= bound), f"max error {err.max()} (ref {ref.flat[np.argmax(err - bound)]})"


# ---------------------------------------------------------------------------
# element-wise, with broadcasting

UNARY = {
    "exp": np.exp,
    "sqrt": np.sqrt,
    "log": np.log,
    "abs": np.abs,
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "tanh": np.tanh,
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "relu": lambda x: np.maximum(x, 0),
    "gelu": lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))),
    "silu": lambda x: x / (1 + np.exp(-x)),
}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_matches_numpy(ctx, name):
    lo = 0.05 if name in ("sqrt", "log") else -2.0
    hi = 1.2 if name == "tan" else 2.0
    x = f16(3, 5, 7, lo=lo, hi=hi)
    close(getattr(ops, f"op_{name}")(ctx, x=mxa(x)), UNARY[name](x))


BINARY = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
          "pow": np.power}


@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize("shapes", [((4, 5), (4, 5)), ((3, 1, 5), (4, 1)), ((5,), (2, 3, 5)),
                                    ((), (3, 2))])
def test_binary_broadcasts_like_numpy(ctx, name, shapes):
    lo = 0.5 if name in ("div", "pow") else -2.0
    a = f16(*shapes[0], lo=lo if name == "pow" else -2.0)
    b = f16(*shapes[1], lo=lo, hi=2.0)
    if name == "pow":
        a = np.abs(a) + 0.25
    got = getattr(ops, f"op_{name}")(ctx, a=mxa(a), b=mxa(b))
    close(got, BINARY[name](np.float16(a).astype(np.float64) if a.ndim == 0 else a, b))


def test_binary_with_python_number_keeps_float16(ctx):
    a = f16(3, 4)
    close(ops.op_mul(ctx, a=mxa(a), b=0.5), a * 0.5)
    close(ops.op_sub(ctx, a=2, b=mxa(a)), 2 - a)


def test_binary_shape_mismatch_message(ctx):
    with pytest.raises(OpError) as e:
        ops.op_add(ctx, a=mx.zeros((4, 3), mx.float16), b=mx.zeros((2, 3), mx.float16))
    assert e.value.message == ("float16[4, 3] + float16[2, 3]: shapes do not broadcast "
                               "(dimension -2: 4 vs 2)")


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(1, 4), min_size=1, max_size=3),
       st.lists(st.booleans(), min_size=3, max_size=3))
def test_add_broadcasting_property(shape, ones):
    # b takes the trailing dims of a, with some of them set to 1: always broadcastable.
    b_shape = tuple(1 if o else d for d, o in zip(shape, ones, strict=False))
    a = f16(*shape)
    b = f16(*b_shape)
    close(ops.op_add(None, a=mxa(a), b=mxa(b)), a + b)


# ---------------------------------------------------------------------------
# matmul, linear, einsum


@pytest.mark.parametrize("sa,sb", [((4, 3), (3, 2)), ((2, 4, 3), (3, 5)), ((3,), (3, 2)),
                                   ((2, 1, 4, 3), (5, 3, 2))])
def test_matmul_matches_numpy(ctx, sa, sb):
    a, b = f16(*sa), f16(*sb)
    close(ops.op_matmul(ctx, a=mxa(a), b=mxa(b)), np.matmul(a, b), rtol=1e-2, atol=1e-2)


def test_matmul_inner_dimension_message(ctx):
    with pytest.raises(OpError) as e:
        ops.op_matmul(ctx, a=mx.zeros((4, 3), mx.float16), b=mx.zeros((2, 3), mx.float16))
    assert e.value.message == ("float16[4, 3] @ float16[2, 3]: inner dimensions 3 and 2 differ; "
                               "did you mean transpose(...) of the right operand?")


def test_linear_pytorch_convention(ctx):
    x, w, b = f16(5, 3), f16(4, 3), f16(4)
    close(ops.op_linear(ctx, x=mxa(x), W=mxa(w), b=mxa(b)), x @ w.T + b,
          rtol=1e-2, atol=1e-2)
    close(ops.op_linear(ctx, x=mxa(x), W=mxa(w)), x @ w.T, rtol=1e-2, atol=1e-2)
    x3 = f16(2, 5, 3)
    close(ops.op_linear(ctx, x=mxa(x3), W=mxa(w), b=mxa(b)), x3 @ w.T + b,
          rtol=1e-2, atol=1e-2)


def test_linear_transposed_weight_message(ctx):
    with pytest.raises(OpError) as e:
        ops.op_linear(ctx, x=mx.zeros((5, 4), mx.float16), W=mx.zeros((4, 3), mx.float16))
    assert e.value.message == ("linear: input float16[5, 4] has 4 features but the weight "
                               "float16[4, 3] expects 3 (weight is [out, in]); the weight looks "
                               "transposed (use x @ W)")
    assert e.value.arg == "W"


def test_einsum_matches_numpy(ctx):
    a, b = f16(3, 4), f16(4, 5)
    close(ops.op_einsum(ctx, "ij,jk->ik", mxa(a), mxa(b)), np.einsum("ij,jk->ik", a, b),
          rtol=1e-2, atol=1e-2)
    x = f16(2, 3, 4)
    close(ops.op_einsum(ctx, "bij->bji", mxa(x)), np.einsum("bij->bji", x))


def test_einsum_operand_count_message(ctx):
    with pytest.raises(OpError) as e:
        ops.op_einsum(ctx, "ij,jk->ik", mx.zeros((2, 2)))
    assert e.value.message == 'einsum "ij,jk->ik" names 2 operands, found 1'


# ---------------------------------------------------------------------------
# reductions and softmax, negative axes


@pytest.mark.parametrize("name,fn", [("sum", np.sum), ("mean", np.mean), ("max", np.max),
                                     ("min", np.min)])
@pytest.mark.parametrize("dim", [None, 0, 1, -1, -3])
@pytest.mark.parametrize("keepdim", [False, True])
def test_reductions(ctx, name, fn, dim, keepdim):
    x = f16(3, 4, 5)
    got = getattr(ops, f"op_{name}")(ctx, x=mxa(x), dim=dim, keepdim=keepdim)
    close(got, np.asarray(fn(x, axis=dim, keepdims=keepdim)), rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize("name,fn", [("argmax", np.argmax), ("argmin", np.argmin)])
@pytest.mark.parametrize("dim", [0, -1])
def test_arg_reductions(ctx, name, fn, dim):
    x = f16(4, 6)
    got = getattr(ops, f"op_{name}")(ctx, x=mxa(x), dim=dim)
    np.testing.assert_array_equal(np.array(got), fn(x, axis=dim))


@pytest.mark.parametrize("dim", [-1, 0, 1, -2])
def test_softmax(ctx, dim):
    x = f16(4, 6, lo=-4, hi=4)
    e = np.exp(x - x.max(axis=dim, keepdims=True))
    close(ops.op_softmax(ctx, x=mxa(x), dim=dim), e / e.sum(axis=dim, keepdims=True))


def test_dim_out_of_range_message(ctx):
    with pytest.raises(OpError) as e:
        ops.op_softmax(ctx, x=mx.zeros((2, 3), mx.float16), dim=2)
    assert e.value.message == ("dimension 2 is out of range for a tensor with 2 dimensions "
                               "(valid: -2 to 1)")


# ---------------------------------------------------------------------------
# NN


def test_rms_norm(ctx):
    x, w = f16(3, 8), f16(8)
    ref = x / np.sqrt((x**2).mean(-1, keepdims=True) + 1e-6) * w
    close(ops.op_rms_norm(ctx, x=mxa(x), w=mxa(w)), ref, rtol=1e-2, atol=1e-2)
    close(ops.op_rms_norm(ctx, x=mxa(x), w=mxa(w), eps=0.5),
          x / np.sqrt((x**2).mean(-1, keepdims=True) + 0.5) * w, rtol=1e-2, atol=1e-2)


def test_layer_norm(ctx):
    x, w, b = f16(2, 3, 8), f16(8), f16(8)
    mu = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)
    close(ops.op_layer_norm(ctx, x=mxa(x), w=mxa(w), b=mxa(b)),
          (x - mu) / np.sqrt(var + 1e-5) * w + b, rtol=1e-2, atol=1e-2)


def test_embedding_and_out_of_range(ctx):
    table = f16(10, 4)
    ids = np.array([3, 0, 9, 3])
    close(ops.op_embedding(ctx, table=mxa(table), ids=mx.array(ids, dtype=mx.int32)), table[ids])
    close(ops.op_embedding(ctx, table=mxa(table), ids=mx.array([-1, 2], dtype=mx.int32)),
          table[[-1, 2]])
    with pytest.raises(OpError) as e:
        ops.op_embedding(ctx, table=mxa(table), ids=mx.array([1, 10], dtype=mx.int32))
    assert e.value.message == "index 10 is out of range for dimension 0 of float16[10, 4] (size 10)"


def test_causal_mask_and_apply(ctx):
    """UPSTREAM.md 10.1-10.2: causal_mask is 1 on and below the diagonal, 0 above;
    apply_attention_mask is scores + (1 - mask) * big_negative, finite for the dtype."""
    m = ops.op_causal_mask(ctx, n=3)
    keep = np.tril(np.ones((3, 3)))
    assert m.dtype == mx.float16
    np.testing.assert_array_equal(np.array(m.astype(mx.float32)), keep)
    s = f16(3, 3)
    got = ops.op_apply_attention_mask(ctx, scores=mxa(s), mask=m)
    want = (s.astype(np.float32) + (1 - keep) * np.float32(-1e4)).astype(np.float16)
    np.testing.assert_array_equal(np.array(got), want)
    assert np.isfinite(np.array(got.astype(mx.float32))).all()  # never -inf / NaN in f16
    s32 = s.astype(np.float32)
    got32 = ops.op_apply_attention_mask(ctx, scores=mx.array(s32), mask=m)
    np.testing.assert_allclose(np.array(got32), s32 + (1 - keep) * np.float32(-1e9), rtol=1e-6)
    got_bool = ops.op_apply_attention_mask(ctx, scores=mxa(s), mask=mx.array(keep > 0))
    np.testing.assert_array_equal(np.array(got_bool), want)
    # a following softmax: masked entries get probability 0, each row sums to 1
    p = np.array(ops.op_softmax(ctx, x=got).astype(mx.float32))
    assert (p[keep == 0] == 0).all()
    np.testing.assert_allclose(p.sum(-1), np.ones(3), rtol=1e-3)


def rope_ref(x: np.ndarray, base: float, offset: int, halves: bool) -> np.ndarray:
    """UPSTREAM.md 11.1 in float64: x is [..., seq, heads, head_dim] (a 2-D x is
    [seq, head_dim]); pair p rotates by (t + offset) * base^(-2p / head_dim)."""
    two_d = x.ndim == 2
    v = x[:, None, :] if two_d else x
    t, d = v.shape[-3], v.shape[-1]
    inv = base ** (-np.arange(0, d, 2) / d)
    ang = (np.arange(t) + offset)[:, None] * inv[None, :]
    cos, sin = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]  # [seq, 1, d/2]
    if halves:
        x1, x2 = v[..., : d // 2], v[..., d // 2:]
        out = np.concatenate([x1 * cos - x2 * sin, x1 * sin + x2 * cos], axis=-1)
    else:
        x1, x2 = v[..., 0::2], v[..., 1::2]
        out = np.empty(v.shape)
        out[..., 0::2] = x1 * cos - x2 * sin
        out[..., 1::2] = x1 * sin + x2 * cos
    return out[:, 0, :] if two_d else out


@pytest.mark.parametrize("shape", [(5, 8), (5, 3, 8), (2, 5, 3, 8)])
def test_rope(ctx, shape):
    x = f16(*shape)
    got = ops.op_rope(ctx, x=mxa(x), base=10000.0, offset=2)
    close(got, rope_ref(x, 10000.0, 2, False), rtol=1e-2, atol=1e-2)
    close(ops.op_rope(ctx, x=mxa(x)), rope_ref(x, 10000.0, 0, False), rtol=1e-2, atol=1e-2)
    close(ops.op_rope(ctx, x=mxa(x), base=500.0, halves=True), rope_ref(x, 500.0, 0, True),
          rtol=1e-2, atol=1e-2)


def test_rope_rotates_along_the_sequence_axis_minus_3(ctx):
    """Position t of [seq, heads, head_dim]: row t of every head turns by the same angle."""
    x = np.ones((4, 2, 2), np.float16)
    got = np.array(ops.op_rope(ctx, x=mxa(x)).astype(mx.float32))
    for t in range(4):
        c, s = np.cos(t), np.sin(t)
        np.testing.assert_allclose(got[t], [[c - s, s + c]] * 2, atol=2e-3)


def test_split_and_chunk_return_every_piece(ctx):
    """UPSTREAM.md 4.10-4.11, all pieces: split by piece size, chunk by count."""
    x = f16(7, 3)
    for size in (1, 2, 3, 7, 9):
        parts = ops.op_split(ctx, x=mxa(x), size=size)
        want = [x[i:i + size] for i in range(0, 7, size)]
        assert len(parts) == len(want)
        for p, w in zip(parts, want, strict=True):
            close(p, w)
    for chunks in (1, 2, 3, 4, 7, 10):
        size = -(-7 // chunks)
        parts = ops.op_chunk(ctx, x=mxa(x.T), chunks=chunks, dim=1)
        want = [x.T[:, i:i + size] for i in range(0, 7, size)]
        assert len(parts) == len(want)
        for p, w in zip(parts, want, strict=True):
            close(p, w)


def test_both_slice_forms(ctx):
    """UPSTREAM.md 5.2: slice(v, start, end) and slice(m, row, start, end)."""
    v, m = f16(10), f16(4, 6)
    close(ops.op_slice(ctx, mxa(v), 2, 5), v[2:5])
    close(ops.op_slice(ctx, mxa(m), 1, 3), m[1:3])
    close(ops.op_slice(ctx, mxa(m), 2, 1, 4), m[2, 1:4])
    close(ops.op_slice(ctx, mxa(m), 0, 2, dim=1), m[:, 0:2])
    with pytest.raises(OpError, match="row 4 is out of range"):
        ops.op_slice(ctx, mxa(m), 4, 0, 2)


def test_slice_last(ctx):
    """UPSTREAM.md 5.3: x[last] along axis 0; a 1-D x gives a 0-d tensor."""
    x = f16(3, 4)
    close(ops.op_slice_last(ctx, x=mxa(x)), x[-1])
    got = ops.op_slice_last(ctx, x=mxa(x[0]))
    assert got.shape == () and float(got.item()) == float(x[0, -1])


def test_rms_norm_default_eps_is_1e_minus_6(ctx):
    x = np.full((1, 4), 1e-3, np.float32)
    w = np.ones(4, np.float32)
    got = ops.op_rms_norm(ctx, x=mx.array(x), w=mx.array(w))
    np.testing.assert_allclose(np.array(got), x / np.sqrt((x * x).mean(-1, keepdims=True) + 1e-6),
                               rtol=1e-5)
    # 1e-5 (the old default) would give a visibly different value at this scale
    assert abs(float(got[0, 0].item()) - 1e-3 / np.sqrt(1e-6 + 1e-5)) > 0.1


# ---------------------------------------------------------------------------
# creation and shape


def test_creation(ctx):
    assert ops.op_zeros(ctx, shape=[2, 3]).shape == (2, 3)
    assert ops.op_ones(ctx, shape=[4]).dtype == mx.float16
    close(ops.op_full(ctx, shape=[2, 2], value=1.5), np.full((2, 2), 1.5))
    a = ops.op_arange(ctx, a=5)  # float32, as the original (UPSTREAM.md 3.4)
    assert a.dtype == mx.float32 and a.tolist() == list(range(5))
    r = ops.op_rand(ctx, shape=[100])
    assert r.dtype == mx.float16 and 0 <= mx.min(r).item() and mx.max(r).item() <= 1
    assert ops.op_randn(ctx, shape=[3, 4]).shape == (3, 4)
    with pytest.raises(OpError) as e:
        ops.op_zeros(ctx, shape=[2, -1])
    assert e.value.message == "shape [2, -1] has a negative dimension"


def test_shape_ops(ctx):
    x = f16(2, 3, 4)
    a = mxa(x)
    assert ops.op_shape(ctx, x=a) == [2, 3, 4]
    assert ops.op_len(ctx, x=a) == 2
    close(ops.op_reshape(ctx, x=a, shape=[6, -1]), x.reshape(6, -1))
    close(ops.op_transpose(ctx, x=mxa(x[0])), x[0].T)
    close(ops.op_permute(ctx, x=a, dims=[2, 0, -2]), x.transpose(2, 0, 1))
    close(ops.op_flatten(ctx, x=a), x.reshape(-1))
    close(ops.op_unsqueeze(ctx, x=a, dim=-1), x[..., None])
    close(ops.op_squeeze(ctx, x=mxa(x[:, :1]), dim=1), x[:, 0])
    close(ops.op_concat(ctx, a=[a, a], b=-1), np.concatenate([x, x], axis=-1))
    close(ops.op_concat(ctx, a=a, b=mxa(x[:1]), dim=0), np.concatenate([x, x[:1]], axis=0))
    close(ops.op_slice(ctx, a, 1, 3, dim=1), x[:, 1:3])
    close(ops.op_slice_last(ctx, x=a, dim=-2), x[:, -1, :])
    close(ops.op_broadcast_to(ctx, x=mxa(x[0, 0]), shape=[3, 4]), np.broadcast_to(x[0, 0], (3, 4)))


def test_shape_op_messages(ctx):
    a = mx.zeros((2, 3), mx.float16)
    cases = [
        (lambda: ops.op_reshape(ctx, x=a, shape=[4, 2]),
         "cannot reshape float16[2, 3] (6 elements) to [4, 2] (8 elements)"),
        (lambda: ops.op_reshape(ctx, x=a, shape=[-1, -1]),
         "reshape to [-1, -1]: only one -1 is allowed"),
        (lambda: ops.op_transpose(ctx, x=mx.zeros((2, 3, 4))),
         "transpose needs a 2-D tensor, found float32[2, 3, 4]; use permute(x, dims) for other "
         "ranks"),
        (lambda: ops.op_squeeze(ctx, x=a, dim=0),
         "squeeze: dimension 0 of float16[2, 3] has size 2, not 1"),
        (lambda: ops.op_split(ctx, x=a, size=0, dim=1),
         "split: the piece size must be positive; found 0"),
        (lambda: ops.op_broadcast_to(ctx, x=a, shape=[4, 3]),
         "cannot broadcast float16[2, 3] to [4, 3]"),
        (lambda: ops.op_concat(ctx, a=[a, mx.zeros((3, 2), mx.float16)], b=0),
         "concat along dimension 0: float16[2, 3] and float16[3, 2] differ in another dimension"),
    ]
    for fn, message in cases:
        with pytest.raises(OpError) as e:
            fn()
        assert e.value.message == message


# ---------------------------------------------------------------------------
# utility


def test_print_str_range_env(ctx, monkeypatch):
    ops.op_print(ctx, "shape:", [4, 2], 3, 0.5, True)
    assert ctx.out == ["shape: [4, 2] 3 0.5 true\n"]
    assert ops.op_str(ctx, x=[1, 2]) == "[1, 2]"
    assert list(ops.op_range(ctx, a=3)) == [0, 1, 2]
    assert list(ops.op_range_i(ctx, a=2)) == [0, 1]
    assert ctx.format(ops.op_range(ctx, a=100)) == "[0, 1, ..., 99] (len=100)"  # UPSTREAM 15.3
    monkeypatch.setenv("TL_TEST_VAR", "hello")
    assert ops.op_env(ctx, name="TL_TEST_VAR") == "hello"
    monkeypatch.delenv("TL_TEST_VAR")
    assert ops.op_env(ctx, name="TL_TEST_VAR") == ""


def test_assert_and_assert_eq(ctx):
    ops.op_assert(ctx, cond=True)
    with pytest.raises(AssertionFailed) as e:
        ops.op_assert(ctx, cond=False, msg="bad")
    assert e.value.message == "assertion failed: bad"
    a = mx.array([1.0, 2.0], dtype=mx.float16)
    ops.op_assert_eq(ctx, a=a, b=mx.array([1.0, 2.0005], dtype=mx.float16))
    with pytest.raises(AssertionFailed) as e:
        ops.op_assert_eq(ctx, a=a, b=mx.array([1.0, 2.5], dtype=mx.float16))
    assert e.value.message.startswith("assert_eq: tensors differ: tensor([1, 2], float16[2], cpu)")
    with pytest.raises(AssertionFailed) as e:
        ops.op_assert_eq(ctx, a=3, b=4)
    assert e.value.message == "assert_eq: 3 != 4"
    assert ops.op_learnable(ctx, t=a) is a


def test_model_ops_round_trip(ctx, tmp_path):
    w = mx.array(np.arange(6, dtype=np.float16).reshape(3, 2))
    m = ops.op_model_from(ctx, **{"layer.0.weight": w})
    assert ops.op_names(ctx, model=m) == ["layer.0.weight"]
    ops.op_save_model(ctx, model=m, path="out.safetensors")
    m2 = ops.op_load_model(ctx, path="out.safetensors")
    got = ops.op_get_tensor(ctx, model=m2, name="layer.0.weight")
    np.testing.assert_array_equal(np.array(got), np.array(w))
    with pytest.raises(OpError) as e:
        ops.op_get_tensor(ctx, model=m2, name="layer.0.weights")
    assert e.value.message == ('no tensor named "layer.0.weights" in the model (1 tensors); '
                               'did you mean "layer.0.weight"?')
    assert ops.metadata_record(m2).items["format"] == "safetensors"


def test_every_registry_entry_has_an_op_with_matching_parameters():
    import inspect

    import tl_core.runtime.implementations  # noqa: F401 - registers ops_generate, ops_compat
    from tl_core.lang.builtins import BUILTINS
    from tl_core.lang.registry import REQUIRED

    assert BUILTINS
    for name, b in BUILTINS.items():
        op = b.impl()  # registered by @implements(name) in a module implementations loads
        sig = list(inspect.signature(op).parameters.values())[1:]
        by_name = [p for p in b.params if p.keyword_only]  # keyword-only: after *values
        for rp in by_name:
            op_p = inspect.signature(op).parameters[rp.name]
            assert op_p.kind == inspect.Parameter.KEYWORD_ONLY and op_p.default == rp.default
        if b.variadic or b.var_keyword:
            fixed = [p for p in b.params[:-1] if not p.keyword_only]
            kinds = {p.kind for p in sig[len(fixed):]}
            assert kinds & {inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD}, name
        else:
            fixed = b.params
        assert [p.name for p in sig[:len(fixed)]] == [p.name for p in fixed], name
        for rp, pp in zip(fixed, sig, strict=False):
            if rp.default is REQUIRED:
                assert pp.default is inspect.Parameter.empty, (name, rp.name)
            else:
                assert pp.default == rp.default, (name, rp.name, pp.default, rp.default)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(1, 5), min_size=1, max_size=4), st.data())
def test_reductions_and_softmax_property(shape, data):
    """Random shapes and (negative) axes against NumPy float64."""
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    keep = data.draw(st.booleans())
    x = f16(*shape)
    for name, fn in (("sum", np.sum), ("mean", np.mean), ("max", np.max)):
        got = getattr(ops, f"op_{name}")(None, x=mxa(x), dim=axis, keepdim=keep)
        close(got, np.asarray(fn(x, axis=axis, keepdims=keep)), rtol=1e-2, atol=1e-2)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    close(ops.op_softmax(None, x=mxa(x), dim=axis), e / e.sum(axis=axis, keepdims=True))


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(1, 3), min_size=0, max_size=2), st.lists(st.booleans(), min_size=2,
       max_size=2), st.integers(1, 6), st.integers(1, 6), st.integers(1, 6))
def test_batched_matmul_broadcasting_property(batch, ones, n, k, m):
    """Batch dimensions broadcast like numpy.matmul."""
    ba = tuple(batch)
    bb = tuple(1 if o else d for d, o in zip(batch, ones, strict=False))
    a, b = f16(*ba, n, k), f16(*bb, k, m)
    close(ops.op_matmul(None, a=mxa(a), b=mxa(b)), np.matmul(a, b), rtol=1e-2, atol=1e-2)


def test_rope_pairs_on_gguf_weights_equal_halves_on_huggingface_weights(ctx):
    """llama.cpp's convert script permutes HF q/k weights per head
    (`w.reshape(n_head, 2, hd // 2, dim).swapaxes(1, 2)`), so that rotating consecutive
    pairs of GGUF q/k gives the attention scores that rotating halves gives on the HF
    checkpoint: `rope(q)` for GGUF files and `rope(q, halves: true)` for SafeTensors."""
    rng = np.random.default_rng(3)
    seq, n_head, hd, dim = 5, 2, 8, 16
    x = rng.standard_normal((seq, dim)).astype(np.float32)
    w_hf = {k: rng.standard_normal((n_head * hd, dim)).astype(np.float32) * 0.3 for k in "qk"}

    def to_gguf(w: np.ndarray) -> np.ndarray:
        return w.reshape(n_head, 2, hd // 2, dim).swapaxes(1, 2).reshape(w.shape)

    def scores(w: dict[str, np.ndarray], halves: bool) -> np.ndarray:
        q, k = ((x @ w[n].T).reshape(seq, n_head, hd) for n in "qk")
        rq, rk = (np.array(ops.op_rope(ctx, x=mx.array(v), base=100.0, halves=halves))
                  for v in (q, k))
        return np.einsum("thd,shd->hts", rq, rk)

    got = scores({n: to_gguf(w) for n, w in w_hf.items()}, halves=False)
    np.testing.assert_allclose(got, scores(w_hf, halves=True), rtol=1e-4, atol=1e-4)
    # and the two conventions do differ on the same weights
    assert not np.allclose(scores(w_hf, halves=False), scores(w_hf, halves=True), atol=1e-2)
