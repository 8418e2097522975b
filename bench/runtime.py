"""Runtime benchmarks: interpreter overheads against raw MLX (and PyTorch where installed).

1. float16 N x N matmul (`let c = a @ b`) through the interpreter vs `mx.eval(a @ b)`
   (goal: within 5%); N = 8192 on a GPU, 512 on the CPU (or --matmul-size).
2. The seed's `forward` (input @ weights + bias) on a 4096 x 4096 layer (512 on the CPU):
   compiled (mx.compile) vs uncompiled (TL_NO_COMPILE) vs PyTorch eager on the same card.
3. Per-statement interpreter overhead on tiny tensors (`y = x + x` in a loop).

Prints one line per measurement and ratios against the baseline measured in the same run.
Usage: python bench/runtime.py [--device gpu|cpu] [--matmul-size N] [--layer-size N]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SEED = """
fn forward(input: float16[N, D_in],
           weights: float16[D_in, D_out],
           bias: float16[D_out]) -> float16[N, D_out] {
    let output = input @ weights
    return output + bias
}
"""


def interleaved(fns: dict[str, Callable[[], Any]], iters: int, warmup: int = 3
                ) -> dict[str, float]:
    """Median seconds per call of each function, timed in alternation (one call of each per
    round, the order rotating) so that clock and temperature drift hit all of them alike."""
    names = list(fns)
    for _ in range(warmup):
        for name in names:
            fns[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for i in range(iters):
        order = names[i % len(names):] + names[:i % len(names)]
        for name in order:
            t0 = time.perf_counter()
            fns[name]()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


def card_name(device: str) -> str:
    if device != "gpu":
        return f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"
    try:
        import torch

        if torch.cuda.is_available():
            return torch.cuda.get_device_name(0)
    except ImportError:
        pass
    try:
        import mlx.core as mx

        return str(mx.device_info().get("device_name", "GPU"))
    except Exception:  # noqa: BLE001
        return "GPU"


def main() -> int:
    import mlx.core as mx

    from tl_core.runtime.interpreter import Interpreter, gpu_available
    from tl_core.syntax import parse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", choices=("gpu", "cpu"), default=None)
    ap.add_argument("--matmul-size", type=int, default=None)
    ap.add_argument("--layer-size", type=int, default=None)
    ap.add_argument("--repeat", type=int, default=None)
    args = ap.parse_args()
    device = args.device or ("gpu" if gpu_available() else "cpu")
    on_gpu = device == "gpu"
    n_mm = args.matmul_size or (8192 if on_gpu else 512)
    n_layer = args.layer_size or (4096 if on_gpu else 512)
    repeat = args.repeat or (20 if on_gpu else 5)
    dev = mx.gpu if on_gpu else mx.cpu
    mx.set_default_device(dev)
    print(f"# runtime bench: {card_name(device)}, MLX {mx.__version__}, device {device}, "
          f"{datetime.date.today().isoformat()}")

    interp = Interpreter(device=device)
    results: dict[str, float] = {}

    # 1. matmul through the interpreter vs raw MLX
    a = mx.random.normal((n_mm, n_mm)).astype(mx.float16)
    b = mx.random.normal((n_mm, n_mm)).astype(mx.float16)
    mx.eval(a, b)
    interp.globals.vars.update(a=a, b=b)
    stmt = parse("let c = a @ b").program.items

    def raw_mm() -> None:
        mx.eval(a @ b)

    def tl_mm() -> None:
        interp.run_items(stmt)

    med = interleaved({"raw": raw_mm, "tl": tl_mm}, repeat * 3)
    raw, tl = med["raw"], med["tl"]
    flops = 2 * n_mm**3
    print(f"matmul f16 {n_mm}x{n_mm} (medians of {repeat * 3} alternating runs): raw MLX "
          f"{raw * 1e3:.3f} ms ({flops / raw / 1e12:.1f} TFLOP/s), through the runtime "
          f"{tl * 1e3:.3f} ms; runtime/raw {tl / raw:.3f}")
    results["matmul_ratio"] = tl / raw
    for k in ("a", "b", "c"):
        interp.globals.vars.pop(k, None)

    # 2. seed forward: compiled vs uncompiled vs PyTorch eager
    x = mx.random.normal((n_layer, n_layer)).astype(mx.float16)
    w = (mx.random.normal((n_layer, n_layer)) * 0.02).astype(mx.float16)
    bias = mx.random.normal((n_layer,)).astype(mx.float16)
    mx.eval(x, w, bias)
    prog = parse(SEED + "\nlet y = forward(X, W, B)\n").program
    interp.define_functions(prog)
    call = [i for i in prog.items if not hasattr(i, "body")]
    interp.globals.vars.update(X=x, W=w, B=bias)

    def run_compiled() -> None:
        interp.compile = True
        interp.run_items(call)

    def run_uncompiled() -> None:
        interp.compile = False
        interp.run_items(call)

    def raw_forward() -> None:
        mx.eval(x @ w + bias)

    fns: dict[str, Callable[[], Any]] = {"compiled": run_compiled, "uncompiled": run_uncompiled,
                                         "raw": raw_forward}
    torch_note = ", PyTorch not installed"
    try:
        import numpy as np
        import torch

        if on_gpu and torch.cuda.is_available():
            tx = torch.from_numpy(np.array(x)).cuda()
            tw = torch.from_numpy(np.array(w)).cuda()
            tb = torch.from_numpy(np.array(bias)).cuda()

            def torch_fwd() -> None:
                _ = tx @ tw + tb
                torch.cuda.synchronize()

            fns["torch"] = torch_fwd
        else:
            torch_note = ", PyTorch compared on a GPU only"
    except ImportError:
        pass
    run_compiled()
    y_compiled = interp.globals.vars["y"]
    run_uncompiled()
    y_plain = interp.globals.vars["y"]
    same = bool(mx.array_equal(y_compiled, y_plain).item())
    med = interleaved(fns, repeat * 3)
    compiled, uncompiled, raw_fwd = med["compiled"], med["uncompiled"], med["raw"]
    line = (f"seed forward {n_layer}x{n_layer} (medians of {repeat * 3} alternating runs): "
            f"compiled {compiled * 1e3:.3f} ms, uncompiled {uncompiled * 1e3:.3f} ms "
            f"(compiled/uncompiled {compiled / uncompiled:.3f}, results equal: {same}), "
            f"raw MLX {raw_fwd * 1e3:.3f} ms (compiled/raw {compiled / raw_fwd:.3f})")
    if "torch" in med:
        line += (f", PyTorch eager {med['torch'] * 1e3:.3f} ms (compiled/torch "
                 f"{compiled / med['torch']:.3f})")
        results["forward_torch_ms"] = med["torch"] * 1e3
    else:
        line += torch_note
    results["forward_compiled_ms"] = compiled * 1e3
    results["forward_uncompiled_ms"] = uncompiled * 1e3
    print(line)
    interp.compile = True
    for k in ("X", "W", "B", "y"):
        interp.globals.vars.pop(k, None)

    # 3. per-statement overhead on tiny tensors
    n_iter = 2000
    loop = parse(f"let x = ones([4, 4])\nlet y = x\nfor i in range({n_iter}) {{ y = x + x }}"
                 ).program.items
    xs = mx.ones((4, 4), dtype=mx.float16)

    def raw_loop() -> None:
        for _ in range(n_iter):
            mx.eval(xs + xs)

    med = interleaved({"tl": lambda: interp.run_items(loop), "raw": raw_loop}, 5, warmup=1)
    t_loop, t_raw = med["tl"], med["raw"]
    per_stmt = (t_loop - t_raw) / n_iter
    print(f"per-statement overhead (tiny tensors, {n_iter} loop iterations of `y = x + x`): "
          f"{t_loop / n_iter * 1e6:.1f} us per iteration vs raw MLX {t_raw / n_iter * 1e6:.1f} "
          f"us; interpreter overhead {per_stmt * 1e6:.1f} us per statement")
    results["stmt_overhead_us"] = per_stmt * 1e6
    return 0


if __name__ == "__main__":
    sys.exit(main())
