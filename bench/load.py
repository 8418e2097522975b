"""Loading whole models to float16: ours against the libraries' own loaders, same run.

Run: .venv/bin/python bench/load.py [--big-mb N] [--repeat R] [--only big,minilm,gguf,smollm2]
                                    [--variants] [--minilm-shaped] [--host-only]
On a GPU: `.venv/bin/python bench/load.py --only big,minilm --variants --minilm-shaped` times
every CUDA variant of the host path (tl_core.models.reading.CUDA_LOAD_VARIANTS, chosen by
TL_CUDA_LOAD) in the F32 SafeTensors rows, in the same run as the baselines: each variant's
line `ours [VARIANT]` gives its ratio to each baseline of the row. --minilm-shaped: the MiniLM
row loads a generated file of all-MiniLM-L6-v2's tensors (same names, shapes and types,
random values) instead of the downloaded model, for a machine without network access.
Page cache warm (each file is read once before timing), every tensor evaluated and then read
once by a device reduction (so an array that still sits in host memory pays its move to the GPU
here, as it would on first use); ours also decides each tensor's overflow count, as
`get_tensor` does for its warning. The variants of a row run in turn within each repetition
(ours, baseline 1, baseline 2, ours, ...), so a busy machine slows them alike. Rows:
- a generated F32 SafeTensors file (110 tensors, --big-mb MB; default 1850 on a GPU, 400 on
  the CPU): `load_model` + every `get_tensor`, against `mx.load` + `astype(float16)` and,
  where PyTorch is installed, `safetensors.torch.load_file(device=cuda|cpu)` + `.half()`;
- MiniLM's SafeTensors (90 MB F32), same baselines;
- a generated 185 MB GGUF of Q8_0 and Q4_0 tensors (gguf's writer; cached in .cache/bench),
  against `mx.load` + `mx.dequantize`;
- SmolLM2's Q4_1/Q8_0 GGUF, against `mx.load` + `mx.dequantize`.
Prints the median seconds of each and the ratios ours / baseline (below 1: ours is faster).
--host-only times the host side alone: the same loops with nothing evaluated (MLX is lazy), so
each row is the Python, header and copying work per tensor and the graph it builds, without
the device's compute (ours decides no overflow count, which would evaluate; the host path
still converts F32 on the host, as it does in every run).
"""

from __future__ import annotations

import argparse
import json
import os
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


def unevaluated(arrays: list) -> None:
    """--host-only: nothing is evaluated (the arrays are dropped as built)."""


# What each row does with the arrays it built: `used`, or `unevaluated` under --host-only.
USE = {"use": used}


def ours(path: Path) -> None:
    clear_cache()
    model = load_model(path)
    loaded = [model.get_tensor(name) for name in model.names()
              if model.header.tensors[name].is_float]
    USE["use"]([t.array for t in loaded])
    if USE["use"] is used:
        for t in loaded:
            t.overflow  # noqa: B018 - decided, as get_tensor does for its warning


GGUF_ROWS = 2048  # each tensor [2048, 2048]: 4.46 MB as Q8_0, 2.36 MB as Q4_0


def write_q8_q4_gguf(path: Path) -> None:
    """20 Q8_0 and 41 Q4_0 tensors of [2048, 2048] (185 MB), random normal values quantized
    once per type by gguf.quants and written by gguf's writer."""
    import gguf

    from tests.models.builders import write_gguf

    values = np.random.default_rng(0).standard_normal((GGUF_ROWS, GGUF_ROWS), np.float32)
    blocks = {q: gguf.quants.quantize(values, gguf.GGMLQuantizationType[q])
              for q in ("Q8_0", "Q4_0")}
    tensors = {f"blk.{i}.ffn_up.weight": (blocks["Q8_0"], "Q8_0") for i in range(20)}
    tensors |= {f"blk.{i}.ffn_down.weight": (blocks["Q4_0"], "Q4_0") for i in range(41)}
    tmp = path.with_suffix(".tmp")
    write_gguf(tmp, tensors)
    tmp.replace(path)


def q8_q4_gguf() -> Path:
    path = Path(__file__).resolve().parent.parent / ".cache" / "bench" / "q8_q4_185mb.gguf"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_q8_q4_gguf(path)
    return path


def mx_astype(path: Path) -> None:
    weights = mx.load(str(path))
    USE["use"]([w.astype(mx.float16) for w in weights.values()])


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
    USE["use"](out)


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


def interleaved(fns: list, repeat: int) -> list[float]:
    """The median seconds of each of `fns`, run in turn `repeat` times (each once first, to
    warm MLX: kernels compiled, allocator)."""
    for fn in fns:
        fn()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeat):
        for fn, seen in zip(fns, times, strict=True):
            seen.append(timed(fn, 1))
    return [statistics.median(t) for t in times]


def ours_variant(path: Path, variant: str) -> None:
    """`ours` with the host path's variant `variant` (TL_CUDA_LOAD)."""
    old = os.environ.get("TL_CUDA_LOAD")
    os.environ["TL_CUDA_LOAD"] = variant
    try:
        ours(path)
    finally:
        if old is None:
            del os.environ["TL_CUDA_LOAD"]
        else:
            os.environ["TL_CUDA_LOAD"] = old


def ours_rows(path: Path, variants: bool) -> list:
    """(label, function): ours as configured, then (`variants`) each other CUDA variant of
    the host path."""
    from tl_core.models.reading import CUDA_LOAD_VARIANTS, cuda_load_variant

    this = cuda_load_variant()
    return [(f"ours [{this}]", lambda: ours(path))] + [
        (f"ours [{v}]", lambda v=v: ours_variant(path, v))
        for v in CUDA_LOAD_VARIANTS if variants and v != this]


def row(label: str, path: Path, baselines, repeat: int, variants: bool = False) -> None:
    """One file: the baselines' times, then each of ours with its ratio to each baseline."""
    path.read_bytes()  # warm the page cache
    baselines = [(name, fn) for name, fn in baselines if fn is not None]
    mine = ours_rows(path, variants)
    times = interleaved([fn for _, fn in mine + baselines], repeat)
    print(f"{label}:")
    for (name, _), t in zip(baselines, times[len(mine):], strict=True):
        print(f"    {name}: {t:.4f} s")
    for (name, _), t in zip(mine, times[:len(mine)], strict=True):
        ratios = ", ".join(f"{t / tb:.2f} of {base.split(' + ')[0]}"
                           for (base, _), tb in zip(baselines, times[len(mine):], strict=True))
        print(f"    {name}: {t:.4f} s  ratio {ratios}")


MINILM_WIDTH, MINILM_FF, MINILM_LAYERS, MINILM_VOCAB = 384, 1536, 6, 30522


def write_minilm_shaped(path: Path) -> None:
    """all-MiniLM-L6-v2's tensors (names, shapes, F32 and the I64 position_ids; 90 MB) with
    random values, in the model file's order (as safetensors writes: wider types first, then
    by name)."""
    from tests.models.builders import write_safetensors

    d, ff = MINILM_WIDTH, MINILM_FF
    shapes: dict[str, tuple[int, ...]] = {
        "embeddings.word_embeddings.weight": (MINILM_VOCAB, d),
        "embeddings.position_embeddings.weight": (512, d),
        "embeddings.token_type_embeddings.weight": (2, d),
        "pooler.dense.weight": (d, d),
    }
    dense = {"attention.self.query": (d, d), "attention.self.key": (d, d),
             "attention.self.value": (d, d), "attention.output.dense": (d, d),
             "intermediate.dense": (ff, d), "output.dense": (d, ff)}
    for i in range(MINILM_LAYERS):
        for part, shape in dense.items():
            shapes[f"encoder.layer.{i}.{part}.weight"] = shape
        for part in ("attention.output.LayerNorm", "output.LayerNorm"):
            shapes[f"encoder.layer.{i}.{part}.weight"] = (d,)
    for name in [n for n in shapes if n.endswith(".weight") and "embeddings." not in n]:
        shapes[name[: -len("weight")] + "bias"] = shapes[name][:1]
    shapes["embeddings.LayerNorm.weight"] = shapes["embeddings.LayerNorm.bias"] = (d,)
    rng = np.random.default_rng(0)
    arrays = {name: rng.standard_normal(shape, dtype=np.float32) * np.float32(0.05)
              for name, shape in shapes.items()}
    arrays["embeddings.position_ids"] = np.arange(512, dtype=np.int64)[None, :]
    write_safetensors(path, dict(sorted(arrays.items(), key=lambda a: (-a[1].itemsize, a[0]))))


def main() -> None:
    ap = argparse.ArgumentParser()
    gpu = mx.default_device() == mx.gpu
    ap.add_argument("--big-mb", type=int, default=1850 if gpu else 400)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--only", default="")
    ap.add_argument("--variants", action="store_true",
                    help="the F32 SafeTensors rows also time every CUDA variant of the host path")
    ap.add_argument("--minilm-shaped", action="store_true",
                    help="the MiniLM row loads a generated file of MiniLM's tensors (no download)")
    ap.add_argument("--host-only", action="store_true",
                    help="time the host side alone: nothing evaluated, no overflow decided")
    args = ap.parse_args()
    if args.host_only:
        USE["use"] = unevaluated
    from tl_core.models.cuda_runtime import runtime
    from tl_core.models.reading import cuda_load_variant

    # found before the PyTorch baseline maps its own CUDA runtime into this process, so the
    # loader's variants use the runtime a program without PyTorch would find
    cuda = runtime()
    print(f"device: {mx.default_device()}, mlx {mx.__version__}, cuda "
          f"{mx.cuda.is_available()}, host path variant {cuda_load_variant()}, CUDA runtime "
          f"library {getattr(getattr(cuda, '_lib', None), '_name', None)}"
          + (", host side only (nothing evaluated)" if args.host_only else ""))
    from tests.model_files import minilm_path, smollm2_path

    with tempfile.TemporaryDirectory() as tmp:
        if not args.only or "big" in args.only:
            big = Path(tmp) / "big.safetensors"
            write_f32_safetensors(big, args.big_mb)
            t_fn, t_name = torch_baseline(big)
            row(f"F32 SafeTensors {args.big_mb} MB, 110 tensors", big,
                [("mx.load + astype", lambda: mx_astype(big)), (t_name, t_fn)],
                args.repeat, args.variants)
            big.unlink()
        if not args.only or "minilm" in args.only:
            p = Path(tmp) / "minilm.safetensors" if args.minilm_shaped else minilm_path()
            if args.minilm_shaped:
                write_minilm_shaped(p)
            t_fn, t_name = torch_baseline(p)
            row("MiniLM SafeTensors (90 MB F32)" + (", generated" if args.minilm_shaped
                                                    else ""), p,
                [("mx.load + astype", lambda: mx_astype(p)), (t_name, t_fn)], args.repeat,
                args.variants)
    if not args.only or "gguf" in args.only:
        p = q8_q4_gguf()
        row("Q8_0/Q4_0 GGUF (185 MB, 61 tensors)", p,
            [("mx.load + mx.dequantize", lambda: mx_gguf(p))], args.repeat)
    if not args.only or "smollm2" in args.only:
        p = smollm2_path()
        row("SmolLM2 Q4_1 GGUF (98 MB)", p, [("mx.load + mx.dequantize", lambda: mx_gguf(p))],
            args.repeat)


if __name__ == "__main__":
    main()
