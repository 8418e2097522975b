"""SmolLM2 generation written in Python on the runtime's pieces: float16 weights from
`tl_core.models`, `attention_with_cache`, `KVCache` and `temperature_sample`. What
examples/chat_smollm2.tl does in the language, as a check that those pieces compose (and the
hand-written MLX side of bench/generate.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import mlx.core as mx

from tl_core.models import load_model
from tl_core.runtime.attention import attention_with_cache
from tl_core.runtime.kvcache import KVCache
from tl_core.runtime.sampling import temperature_sample


class SmolLM2:
    def __init__(self, path: str | Path, dtype: mx.Dtype = mx.float16):
        model = load_model(path)
        md = model.metadata
        self.n_layer = int(md["llama.block_count"])
        self.n_head = int(md["llama.attention.head_count"])
        self.n_kv = int(md["llama.attention.head_count_kv"])
        self.eps = float(md["llama.attention.layer_norm_rms_epsilon"])
        self.base = float(md["llama.rope.freq_base"])
        self.dtype = dtype
        self.w = {n: model.get_tensor(n).array.astype(dtype) for n in model.names()}
        mx.eval(list(self.w.values()))

    def forward(self, ids: list[int], cache: KVCache) -> mx.array:
        w = self.w
        x = w["token_embd.weight"][mx.array(ids)]
        t, dim = x.shape
        hd = dim // self.n_head
        pos = cache.length(0)
        for i in range(self.n_layer):
            p = f"blk.{i}."
            n = mx.fast.rms_norm(x, w[p + "attn_norm.weight"], self.eps)
            q = (n @ w[p + "attn_q.weight"].T).reshape(t, self.n_head, hd)
            k = (n @ w[p + "attn_k.weight"].T).reshape(t, self.n_kv, hd)
            v = (n @ w[p + "attn_v.weight"].T).reshape(t, self.n_kv, hd)
            k = mx.fast.rope(k.transpose(1, 0, 2), hd, traditional=True, base=self.base,
                             scale=1.0, offset=pos).transpose(1, 0, 2)
            cache.append(i, k, v)
            x = x + attention_with_cache(q, cache.get_k(i), cache.get_v(i),
                                         w[p + "attn_output.weight"], base=self.base)
            f = mx.fast.rms_norm(x, w[p + "ffn_norm.weight"], self.eps)
            g = f @ w[p + "ffn_gate.weight"].T
            x = x + (g * mx.sigmoid(g) * (f @ w[p + "ffn_up.weight"].T)) @ w[p + "ffn_down.weight"].T
        h = mx.fast.rms_norm(x[-1:], w["output_norm.weight"], self.eps)
        return h @ w["token_embd.weight"].T

    def generate(self, prompt: list[int], n: int, temperature: float = 0.0,
                 eos: int | None = None) -> Iterator[int]:
        cache = KVCache(self.n_layer, self.dtype)
        logits = self.forward(prompt, cache)
        for _ in range(n):
            token = int(temperature_sample(logits, temperature).item())
            yield token
            if token == eos:
                return
            logits = self.forward([token], cache)
