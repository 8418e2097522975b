"""Open documents, their analyses (from `tl_core.check.analyze`), and workspace .tl files.

Analyses run one at a time on a worker thread, so the event loop keeps reading messages
(cancellations, hovers on the last analysis) while a large file is analysed. Each analysis
belongs to one exact text; asking again for the same text shares the running job.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from pygls.uris import from_fs_path

from tl_core.ide.dependents import dependents
from tl_lsp.protocol import UTF16, Positions, apply_change

_SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".cache", "build", "dist"}
_MAX_WORKSPACE_FILES = 5000
# The most directory entries one workspace scan looks at (a workspace holding a dataset of
# millions of files costs this much, not a walk of all of it) and the deepest folder it enters.
_MAX_WORKSPACE_ENTRIES = 200_000
_MAX_WORKSPACE_DEPTH = 32
_MAX_CHANGED = 256  # watched-file changes looked at one by one (more: every open document)


def uri_to_path(uri: str) -> str | None:
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        return None
    path = unquote(parsed.path)
    if os.name == "nt" and path.startswith("/") and len(path) > 2 and path[2] == ":":
        path = path[1:]
    return path


def path_to_uri(path: str) -> str:
    return from_fs_path(path) or Path(path).as_uri()


def _analyze(text: str, path: str | None) -> Any:
    from tl_core.check import analyze

    return analyze(text, path)


def _read_text(path: str) -> str | None:
    """A .tl file's text as the tools read sources (`tl_core.source.read_source`: only a
    regular file of bounded size, never blocking on a FIFO), or None."""
    from tl_core.source import read_source

    try:
        return read_source(path)[0]
    except OSError:
        return None


def _analyze_file(path: str) -> Any:
    text = _read_text(path)
    return None if text is None else _analyze(text, path)


@dataclass
class Document:
    uri: str
    text: str
    version: int | None
    path: str | None
    analysis: Any = None  # the analysis of exactly `text`, once computed
    job: tuple[str, asyncio.Future[Any]] | None = None  # (text, running analysis)
    _positions: Positions | None = field(default=None, repr=False)


def scan_tl_files(roots: list[str], max_files: int = _MAX_WORKSPACE_FILES,
                  max_entries: int = _MAX_WORKSPACE_ENTRIES) -> list[str]:
    """See `Documents.workspace_files`. Never opens a file: the kind of each entry comes
    from the directory listing (or one stat of a symlink's target)."""
    out: list[str] = []
    seen = 0
    for root in roots:
        todo = [(root, 0)]
        while todo:
            folder, depth = todo.pop()
            try:
                listing = os.scandir(folder)
            except OSError:
                continue
            with listing:
                for entry in listing:
                    seen += 1
                    if seen > max_entries:
                        return out
                    name = entry.name
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            if (depth < _MAX_WORKSPACE_DEPTH and name not in _SKIP_DIRS
                                    and not name.startswith(".")):
                                todo.append((entry.path, depth + 1))
                        elif name.endswith(".tl") and entry.is_file():  # a FIFO is not
                            out.append(entry.path)
                            if len(out) >= max_files:
                                return out
                    except OSError:
                        continue
    return out


class Documents:
    """The server's view of the documents the client opened (the source of truth for text)."""

    def __init__(self) -> None:
        self.encoding = UTF16
        self.docs: dict[str, Document] = {}
        self.roots: list[str] = []
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tl-analyze")
        # whole-document answers that take tens of milliseconds on a large file (semantic
        # tokens after each edit): off the event loop, so hover and completion that arrive
        # meanwhile are answered at once, and off the analysis thread, so they never delay
        # the next diagnostics
        self.slow_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tl-tokens")
        self.gate: Any = None  # the server's YieldGate (tl_lsp/yield_gate.py), once set
        self._file_cache: dict[str, tuple[tuple[int, int], Any]] = {}  # path -> (stat, analysis)
        # analyses just replaced, freed by `free_retired` in the next pause (the server's
        # IdleCollector.later): freeing one of a 10,000-line file takes ~6-10 ms, which
        # should delay neither the diagnostics nor the completion that follows them
        self.retired: list[Any] = []

    # ---- text sync
    def open(self, uri: str, text: str, version: int | None) -> Document:
        doc = Document(uri, text, version, uri_to_path(uri))
        self.docs[uri] = doc
        return doc

    def change(self, uri: str, changes: list[Any], version: int | None) -> Document:
        doc = self.docs[uri]
        text = doc.text
        for change in changes:
            text = apply_change(text, change, self.encoding)
        self._set_text(doc, text)
        doc.version = version
        return doc

    def _set_text(self, doc: Document, text: str) -> None:
        if text != doc.text:
            doc.text = text
            self._retire(doc)
            doc._positions = None

    def _retire(self, doc: Document) -> None:
        if doc.analysis is not None:
            self.retired.append(doc.analysis)
            doc.analysis = None
            if len(self.retired) > 4:  # a burst without pauses: keep the memory bounded
                del self.retired[0]

    def free_retired(self, step: Callable[[], None] | None = None) -> None:
        """Free the replaced analyses. With `step` (the server runs this in a background
        thread), one held by nothing else is taken apart a part at a time, `step` between:
        freeing a 10,000-line file's analysis in one piece holds the interpreter ~6-10 ms,
        which a hover arriving then waited for (bench/lsp.py, hover during the warm-up)."""
        while self.retired:
            a = self.retired.pop()
            # ours and getrefcount's own: a request still holding it keeps it whole
            if step is not None and sys.getrefcount(a) <= 2 and hasattr(a, "release"):
                a.release(step)
            del a

    def close(self, uri: str) -> None:
        doc = self.docs.pop(uri, None)
        if doc is not None and not any(d.path == doc.path for d in self.docs.values()):
            from tl_core.check import forget

            forget(doc.path)  # the checker's parser and records of this file
        self.free_retired()

    def get(self, uri: str) -> Document:
        doc = self.docs.get(uri)
        if doc is None:
            raise KeyError(f"document not open: {uri}")
        return doc

    def invalidate(self, uri: str) -> None:
        """Forget the analysis of `uri` (a file it depends on changed)."""
        doc = self.docs.get(uri)
        if doc is not None:
            self._retire(doc)
            doc.job = None

    # ---- positions
    def positions(self, doc: Document, analysis: Any = None) -> Positions:
        """Converter for the document's current text (using the analysis' LineIndex)."""
        pos = doc._positions
        if pos is not None and pos.text is doc.text and pos.encoding == self.encoding:
            return pos
        index = getattr(analysis, "line_index", None) if analysis is not None else None
        if index is not None and getattr(index, "text", None) is not doc.text:
            index = None
        pos = Positions(doc.text, self.encoding, index)
        doc._positions = pos
        return pos

    # ---- analyses
    def analysis_future(self, uri: str) -> asyncio.Future[Any]:
        """A future for the analysis of the document's current text."""
        doc = self.get(uri)
        loop = asyncio.get_running_loop()
        if doc.analysis is not None:
            fut = loop.create_future()
            fut.set_result(doc.analysis)
            return fut
        if doc.job is not None and doc.job[0] is doc.text and not doc.job[1].cancelled():
            return doc.job[1]
        text = doc.text
        fut = loop.run_in_executor(self.executor, self._analyze_now, text, doc.path)

        def done(f: asyncio.Future[Any]) -> None:
            if f.cancelled() or f.exception() is not None:
                return
            # only the current job of the current text (not one invalidated meanwhile)
            if doc.text is text and doc.job is not None and doc.job[1] is f:
                self._retire(doc)
                doc.analysis = f.result()

        fut.add_done_callback(done)
        doc.job = (text, fut)
        return fut

    def _analyze_now(self, text: str, path: str | None) -> Any:
        """The analysis of an open document (in the analysis thread): the diagnostics the
        user waits for go before background work that yields to `gate` (semantic tokens)."""
        if self.gate is None:
            return _analyze(text, path)
        with self.gate.busy():
            return _analyze(text, path)

    async def analysis(self, uri: str) -> tuple[Document, Any, Positions]:
        doc = self.get(uri)
        a = await asyncio.shield(self.analysis_future(uri))
        return doc, a, Positions(a.text, self.encoding, getattr(a, "line_index", None))

    # ---- files on disk (workspace symbols, definitions in other files)
    async def file_analysis(self, path: str) -> tuple[Any, Positions] | None:
        uri = path_to_uri(path)
        if uri in self.docs:
            _, a, pos = await self.analysis(uri)
            return a, pos
        try:
            st = os.stat(path)
        except OSError:
            return None
        key = (st.st_mtime_ns, st.st_size)
        cached = self._file_cache.get(path)
        if cached is not None and cached[0] == key:
            a = cached[1]
        else:  # read and analysed on the analysis thread, never on the event loop
            loop = asyncio.get_running_loop()
            a = await loop.run_in_executor(self.executor, _analyze_file, path)
            if a is None:
                return None
            self._file_cache[path] = (key, a)
        return a, Positions(a.text, self.encoding, getattr(a, "line_index", None))

    def text_of(self, path: str) -> str | None:
        uri = path_to_uri(path)
        if uri in self.docs:
            return self.docs[uri].text
        return _read_text(path)

    async def text_of_async(self, path: str) -> str | None:
        """`text_of`, reading a file that is not open off the event loop."""
        uri = path_to_uri(path)
        if uri in self.docs:
            return self.docs[uri].text
        return await asyncio.get_running_loop().run_in_executor(self.slow_executor,
                                                                _read_text, path)

    def workspace_files(self) -> list[str]:
        """The regular .tl files under the workspace roots (hidden and build folders, and
        FIFOs, devices and sockets named .tl, skipped; symlinked folders not entered): at
        most `_MAX_WORKSPACE_FILES` files, from at most `_MAX_WORKSPACE_ENTRIES` entries
        seen, `_MAX_WORKSPACE_DEPTH` folders deep. Blocking: call it off the event loop."""
        return scan_tl_files(self.roots)

    async def workspace_files_async(self) -> list[str]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.slow_executor, self.workspace_files)

    def dependents(self, path: str) -> list[str]:
        """URIs of open documents that (may) read the file at `path`."""
        return self.dependents_of([path])

    def dependents_of(self, paths: list[str]) -> list[str]:
        """URIs of open documents that (may) read any of `paths`, in one pass (a checkout
        reports thousands of watched files at once; more than `_MAX_CHANGED` of them simply
        touch every open document). Never opens the files: a FIFO is only a name here.

        The files each analysis looked at decide (`tl_core.ide.dependents`).
        """
        if len(paths) > _MAX_CHANGED:
            return list(self.docs)
        return dependents(((uri, doc.analysis) for uri, doc in self.docs.items()), paths)

    def shutdown(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.slow_executor.shutdown(wait=False, cancel_futures=True)
