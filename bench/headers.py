"""Model header reading: our readers against gguf.GGUFReader and safetensors.safe_open.

Run: .venv/bin/python bench/headers.py
Prints, per file, the time of the first read of the file in this process (our header cache
cleared; module imports done beforehand) and the baseline's time, and their ratio. Files:
SmolLM2 (GGUF, 49k vocabulary), MiniLM (SafeTensors), a generated GGUF with a 150k-token
vocabulary and 150k merges, and a few hostile files (worst case of the error path).
"""

from __future__ import annotations

import os
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import gguf  # noqa: E402
import numpy as np  # noqa: E402
from safetensors import safe_open  # noqa: E402

from tests.model_files import minilm_path, smollm2_path  # noqa: E402
from tests.models.builders import write_gguf  # noqa: E402
from tl_core.models import ModelFileError, clear_cache, read_header  # noqa: E402
from tl_core.models.gguf import ggml_types  # noqa: E402

REPEAT = 5


def timed(fn, repeat: int = REPEAT) -> float:
    """Median milliseconds of `repeat` calls."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def ours(path: Path) -> None:
    clear_cache()
    read_header(path)


def gguf_reader(path: Path) -> None:
    r = gguf.GGUFReader(path)
    [(t.name, t.shape) for t in r.tensors]


def safe_open_keys(path: Path) -> None:
    with safe_open(str(path), "np") as f:
        [f.get_slice(k).get_shape() for k in f.keys()]


def row(label: str, ms: float, base_label: str, base_ms: float) -> None:
    print(f"{label:38s} {ms:9.2f} ms   {base_label:22s} {base_ms:9.2f} ms   x{base_ms / ms:8.1f}")


def main() -> int:
    ggml_types()  # one-time import of gguf's tables, excluded as the budget says
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, median of {REPEAT}")
    smol = smollm2_path()
    row("SmolLM2 GGUF (98 MB, 49k vocab)", timed(lambda: ours(smol)),
        "gguf.GGUFReader", timed(lambda: gguf_reader(smol), 2))
    fresh = _fresh_process_ms(smol)
    print(f"{'SmolLM2, one read in a fresh process':38s} {fresh:9.2f} ms   (budget 30 ms)")
    _bench_dequantize(smol)
    mini = minilm_path()
    row("MiniLM SafeTensors (90 MB)", timed(lambda: ours(mini)),
        "safetensors.safe_open", timed(lambda: safe_open_keys(mini)))
    with tempfile.TemporaryDirectory() as d:
        big = write_gguf(Path(d) / "vocab150k.gguf",
                         {"token_embd.weight": (np.zeros((16, 32), np.float32), "Q8_0")},
                         vocab=150_000)
        size = big.stat().st_size / 1e6
        row(f"generated GGUF ({size:.0f} MB, 150k vocab)", timed(lambda: ours(big)),
            "gguf.GGUFReader", timed(lambda: gguf_reader(big), 2))
        worst = 0.0
        hostile = {
            "length 2^64-1.safetensors": struct.pack("<Q", 2**64 - 1) + b"{}",
            "count 2^63.gguf": b"GGUF" + struct.pack("<IQQ", 3, 2**63, 0),
            "truncated.gguf": big.read_bytes()[: 1_000_000],
            "empty.safetensors": b"",
        }
        for name, data in hostile.items():
            p = Path(d) / name
            p.write_bytes(data)
            worst = max(worst, timed(lambda p=p: _expect_error(p)))
        worst = max(worst, timed(lambda: _expect_error(Path("/dev/zero"))))
        print(f"{'hostile files, slowest error':38s} {worst:9.2f} ms   (budget 100 ms)")
    return 0


def _bench_dequantize(path: Path) -> None:
    """Loading (read + dequantize to float16) with MLX ops vs gguf.quants (numpy)."""
    import mlx.core as mx

    from tl_core.models import load_tensor
    from tl_core.models.loader import read_bytes

    header = read_header(path)
    for name in ("token_embd.weight", "blk.0.ffn_down.weight"):
        info = header.tensors[name]
        qtype = gguf.GGMLQuantizationType[info.dtype]

        def ours(name=name):
            mx.eval(load_tensor(path, name).array)

        def reference(info=info, qtype=qtype):
            raw = np.frombuffer(read_bytes(header, info), np.uint8)
            gguf.quants.dequantize(raw.reshape(info.shape[0], -1), qtype).astype(np.float16)

        ours()  # MLX warm-up
        row(f"load {name} ({info.dtype})", timed(ours), "gguf.quants + astype", timed(reference))


def _fresh_process_ms(path: Path) -> float:
    """The very first read_header of `path` in a new interpreter (imports done before)."""
    code = (
        "import time, sys\n"
        "from tl_core.models import read_header\n"
        "from tl_core.models.gguf import ggml_types\n"
        "ggml_types()\n"
        "t = time.perf_counter()\n"
        "read_header(sys.argv[1])\n"
        "print((time.perf_counter() - t) * 1000)\n"
    )
    root = Path(__file__).resolve().parent.parent
    runs = [
        float(subprocess.run([sys.executable, "-c", code, str(path)], cwd=root, check=True,
                             capture_output=True, text=True).stdout)
        for _ in range(3)
    ]
    return statistics.median(runs)


def _expect_error(path: Path) -> None:
    clear_cache()
    try:
        read_header(path)
    except ModelFileError:
        return
    raise AssertionError(f"{path} was accepted")


if __name__ == "__main__":
    sys.exit(main())
