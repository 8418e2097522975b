"""When the language server runs Python's cyclic garbage collector: while the user pauses.

Why: with automatic collection, the passes land inside edits. On a 10,000-line file every
analysis leaves ~40,000 new objects that a generation-0 pass then walks (~12 ms), and every
few edits a generation-1 or full pass walks far more (30-300 ms): those were the slow
edit-to-diagnostics times in bench/lsp.py. Reference counting frees almost everything at
once anyway (analyses and syntax trees hold no cycles); the few cycles that remain
(asyncio tasks, exceptions with their frames) can wait for a pause.

The policy, for the server process only (`install`; tests that create a server in-process
keep Python's default):
- automatic collection is off (tl_core pauses and restores the collector around its own
  work, so it stays off);
- `tick` runs twenty times a second on the event loop. Once nothing has happened for
  `idle_s`, it collects the objects made since the last collection and freezes the
  survivors (`gc.freeze`), so the next collection walks only newer objects;
- at most every `full_every_s`, when idle, it unfreezes and collects everything, so cycles
  among frozen objects are reclaimed too;
- should the net count of new objects pass `max_young` without a pause (a very long burst
  of typing), it collects the new objects at once.

`TL_LSP_GC=python` keeps Python's automatic collection (for comparison and debugging).

`later(fn)` runs housekeeping (freeing a replaced analysis: ~6-10 ms on a 10,000-line file)
at the next short pause (`quiet_s`), not on the way to the next answer.

`give_back` (after a document is closed, in such a pause): a full collection, then
`malloc_trim(0)` on glibc. Why: freeing a closed 10,000-line document's ~60 MB of objects
returns them to the allocators, not to the operating system: pymalloc's arenas that keep
one live object stay mapped, and glibc keeps freed chunks inside its heaps (the analysis
thread's arena too), so the server's resident memory stayed at its peak after the close
(bench/lsp.py, typing: 107 MB after opening, 173 after typing, 161 after closing).
`malloc_trim` hands the free pages of every glibc arena back (`madvise`), ~1-5 ms.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import logging
import os
import sys
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


class IdleCollector:
    def __init__(self, idle_s: float = 1.0, full_every_s: float = 600.0,
                 max_young: int = 1_000_000, min_young: int = 1_000,
                 clock: Callable[[], float] = time.monotonic, quiet_s: float = 0.1) -> None:
        self.idle_s = idle_s
        self.quiet_s = quiet_s
        self._later: list[Callable[[], None]] = []
        self.full_every_s = full_every_s
        self.max_young = max_young
        self.min_young = min_young  # fewer new objects than this: not worth a pass
        self.clock = clock
        self.active = False
        self.last_activity = clock()
        self.last_full = clock()

    def install(self) -> bool:
        """Turn automatic collection off in this process and run it from `tick` instead.
        Returns False (and changes nothing) when `TL_LSP_GC=python`."""
        if os.environ.get("TL_LSP_GC", "") == "python":
            return False
        gc.disable()
        self.active = True
        libc()  # looked up now: its ctypes objects last (tl_lsp/lasting.py says why)
        return True

    def touch(self) -> None:
        """Something happened (a message from the client): not idle now."""
        self.last_activity = self.clock()

    def later(self, fn: Callable[[], None]) -> None:
        """Run `fn` at the next pause of `quiet_s` (at once when the policy is off)."""
        if not self.active:
            fn()
            return
        if fn not in self._later:
            self._later.append(fn)

    def tick(self) -> str | None:
        """Collect if it is time; returns what ran: "young", "full", "forced" or None."""
        if not self.active:
            return None
        now = self.clock()
        if self._later and now - self.last_activity >= self.quiet_s:
            todo, self._later = self._later, []
            for fn in todo:
                fn()
        young = gc.get_count()[0]  # net new tracked objects since the last collection
        if young > self.max_young:
            self._young()
            return "forced"
        if now - self.last_activity < self.idle_s:
            return None
        if now - self.last_full >= self.full_every_s:
            t0 = time.perf_counter()
            gc.unfreeze()
            found = gc.collect()
            gc.freeze()
            self.last_full = now
            log.debug("full collection: %d unreachable, %.0f ms", found,
                      (time.perf_counter() - t0) * 1000)
            return "full"
        if young < self.min_young:
            return None
        self._young()
        return "young"

    def give_back(self) -> None:
        """Collect everything (frozen objects too: a closed document's cycles may be among
        them) and return the free memory to the operating system where the C library can
        (`trim_heap`). After a document is closed, in a pause."""
        t0 = time.perf_counter()
        if self.active:
            gc.unfreeze()
        gc.collect()
        # the interpreter's attribute cache keeps the last name strings looked up by type:
        # a few hundred, made amid the document's objects, kept ~20 of Python's 1 MB
        # arenas mapped after the close (bench/lsp.py, typing). It refills as it is used.
        clear = getattr(sys, "_clear_type_cache", None)
        if clear is not None:
            clear()
        if self.active:
            gc.freeze()
            self.last_full = self.clock()
        trimmed = trim_heap()
        log.debug("gave memory back (trim: %s), %.0f ms", trimmed,
                  (time.perf_counter() - t0) * 1000)

    def _young(self) -> None:
        gc.collect()  # frozen objects are not walked: this is the objects since the last
        gc.freeze()

    async def run(self, period_s: float = 0.05) -> None:
        """Tick forever (a task on the server's event loop)."""
        while True:
            await asyncio.sleep(period_s)
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - never let housekeeping kill the server
                log.exception("idle collection failed")


_libc: list = []  # the C library's handle once looked up: [CDLL] or [None] (documented cache)


def trim_heap() -> bool:
    """`malloc_trim(0)` on glibc (Linux): the free pages of every malloc arena go back to
    the operating system. False where there is no such call (macOS, musl, Windows)."""
    lib = libc()
    if lib is None:
        return False
    lib.malloc_trim(0)
    return True


def libc() -> Any:
    """The C library's handle with `malloc_trim`, or None (not Linux, not glibc)."""
    if not sys.platform.startswith("linux"):
        return None
    if not _libc:
        try:
            lib = ctypes.CDLL(None)  # the process' own symbols: the C library's among them
            lib.malloc_trim.argtypes = [ctypes.c_size_t]
            lib.malloc_trim.restype = ctypes.c_int
            _libc.append(lib)
        except (OSError, AttributeError):  # not glibc
            _libc.append(None)
    return _libc[0]
