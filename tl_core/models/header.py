"""Model headers: what a file holds (names, shapes, dtypes, metadata), never the tensor data.

`read_header(path)` picks the format from the registry (`tl_core.models.formats`: magic
bytes, falling back to the extension), checks the file type before opening it (a FIFO or a
device is refused, never opened), reads with a bounded buffer (at most `HEADER_LIMIT` bytes)
and caches the answer by (resolved path, size, mtime): the header, or the error that its
bytes gave (a broken 1.8 MB vocabulary is not parsed again at every check of the program).
Imports nothing heavy: the formats load `gguf`'s tables and `coremltools`' protobuf modules
on first use.
"""

from __future__ import annotations

import errno
import os
import stat
import threading
from collections import OrderedDict
from pathlib import Path

from tl_core.models import formats
from tl_core.models.errors import ModelFileError
from tl_core.models.types import MAGIC_BYTES, ModelHeader, Source
from tl_core.read_wait import READ_WAIT, bounded, bounded_call
from tl_core.source import SYMLINK_LOOP, file_kind, path_problem

_CACHE: OrderedDict[tuple[str, int, int], ModelHeader | ModelFileError] = OrderedDict()
_CACHE_SIZE = 64
_CACHE_LOCK = threading.Lock()  # the language server reads headers from worker threads


def read_header(path: str | os.PathLike[str]) -> ModelHeader:
    """The header of a model file, cached by (resolved path, size, mtime) (as is the error
    of a file whose bytes are not a model; not one of opening it, e.g. permissions).

    Raises `ModelFileError` (with the byte offset where reading stopped) for anything that is
    not a readable, well-formed model file.
    """
    spath = os.fspath(path)
    problem = path_problem(spath)
    if problem is not None:
        raise ModelFileError(problem, None, spath)
    try:  # (the stat and realpath waited for as a read: a hung mount holds no analysis)
        st, resolved = bounded_call(spath, lambda: (os.stat(spath),
                                                    str(Path(spath).resolve())))
    except OSError as exc:
        raise ModelFileError(_os_message(exc), _os_offset(exc), spath) from None
    key = (resolved, st.st_size, st.st_mtime_ns)
    package = formats.directory_format(spath) if stat.S_ISDIR(st.st_mode) else None
    if package is not None and package.stamp is not None:  # key by the files inside
        stamp = package.stamp
        key = (resolved, *bounded_call(spath, lambda: stamp(spath)))
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
        if cached is not None:
            _CACHE.move_to_end(key)
    if isinstance(cached, ModelFileError):
        raise cached.with_path(spath)
    if cached is not None:
        return cached
    if READ_WAIT.get() is not None:  # the language server's analysis: a bounded wait
        return bounded(("header", *key), spath, lambda: read_header(spath))
    try:
        if package is not None and package.read_directory is not None:
            header = package.read_directory(spath, st)
        else:
            header = _read_file(spath, st)
    except _ContentError as exc:
        # a fresh copy: the raised one's traceback holds the read buffer (up to HEADER_LIMIT)
        _remember(key, ModelFileError(exc.error.message, exc.error.offset))
        raise exc.error.with_path(spath) from None
    except ModelFileError as exc:
        raise exc.with_path(spath) from None
    _remember(key, header)
    return header


def _remember(key: tuple, answer: ModelHeader | ModelFileError) -> None:
    with _CACHE_LOCK:
        _CACHE[key] = answer
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)


class _ContentError(Exception):
    """A `ModelFileError` from the file's bytes (cached like a header), not from opening it."""

    def __init__(self, error: ModelFileError):
        self.error = error


def clear_cache() -> None:
    with _CACHE_LOCK:
        _CACHE.clear()


def _os_offset(exc: OSError) -> int | None:
    """0 (reading stopped before the first byte) except for a missing file (no offset)."""
    return None if exc.errno == errno.ENOENT else 0


def _os_message(exc: OSError) -> str:
    if exc.errno == errno.ENOENT:
        return "no such file (check the path; relative paths are resolved against the program's directory)"
    if exc.errno == errno.ELOOP:
        return SYMLINK_LOOP
    if exc.errno == errno.EACCES:
        return "permission denied"
    return f"cannot open the file: {exc.strerror or exc}"


def _read_file(path: str, st: os.stat_result) -> ModelHeader:
    if stat.S_ISDIR(st.st_mode):
        raise ModelFileError(
            f"is a directory, not a model file (expected {formats.expected_text()})", 0)
    if not stat.S_ISREG(st.st_mode):
        raise ModelFileError(
            f"is not a regular file (it is {file_kind(st.st_mode)}); model files must be "
            f"regular files",
            0,
        )
    try:
        # O_NONBLOCK: if the path was swapped for a FIFO after the stat, open must not block.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise ModelFileError(_os_message(exc), _os_offset(exc)) from None
    try:
        st2 = os.fstat(fd)
        if not stat.S_ISREG(st2.st_mode):
            raise ModelFileError(
                f"is not a regular file (it is {file_kind(st2.st_mode)})", 0
            )
        size = st2.st_size
        if size == 0:
            raise ModelFileError(
                f"empty file (0 bytes); expected a {formats.titles_text()} model", 0
            )
        src = Source(fd, size, path)
        try:
            src.need(0, min(size, MAGIC_BYTES), "the file's magic bytes")
            fmt = formats.detect(src.buf[:MAGIC_BYTES], path)
            assert fmt.read_header is not None  # a file format (ModelFormat checks it)
            tensors, metadata = fmt.read_header(src)
        except ModelFileError as exc:
            raise _ContentError(exc) from None
        return ModelHeader(path, fmt.name, tensors, metadata, size, st2.st_mtime_ns)
    finally:
        os.close(fd)
