"""A workspace of hostile files for the static-analysis tests: FIFOs, a socket, device
symlinks, 100 GB sparse files, a directory, a package with thousands of files, a model file
outside the workspace, and one ordinary program."""

from __future__ import annotations

import os
import socket
import struct
from pathlib import Path

import numpy as np

from tests.models.builders import gguf_bytes, write_safetensors

HUGE = 100 * 1024**3  # sparse: costs no disk


def sparse(path: Path, size: int, head: bytes = b"") -> Path:
    with open(path, "wb") as f:
        f.write(head)
        f.truncate(size)
    return path


def make_workspace(root: Path) -> dict[str, str]:
    """Create the hostile files under `root`; returns name -> path."""
    root.mkdir(parents=True, exist_ok=True)
    p: dict[str, Path] = {}
    p["fifo"] = root / "pipe"
    os.mkfifo(p["fifo"])
    os.mkfifo(root / "pipe.tl")  # a FIFO a workspace scan would find by its name
    (root / "zero.tl").symlink_to("/dev/zero")
    p["sock"] = root / "sock.tl"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(p["sock"]))
    s.close()  # the socket file stays
    p["zeros"] = sparse(root / "zeros.safetensors", HUGE)
    # a plausible SafeTensors start: a 50 MB JSON header of zeros, 100 GB long
    p["plausible"] = sparse(root / "plausible.safetensors", HUGE, struct.pack("<Q", 50 << 20) + b"{")
    p["gguf"] = sparse(root / "counts.gguf", HUGE, gguf_bytes(n_tensors=1 << 40, n_kv=1 << 40))
    p["mlmodel"] = sparse(root / "big.mlmodel", 1536 << 20)
    p["huge_tl"] = sparse(root / "huge.tl", HUGE, b"fn hidden_in_huge() -> int { return 1 }\n")
    p["dir"] = root / "folder"
    p["dir"].mkdir()
    pkg = root / "many.mlpackage"
    (pkg / "Data").mkdir(parents=True)
    for i in range(5000):
        (pkg / "Data" / f"f{i}").touch()
    p["package"] = pkg
    tok = root / "tok"
    tok.mkdir()
    sparse(tok / "tokenizer.json", HUGE)
    p["tokdir"] = tok
    p["model"] = write_safetensors(root / "small.safetensors",
                                   {"w": np.ones((2, 3), np.float32)})
    (root / "good.tl").write_text("fn helper_in_good(x: int) -> int {\n    return x\n}\n")
    return {k: str(v) for k, v in p.items()}


def program(paths: dict[str, str]) -> tuple[str, list[str]]:
    """A program naming every hostile file, one per line, and the messages the checker must
    give for them, in line order. It also writes a file, prints, loops and recurses forever
    if it were run: analysing it must do none of that."""
    lines = [
        ('let m0 = load_model("{fifo}")',
         "cannot open model '{fifo}': is not a regular file (it is a FIFO (named pipe)); model "
         "files must be regular files"),
        ('let m1 = load_model("/dev/zero")',
         "cannot open model '/dev/zero': is not a regular file (it is a character device); "
         "model files must be regular files"),
        ('let m2 = load_model("{zeros}")',
         "cannot open model '{zeros}': not a SafeTensors file: byte 8 is not \"{{\", the start "
         "of its JSON header"),
        ('let m3 = load_model("{plausible}")',
         "cannot open model '{plausible}': SafeTensors header is not valid JSON: Expecting "
         "property name enclosed in double quotes at byte 9"),
        ('let m4 = load_model("{gguf}")',
         "cannot open model '{gguf}': metadata key/value count 1099511627776 at byte 16 cannot "
         "fit in the 107374182376 bytes that follow; the file is corrupt"),
        ('let m5 = load_model("{mlmodel}")',
         "cannot open model '{mlmodel}': not a valid CoreML model: the protobuf spec cannot be "
         "decoded (Error parsing message with type 'CoreML.Specification.Model': Wire format "
         "was corrupt)"),
        ('let m6 = load_model("{dir}")',
         "cannot open model '{dir}': is a directory, not a model file (expected a "
         ".gguf, .safetensors or .mlmodel file or a .mlpackage directory)"),
        ('let m7 = load_model("{package}")',
         "cannot open model '{package}': the package holds more than 4096 files and folders; "
         "a CoreML package holds a few (is this a package?)"),
        ('let m8 = load_model("/etc/passwd")',
         "cannot open model '/etc/passwd': not a model file: it does not start like a GGUF "
         "file (the bytes \"GGUF\") or a SafeTensors file (an 8-byte length, then \"{{\"), and "
         "its extension is not .gguf, .safetensors or .mlmodel"),
        ('let t0 = load_tokenizer("{fifo}")',
         "cannot load tokenizer '{fifo}': is a FIFO (named pipe), not a regular file"),
        ('let t1 = load_tokenizer("/dev/zero")',
         "cannot load tokenizer '/dev/zero': is a character device, not a regular file"),
        ('let t2 = load_tokenizer("{tokdir}")',
         "cannot load tokenizer '{tokdir}': {tokdir}/tokenizer.json: cannot read it (the file "
         "is 100.0 GiB, over the 128.0 MiB limit for tokenizer files)"),
        ('let t3 = load_tokenizer("{sock}")',
         "cannot load tokenizer '{sock}': is a socket, not a regular file"),
        ('import "pipe.tl"',
         "cannot import 'pipe.tl': is a FIFO (named pipe), not a regular file"),
        ('import "huge.tl"',
         "cannot import 'huge.tl': the file is 100.0 GiB, over the 64.0 MiB limit for source "
         "files"),
        ('let m = load_model("{model}")', ""),
        ('save_model(m, "written.safetensors")', ""),
        ('print("the program ran")', ""),
        ("while true {{ }}", ""),
        ("fn forever(n: int) -> int {{ return forever(n + 1) }}", ""),
        ("let r = forever(1)", ""),
    ]
    text = "\n".join(code.format(**paths) for code, _ in lines) + "\n"
    return text, [m.format(**paths) if m else m for _, m in lines]
