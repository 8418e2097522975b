"""Independent references for the compat corpus: how printed output is compared, tensors
written as the runtime prints them, and SmolLM2 in NumPy float32 from the `gguf` package's
own reader and dequantizer (never from tl_core)."""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable

import numpy as np

# A number (with sign, fraction, exponent), inf/nan, or a word; punctuation is ignored.
_TOKEN = re.compile(r"[-+]?(?:inf|nan)\b|[A-Za-z_][A-Za-z_0-9]*|[-+]?(?:\d+\.?\d*|\.\d+)"
                    r"(?:[eE][-+]?\d+)?|[^\sA-Za-z_0-9.,()\[\]{}:;=|/\-+*\"']")


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _number(tok: str) -> float | None:
    try:
        return float(tok)
    except ValueError:
        return None


def compare(got: str, want: str, rtol: float, atol: float) -> str | None:
    """None when `got` reads as `want`: the same words in the same order and numbers equal
    within rtol/atol (so `2` and `2.0`, `1e-07` and `0.0000001` agree); else what differs."""
    g, w = tokens(got), tokens(want)
    if len(g) != len(w):
        return f"{len(g)} tokens, expected {len(w)}:\n{got}\n--- expected ---\n{want}"
    for i, (a, b) in enumerate(zip(g, w, strict=True)):
        x, y = _number(a), _number(b)
        if x is not None and y is not None:
            if not (math.isclose(x, y, rel_tol=rtol, abs_tol=atol) or x == y):
                return f"token {i}: {a} != {b} (rtol {rtol}, atol {atol})\n{got}"
        elif a != b:
            return f"token {i}: {a!r} != {b!r}\n{got}"
    return None


def T(values: object, dtype: str = "float16") -> str:  # noqa: N802 - reads as the printed word
    """A tensor as the runtime prints it: `tensor([...], float16[2, 3], cpu)`."""
    a = np.asarray(values)
    if a.dtype == bool:
        body = str(a.tolist()).replace("True", "true").replace("False", "false")
    else:
        body = str(a.tolist())
    return f"tensor({body}, {dtype}{list(a.shape)}, cpu)"


def lines(*parts: Iterable[str] | str) -> str:
    out: list[str] = []
    for p in parts:
        out.extend([p] if isinstance(p, str) else p)
    return "\n".join(out) + "\n"


# -- SmolLM2 from the gguf package -------------------------------------------------------

@functools.lru_cache(maxsize=1)
def smol_reader():  # noqa: ANN201 - gguf.GGUFReader
    import gguf

    from tests.model_files import smollm2_path

    return gguf.GGUFReader(str(smollm2_path()))


def smol_field(name: str) -> object:
    return smol_reader().fields[name].contents()


@functools.lru_cache(maxsize=512)
def W(name: str) -> np.ndarray:  # noqa: N802 - a weight
    """Tensor `name` dequantized by gguf, rounded to float16 as the loader keeps it, as
    float32 in PyTorch order."""
    import gguf

    t = next(t for t in smol_reader().tensors if t.name == name)
    values = gguf.quants.dequantize(t.data, t.tensor_type)
    shape = tuple(int(d) for d in reversed(t.shape))
    return values.reshape(shape).astype(np.float16).astype(np.float32)


def rms(x: np.ndarray, g: np.ndarray, eps: float) -> np.ndarray:
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * g


def rope_pairs(x: np.ndarray, base: float, offset: int = 0) -> np.ndarray:
    """llama.cpp RoPE: x [seq, heads, hd], consecutive pairs (2p, 2p+1) rotated by
    (t + offset) * base^(-2p / hd)."""
    seq, _, hd = x.shape
    inv = base ** (-np.arange(0, hd, 2, dtype=np.float64) / hd)
    ang = (np.arange(seq) + offset)[:, None] * inv[None, :]
    cos, sin = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
    a, b = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x, dtype=np.float64)
    out[..., 0::2] = a * cos - b * sin
    out[..., 1::2] = a * sin + b * cos
    return out


def silu(x: np.ndarray) -> np.ndarray:
    return x / (1.0 + np.exp(-x))


def smol_block(x: np.ndarray, i: int) -> np.ndarray:
    """Block i of SmolLM2 on x [T, 576]: pre-norm grouped-query attention (9 query heads,
    3 key/value heads of 64, causal) and SwiGLU, each with its residual."""
    eps = float(smol_field("llama.attention.layer_norm_rms_epsilon"))
    base = float(smol_field("llama.rope.freq_base"))
    p = f"blk.{i}."
    t = x.shape[0]
    h = rms(x, W(p + "attn_norm.weight"), eps)
    q = rope_pairs((h @ W(p + "attn_q.weight").T).reshape(t, 9, 64), base)
    k = rope_pairs((h @ W(p + "attn_k.weight").T).reshape(t, 3, 64), base)
    v = (h @ W(p + "attn_v.weight").T).reshape(t, 3, 64)
    out = np.zeros((t, 9, 64))
    causal = np.triu(np.ones((t, t), bool), 1)
    for hq in range(9):
        s = q[:, hq] @ k[:, hq // 3].T / 8.0
        s[causal] = -np.inf
        e = np.exp(s - s.max(-1, keepdims=True))
        out[:, hq] = (e / e.sum(-1, keepdims=True)) @ v[:, hq // 3]
    a = x + out.reshape(t, 576) @ W(p + "attn_output.weight").T
    m = rms(a, W(p + "ffn_norm.weight"), eps)
    ffn = (silu(m @ W(p + "ffn_gate.weight").T) * (m @ W(p + "ffn_up.weight").T))
    return (a + ffn @ W(p + "ffn_down.weight").T).astype(np.float32)
