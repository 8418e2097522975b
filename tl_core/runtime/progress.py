"""A progress bar for long tensor loads, on a terminal only.

Loading a tensor is one blocking call into `tl_core.models`; the slow part of a cold load is
reading the bytes from disk. On a TTY we read the tensor's byte range first, in chunks, with
a bar on stderr; the loader then finds the bytes in the page cache. Pipes get no bar.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any, TextIO

MIN_BYTES = 16 * 1024 * 1024  # smaller tensors load too fast to need a bar
CHUNK = 4 * 1024 * 1024
WIDTH = 30


def is_terminal(stream: TextIO | None = None) -> bool:
    stream = stream or sys.stderr
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def bar_line(label: str, done: int, total: int, elapsed: float) -> str:
    frac = done / total if total else 1.0
    filled = int(WIDTH * frac)
    mb = 1024 * 1024
    return (f"\rloading {label} [{'#' * filled}{'.' * (WIDTH - filled)}] "
            f"{done / mb:.0f}/{total / mb:.0f} MB {elapsed:.1f}s")


def prefetch(model: Any, name: str, stream: TextIO | None = None) -> None:
    """Read one tensor's bytes with a progress bar (no-op for small or cached tensors)."""
    stream = stream or sys.stderr
    info = model.header.tensors.get(name)
    if info is None or getattr(model, "_loaded", {}).get(name) is not None:
        return
    path = info.data_file or model.header.path
    if not path or info.nbytes < MIN_BYTES:
        return
    start = time.perf_counter()
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return  # the loader reports the error itself
    try:
        done = 0
        while done < info.nbytes:
            n = min(CHUNK, info.nbytes - done)
            got = os.pread(fd, n, info.offset + done)
            if not got:
                break
            done += len(got)
            stream.write(bar_line(name, done, info.nbytes, time.perf_counter() - start))
            stream.flush()
    finally:
        os.close(fd)
        stream.write("\r\033[K")
        stream.flush()
