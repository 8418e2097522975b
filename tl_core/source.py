"""Reading a .tl file: the one place that decides what its bytes mean.

`tl check`, `tl run` (and `tl test`, `tl bench`) and imports all read source through
`read_source`, so they agree: a file that is not valid UTF-8 is an error at its first bad
byte, with its line and column, in every command.
"""

from __future__ import annotations

import errno
import os
import stat

from tl_core.diagnostics import Diagnostic, Severity
from tl_core.limits import MAX_SOURCE_BYTES, format_bytes
from tl_core.syntax.span import LineIndex

# Why a path names no file, in every reader's messages.
NUL_IN_PATH = "the path contains a NUL character (\\0), which no file path can hold"
SYMLINK_LOOP = "too many levels of symbolic links (a symlink loop?)"


def path_problem(path: str | os.PathLike[str]) -> str | None:
    """Why `path` can name no file, or None. A NUL character makes os.stat and open raise
    ValueError ("embedded null byte"), which readers of the paths a program names turn into
    their clear error with this message."""
    return NUL_IN_PATH if "\0" in os.fspath(path) else None


def open_regular(path: str | os.PathLike[str]) -> tuple[int, os.stat_result]:
    """(fd, stat) of a regular file opened for reading, never blocking: a FIFO, a device or
    a socket is refused from its open descriptor (O_NONBLOCK: opening a FIFO without a
    writer returns at once), a directory with IsADirectoryError. Raises OSError whose
    `strerror` says why; the caller closes the fd."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno != errno.ENXIO:  # ENXIO: a socket (or a device without its driver)
            raise
        raise OSError(errno.ENXIO, f"is {file_kind(os.stat(path).st_mode)}, not a regular "
                                   f"file", os.fspath(path)) from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(errno.EISDIR, "is a directory, not a file", os.fspath(path))
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, f"is {file_kind(st.st_mode)}, not a regular file",
                          os.fspath(path))
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def file_kind(mode: int) -> str:
    """What a file that is not a regular file is, for messages ("a FIFO (named pipe)")."""
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_regular(path: str | os.PathLike[str], limit: int, what: str) -> bytes:
    """The bytes of a regular file of at most `limit` bytes (see `open_regular`); a larger
    file (or one that grows past `limit` while read) is an OSError naming both sizes and
    `what` the limit is for ("source files"), read no further than `limit + 1` bytes."""
    fd, st = open_regular(path)
    try:
        if st.st_size > limit:
            raise OSError(errno.EFBIG, _too_large(st.st_size, limit, what), os.fspath(path))
        parts: list[bytes] = []
        have = 0
        while have <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - have))
            if not chunk:
                break
            parts.append(chunk)
            have += len(chunk)
        if have > limit:
            raise OSError(errno.EFBIG, _too_large(have, limit, what), os.fspath(path))
        return b"".join(parts)
    finally:
        os.close(fd)


def _too_large(size: int, limit: int, what: str) -> str:
    return (f"the file is {format_bytes(size)}, over the {format_bytes(limit)} limit for "
            f"{what}")


def read_source(path: str | os.PathLike[str], limit: int = MAX_SOURCE_BYTES,
                what: str = "source files") -> tuple[str, Diagnostic | None]:
    """(text, problem): the file's text, and the error for its first byte that is not
    UTF-8 (None when it is all UTF-8). Undecodable bytes are kept as surrogate escapes, so
    the rest of the file can still be checked with the right positions. Only a regular file
    of at most `limit` bytes is read (`read_regular`, `what` naming the limit); OSError
    passes through (its `strerror` says why the file cannot be read)."""
    data = read_regular(path, limit, what)
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        text = data.decode("utf-8", "surrogateescape")
        at = len(data[:exc.start].decode("utf-8", "surrogateescape"))
        span = LineIndex(text).span(at, at + 1)
        return text, Diagnostic(
            span, f"this file is not valid UTF-8: byte {data[exc.start]:#04x} here is not part "
                  f"of a UTF-8 character; save the file as UTF-8", Severity.ERROR, "encoding")
