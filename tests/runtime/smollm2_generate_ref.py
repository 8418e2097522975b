"""SmolLM2-135M in float32 NumPy with a key/value cache: the oracle for greedy generation.

Weights come straight from the GGUF through `gguf.GGUFReader` and `gguf.quants.dequantize`
(no code of ours), so this reference shares nothing with the runtime. llama.cpp's Llama:
RMSNorm, RoPE on consecutive pairs (GGUF stores Q/K permuted for that), grouped-query
attention, SwiGLU, a final RMSNorm and the output head tied to the token embeddings.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class Weights:
    n_layer: int
    n_head: int
    n_kv: int
    eps: float
    base: float
    tensors: dict[str, np.ndarray]

    def __getitem__(self, name: str) -> np.ndarray:
        return self.tensors[name]


def load(path: str | Path) -> Weights:
    import gguf

    reader = gguf.GGUFReader(str(path))

    def meta(key: str):
        return reader.fields[key].contents()

    tensors = {}
    for t in reader.tensors:
        data = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32)
        shape = tuple(int(d) for d in reversed(t.shape))  # row-major [out, in]
        tensors[t.name] = data.reshape(shape)
    return Weights(
        n_layer=int(meta("llama.block_count")),
        n_head=int(meta("llama.attention.head_count")),
        n_kv=int(meta("llama.attention.head_count_kv")),
        eps=float(meta("llama.attention.layer_norm_rms_epsilon")),
        base=float(meta("llama.rope.freq_base")),
        tensors=tensors,
    )


def _rms(x: np.ndarray, g: np.ndarray, eps: float) -> np.ndarray:
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * g


def _rope(x: np.ndarray, positions: np.ndarray, base: float) -> np.ndarray:
    """x [T, H, D]: pair (2p, 2p+1) rotated by position * base^(-2p/D)."""
    d = x.shape[-1]
    inv = base ** (-np.arange(0, d, 2, dtype=np.float64) / d)
    ang = positions[:, None] * inv[None, :]
    cos = np.cos(ang).astype(np.float32)[:, None, :]
    sin = np.sin(ang).astype(np.float32)[:, None, :]
    a, b = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2] = a * cos - b * sin
    out[..., 1::2] = a * sin + b * cos
    return out


class Model:
    """Forward passes that continue from the cached positions."""

    def __init__(self, w: Weights):
        self.w = w
        self.cache_k: list[np.ndarray] = [np.zeros((0, w.n_kv, 0), np.float32)] * w.n_layer
        self.cache_v: list[np.ndarray] = list(self.cache_k)
        self.pos = 0

    def forward(self, ids: list[int]) -> np.ndarray:
        """Logits [len(ids), vocab] for the next positions."""
        w = self.w
        x = w["token_embd.weight"][np.array(ids)]
        t, dim = x.shape
        hd = dim // w.n_head
        group = w.n_head // w.n_kv
        positions = np.arange(self.pos, self.pos + t)
        for i in range(w.n_layer):
            p = f"blk.{i}."
            n = _rms(x, w[p + "attn_norm.weight"], w.eps)
            q = _rope((n @ w[p + "attn_q.weight"].T).reshape(t, w.n_head, hd), positions, w.base)
            k = _rope((n @ w[p + "attn_k.weight"].T).reshape(t, w.n_kv, hd), positions, w.base)
            v = (n @ w[p + "attn_v.weight"].T).reshape(t, w.n_kv, hd)
            if self.pos:
                k = np.concatenate([self.cache_k[i], k])
                v = np.concatenate([self.cache_v[i], v])
            self.cache_k[i], self.cache_v[i] = k, v
            c = k.shape[0]
            out = np.empty((t, w.n_head, hd), np.float32)
            for h in range(w.n_head):
                s = q[:, h, :] @ k[:, h // group, :].T / np.sqrt(hd)
                s = np.where(np.arange(c)[None, :] > positions[:, None], -np.inf, s)
                e = np.exp(s - s.max(-1, keepdims=True))
                out[:, h, :] = (e / e.sum(-1, keepdims=True)) @ v[:, h // group, :]
            x = x + out.reshape(t, dim) @ w[p + "attn_output.weight"].T
            f = _rms(x, w[p + "ffn_norm.weight"], w.eps)
            g = f @ w[p + "ffn_gate.weight"].T
            u = f @ w[p + "ffn_up.weight"].T
            x = x + ((g / (1 + np.exp(-g))) * u) @ w[p + "ffn_down.weight"].T
        self.pos += t
        return _rms(x, w["output_norm.weight"], w.eps) @ w["token_embd.weight"].T


def greedy(w: Weights, prompt: list[int], n: int, eos: int | None = None) -> list[int]:
    """The first `n` greedily chosen tokens after `prompt` (fewer if `eos` comes)."""
    model = Model(w)
    logits = model.forward(prompt)
    out: list[int] = []
    while len(out) < n:
        token = int(np.argmax(logits[-1]))
        out.append(token)
        if token == eos:
            break
        logits = model.forward([token])
    return out
