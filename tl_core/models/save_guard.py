"""What `save_model` does around its atomic write: refuse targets it must not replace, name
its temporary file after the writing process, remove the temporary files of saves that were
killed (SIGKILL, a crash, a power cut) at the next save to the same target, and turn a
SIGTERM during the write into a clean exit that removes the temporary file first.
"""

from __future__ import annotations

import os
import signal
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from tl_core.source import file_kind


def target_problem(path: str) -> str | None:
    """Why `path` must not be replaced by a save, or None (it is absent or a writable
    regular file)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"cannot check the target: {exc.strerror}"
    mode = st.st_mode
    if stat.S_ISLNK(mode):
        return ("is a symbolic link; save_model does not replace links (save to the path it "
                "points to, or remove the link first)")
    if stat.S_ISDIR(mode):
        return "is a directory; save_model writes a file (add a file name to the path)"
    if not stat.S_ISREG(mode):
        return (f"is {file_kind(mode)}, not a regular file; save_model replaces regular "
                f"files only")
    if not mode & 0o222 or not os.access(path, os.W_OK):
        return ("is read-only; save_model does not replace a read-only file (make it "
                "writable, or save to another path)")
    return None


def temp_prefix(path: str) -> str:
    """`.NAME.PID.`: the start of this process's temporary files for `path`."""
    return f".{os.path.basename(path)}.{os.getpid()}."


def remove_stale_temps(path: str) -> list[str]:
    """Remove the temporary files that saves to `path` left when their process died (their
    names carry its pid); the files of live processes stay. Returns the names removed."""
    directory = os.path.dirname(os.path.abspath(path))
    start = f".{os.path.basename(path)}."
    removed = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        name = entry.name
        if not (name.startswith(start) and name.endswith(".tmp")):
            continue
        pid = name[len(start):].split(".", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid() or _alive(int(pid)):
            continue
        try:
            if entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
                removed.append(name)
        except OSError:
            pass
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


class Terminated(BaseException):
    """SIGTERM arrived during a save (raised so that the save's cleanup runs)."""


@contextmanager
def sigterm_cleans_up() -> Iterator[None]:
    """While the body runs, a SIGTERM that would kill the process (the default action)
    raises `Terminated` instead; once the body has cleaned up, the process ends by SIGTERM
    as it would have. A program that handles or ignores SIGTERM itself is left alone, and so
    is a save outside the main thread (only the main thread receives signals)."""
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return

    def on_term(signum: int, frame: object) -> None:
        raise Terminated

    signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    except Terminated:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.raise_signal(signal.SIGTERM)
        raise
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
