"""Reads that a thread which must stay responsive waits for only so long.

The language server's analysis thread reads the files a program names (model headers,
tokenizers, imported programs). A slow file (a network disk, a file being written, a
tokenizer.json of tens of megabytes) must hold up neither that document's answers nor other
documents' analyses. So a reader of such a file wraps its uncached read in `bounded(...)`:
with a `ReadWait` set for the calling thread (`READ_WAIT`), the read runs on a reader thread
of its own and is waited for at most `ReadWait.seconds`; past that, `ReadPending` is raised
and the read goes on, `ReadWait.ended(path)` being called (on the reader thread) when it
ends. Without a ReadWait (`tl check`, runs) the read runs on the calling thread.

One read per key (a file state: its resolved path, size and mtime) is under way at a time,
however often it is asked for, at most `_MAX_READING` reads at once (more are waited for).
The outcome of a read that outlived a wait (its value or its error) is kept for the next
asks of the same key (`_ENDED`, the last `_MAX_ENDED`), so the analysis made again when it
ends finds it even where the reader caches no errors: a slow file that fails is read once.
Reader threads are daemons: a read that never ends (a hung mount) must not hold up the
process' exit, as a ThreadPoolExecutor's threads would. With `_MAX_READING` reads under way
(hung files), a new one is not started: it is `ReadPending` at once, and its caller is told
(`ended(path)`) when a reader thread is free again, so that it asks again.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class ReadWait:
    """How long the calling thread waits for a read, and whom to tell when a read that
    outlived that wait ends (`ended(path)`, called on the reader thread)."""

    seconds: float
    ended: Callable[[str], None]
    # `time.monotonic()` past which no read is waited for any more (None: none): one
    # analysis that names many slow files waits about `seconds` in all, not per file
    deadline: float | None = None


class ReadPending(Exception):
    """A read still under way when the caller's wait (`ReadWait`) ran out: it goes on in the
    background and `ReadWait.ended(path)` is called when it ends. Not an error of the file:
    the language server checks what it holds once it is read."""

    def __init__(self, path: str):
        self.path = path
        super().__init__(f"{path}: still being read")


# The calling thread's ReadWait (None: wait for the read itself). A new thread starts with
# none set: reader threads read for themselves.
READ_WAIT: ContextVar[ReadWait | None] = ContextVar("tl_read_wait", default=None)

_LOCK = threading.Lock()
_READING: dict[Hashable, Future] = {}  # reads under way, by key
_OUTLIVED: set[Hashable] = set()  # keys of reads under way that a wait gave up on
_ENDED: OrderedDict[Hashable, Future] = OrderedDict()  # outcomes of such reads, by key
_DEFERRED: list[tuple[ReadWait, str]] = []  # reads not started: too many under way
_MAX_READING = 8
_MAX_ENDED = 32


_CALLS = itertools.count()  # keys of `bounded_call`s: each its own


def bounded_call(path: str, call: Callable[[], T]) -> T:
    """`call()`: a `stat`, `realpath` or listing of `path` (what says which state of the file
    to read, so nothing keys it), waited for as a read (a hung network mount must not hold
    the analysis thread): never joined with another ask, its outcome not kept."""
    if READ_WAIT.get() is None:
        return call()
    return bounded(("call", next(_CALLS)), path, call, keep=False)


def bounded(key: Hashable, path: str, read: Callable[[], T], keep: bool = True) -> T:
    """`read()` (the uncached read of the file at `path` in the state `key`), waited for at
    most the calling thread's `ReadWait.seconds`; raises `ReadPending` past that. Errors of
    `read()` pass through. `keep`: the outcome of a read that outlived the wait is kept for
    the next asks of `key`."""
    wait = READ_WAIT.get()
    if wait is None:
        return read()
    with _LOCK:
        fut = _ENDED.get(key)
        start = False
        if fut is None:
            fut = _READING.get(key)
            start = fut is None and len(_READING) < _MAX_READING
            if start:
                fut = _READING[key] = Future()
        if fut is None:  # too many slow reads under way (hung files): not started now
            _DEFERRED.append((wait, path))
            raise ReadPending(path)
    if start:
        threading.Thread(target=_run, args=(fut, key, read), daemon=True,
                         name="tl-read").start()
    seconds = wait.seconds
    if wait.deadline is not None:
        seconds = max(0.0, min(seconds, wait.deadline - time.monotonic()))
    try:
        return fut.result(timeout=seconds)
    except TimeoutError:
        with _LOCK:  # still under way unless `_run` took it out (then its outcome follows)
            if _READING.get(key) is fut:
                if keep:
                    _OUTLIVED.add(key)
                fut.add_done_callback(lambda _: wait.ended(path))
                raise ReadPending(path) from None
        return fut.result()


def _run(fut: Future, key: Hashable, read: Callable[[], object]) -> None:
    """(A reader thread: no ReadWait set.)"""
    try:
        value = read()
    except BaseException as exc:  # noqa: BLE001 - handed to whoever waits for the read
        error: BaseException | None = exc
    else:
        error = None
    with _LOCK:
        _READING.pop(key, None)
        if key in _OUTLIVED:
            _OUTLIVED.discard(key)
            _ENDED[key] = fut
            while len(_ENDED) > _MAX_ENDED:
                _ENDED.popitem(last=False)
        deferred = _DEFERRED[:]
        _DEFERRED.clear()
    if error is None:  # (calls the `ended` of each wait that gave up, outside the lock)
        fut.set_result(value)
    else:
        fut.set_exception(error)
    for wait, path in deferred:  # a reader is free: their callers may ask again
        wait.ended(path)


def clear() -> None:
    """Forget the outcomes kept (reads under way go on)."""
    with _LOCK:
        _ENDED.clear()
