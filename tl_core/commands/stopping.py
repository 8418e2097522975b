"""Ctrl-C that stops a command even inside one long native operation.

Python runs a signal handler only between bytecodes of the main thread, so while MLX
computes one long operation (a 12000 x 12000 matmul on the CPU) a Ctrl-C would wait for it
to finish. The C-level handler still writes the signal's number to `signal.set_wakeup_fd`;
a watcher thread reads it (MLX releases the GIL while it computes) and, when the main thread
has not stopped `GRACE` seconds after a Ctrl-C, or at a second Ctrl-C, ends the process
with a message and status 130. Between operations the usual KeyboardInterrupt stops the
command first, cleanly.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

GRACE = 1.0  # seconds the main thread has to stop by itself after a Ctrl-C
STATUS = 130  # 128 + SIGINT, what shells report for a Ctrl-C


@contextmanager
def stop_on_ctrl_c(grace: float = GRACE, stream: TextIO | None = None) -> Iterator[None]:
    """Run the body with the watcher (only in the main thread, where signals arrive)."""
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) in (signal.SIG_IGN, signal.SIG_DFL, None):
        yield
        return
    r, w = os.pipe()
    os.set_blocking(w, False)
    try:
        old = signal.set_wakeup_fd(w, warn_on_full_buffer=False)
    except ValueError:  # not the main interpreter
        os.close(r)
        os.close(w)
        yield
        return
    done = threading.Event()
    thread = threading.Thread(target=_watch, args=(r, done, grace, stream), daemon=True,
                              name="tl-ctrl-c")
    thread.start()
    try:
        yield
    finally:
        done.set()
        signal.set_wakeup_fd(old)
        os.close(w)  # the watcher sees the end of the pipe and closes its side


def _watch(r: int, done: threading.Event, grace: float, stream: TextIO | None) -> None:
    presses = 0
    deadline: float | None = None
    try:
        while not done.is_set():
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([r], [], [], timeout)
            if done.is_set():
                return
            if ready:
                data = os.read(r, 256)
                if not data:
                    return
                presses += data.count(signal.SIGINT)
                if presses >= 2:
                    _exit(stream, "interrupted: stopped at the second Ctrl-C")
                if presses == 1 and deadline is None:
                    deadline = time.monotonic() + grace
            if deadline is not None and time.monotonic() >= deadline:
                _exit(stream, f"interrupted: the running operation did not stop within "
                              f"{grace:g} s, so tl stopped it")
    finally:
        os.close(r)


def _exit(stream: TextIO | None, message: str) -> None:
    for out in (sys.stdout, sys.stderr):
        try:
            out.flush()
        except (OSError, ValueError):
            pass
    err = stream or sys.stderr
    try:
        err.write(f"\n{message}\n")
        err.flush()
    except (OSError, ValueError):
        pass
    os._exit(STATUS)
