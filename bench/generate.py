"""SmolLM2-135M generation: the language's chat example against hand-written MLX, same run.

Run: .venv/bin/python bench/generate.py [--prompt-tokens N] [--decode N] [--device gpu|cpu]
     [--tiny | --smollm2-shaped] [--profile FILE] [--cold-prefill N] [--attention-forms]
     [--alternate-forms FORMS] [--kernels [--kernels-out DIR]]
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
  (`WARM_ROUNDS`) load the weights and trace the compiled steps (the first prefill at its
  first call, the decode step at its second); the measured rounds replay them (a prompt of
  a new length is traced once more). The first round's prefill is printed too (weights
  loaded, trace and compilation included);
- baseline: the same model written directly in MLX (`mx.fast.rms_norm`, `mx.fast.rope`
  with consecutive pairs, `mx.fast.scaled_dot_product_attention` with grouped-query heads, a
  preallocated cache written in place), synchronised by `argmax(...).item()` per token.
`--cold-prefill N` measures instead the example's one prefill as a program runs it: the
first call of `next_logits` in a fresh process (the weights already loaded and evaluated, so
both sides wait for the same data), run uncompiled (the interpreter's rule for a first call)
against traced and compiled at once (`Interpreter.trace_first`: the trace, MLX's compilation
and the run all counted), N processes each, alternated.
`--attention-forms` runs the whole measurement once per decode-attention form of the compiled
step (`TL_DECODE_ATTENTION` mask, bias, bias:128, two-call: tl_core.runtime.decode_form), each in a
fresh process with the hand-written model measured in that same process, and prints a
table of decode and prefill tokens/s per form. `--alternate-forms bias,mask` measures forms in
one process instead, round by round against the hand-written model (a host-bound decode's
speed varies up to 2x between processes on the GPU machines, so this is the fair comparison).
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


def run_baseline(model, meta, prompt: list[int], n_decode: int,
                 around_decode=contextlib.nullcontext
                 ) -> tuple[float, float, list[int], float, float, float]:
    """(prefill s, decode s, tokens, decode host s, decode wait s: the wall time of the token
    reads, the calling thread's CPU time in them); `around_decode()` wraps the decode loop."""
    hw = HandWritten(model, meta, len(prompt) + n_decode + 1)
    start = time.perf_counter()
    token = mx.argmax(hw.forward(mx.array(prompt)), axis=-1).item()
    prefill = time.perf_counter() - start
    out = [token]
    start, host = time.perf_counter(), time.thread_time()
    with around_decode():
        waited, wall_wait = _decode_baseline(hw, token, n_decode, out)
    decode = time.perf_counter() - start
    return prefill, decode, out, time.thread_time() - host - waited, wall_wait, waited


def _decode_baseline(hw: HandWritten, token: int, n_decode: int, out: list[int]
                     ) -> tuple[float, float]:
    """Greedy decode of n_decode - 1 tokens into `out`: (CPU, wall) time of the token reads."""
    waited, wall_wait = 0.0, 0.0
    for _ in range(n_decode - 1):
        logits = mx.argmax(hw.forward(mx.array([token])), axis=-1)
        wait, wall = time.thread_time(), time.perf_counter()
        token = logits.item()
        waited += time.thread_time() - wait
        wall_wait += time.perf_counter() - wall
        out.append(token)
    return waited, wall_wait


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


def model_flags(args: argparse.Namespace) -> list[str]:
    """The flags that choose the model, for the measurement's subprocesses."""
    return ["--tiny"] if args.tiny else ["--smollm2-shaped"] if args.smollm2_shaped else []


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

    def round(self, n_decode: int, profile: str | None = None, lazy: bool = False,
              around_decode=contextlib.nullcontext
              ) -> tuple[float, float, list[int], float, float, float, float]:
        """(prefill s, decode s, tokens, decode host s, prefill host s, decode wait s: the
        wall time of the token reads, the calling thread's CPU time in them);
        `around_decode()` wraps the decode loop."""
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
        with around_decode(), _timed_sample() as waited:
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
            prefill_host, waited[1], waited[0]


@contextlib.contextmanager
def _timed_sample():
    """Time spent in `temperature_sample` (the host read of each token: the device's work),
    in the yielded list: [CPU time of the calling thread, wall time]."""
    from tl_core.lang.builtins import BUILTINS

    sample = BUILTINS["temperature_sample"]._impl
    real = sample.fn
    waited = [0.0, 0.0]

    def timed(*args, **kwargs):
        wait, wall = time.thread_time(), time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            waited[0] += time.thread_time() - wait
            waited[1] += time.perf_counter() - wall

    sample.fn = timed
    try:
        yield waited
    finally:
        sample.fn = real


def cold_prefill(path: Path, prompt: list[int], device: str, traced: bool) -> dict:
    """One fresh process's first prefill (`--cold-prefill`): wall and host seconds of the
    first `next_logits` call, uncompiled or traced at once; the weights loaded before."""
    ours = Ours(path, prompt, device)
    model = ours.s.interpreter.globals.vars["model"]
    mx.eval([model.get_tensor(name).array for name in model.names()])
    ours.s.interpreter.trace_first = traced
    start, host = time.perf_counter(), time.thread_time()
    with _timed_sample() as waited:
        ours.run("let next = temperature_sample(next_logits(ids, model, cache, 0, n_layer, "
                 "n_head, n_kv, eps, base), 0.0)")
    wall = time.perf_counter() - start
    info = ours.s.interpreter.fns["next_logits"]
    compiled = any(callable(f) for f in (info.compiled or {}).values())
    return {"wall": wall, "host": time.thread_time() - host - waited[0], "compiled": compiled,
            "token": int(ours.s.interpreter.globals.vars["next"])}


def run_cold_prefills(args: argparse.Namespace) -> None:
    import subprocess

    rows: dict[bool, list[dict]] = {False: [], True: []}
    for _ in range(args.cold_prefill):
        for traced in (False, True):
            cmd = [sys.executable, __file__, "--cold-one", "traced" if traced else "uncompiled",
                   "--prompt-tokens", str(args.prompt_tokens), "--device", args.device]
            out = subprocess.run(cmd + model_flags(args), check=True,
                                 capture_output=True, text=True).stdout
            rows[traced].append(json.loads(out.strip().splitlines()[-1]))
    for traced, name in ((False, "uncompiled (first call's rule)"), (True, "traced at once")):
        r = rows[traced]
        wall = statistics.median(x["wall"] for x in r)
        host = statistics.median(x["host"] for x in r)
        print(f"first prefill, {name}: {args.prompt_tokens / wall:8.1f} tokens/s, "
              f"{wall * 1000:.1f} ms wall, {host * 1000:.1f} ms host (median of {len(r)}); "
              f"compiled: {sorted({x['compiled'] for x in r})}")
    same = {x["token"] for x in rows[False] + rows[True]}
    print(f"same first token: {len(same) == 1}")


class KernelProfile:
    """`--kernels`: the device's kernels run inside the block (CUPTI through torch.profiler,
    which records every kernel of the process, MLX's included), summed by name."""

    def __init__(self) -> None:
        self.kernels: list[tuple[str, float, float]] = []  # (name, start us, end us)
        self.error = ""

    @contextlib.contextmanager
    def __call__(self):
        try:
            import torch
            from torch.profiler import ProfilerActivity, profile
        except ImportError as e:
            self.error = f"no device profile: {e}"
        else:
            if not torch.cuda.is_available():
                self.error = "no device profile: torch sees no CUDA device"
        if self.error:
            yield
            return
        mx.synchronize()
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            yield
            mx.synchronize()
        for e in prof.events():
            if str(getattr(e, "device_type", "")).endswith("CUDA"):
                r = e.time_range
                self.kernels.append((e.name, float(r.start), float(r.end)))

    def report(self, label: str, tokens: int, top: int = 14) -> list[str]:
        """Per decoded token: launches, busy time (sum of durations), span (first start to
        last end) and the costliest kernels."""
        if self.error or not self.kernels:
            return [f"{label}: {self.error or 'no kernels recorded'}"]
        import collections

        by = collections.defaultdict(lambda: [0, 0.0])
        for name, a, b in self.kernels:
            by[name][0] += 1
            by[name][1] += b - a
        busy = sum(v[1] for v in by.values())
        span = max(b for _, _, b in self.kernels) - min(a for _, a, _ in self.kernels)
        ordered = sorted(self.kernels, key=lambda k: k[1])
        gaps = [b[1] - a[2] for a, b in zip(ordered, ordered[1:], strict=False)]
        long = [g for g in gaps if g > 20]
        out = [f"{label}: per token {len(self.kernels) / tokens:.1f} kernels, busy "
               f"{busy / tokens:.1f} us, span {span / tokens:.1f} us "
               f"({100 * busy / span:.0f}% busy); idle between kernels per token: "
               f"{sum(g for g in gaps if g > 0) / tokens:.1f} us, of it "
               f"{len(long) / tokens:.1f} gaps over 20 us ({sum(long) / tokens:.1f} us)"]
        for name, (n, t) in sorted(by.items(), key=lambda kv: -kv[1][1])[:top]:
            out.append(f"    {t / tokens:8.1f} us {n / tokens:6.1f}x  {name[:110]}")
        return out


def run_kernel_profiles(model, prompt: list[int], ours: Ours, n_decode: int,
                        out: str | None = None) -> None:
    """One more decode of each side, its kernels profiled (`--kernels`); with `out`, each
    side's kernels (name, start us, end us) are written there as JSON too."""
    base, mine = KernelProfile(), KernelProfile()
    run_baseline(model, model.metadata, prompt, n_decode, around_decode=base)
    ours.round(n_decode, around_decode=mine)
    for line in base.report("hand-written decode kernels", n_decode - 1) + \
            mine.report("ours' decode kernels", n_decode - 1):
        print(line)
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        for name, prof in (("hand-written", base), ("ours", mine)):
            (Path(out) / f"kernels-{name}.json").write_text(json.dumps(prof.kernels))


def graph_nodes(out: mx.array) -> str:
    """The nodes of `out`'s graph (not evaluated yet): their count and the most frequent."""
    import collections

    with tempfile.TemporaryDirectory() as d:
        mx.export_to_dot(str(Path(d) / "g.dot"), out)
        text = (Path(d) / "g.dot").read_text(encoding="utf-8")
    kinds = collections.Counter(m.split()[0] for m in re.findall(r'label ="([^"]+)"', text))
    top = ", ".join(f"{k} {n}" for k, n in kinds.most_common(6))
    return f"{sum(kinds.values())} nodes ({top}, ...)"


def step_nodes(ours: Ours) -> str:
    """The nodes of one replay of ours' compiled decode step."""
    from tl_core.runtime.interpreter import Interpreter

    real = Interpreter._call_compiled
    seen: list[str] = []

    def capture(self, *args, **kwargs):
        out = real(self, *args, **kwargs)
        if isinstance(out, mx.array) and not seen:
            seen.append(graph_nodes(out))
        return out

    Interpreter._call_compiled = capture
    try:
        ours.run("let probe = next_logits(int_to_tokenids(next), model, cache, pos, n_layer, "
                 "n_head, n_kv, eps, base)")
    finally:
        Interpreter._call_compiled = real
    return seen[0] if seen else "no compiled call"


def hand_written_step(model, prompt: list[int]) -> mx.array:
    hw = HandWritten(model, model.metadata, len(prompt) + 2)
    mx.eval(hw.forward(mx.array(prompt)))
    return hw.forward(mx.array([prompt[0]]))


def attention_forms() -> list[str]:
    """Device time of decode attention (one query row, SmolLM2's 9/3 heads of 64) in the
    forms that matter: the hand-written model's (the filled rows exactly, no mask), the
    compiled step's "mask" form (the whole buffer, a bool mask), its "bias" form (K with a
    bias channel, Q and V padded, no mask) at each padded width (whether MLX fuses a width
    is what this says) and with V left 64 wide, and its "two-call" form; each with MLX's
    heuristics and with `force_fused` (an error when MLX has no fused kernel for it on this
    device)."""
    rows, cap, reps = 200, 256, 30
    q = mx.random.normal((1, 9, 1, 64)).astype(mx.float16)
    buf = mx.random.normal((cap, 3, 64)).astype(mx.float16)
    kv = buf.transpose(1, 0, 2)[None]  # the cache's [rows, heads, D] layout, as ours reads it
    exact = mx.contiguous(mx.random.normal((1, 3, rows, 64)).astype(mx.float16))
    mask = mx.arange(cap)[None, :] < rows
    ind = mx.broadcast_to((mx.arange(cap) < rows).astype(mx.float16)[None, None, :, None],
                          (1, 3, cap, 64))
    mx.eval(q, buf, kv, exact, mask, ind)
    heads_first = mx.contiguous(kv)  # the hand-written cache's [1, heads, rows, D] layout
    mx.eval(heads_first)
    forms = [("filled rows, mask None (hand-written)", q, exact, exact, None),
             ("whole buffer, bool mask (compiled step, mask)", q, kv, kv, mask),
             ("whole buffer in [1, heads, rows, D], bool mask", q, heads_first, heads_first,
              mask)]
    for wide in (80, 96, 128):
        k_pad = mx.pad(buf, [(0, 0), (0, 0), (0, wide - 64)])
        k_pad[rows:, :, 64] = -30000.0
        k_pad = k_pad.transpose(1, 0, 2)[None]
        v_pad = mx.pad(kv, [(0, 0), (0, 0), (0, 0), (0, wide - 64)])
        q_pad = mx.pad(q, [(0, 0), (0, 0), (0, 0), (0, wide - 64)], constant_values=1.0)
        mx.eval(k_pad, v_pad, q_pad)
        forms.append((f"whole buffer, bias channel, width {wide} (compiled step, bias)",
                      q_pad, k_pad, v_pad, None))
        forms.append((f"whole buffer, bias channel, width {wide}, V 64 wide", q_pad, k_pad, kv,
                      None))
        heads_k, heads_v = mx.contiguous(k_pad), mx.contiguous(v_pad)
        mx.eval(heads_k, heads_v)
        forms.append((f"whole buffer, bias channel, width {wide}, in [1, heads, rows, W]",
                       q_pad, heads_k, heads_v, None))
    forms += [("whole buffer, mask None, V (two-call's first call)", q, kv, kv, None),
              ("whole buffer, mask None, filled-row indicator (two-call's second)", q, kv, ind,
               None)]
    out = []
    for name, qf, k, v, m in forms:
        for fused in (False, True):
            label = f"{name}{', force_fused' if fused else ''}"
            try:
                _attention_calls(qf, k, v, m, fused, reps)
                start = time.perf_counter()
                _attention_calls(qf, k, v, m, fused, reps)
                us = (time.perf_counter() - start) / reps * 1e6
                out.append(f"{label}: {us:.1f} us per call")
            except (ValueError, RuntimeError) as exc:
                out.append(f"{label}: no fused kernel ({str(exc)[:100]})")
    return out


def _attention_calls(q: mx.array, k: mx.array, v: mx.array, mask: mx.array | None,
                     fused: bool, reps: int) -> None:
    mx.eval([mx.fast.scaled_dot_product_attention(q * (i + 1), k, v, scale=0.125, mask=mask,
                                                  force_fused=fused) for i in range(reps)])


# The TL_DECODE_ATTENTION values `--attention-forms` runs by default: the forms, and the bias
# form at 128 wide besides its default (96 for SmolLM2's heads of 64); `--forms` names others.
ATTENTION_FORMS = ("mask", "bias", "bias:128", "two-call")


def run_attention_forms(args: argparse.Namespace) -> None:
    """`--attention-forms`: the whole measurement per decode-attention form, each form in a
    fresh process (its env) with the hand-written model measured in the same process."""
    import os
    import subprocess

    from tl_core.runtime.decode_form import ENV

    cmd = [sys.executable, __file__, "--summary", "--prompt-tokens", str(args.prompt_tokens),
           "--decode", str(args.decode), "--repeat", str(args.repeat), "--device", args.device]
    rows = []
    for form in args.forms.split(",") if args.forms else ATTENTION_FORMS:
        done = subprocess.run(cmd + model_flags(args), capture_output=True, text=True,
                              env={**os.environ, ENV: form})
        if done.returncode:
            print(f"{form}: failed\n{done.stdout[-2000:]}{done.stderr[-3000:]}")
            continue
        print(done.stdout.strip().splitlines()[0])
        rows.append((form, json.loads(done.stdout.strip().splitlines()[-1])))
    print(f"{'form':9} | decode tokens/s: ours, hand-written, ratio | prefill: ours, "
          f"hand-written, ratio | decode ms/token host + wait | greedy tokens equal")
    for form, r in rows:
        print(f"{form:9} | {r['decode'][0]:8.1f} {r['decode'][1]:8.1f} "
              f"{r['decode'][0] / r['decode'][1]:5.2f}x | {r['prefill'][0]:8.1f} "
              f"{r['prefill'][1]:8.1f} {r['prefill'][0] / r['prefill'][1]:5.2f}x | "
              f"{r['host_ms']:.2f} + {r['wait_ms']:.2f} | {r['same']}")
    print("decode attention on this device (30 calls, one wait; K/V [1, 3, L, 64] float16):")
    for line in attention_forms():
        print("  " + line)


# Rounds of ours run before the measured ones: the first prefill is traced (loading the
# weights), the first decode step runs uncompiled and the second is traced, then replayed.
WARM_ROUNDS = 3


def run_alternating_forms(args: argparse.Namespace, model, path: Path, prompt: list[int]
                          ) -> None:
    """`--alternate-forms`: one process, each repetition the hand-written model then ours in
    each named decode-attention form (TL_DECODE_ATTENTION set before the round; a cache made
    under another form is another trace), so that the forms meet the same machine state (the
    speed of a host-bound decode varies ~2x between processes on the GPU machines)."""
    import os

    from tl_core.runtime.decode_form import ENV

    forms = args.alternate_forms.split(",")
    ours = Ours(path, prompt, args.device)
    for form in forms:
        os.environ[ENV] = form
        for _ in range(WARM_ROUNDS):
            ours.round(args.decode)
    run_baseline(model, model.metadata, prompt, args.decode)
    base, mine = [], {form: [] for form in forms}
    for _ in range(args.repeat):
        base.append(run_baseline(model, model.metadata, prompt, args.decode))
        for form in forms:
            os.environ[ENV] = form
            mine[form].append(ours.round(args.decode))
    steps = args.decode - 1
    bd = statistics.median(steps / r[1] for r in base)
    bp = statistics.median(len(prompt) / r[0] for r in base)
    print(f"device {mx.default_device()}, mlx {mx.__version__}; {path.name}; prompt "
          f"{len(prompt)} tokens, {args.decode} decoded, median of {args.repeat}, forms "
          f"alternated in one process; hand-written prefill {bp:.1f}, decode {bd:.1f} "
          f"tokens/s, host "
          f"{statistics.median(r[3] for r in base) / steps * 1000:.2f} ms/token")
    for form in forms:
        rows = mine[form]
        od = statistics.median(steps / r[1] for r in rows)
        same = rows[-1][2] == base[-1][2][1:]
        op = statistics.median(len(prompt) / r[0] for r in rows)
        print(f"  {form:10} prefill {op:8.1f} tokens/s, ratio {op / bp:.2f}; "
              f"decode {od:7.1f} tokens/s, ratio {od / bd:.2f}; host "
              f"{statistics.median(r[3] for r in rows) / steps * 1000:.2f} + wait "
              f"{statistics.median(r[5] for r in rows) / steps * 1000:.2f} ms/token; greedy "
              f"tokens equal: {same}")
    if args.kernels:
        for form in forms:
            os.environ[ENV] = form
            print(f"form {form}:")
            run_kernel_profiles(model, prompt, ours, args.decode)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompt-tokens", type=int, default=128)
    ap.add_argument("--decode", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--device", default="gpu" if mx.default_device() == mx.gpu else "cpu")
    ap.add_argument("--tiny", action="store_true",
                    help="a generated model of SmolLM2's structure with tiny widths")
    ap.add_argument("--smollm2-shaped", action="store_true",
                    help="a generated float32 model of SmolLM2-135M's exact widths (random "
                         "weights; the same device work after loading to float16), for "
                         "machines without the model file")
    ap.add_argument("--profile", help="write a cProfile of ours' last decode loop here")
    ap.add_argument("--lazy", action="store_true",
                    help="ours starts no evaluation before each token's host read, so the "
                         "host time excludes all device work (the graph is only built)")
    ap.add_argument("--cold-prefill", type=int, metavar="N",
                    help="measure the first prefill of a fresh process, uncompiled against "
                         "traced at once, N processes each")
    ap.add_argument("--attention-forms", action="store_true",
                    help="measure once per decode-attention form (TL_DECODE_ATTENTION), "
                         "each in a fresh process against the hand-written model")
    ap.add_argument("--forms", help="with --attention-forms, the forms to run (comma "
                    "separated)")
    ap.add_argument("--alternate-forms", metavar="FORMS",
                    help="decode-attention forms (comma separated) measured in one process, "
                         "alternated round by round against the hand-written model")
    ap.add_argument("--kernels", action="store_true",
                    help="end with a device profile of one decode of each side (CUPTI "
                         "through torch.profiler, where torch is installed)")
    ap.add_argument("--kernels-out", metavar="DIR",
                    help="with --kernels, write each side's kernels (name, start, end) here")
    ap.add_argument("--cold-one", choices=["uncompiled", "traced"], help=argparse.SUPPRESS)
    ap.add_argument("--summary", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    mx.set_default_device(mx.gpu if args.device == "gpu" else mx.cpu)
    if args.cold_prefill:
        run_cold_prefills(args)
        return
    if args.attention_forms:
        run_attention_forms(args)
        return
    from tl_core.models import load_model

    tmp = tempfile.TemporaryDirectory()
    if args.tiny or args.smollm2_shaped:
        widths = {"head_dim": 64, "ffn": 1536, "vocab": 49152} if args.smollm2_shaped else {}
        path = tiny_model(Path(tmp.name), **widths)
        model = load_model(path)
        prompt = [(7 * i + 3) % 512 for i in range(args.prompt_tokens)]
    else:
        from tl_core.tokenizer import load_tokenizer

        path = smollm2_path()
        model = load_model(path)
        tok = load_tokenizer(path)
        text = "The quick brown fox jumps over the lazy dog. " * 64
        prompt = tok.tokenize(text, False)[: args.prompt_tokens]
    if args.cold_one:
        print(json.dumps(cold_prefill(path, prompt, args.device, args.cold_one == "traced")))
        return
    if args.alternate_forms:
        run_alternating_forms(args, model, path, prompt)
        return
    from tl_core.runtime.decode_form import decode_attention_form

    print(f"device {mx.default_device()}, mlx {mx.__version__}; {path.name}; prompt "
          f"{len(prompt)} tokens, {args.decode} decoded, median of {args.repeat}; decode "
          f"attention form {decode_attention_form()}")
    base_rows, ours_rows = [], []
    base_rows.append(run_baseline(model, model.metadata, prompt, args.decode))  # warm-up
    start = time.perf_counter()
    ours = Ours(path, prompt, args.device)
    cold = ours.round(args.decode)
    print(f"ours, first round (weights loaded on first use, traced, compiled): prefill "
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
    bw = statistics.median(r[4] for r in base_rows) / n_steps * 1000
    ow = statistics.median(r[5] for r in ours_rows) / n_steps * 1000
    same = ours_rows[-1][2] == base_rows[-1][2][1:]
    if args.summary:  # one JSON line for --attention-forms
        print(json.dumps({"decode": [od, bd], "prefill": [op, bp], "host_ms": oh,
                          "wait_ms": ow, "same": same}))
        return
    print(f"where a decoded token's wall time goes: ours {oh:.2f} ms host + {ow:.2f} ms waiting "
          f"for the device at the token's read (+ {1000 / od - oh - ow:.2f} ms else); "
          f"hand-written {bh:.2f} + {bw:.2f} (+ {1000 / bd - bh - bw:.2f})")
    bc = statistics.median(r[5] for r in base_rows) / n_steps * 1000
    oc = statistics.median(r[6] for r in ours_rows) / n_steps * 1000
    print(f"of the wait, CPU time of the calling thread (work MLX does on the host in the "
          f"read): ours {oc:.2f} ms, hand-written {bc:.2f} ms")
    print("the compiled decode step's graph (replayed per token; host time grows with its "
          f"nodes): {step_nodes(ours)}")
    print(f"hand-written decode graph: {graph_nodes(hand_written_step(model, prompt))}")
    print(f"greedy tokens equal: {same}")
    if args.kernels:
        run_kernel_profiles(model, prompt, ours, args.decode, args.kernels_out)
    print("decode attention on this device (30 calls, one wait; K/V [1, 3, L, 64] float16):")
    for line in attention_forms():
        print("  " + line)


if __name__ == "__main__":
    main()
