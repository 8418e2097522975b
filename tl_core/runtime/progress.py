"""Progress of long model loads: a tqdm bar on a terminal, reports for an editor.

A run shows one `LoadProgress` per Model whose tensors it loads: its total is the bytes of the
model's tensors not loaded yet, so loading a model of 300 small tensors is one bar, not 300.
Large tensors (at least `MIN_BYTES`) advance it chunk by chunk as the loader converts them
(`Model.get_tensor(name, progress=...)`), so the bar costs no second read of a tensor; the
others advance it once loaded. Nothing shows before the loads have taken `delay()` seconds
(0.5; the environment variable `TL_PROGRESS_DELAY` overrides it, e.g. 0 in tests), nor for a
model whose remaining tensors are smaller than `MIN_BYTES` together. Pipes get no bar. In the
kernel the same counts become the run's `loading` progress reports, which the language server
shows as `$/progress`, as it does a learn block's epochs.
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


class LoadProgress:
    """The progress of loading one Model's tensors: a terminal bar (`report` None) or
    `report(title, done, total, message)` calls for an editor, over `total` bytes."""

    def __init__(self, label: str, total: int,
                 report: Callable[[str, int, int, str], None] | None = None,
                 stream: TextIO | None = None) -> None:
        self.label, self.total, self.done = label, total, 0
        self._report = report
        self._start, self._wait = time.monotonic(), delay()
        self._bar = None if report is not None else terminal_bar(
            stream, total=total, unit="B", unit_scale=True, unit_divisor=1024,
            desc=f"loading {label}", leave=False, delay=self._wait)

    @property
    def finished(self) -> bool:
        return self.done >= self.total

    def advance(self, n: int) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
        elif self._report is not None and time.monotonic() - self._start >= self._wait:
            self._report("loading", self.done, self.total,
                         f"{self.label} {format_bytes(self.done)} of {format_bytes(self.total)}")

    @contextmanager
    def tensor(self, nbytes: int) -> Iterator[Callable[[int], None] | None]:
        """Loading one tensor of `nbytes`: gives the loader's chunk callback for a large
        tensor (None for a small one); what the chunks did not report is added once the
        tensor has loaded without an error."""
        seen = 0

        def chunk(n: int) -> None:
            nonlocal seen
            seen += n
            self.advance(n)

        yield chunk if nbytes >= MIN_BYTES else None
        if seen < nbytes:
            self.advance(nbytes - seen)
        if self.finished:
            self.close()

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Other text written to the terminal meanwhile (a warning): the bar steps aside."""
        if self._bar is None:
            yield
            return
        self._bar.clear()
        try:
            yield
        finally:
            self._bar.refresh()

    def close(self) -> None:
        """Erase the bar (an editor's progress ends with its run)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
