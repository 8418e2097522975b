"""Hostile model files through `tl inspect`, `load_model` and hover (issue 17).

Every truncation of small valid SafeTensors, GGUF and CoreML files (written by the reference
writers), huge lengths and counts, out-of-range and overlapping offsets, unknown dtypes and
2,000 seeded bit flips of realistic headers: each must end in a clean error (or a clean
answer), never a traceback, a hang or a dead process, with memory bounded by the child's
address-space limit (tests/hostile/harness.py). `bench/hostile.py` prints the same counts.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.hostile import corpus
from tests.hostile.harness import MODEL_SURFACES, ROOT, run_cases


@pytest.fixture(scope="module")
def cases() -> list[corpus.Case]:
    return corpus.model_cases()


@pytest.fixture(scope="module")
def tallies(cases):
    return run_cases(MODEL_SURFACES, cases)


def test_the_corpus_holds_what_the_issue_asks(cases) -> None:
    labels = Counter(label for label, _, _ in cases)
    assert labels["truncated small.safetensors"] == len(corpus.small_safetensors())
    assert labels["truncated small.gguf"] == len(corpus.small_gguf())
    assert labels["truncated small.mlmodel"] == len(corpus.small_mlmodel())
    assert labels["bit flips in realistic.gguf"] + labels["bit flips in realistic.safetensors"] \
        == 2000
    for label in ("huge length", "offsets out of range", "overlapping offsets",
                  "unknown dtype", "huge shape"):
        assert labels[label] >= 2, label
    # the flips differ from the file, inside its header
    flips = [d for label, _, d in cases if label == "bit flips in realistic.gguf"]
    original = corpus.realistic_gguf()
    end = corpus.header_end(original)
    assert all(len(d) == len(original) and d != original and d[end:] == original[end:]
               for d in flips)


@pytest.mark.slow
@pytest.mark.parametrize("surface", MODEL_SURFACES)
def test_every_hostile_model_file_is_a_clean_error(tallies, surface) -> None:
    tally = tallies[surface]
    assert tally.tried > 3000
    assert tally.counts["clean"] == tally.tried, tally.failures()
    assert tally.peak_rss < 1 << 30  # MLX, coremltools' protobufs and the cases: < 1 GiB


@pytest.mark.parametrize("name,data,message", [
    ("huge.safetensors", b"\xff" * 8 + b"{}",
     "SafeTensors header length is 18446744073709551615 bytes, over the header size limit "
     "of 104857600 bytes (100 MiB); the file is corrupt or not a SafeTensors file"),
    ("cut.gguf", b"GGUF\x03\x00\x00\x00", None),
])
def test_tl_inspect_command_gives_one_error_line(tmp_path: Path, name, data, message) -> None:
    """The whole `tl inspect` command (the suite calls its command function)."""
    path = tmp_path / name
    path.write_bytes(data)
    proc = subprocess.run([sys.executable, "-m", "tl_core", "inspect", str(path)],
                          capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 1 and proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{path}: error: "), proc.stderr
    if message is not None:
        assert lines[0] == f"{path}: error: {message}"
