"""`YieldGate`: background work steps aside while the editor waits on a request.

Why: Python runs one thread at a time. Whole-document work in a background thread (semantic
tokens after an edit of a large file, ~70 ms) would otherwise share the interpreter with a
hover or completion that arrives meanwhile, doubling its time or worse. Handlers of those
requests hold the gate (`busy`); the background work calls `pause` at its steps and waits
there, without the interpreter, until no such request runs (or `max_wait_s` passed: the
gate never blocks background work for long, whatever goes wrong).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class YieldGate:
    def __init__(self, max_wait_s: float = 0.25) -> None:
        self.max_wait_s = max_wait_s
        self._lock = threading.Lock()
        self._holders = 0
        self._free = threading.Event()
        self._free.set()

    @contextmanager
    def busy(self) -> Iterator[None]:
        """Held while a request the editor waits on is answered."""
        self.hold()
        try:
            yield
        finally:
            self.release()

    def hold(self) -> None:
        """Hold the gate (from any thread; `release` once for each): the server's reader
        holds it from the moment such a request's bytes are read, before the event loop
        sees them, until its handler holds it (`busy`)."""
        with self._lock:
            self._holders += 1
            self._free.clear()

    def release(self) -> None:
        with self._lock:
            self._holders -= 1
            if self._holders == 0:
                self._free.set()

    @contextmanager
    def released(self) -> Iterator[None]:
        """Inside `busy`: let go meanwhile (a request that waits for the analysis)."""
        with self._lock:
            self._holders -= 1
            if self._holders == 0:
                self._free.set()
        try:
            yield
        finally:
            with self._lock:
                self._holders += 1
                self._free.clear()

    def pause(self) -> None:
        """Called by background work between its steps: wait while the gate is held; else
        `step`."""
        if not self._free.is_set():
            self._free.wait(self.max_wait_s)
        else:
            self.step()

    def wait_while_busy(self) -> None:
        """Called by work that must not slow down for nothing (the analysis, between its
        items): wait while the gate is held, else return at once."""
        if not self._free.is_set():
            self._free.wait(self.max_wait_s)

    @staticmethod
    def step() -> None:
        """For background work that holds a lock a request may need (it must not wait):
        give other threads the interpreter for a moment. The callers call it about every
        half millisecond of their work.

        Why: a request reaches its handler through several thread hops (reading the pipe,
        the event loop), each of which would otherwise wait up to the interpreter's switch
        interval (5 ms) for this thread. `time.sleep(0)` hands the interpreter over (it
        costs ~80 us here); `os.sched_yield` does not (measured: hovers got slower), nor
        did yielding only every half millisecond by the clock (p95 of a hover during the
        warm-up 16-27 ms against 9 ms)."""
        time.sleep(0)
