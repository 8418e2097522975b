"""Progress of long tensor loads: a tqdm bar on a terminal, reports for an editor.

The loader reports the bytes it has converted as it goes (`Model.get_tensor(name,
progress=...)`), so a bar costs no second read of the tensor. A bar appears only for tensors
of at least `MIN_BYTES` and only once the load has taken `delay()` seconds (0.5; the
environment variable `TL_PROGRESS_DELAY` overrides it, e.g. 0 in tests). Pipes get no bar.
In the kernel the same callback becomes the run's progress reports (`load_reports`), which
the language server shows as `$/progress`, as it does a learn block's epochs.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from tl_core.limits import format_bytes

MIN_BYTES = 16 * 1024 * 1024  # smaller tensors load too fast to need a bar


def is_terminal(stream: TextIO | None = None) -> bool:
    stream = stream or sys.stderr
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def delay() -> float:
    try:
        return max(0.0, float(os.environ.get("TL_PROGRESS_DELAY", "0.5")))
    except ValueError:
        return 0.5


def terminal_bar(stream: TextIO | None = None, **options: Any) -> Any:
    """A tqdm bar on `stream` (stderr by default) sized to its terminal. A new pseudo-terminal
    reports 0 x 0, and tqdm draws nothing on 0 rows: then 80 x 24."""
    from tqdm import tqdm  # lazy: tqdm only when a terminal shows a bar

    stream = stream or sys.stderr
    try:
        size = os.get_terminal_size(stream.fileno())
    except (AttributeError, ValueError, OSError):
        size = os.terminal_size((0, 0))
    return tqdm(file=stream, ncols=size.columns or 80, nrows=size.lines or 24, **options)


@contextmanager
def load_bar(label: str, total: int,
             stream: TextIO | None = None) -> Iterator[Callable[[int], None] | None]:
    """A callback taking the bytes just loaded, drawing `loading LABEL` with a bar; None for a
    small tensor. The bar is erased when the load ends."""
    if total < MIN_BYTES:
        yield None
        return
    with terminal_bar(stream, total=total, unit="B", unit_scale=True, unit_divisor=1024,
                      desc=f"loading {label}", leave=False, delay=delay()) as bar:
        yield bar.update


@contextmanager
def load_reports(label: str, total: int, report: Callable[[str, int, int, str], None]
                 ) -> Iterator[Callable[[int], None] | None]:
    """`load_bar` for an editor: `report(title, done, total, message)` as the bytes of tensor
    LABEL load, once the load has taken `delay()` seconds; None for a small tensor."""
    if total < MIN_BYTES:
        yield None
        return

    start, wait, done = time.monotonic(), delay(), 0

    def update(n: int) -> None:
        nonlocal done
        done += n
        if time.monotonic() - start >= wait:
            report("loading", done, total, f"{label} {format_bytes(done)} of {format_bytes(total)}")

    yield update
