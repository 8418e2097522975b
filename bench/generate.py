"""SmolLM2-135M generation: the language's chat example against hand-written MLX, same run.

Run: .venv/bin/python bench/generate.py [--prompt-tokens N] [--decode N] [--device gpu|cpu]
     [--tiny] [--profile FILE]
`--tiny` runs both sides on a generated GGUF with SmolLM2's structure (30 blocks, 9 query
and 3 key/value heads, llama.cpp metadata) but tiny widths (head size 8, vocabulary 512), so
the device work is negligible and the times are the host's: the interpreter's overhead per
token on the CPU, without a GPU. `--profile FILE` writes a cProfile of ours' decode loop.
Both sides use the same float16 weights (loaded once by `tl_core.models`) and greedy
decoding with a key/value cache:
- ours: the functions of `examples/chat_smollm2.tl` run by the interpreter (one Session,
  as a chat program runs): each round makes a new cache, prefill = `next_logits` over the
  prompt, decode = one `next_logits` per token, each step synchronised by
  `temperature_sample(logits, 0.0)` (greedy, an int on the host). The first rounds
  (`WARM_ROUNDS`) load the weights, run uncompiled and trace the compiled steps; the
  measured rounds replay them (a prompt of a new length is traced once more). The first
  round's prefill is printed too;
- baseline: the same model written directly in MLX (`mx.fast.rms_norm`, `mx.fast.rope`
  with consecutive pairs, `mx.fast.scaled_dot_product_attention` with grouped-query heads, a
  preallocated cache written in place), synchronised by `argmax(...).item()` per token.
Prints prefill and decode tokens/s of each, their ratio (ours / baseline: above 1, ours is
faster), the host (calling thread's CPU) time per decoded token and of ours' prefill, and the
time per decoded token spent outside the baseline's work (interpreter overhead). Whether both chose the same tokens is printed as a sanity line.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import mlx.core as mx  # noqa: E402

from tests.model_files import smollm2_path  # noqa: E402

EXAMPLE = ROOT / "examples" / "chat_smollm2.tl"


class HandWritten:
    """SmolLM2 (llama.cpp's Llama) in plain MLX with a preallocated float16 cache."""

    def __init__(self, model, meta: dict, max_len: int) -> None:
        self.t = {name: model.get_tensor(name).array for name in model.names()}
        self.n_layer = int(meta["llama.block_count"])
        self.n_head = int(meta["llama.attention.head_count"])
        self.n_kv = int(meta["llama.attention.head_count_kv"])
        self.eps = float(meta["llama.attention.layer_norm_rms_epsilon"])
        self.base = float(meta["llama.rope.freq_base"])
        dim = self.t["token_embd.weight"].shape[1]
        self.hd = dim // self.n_head
        shape = (1, self.n_kv, max_len, self.hd)
        self.k = [mx.zeros(shape, mx.float16) for _ in range(self.n_layer)]
        self.v = [mx.zeros(shape, mx.float16) for _ in range(self.n_layer)]
        self.pos = 0

    def forward(self, ids: mx.array) -> mx.array:
        t = self.t
        x = t["token_embd.weight"][ids]
        n = x.shape[0]
        end = self.pos + n
        mask = "causal" if n > 1 else None
        for i in range(self.n_layer):
            p = f"blk.{i}."
            h = mx.fast.rms_norm(x, t[p + "attn_norm.weight"], self.eps)
            q = (h @ t[p + "attn_q.weight"].T).reshape(1, n, self.n_head, self.hd).transpose(0, 2, 1, 3)
            k = (h @ t[p + "attn_k.weight"].T).reshape(1, n, self.n_kv, self.hd).transpose(0, 2, 1, 3)
            v = (h @ t[p + "attn_v.weight"].T).reshape(1, n, self.n_kv, self.hd).transpose(0, 2, 1, 3)
            q = mx.fast.rope(q, self.hd, traditional=True, base=self.base, scale=1.0, offset=self.pos)
            k = mx.fast.rope(k, self.hd, traditional=True, base=self.base, scale=1.0, offset=self.pos)
            self.k[i][:, :, self.pos:end, :] = k
            self.v[i][:, :, self.pos:end, :] = v
            o = mx.fast.scaled_dot_product_attention(
                q, self.k[i][:, :, :end, :], self.v[i][:, :, :end, :],
                scale=self.hd ** -0.5, mask=mask)
            x = x + o.transpose(0, 2, 1, 3).reshape(n, -1) @ t[p + "attn_output.weight"].T
            f = mx.fast.rms_norm(x, t[p + "ffn_norm.weight"], self.eps)
            g = f @ t[p + "ffn_gate.weight"].T
            u = f @ t[p + "ffn_up.weight"].T
            x = x + (g * mx.sigmoid(g) * u) @ t[p + "ffn_down.weight"].T
        self.pos = end
        last = mx.fast.rms_norm(x[-1:], t["output_norm.weight"], self.eps)
        return last @ t["token_embd.weight"].T


def run_baseline(model, meta, prompt: list[int], n_decode: int) -> tuple[float, float, list[int]]:
    hw = HandWritten(model, meta, len(prompt) + n_decode + 1)
    start = time.perf_counter()
    token = mx.argmax(hw.forward(mx.array(prompt)), axis=-1).item()
    prefill = time.perf_counter() - start
    out = [token]
    start, host, waited = time.perf_counter(), time.thread_time(), 0.0
    for _ in range(n_decode - 1):
        logits = mx.argmax(hw.forward(mx.array([token])), axis=-1)
        wait = time.thread_time()
        token = logits.item()
        waited += time.thread_time() - wait
        out.append(token)
    decode = time.perf_counter() - start
    return prefill, decode, out, time.thread_time() - host - waited


def tiny_model(directory: Path, n_layer: int = 30, n_head: int = 9, n_kv: int = 3,
               head_dim: int = 8, ffn: int = 96, vocab: int = 512) -> Path:
    """A float32 GGUF with SmolLM2's tensor names, metadata and block count, tiny widths."""
    import gguf
    import numpy as np

    rng = np.random.default_rng(0)
    dim = n_head * head_dim
    path = directory / "tiny-smollm2.gguf"
    g = gguf.GGUFWriter(str(path), "llama")
    g.add_block_count(n_layer)
    g.add_head_count(n_head)
    g.add_head_count_kv(n_kv)
    g.add_layer_norm_rms_eps(1e-5)
    g.add_rope_freq_base(100000.0)
    g.add_eos_token_id(2)

    def add(name: str, *shape: int) -> None:
        w = rng.standard_normal(shape).astype(np.float32) / np.sqrt(shape[-1])
        g.add_tensor(name, 1.0 + w if len(shape) == 1 else w)

    add("token_embd.weight", vocab, dim)
    add("output_norm.weight", dim)
    for i in range(n_layer):
        p = f"blk.{i}."
        add(p + "attn_norm.weight", dim)
        add(p + "attn_q.weight", dim, dim)
        add(p + "attn_k.weight", n_kv * head_dim, dim)
        add(p + "attn_v.weight", n_kv * head_dim, dim)
        add(p + "attn_output.weight", dim, dim)
        add(p + "ffn_norm.weight", dim)
        add(p + "ffn_gate.weight", ffn, dim)
        add(p + "ffn_up.weight", ffn, dim)
        add(p + "ffn_down.weight", dim, ffn)
    g.write_header_to_file()
    g.write_kv_data_to_file()
    g.write_tensors_to_file()
    g.close()
    return path


def example_setup(path: Path) -> str:
    """The example's functions, then its model, hyperparameters and an empty cache."""
    text = EXAMPLE.read_text(encoding="utf-8")
    return text[: text.index("let path = env(")] + f'''
let model = load_model({json.dumps(str(path))})
let meta = model.metadata
let n_layer = meta["llama.block_count"]
let n_head = meta["llama.attention.head_count"]
let n_kv = meta["llama.attention.head_count_kv"]
let eps = meta["llama.attention.layer_norm_rms_epsilon"]
let base = meta["llama.rope.freq_base"]
let cache = KVCache::new_f16(n_layer)
'''


class Ours:
    """The example's functions in one Session (as a chat program keeps running): each round
    starts a new cache, prefills the prompt and decodes, so compiled steps are traced in the
    first rounds and replayed after (`WARM_ROUNDS`)."""

    def __init__(self, path: Path, prompt: list[int], device: str) -> None:
        from tl_core.runtime import Session

        self.s = Session(base_dir=EXAMPLE.parent, device=device)
        self.run(example_setup(path) + f"let ids = tensor<int32>({prompt})\n")

    def run(self, code: str):
        r = self.s.run(code)
        errs = [d for d in r.errors if d.severity.value == "error"]
        if errs:
            raise SystemExit(f"ours failed: {errs[0].message}\n{code}")
        return r

    def round(self, n_decode: int, profile: str | None = None, lazy: bool = False
              ) -> tuple[float, float, list[int], float, float]:
        """(prefill s, decode s, tokens, decode host s, prefill host s)"""
        self.run("cache = KVCache::new_f16(n_layer)")
        start, host = time.perf_counter(), time.thread_time()
        with _timed_sample() as waited:
            self.run("let next = temperature_sample(next_logits(ids, model, cache, 0, n_layer, "
                     "n_head, n_kv, eps, base), 0.0)\nlet pos = len(ids)")
        prefill = time.perf_counter() - start
        prefill_host = time.thread_time() - host - waited[0]
        prof = None
        if profile:
            import cProfile

            prof = cProfile.Profile()
            prof.enable()
        real_async = mx.async_eval
        if lazy:  # no evaluation before the host read: the graph is only built until then
            mx.async_eval = lambda *a: None
        start, host = time.perf_counter(), time.thread_time()
        with _timed_sample() as waited:
            r = self.run(f'''
for step in range({n_decode - 1}) {{
    next = temperature_sample(next_logits(int_to_tokenids(next), model, cache, pos, n_layer,
        n_head, n_kv, eps, base), 0.0)
    pos = pos + 1
    print(next, end: " ")
}}
''')
        decode = time.perf_counter() - start
        host = time.thread_time() - host - waited[0]
        mx.async_eval = real_async
        if prof is not None:
            prof.disable()
            prof.dump_stats(profile)
        return prefill, decode, [int(v) for v in re.findall(r"-?\d+", r.stdout)], host, \
            prefill_host


@contextlib.contextmanager
def _timed_sample():
    """Time spent in `temperature_sample` (the host read of each token: the device's work),
    in the yielded one-element list."""
    from tl_core.lang.builtins import BUILTINS

    sample = BUILTINS["temperature_sample"]._impl
    real = sample.fn
    waited = [0.0]

    def timed(*args, **kwargs):
        wait = time.thread_time()
        try:
            return real(*args, **kwargs)
        finally:
            waited[0] += time.thread_time() - wait

    sample.fn = timed
    try:
        yield waited
    finally:
        sample.fn = real


# Rounds of ours run before the measured ones: the first prefill and decode steps run
# uncompiled (loading the weights), the next trace the compiled step, then it is replayed.
WARM_ROUNDS = 3


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompt-tokens", type=int, default=128)
    ap.add_argument("--decode", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--device", default="gpu" if mx.default_device() == mx.gpu else "cpu")
    ap.add_argument("--tiny", action="store_true",
                    help="a generated model of SmolLM2's structure with tiny widths")
    ap.add_argument("--profile", help="write a cProfile of ours' last decode loop here")
    ap.add_argument("--lazy", action="store_true",
                    help="ours starts no evaluation before each token's host read, so the "
                         "host time excludes all device work (the graph is only built)")
    args = ap.parse_args()
    mx.set_default_device(mx.gpu if args.device == "gpu" else mx.cpu)
    from tl_core.models import load_model

    tmp = tempfile.TemporaryDirectory()
    if args.tiny:
        path = tiny_model(Path(tmp.name))
        model = load_model(path)
        prompt = [(7 * i + 3) % 512 for i in range(args.prompt_tokens)]
    else:
        from tl_core.tokenizer import load_tokenizer

        path = smollm2_path()
        model = load_model(path)
        tok = load_tokenizer(path)
        text = "The quick brown fox jumps over the lazy dog. " * 64
        prompt = tok.tokenize(text, False)[: args.prompt_tokens]
    print(f"device {mx.default_device()}, mlx {mx.__version__}; {path.name}; prompt "
          f"{len(prompt)} tokens, {args.decode} decoded, median of {args.repeat}")
    base_rows, ours_rows = [], []
    base_rows.append(run_baseline(model, model.metadata, prompt, args.decode))  # warm-up
    start = time.perf_counter()
    ours = Ours(path, prompt, args.device)
    cold = ours.round(args.decode)
    print(f"ours, first round (weights loaded on first use, uncompiled): prefill "
          f"{len(prompt) / cold[0]:.1f} tokens/s, setup and prefill "
          f"{time.perf_counter() - start - cold[1]:.2f} s")
    for _ in range(WARM_ROUNDS - 1):
        ours.round(args.decode)
    for _ in range(args.repeat):
        base_rows.append(run_baseline(model, model.metadata, prompt, args.decode))
        ours_rows.append(ours.round(args.decode, args.profile, args.lazy))
    base_rows = base_rows[1:]
    n_steps = args.decode - 1

    def rates(rows):
        pre = statistics.median(len(prompt) / r[0] for r in rows)
        dec = statistics.median(n_steps / r[1] for r in rows)
        return pre, dec

    bp, bd = rates(base_rows)
    op, od = rates(ours_rows)
    print(f"prefill tokens/s: ours {op:8.1f}   hand-written MLX {bp:8.1f}   ratio {op / bp:.2f}")
    print(f"decode  tokens/s: ours {od:8.1f}   hand-written MLX {bd:8.1f}   ratio {od / bd:.2f}")
    bh = statistics.median(r[3] for r in base_rows) / n_steps * 1000
    oh = statistics.median(r[3] for r in ours_rows) / n_steps * 1000
    print(f"decode host time per token (CPU time of the calling thread outside the host read "
          f"of the token{', no evaluation before it' if args.lazy else ''}): ours {oh:.2f} ms, "
          f"hand-written {bh:.2f} ms")
    ph = statistics.median(r[4] for r in ours_rows) * 1000
    print(f"prefill host time (CPU time of the calling thread outside the host read of the "
          f"token): ours {ph:.2f} ms for {len(prompt)} tokens")
    print(f"decode: {1000 / od:.2f} ms per token, of which {1000 / od - 1000 / bd:.2f} ms more "
          f"than the hand-written model (interpreter and op-level overhead)")
    same = ours_rows[-1][2] == base_rows[-1][2][1:]
    print(f"greedy tokens equal: {same}")


if __name__ == "__main__":
    main()
