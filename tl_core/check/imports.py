"""`import "x.tl"`: resolve relative to the importing file, find cycles, collect declarations.

An imported file contributes its own `fn`, `struct`, `impl` and top-level `tensor` declarations (not
those it imports itself). Imported files are parsed once per (path, size, mtime), and under a
`ReadWait` (the language server's analysis) a file not parsed yet is waited for at most its
seconds (`tl_core.read_wait`): a slow disk or a file of tens of megabytes makes the import
pending (`ImportResult.pending`), checked again when its read ends.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field

from tl_core.read_wait import ReadPending, bounded, bounded_call
from tl_core.source import SYMLINK_LOOP, file_kind, path_problem, read_source
from tl_core.syntax import ast as A
from tl_core.syntax import parse

_PARSED: dict[tuple[str, int, int], object] = {}


@dataclass(frozen=True)
class ImportedDecl:
    node: object
    path: str


@dataclass(frozen=True)
class ImportResult:
    resolved: str | None
    error: str | None = None
    declarations: tuple[ImportedDecl, ...] = field(default=())
    pending: bool = False  # still being read after the caller's `ReadWait`


def _parse_file(path: str) -> object | str:
    """The parse of an imported file, or why it cannot be read (`read_source`: a regular
    UTF-8 file of bounded size, never a FIFO or a device). Raises `ReadPending` when a
    `ReadWait` ran out first."""
    try:  # (waited for as a read: a hung mount holds no analysis)
        st = bounded_call(path, lambda: os.stat(path))
    except OSError as exc:
        return exc.strerror or str(exc)
    key = (path, st.st_size, st.st_mtime_ns)
    pr = _PARSED.get(key)
    if pr is None:
        return bounded(("import", *key), path, lambda: _read_and_parse(path, key))
    return pr


def _read_and_parse(path: str, key: tuple[str, int, int]) -> object | str:
    try:
        text, problem = read_source(path)
    except OSError as exc:
        return exc.strerror or str(exc)
    if problem is not None:
        return "the file cannot be read as UTF-8 text"
    pr = parse(text)
    if len(_PARSED) > 256:
        _PARSED.clear()
    _PARSED[key] = pr
    return pr


def _is_symlink_loop(path: str) -> bool:
    try:
        os.stat(path)
    except OSError as exc:
        return exc.errno == errno.ELOOP
    return False


class ImportResolver:
    def __init__(self, doc_path: str | None, base_dir: str) -> None:
        self.doc = os.path.normpath(os.path.abspath(doc_path)) if doc_path else None
        self.base_dir = base_dir
        # every file resolving looked at (imported, or read in search of a cycle, or named
        # and missing): a change to one may change the check
        self.read: set[str] = set()

    def resolve(self, written: str) -> ImportResult:
        full = os.path.normpath(os.path.join(self.base_dir, written))
        self.read.add(full)
        problem = path_problem(full) or (SYMLINK_LOOP if _is_symlink_loop(full) else None)
        if problem is not None:
            return ImportResult(None, f"cannot import '{written}': {problem}")
        if not os.path.isfile(full):
            if os.path.exists(full):  # a folder, a FIFO, a device: say what it is
                mode = os.stat(full).st_mode  # in read_source's words, as `tl run` says it
                why = ("is a directory, not a file" if stat.S_ISDIR(mode)
                       else f"is {file_kind(mode)}, not a regular file")
                return ImportResult(None, f"cannot import '{written}': {why}")
            return ImportResult(None, f"cannot import '{written}': no such file (import paths "
                                      f"are relative to the importing file)")
        if self.doc is not None and full == self.doc:
            return ImportResult(full, f"import cycle: '{written}' is this file itself")
        try:
            cycle = self._find_cycle(full, [self.doc or "<this file>", full])
        except ReadPending:  # the imported file itself (one further down is not searched)
            return ImportResult(full, pending=True)
        if cycle:
            names = " -> ".join(os.path.basename(p) for p in cycle)
            return ImportResult(full, f"import cycle: {names}")
        pr = _parse_file(full)
        if isinstance(pr, str):
            return ImportResult(full, f"cannot import '{written}': {pr}")
        decls = []
        for it in pr.program.items:  # type: ignore[attr-defined]
            if isinstance(it, (A.FnDecl, A.StructDecl, A.ImplDecl, A.TensorDecl)):
                decls.append(ImportedDecl(it, full))
        return ImportResult(full, None, tuple(decls))

    def _find_cycle(self, path: str, chain: list[str], depth: int = 0,
                    done: set[str] | None = None) -> list[str] | None:
        """A cycle reachable from `path` (depth-first; `done` holds the files whose imports
        were all searched, so a file imported along many paths is searched once: without
        it, 30 files each importing the next two took 2^30 steps)."""
        if done is None:
            done = set()
        if depth > 32 or path in done:
            return None
        self.read.add(path)
        try:
            pr = _parse_file(path)
        except ReadPending:
            if depth == 0:
                raise
            return None
        if isinstance(pr, str):
            return None
        base = os.path.dirname(path)
        for it in pr.program.items:  # type: ignore[attr-defined]
            if not isinstance(it, A.Import):
                continue
            target = os.path.normpath(os.path.join(base, it.path))
            if target == chain[0] or target in chain[1:]:
                return chain + [target]
            if os.path.isfile(target):
                found = self._find_cycle(target, chain + [target], depth + 1, done)
                if found:
                    return found
        done.add(path)
        return None
