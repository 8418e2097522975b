"""SmolLM2's first transformer block in NumPy float32 (the oracle for
examples/smollm2_embed.tl), and a generator of a GGUF file with SmolLM2's shapes and
quantization for machines where the real 98 MB file cannot travel."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent.parent
EXAMPLE = ROOT / "examples" / "smollm2_embed.tl"
# The token ids the example uses.
IDS = [1, 9690, 198, 2683, 314, 260, 3458]
BLOCK = ["blk.0.attn_norm.weight", "blk.0.attn_q.weight", "blk.0.attn_k.weight",
         "blk.0.attn_v.weight", "blk.0.attn_output.weight", "blk.0.ffn_norm.weight",
         "blk.0.ffn_gate.weight", "blk.0.ffn_up.weight", "blk.0.ffn_down.weight"]


def weights_f32(model: Any) -> dict[str, np.ndarray]:
    """The dequantized weights the runtime sees (float16), as float32 NumPy arrays."""
    import mlx.core as mx

    return {name: np.array(model.get_tensor(name).array.astype(mx.float32))
            for name in ["token_embd.weight", *BLOCK]}


def reference_block(w: dict[str, np.ndarray], ids: list[int], n_head: int, n_kv: int,
                    eps: float, base: float) -> np.ndarray:
    x = w["token_embd.weight"][np.array(ids)].astype(np.float32)
    t, d = x.shape
    hd = d // n_head

    def rms(v: np.ndarray, g: np.ndarray) -> np.ndarray:
        return v / np.sqrt((v * v).mean(-1, keepdims=True) + eps) * g

    def split(v: np.ndarray, n: int) -> np.ndarray:
        return v.reshape(t, n, hd).transpose(1, 0, 2)

    def rope(v: np.ndarray) -> np.ndarray:  # llama.cpp: rotate consecutive pairs
        inv = base ** (-np.arange(0, hd, 2, dtype=np.float64) / hd)
        ang = np.arange(t)[:, None] * inv[None, :]
        cos, sin = np.cos(ang).astype(np.float32), np.sin(ang).astype(np.float32)
        a, b = v[..., 0::2], v[..., 1::2]
        out = np.empty_like(v)
        out[..., 0::2] = a * cos - b * sin
        out[..., 1::2] = a * sin + b * cos
        return out

    n = rms(x, w["blk.0.attn_norm.weight"])
    q = rope(split(n @ w["blk.0.attn_q.weight"].T, n_head))
    k = rope(split(n @ w["blk.0.attn_k.weight"].T, n_kv))
    v = split(n @ w["blk.0.attn_v.weight"].T, n_kv)
    k = np.repeat(k, n_head // n_kv, axis=0)
    v = np.repeat(v, n_head // n_kv, axis=0)
    s = q @ k.transpose(0, 2, 1) / np.sqrt(hd)
    s = np.where(np.triu(np.ones((t, t), bool), 1), -np.inf, s)
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    o = (p @ v).transpose(1, 0, 2).reshape(t, d) @ w["blk.0.attn_output.weight"].T
    h = x + o
    f = rms(h, w["blk.0.ffn_norm.weight"])
    g = f @ w["blk.0.ffn_gate.weight"].T
    u = f @ w["blk.0.ffn_up.weight"].T
    return h + ((g / (1 + np.exp(-g))) * u) @ w["blk.0.ffn_down.weight"].T


def relative_error(got: np.ndarray, ref: np.ndarray) -> float:
    return float(np.linalg.norm(got.astype(np.float64) - ref) / np.linalg.norm(ref))


def write_smollm2_like(path: Path, seed: int = 0) -> Path:
    """A GGUF with SmolLM2-135M's metadata and the shapes and quantization of its embedding
    table (Q8_0) and first block (Q4_1 matrices, F32 norms), random values."""
    import gguf

    rng = np.random.default_rng(seed)
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_block_count(30)
    w.add_context_length(8192)
    w.add_embedding_length(576)
    w.add_feed_forward_length(1536)
    w.add_head_count(9)
    w.add_head_count_kv(3)
    w.add_rope_freq_base(100000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(64)
    w.add_vocab_size(49152)
    Q = gguf.GGMLQuantizationType

    def add(name: str, shape: tuple[int, ...], qtype: Any, scale: float, offset: float = 0.0
            ) -> None:
        data = (rng.standard_normal(shape) * scale + offset).astype(np.float32)
        if qtype == Q.F32:
            w.add_tensor(name, data)
        else:
            w.add_tensor(name, gguf.quants.quantize(data, qtype), raw_dtype=qtype)

    add("token_embd.weight", (49152, 576), Q.Q8_0, 0.05)
    add("blk.0.attn_norm.weight", (576,), Q.F32, 0.1, 1.0)
    add("blk.0.ffn_down.weight", (576, 1536), Q.Q4_1, 0.03)
    add("blk.0.ffn_gate.weight", (1536, 576), Q.Q4_1, 0.05)
    add("blk.0.ffn_up.weight", (1536, 576), Q.Q4_1, 0.05)
    add("blk.0.ffn_norm.weight", (576,), Q.F32, 0.1, 1.0)
    add("blk.0.attn_k.weight", (192, 576), Q.Q4_1, 0.05)
    add("blk.0.attn_output.weight", (576, 576), Q.Q4_1, 0.05)
    add("blk.0.attn_q.weight", (576, 576), Q.Q4_1, 0.05)
    add("blk.0.attn_v.weight", (192, 576), Q.Q4_1, 0.05)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path
