"""Sampling ops against their formulas: NumPy argmax, the inverse-CDF draw, softmax
frequencies (chi-square at fixed seeds), and HuggingFace's top-k / top-p filter rules."""

from __future__ import annotations

import mlx.core as mx
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from tl_core.runtime.errors import OpError
from tl_core.runtime.sampling import seed, temperature_sample, top_k, top_p


def draw(logits, t) -> int:
    out = temperature_sample(logits, t)
    assert isinstance(out, mx.array) and out.dtype == mx.int32
    return int(out.item())


_logits = arrays(np.float32, st.integers(1, 64), elements=st.floats(-30, 30, width=32))


@settings(max_examples=60, deadline=None)
@given(_logits, st.sampled_from([0.0, 1e-4, -1.0]))
def test_greedy_is_numpy_argmax_last_on_ties(x, t):
    want = len(x) - 1 - int(np.argmax(x[::-1]))  # the last maximal index
    assert draw(mx.array(x), t) == want
    assert draw(mx.array(x).astype(mx.float16), t) == (
        len(x) - 1 - int(np.argmax(x.astype(np.float16)[::-1]))
    )
    rows = np.stack([np.roll(x, 1), x])  # [seq, vocab]: the last row decides
    assert draw(mx.array(rows), t) == want


def test_greedy_ties_and_nan():
    assert draw(mx.array([1.0, 3.0, 3.0, 0.0]), 0.0) == 2
    assert draw(mx.array([1.0, float("nan"), 0.5]), 0.0) == 0


def test_draw_is_the_inverse_cdf_of_softmax():
    x = np.array([0.3, -1.2, 2.0, 0.0, 1.1], np.float32)
    t = 0.7
    p = np.exp((x - x.max()) / t)
    p /= p.sum()
    for s in range(30):
        seed(s)
        r = float(mx.random.uniform(shape=(), dtype=mx.float32).item())
        seed(s)
        got = draw(mx.array(x), t)
        want = int(np.argmax(np.cumsum(p) > r)) if (np.cumsum(p) > r).any() else len(x) - 1
        assert got == want, (s, r)


def test_frequencies_follow_softmax():
    x = np.array([1.0, 0.0, -0.5, 2.0, 0.2], np.float32)
    t = 1.3
    p = np.exp(x / t) / np.exp(x / t).sum()
    seed(1234)
    n = 3000
    counts = np.bincount([draw(mx.array(x), t) for _ in range(n)], minlength=len(x))
    chi2 = float((((counts - n * p) ** 2) / (n * p)).sum())
    assert chi2 < 18.47  # chi-square, 4 degrees of freedom, p = 0.001


def test_seed_makes_runs_reproducible():
    x = mx.zeros((50,))
    seed(3)
    first = [draw(x, 1.0) for _ in range(20)]
    seed(3)
    assert [draw(x, 1.0) for _ in range(20)] == first
    seed(4)
    assert [draw(x, 1.0) for _ in range(20)] != first


def ref_top_k(x: np.ndarray, k: int) -> np.ndarray:
    """HuggingFace TopKLogitsWarper: below the k-th largest -> -inf."""
    kth = np.sort(x, axis=-1)[..., -k][..., None]
    return np.where(x < kth, -np.inf, x)


def ref_top_p(x: np.ndarray, p: float) -> np.ndarray:
    """HuggingFace TopPLogitsWarper: ascending sort, remove while cumulative <= 1 - p, keep
    at least the most probable token."""
    out = np.array(x, np.float64)
    for row in out.reshape(-1, out.shape[-1]):
        order = np.argsort(row, kind="stable")
        s = row[order]
        probs = np.exp(s - s.max()) / np.exp(s - s.max()).sum()
        remove = np.cumsum(probs) <= 1 - p
        remove[-1] = False
        row[order[remove]] = -np.inf
    return out


_matrix = arrays(np.float32, st.tuples(st.integers(1, 3), st.integers(2, 40)),
                 elements=st.floats(-10, 10, width=32), unique=True)


@settings(max_examples=60, deadline=None)
@given(_matrix, st.integers(1, 45))
def test_top_k_formula(x, k):
    np.testing.assert_array_equal(np.array(top_k(mx.array(x), k)), ref_top_k(x, min(k, x.shape[-1])))


def top_p_margin(x: np.ndarray, p: float) -> float:
    """How far from p the mass ranked above any token is (float32 cannot decide closer)."""
    desc = -np.sort(-x.astype(np.float64), axis=-1)
    probs = np.exp(desc - desc[..., :1])
    probs /= probs.sum(axis=-1, keepdims=True)
    return float(np.abs(np.cumsum(probs, axis=-1) - probs - p).min())


@settings(max_examples=60, deadline=None)
@given(_matrix, st.floats(0.05, 0.99))
def test_top_p_formula(x, p):
    assume(top_p_margin(x, p) > 1e-4)
    np.testing.assert_array_equal(np.array(top_p(mx.array(x), p)), ref_top_p(x, p).astype(np.float32))


def test_filters_then_sampling_stay_in_the_kept_set():
    x = mx.array([0.0, 5.0, 4.0, -1.0, 4.5])
    seed(0)
    assert {draw(top_k(x, 2), 5.0) for _ in range(200)} == {1, 4}
    kept = top_p(x, 0.5)  # softmax: 0.53 for index 1 alone
    assert np.isfinite(np.array(kept)).tolist() == [False, True, False, False, False]
    assert top_k(x.astype(mx.float16), 3).dtype == mx.float16


def test_errors():
    with pytest.raises(OpError) as err:
        temperature_sample(mx.zeros((2, 3, 4)), 1.0)
    assert str(err.value) == "expected logits [vocab] or [seq, vocab], found float32[2, 3, 4]"
    with pytest.raises(OpError) as err:
        top_k(mx.zeros((4,)), 0)
    assert str(err.value) == "top_k needs k >= 1, found 0"
    with pytest.raises(OpError) as err:
        top_p(mx.zeros((4,)), 1.5)
    assert str(err.value) == "top_p needs 0 < p <= 1, found 1.5"
