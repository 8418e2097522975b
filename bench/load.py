"""Loading whole models to float16: ours against the libraries' own loaders, same run.

Run: .venv/bin/python bench/load.py [--big-mb N] [--repeat R]
Page cache warm (each file is read once before timing), every tensor evaluated and then read
once by a device reduction (so an array that still sits in host memory pays its move to the GPU
here, as it would on first use). Rows:
- a generated F32 SafeTensors file (110 tensors, --big-mb MB; default 1850 on a GPU, 400 on
  the CPU): `load_model` + every `get_tensor`, against `mx.load` + `astype(float16)` and,
  where PyTorch is installed, `safetensors.torch.load_file(device=cuda|cpu)` + `.half()`;
- MiniLM's SafeTensors (90 MB F32), same baselines;
- SmolLM2's Q4_1/Q8_0 GGUF, against `mx.load` + `mx.dequantize`.
Prints the median seconds of each and the ratio ours / baseline (below 1: ours is faster).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import mlx.core as mx  # noqa: E402
import numpy as np  # noqa: E402

from tl_core.models import clear_cache, load_model  # noqa: E402


def write_f32_safetensors(path: Path, total_mb: int, n: int = 110) -> None:
    """n F32 tensors of about total_mb MB together, random normal values."""
    rng = np.random.default_rng(0)
    per = max(1, total_mb * 1024 * 1024 // 4 // n)
    cols = 1024
    rows = max(1, per // cols)
    header: dict[str, object] = {}
    offset = 0
    for i in range(n):
        nbytes = rows * cols * 4
        header[f"layers.{i}.weight"] = {
            "dtype": "F32", "shape": [rows, cols], "data_offsets": [offset, offset + nbytes]
        }
        offset += nbytes
    blob = json.dumps(header).encode()
    blob += b" " * (-len(blob) % 8)
    with open(path, "wb") as f:
        f.write(len(blob).to_bytes(8, "little"))
        f.write(blob)
        chunk = rng.standard_normal(rows * cols, dtype=np.float32)
        for _ in range(n):
            f.write(chunk.tobytes())


def timed(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def used(arrays: list) -> None:
    """Evaluate the arrays, then read each once on the default device."""
    mx.eval(arrays)
    mx.eval([mx.sum(a) for a in arrays])


def ours(path: Path) -> None:
    clear_cache()
    model = load_model(path)
    used([model.get_tensor(name).array for name in model.names()
          if model.header.tensors[name].is_float])


def mx_astype(path: Path) -> None:
    weights = mx.load(str(path))
    used([w.astype(mx.float16) for w in weights.values()])


def mx_gguf(path: Path) -> None:
    weights = mx.load(str(path))
    out = []
    for name, w in weights.items():
        if name.endswith(".scales") or name.endswith(".biases"):
            continue
        stem = name[: -len(".weight")] if name.endswith(".weight") else None
        if stem is not None and f"{stem}.scales" in weights:
            bits = w.shape[-1] // weights[f"{stem}.scales"].shape[-1]  # 32-bit words per group of 32
            out.append(mx.dequantize(w, weights[f"{stem}.scales"], weights[f"{stem}.biases"],
                                     group_size=32, bits=bits).astype(mx.float16))
        else:
            out.append(w.astype(mx.float16))
    used(out)


def torch_baseline(path: Path):
    try:
        import torch
        from safetensors.torch import load_file
    except ImportError:
        return None, None
    device = "cuda" if torch.cuda.is_available() else "cpu"

    def run() -> None:
        tensors = load_file(str(path), device=device)
        halves = [t.half() for t in tensors.values()]
        sums = [h.sum() for h in halves]  # noqa: F841 - read once, as the MLX rows are
        if device == "cuda":
            torch.cuda.synchronize()
        del halves

    return run, f"safetensors.torch.load_file(device={device}) + .half()"


def row(label: str, path: Path, baselines, repeat: int) -> None:
    path.read_bytes()  # warm the page cache
    ours(path)  # warm MLX (kernels compiled, allocator)
    t_ours = timed(lambda: ours(path), repeat)
    print(f"{label}: ours {t_ours:.3f} s")
    for name, fn in baselines:
        if fn is None:
            continue
        fn()
        t = timed(fn, repeat)
        print(f"    {name}: {t:.3f} s  ratio ours/baseline {t_ours / t:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    gpu = mx.default_device() == mx.gpu
    ap.add_argument("--big-mb", type=int, default=1850 if gpu else 400)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--only", default="")
    args = ap.parse_args()
    print(f"device: {mx.default_device()}, mlx {mx.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        if not args.only or "big" in args.only:
            big = Path(tmp) / "big.safetensors"
            write_f32_safetensors(big, args.big_mb)
            t_fn, t_name = torch_baseline(big)
            row(f"F32 SafeTensors {args.big_mb} MB, 110 tensors", big,
                [("mx.load + astype", lambda: mx_astype(big)), (t_name, t_fn)], args.repeat)
            big.unlink()
    from tests.model_files import minilm_path, smollm2_path

    if not args.only or "minilm" in args.only:
        p = minilm_path()
        t_fn, t_name = torch_baseline(p)
        row("MiniLM SafeTensors (90 MB F32)", p,
            [("mx.load + astype", lambda: mx_astype(p)), (t_name, t_fn)], args.repeat)
    if not args.only or "smollm2" in args.only:
        p = smollm2_path()
        row("SmolLM2 Q4_1 GGUF (98 MB)", p, [("mx.load + mx.dequantize", lambda: mx_gguf(p))],
            args.repeat)


if __name__ == "__main__":
    main()
