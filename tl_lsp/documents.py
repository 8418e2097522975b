"""Open documents, their analyses (from `tl_core.check.analyze`), and workspace .tl files.

Analyses run one at a time on a worker thread, so the event loop keeps reading messages
(cancellations, hovers on the last analysis) while a large file is analysed. Each analysis
belongs to one exact text; asking again for the same text shares the running job.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from pygls.uris import from_fs_path

from tl_lsp.protocol import UTF16, Positions, apply_change

_SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".cache", "build", "dist"}
_MAX_WORKSPACE_FILES = 5000


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


@dataclass
class Document:
    uri: str
    text: str
    version: int | None
    path: str | None
    analysis: Any = None  # the analysis of exactly `text`, once computed
    job: tuple[str, asyncio.Future[Any]] | None = None  # (text, running analysis)
    _positions: Positions | None = field(default=None, repr=False)


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
        self.docs.pop(uri, None)
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
            key = (st.st_mtime_ns, st.st_size)
            cached = self._file_cache.get(path)
            if cached is not None and cached[0] == key:
                a = cached[1]
            else:
                text = Path(path).read_text(encoding="utf-8", errors="replace")
                loop = asyncio.get_running_loop()
                a = await loop.run_in_executor(self.executor, _analyze, text, path)
                self._file_cache[path] = (key, a)
        except OSError:
            return None
        return a, Positions(a.text, self.encoding, getattr(a, "line_index", None))

    def text_of(self, path: str) -> str | None:
        uri = path_to_uri(path)
        if uri in self.docs:
            return self.docs[uri].text
        try:
            return Path(path).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None

    def workspace_files(self) -> Iterator[str]:
        """Every .tl file under the workspace roots (hidden and build folders skipped)."""
        seen = 0
        for root in self.roots:
            for dirpath, dirnames, filenames in os.walk(root):
                dirnames[:] = [d for d in dirnames if d not in _SKIP_DIRS and not d.startswith(".")]
                for name in filenames:
                    if name.endswith(".tl"):
                        seen += 1
                        if seen > _MAX_WORKSPACE_FILES:
                            return
                        yield os.path.join(dirpath, name)

    def dependents(self, path: str) -> list[str]:
        """URIs of open documents that (may) read the file at `path`.

        Uses the analysis' list of files when it has one (`dependencies`), else whether the
        document mentions the file's name.
        """
        target = os.path.realpath(path)
        name = os.path.basename(path)
        out = []
        for uri, doc in self.docs.items():
            deps = getattr(doc.analysis, "dependencies", None) if doc.analysis else None
            if deps:
                if target in {os.path.realpath(str(d)) for d in deps}:
                    out.append(uri)
            elif name and name in doc.text:
                out.append(uri)
        return out

    def shutdown(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.slow_executor.shutdown(wait=False, cancel_futures=True)
