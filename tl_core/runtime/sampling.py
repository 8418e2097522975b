"""Choosing the next token from logits, on the device (UPSTREAM.md §14.1).

Every function takes and returns MLX arrays; nothing here reads the logits back to the host
(the chosen id is a 0-d int32 array, read when the program uses it as a number).

- `temperature_sample(logits, T)`: logits `[vocab]` or `[seq, vocab]` (the last row is used).
  `T <= GREEDY_T` is greedy: the index of the largest logit, the last one on ties (the
  original's Rust `max_by`). Otherwise the original's inverse-CDF draw: `p = softmax(logits/T)`
  in float32, `r` uniform in [0, 1), the first index whose running sum exceeds `r`
  (`vocab - 1` if rounding leaves none). `r` comes from `mx.random`, so `seed(n)` makes a run
  reproducible. NaN logits count as -inf (the original compares NaN as equal: not copied).
- `top_k(logits, k)` and `top_p(logits, p)`: the standard filters (HuggingFace's
  TopK/TopP logits warpers) on the last axis: logits outside the k largest, or outside the
  smallest set of most probable tokens whose probability reaches `p`, become -inf; ties with
  the threshold are kept. They compose: `temperature_sample(top_k(logits, 40), 0.8)`.
"""

from __future__ import annotations

import mlx.core as mx

from tl_core.runtime.errors import OpError
from tl_core.runtime.values import tensor_type

GREEDY_T = 1e-4  # the original's threshold: at or below it sampling is greedy


def last_logits(logits: mx.array, arg: str = "logits") -> mx.array:
    """The float32 `[vocab]` row to sample from: a 1-D tensor, or the last row of a 2-D one."""
    if logits.ndim == 2:
        logits = logits[-1]
    if logits.ndim != 1:
        raise OpError(
            f"expected logits [vocab] or [seq, vocab], found {tensor_type(logits)}", arg=arg
        )
    if logits.size == 0:
        raise OpError("expected at least one logit, found an empty tensor", arg=arg)
    row = logits.astype(mx.float32)
    return mx.where(mx.isnan(row), -mx.inf, row)


def greedy(logits: mx.array) -> mx.array:
    """Index of the largest logit of a float32 row; the last one on ties."""
    n = logits.shape[-1]
    return (n - 1 - mx.argmax(logits[::-1])).astype(mx.int32)


def temperature_sample(logits: mx.array, temperature: float) -> mx.array:
    row = last_logits(logits)
    if temperature <= GREEDY_T:
        return greedy(row)
    p = mx.softmax(row / temperature)  # max-subtracted inside, float32
    r = mx.random.uniform(shape=(), dtype=mx.float32)
    # first index whose running sum exceeds r: the count of running sums <= r
    idx = mx.sum(mx.cumsum(p) <= r).astype(mx.int32)
    return mx.minimum(idx, row.size - 1)


def top_k(logits: mx.array, k: int) -> mx.array:
    n = logits.shape[-1] if logits.ndim else 0
    if logits.ndim == 0 or n == 0:
        raise OpError(f"expected logits [..., vocab], found {tensor_type(logits)}", arg="logits")
    if k < 1:
        raise OpError(f"top_k needs k >= 1, found {k}", arg="k")
    if k >= n:
        return logits
    kth = mx.sort(logits, axis=-1)[..., n - k : n - k + 1]  # the k-th largest
    return mx.where(logits >= kth, logits, -mx.inf).astype(logits.dtype)


def top_p(logits: mx.array, p: float) -> mx.array:
    if logits.ndim == 0 or logits.shape[-1] == 0:
        raise OpError(f"expected logits [..., vocab], found {tensor_type(logits)}", arg="logits")
    if not 0.0 < p <= 1.0:
        raise OpError(f"top_p needs 0 < p <= 1, found {p}", arg="p")
    if p >= 1.0:
        return logits
    x = logits.astype(mx.float32)
    desc = -mx.sort(-x, axis=-1)
    probs = mx.softmax(desc, axis=-1)
    before = mx.cumsum(probs, axis=-1) - probs  # probability mass ranked above each token
    keep = before < p  # the most probable token always stays
    threshold = mx.min(mx.where(keep, desc, mx.inf), axis=-1, keepdims=True)
    return mx.where(x >= threshold, logits, -mx.inf).astype(logits.dtype)


def seed(n: int) -> None:
    """Seed MLX's generator (used by sampling, `rand` and `randn`)."""
    mx.random.seed(n)
