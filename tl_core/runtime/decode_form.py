"""How a compiled decode step attends over its KV cache (`TL_DECODE_ATTENTION`).

A compiled step (tl_core.runtime.tracecache) attends over a layer's whole preallocated
buffer, whose rows past the filled length must get no weight. MLX's CUDA backend has no
fused attention kernel when a mask array is given (docs/benchmarks.md, "Decode attention and
MLX's fused kernel"), so a one-query step can take one of three exact forms:

- "mask": a boolean mask over the buffer's rows (made once per step). Fused on no backend
  that needs it; the CPU and Metal default.
- "bias": no mask array. Keys gain a bias channel: K' = [K, b, 0...] of width
  `padded_width(D)`, b = 0 on filled rows and `BIAS` on the rows past the length, Q' =
  [RoPE(Q), 1, 0...], V' = [V, 0...]; attention with mask None, then its first D columns.
  A row past the length scores `BIAS / sqrt(D)` (at most -1875 for D <= 256), so its weight
  exp(score - max) is exactly 0 in float32 whenever a real score exceeds it by ~100. A
  KVCache allocated under this form keeps 3-D rows padded in its buffers (the bias column
  preset on allocation, overwritten with 0 by each append), so a step copies nothing; 2-D
  rows (the head split is unknown when they are appended) are padded in the step, a copy of
  the buffer per layer. The CUDA default.
- "two-call": attention(Q, K, V) / attention(Q, K, 1 on filled rows), both over the whole
  buffer with mask None: exact in exact arithmetic (V's rows past the length are zeros, so
  they add nothing above; the same weights divide), but the rows past the length take
  weight exp(q.0 - max) = exp(-max) in both, so when every real score is far below 0 the
  quotient loses float16 precision (both results below ~6e-5, float16's smallest normal),
  and fails (0/0) when every real score is below ~-87 (float32's exp underflows).

Steps of several queries into a filled cache (a second prompt) keep the mask form: their
causality differs per query.
"""

from __future__ import annotations

import os

from tl_core.runtime.errors import OpError

FORMS = ("mask", "bias", "two-call")
ENV = "TL_DECODE_ATTENTION"
# A row past the length in the "bias" form: safe in float16 (max 65504)
BIAS = -30000.0
# Head widths of MLX's fused one-query ("vector") attention kernels, which also need V as
# wide as Q and K (Metal: 64, 96, 128, 256; CUDA believed 64, 96, 128: bench/generate.py
# --attention-forms times each with force_fused). The "bias" form pads D to the smallest
# wider one (SmolLM2: 64 -> 96) unless `TL_DECODE_ATTENTION=bias:W` names another.
FUSED_WIDTHS = (64, 96, 128, 256)


def decode_attention_form() -> str:
    """The form a compiled one-query step attends with: `TL_DECODE_ATTENTION` when set,
    else "bias" when MLX's CUDA backend is the default device, else "mask"."""
    import mlx.core as mx  # lazy: MLX stays out of `import tl_core`

    name = _setting()[0]
    if name:
        return name
    return "bias" if mx.default_device() == mx.gpu and mx.cuda.is_available() else "mask"


def padded_width(d: int) -> int | None:
    """The width of a head of `d` with its bias channel: the smallest of `FUSED_WIDTHS`
    wider than `d`, or the W of `TL_DECODE_ATTENTION=bias:W` (to time another width; used
    when wider than `d`); None when none is wider (the form then falls back to the mask)."""
    wide = _setting()[1]
    if wide is not None and wide > d:
        return wide
    return next((w for w in FUSED_WIDTHS if w > d), None)


def _setting() -> tuple[str, int | None]:
    """`TL_DECODE_ATTENTION` read: (form or "" when unset, W of "bias:W" or None)."""
    text = os.environ.get(ENV, "").strip()
    name, colon, wide = text.partition(":")
    if not text or name in FORMS and not colon:
        return name, None
    if name == "bias" and wide.isdigit() and int(wide) > 0:
        return name, int(wide)
    raise OpError(f"the environment variable {ENV} must be mask, bias, bias:W (a head width) "
                  f"or two-call, found {text!r}: unset it for the device's default")
