"""Open documents, their analyses (from `tl_core.check.analyze`), and workspace .tl files.

Analyses run one at a time on a worker thread, so the event loop keeps reading messages
(cancellations, hovers on the last analysis) while a large file is analysed. Each analysis
belongs to one exact text; asking again for the same text shares the running job.
"""

from __future__ import annotations

import asyncio
import os
import stat
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from pygls.uris import from_fs_path

from tl_core.host import DocumentHost
from tl_core.ide.dependents import dependents
from tl_core.ide.overlay import Overlay
from tl_core.limits import MAX_SOURCE_BYTES
from tl_core.read_wait import READ_WAIT, ReadPending, ReadWait, bounded
from tl_core.source import read_source
from tl_core.syntax.edits import EditLog
from tl_lsp.protocol import UTF16, Positions, apply_change_at, workspace_symbol

_SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".cache", "build", "dist"}
_MAX_WORKSPACE_FILES = 5000
# The most directory entries one workspace scan looks at (a workspace holding a dataset of
# millions of files costs this much, not a walk of all of it) and the deepest folder it enters.
_MAX_WORKSPACE_ENTRIES = 200_000
_MAX_WORKSPACE_DEPTH = 32
# A workspace file that is not open is analysed for workspace symbols only up to this size
# (~15,000 lines; a larger one is found once opened): the analysis of a 60 MB file would
# take minutes. And one workspace/symbol request analyses new files for at most this long,
# leaving the rest to the next request (what it analysed is kept).
_MAX_WORKSPACE_FILE_BYTES = 512 * 1024
WORKSPACE_BUDGET_S = 10.0
_MAX_CHANGED = 256  # watched-file changes looked at one by one (more: every open document)
_MAX_EDITS = 4096  # edits kept to map positions onto the last analysis (more: forget it)
_OVERLAY_LINES = 200  # lines above an edited one looked at for an untouched one (Overlay)


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


def _analyze(host: DocumentHost, text: str, checkpoint: Callable[[], None] | None = None,
             line_index: Any = None, pause: Callable[[], None] | None = None) -> Any:
    return host.analyze(text, checkpoint, line_index, pause)


def _read_text(path: str, limit: int = MAX_SOURCE_BYTES) -> str | None:
    """A .tl file's text as the tools read sources (`tl_core.source.read_source`: only a
    regular file of at most `limit` bytes, never blocking on a FIFO), or None."""
    try:
        return read_source(path, limit)[0]
    except OSError:
        return None


def _text_within_wait(path: str, st: os.stat_result, limit: int) -> str | None:
    """`_read_text(path, limit)` of the file in the state `st`, waited for at most the
    thread's `ReadWait` (`tl_core.read_wait.bounded`: raises `ReadPending` past it)."""
    return bounded(("source", path, st.st_mtime_ns, st.st_size, limit), path,
                   lambda: _read_text(path, limit))


# How long an analysis waits for a file a program names (a model header, a tokenizer, an
# imported program) not read yet before it goes on without it (`tl_core.read_wait`): a slow
# file (a network disk, a file being written, a tokenizer.json of tens of megabytes) then
# holds up neither this document's answers nor other documents' analyses; the documents
# that read it are analysed again when the read ends (issue 17).
READ_WAIT_S = 1.0


@dataclass(eq=False)
class Job:
    """One analysis of one text of a document, on the analysis thread."""

    serial: int  # `Document.serial` of the text
    text: str
    future: asyncio.Future[Any]
    index: Any = None  # the text's LineIndex when the document has one (Document.index)
    cancel: threading.Event = field(default_factory=threading.Event)
    started: float | None = None  # time.monotonic() when the analysis thread took it


@dataclass
class Document:
    """One open document: its text (the only copy), its `DocumentHost` (the parsers and
    check cache, tl_core/host.py) and the server's state for it. Closing drops it whole."""

    uri: str
    text: str
    version: int | None
    path: str | None
    host: DocumentHost
    analysis: Any = None  # the analysis of exactly `text`, once computed
    job: Job | None = None  # the analysis of `text` under way (never one of an older text)
    serial: int = 0  # counts the changes of `text`
    # the newest finished analysis (of `text` or of an older text) and the edits made
    # since its text, each with the serial it produced: hover, completion and signature
    # help answer from it while the analysis of the newest text is under way. Only an
    # analysis of a serial above `last_serial` replaces it.
    last: Any = None
    last_serial: int = -1
    last_ms: float = 0.0  # how long the newest finished analysis took
    edits: EditLog = field(default_factory=EditLog)
    edit_serials: list[int] = field(default_factory=list)
    _positions: Positions | None = field(default=None, repr=False)
    # the LineIndex of `text`, kept through edits (`LineIndex.after_edit`: a search of the
    # whole text per keystroke was ~1.5 ms, for the server and again for the analysis)
    index: Any = field(default=None, repr=False)
    # the server's scheduling for this document (tl_lsp/server.py)
    diag_task: asyncio.Future[Any] | None = None  # analyse and publish diagnostics
    warm_task: asyncio.Future[Any] | None = None  # materialize after a pause in typing
    last_change: float | None = None  # loop time of the last change (the debounce)
    sem_result: tuple[str, list[int]] | None = None  # the last semantic tokens (for deltas)

    def cancel_tasks(self) -> None:
        for task in (self.diag_task, self.warm_task):
            if task is not None:
                task.cancel()
        self.diag_task = self.warm_task = None


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
        # files not open (workspace symbols): scanned, read and analysed one at a time, off
        # the analysis thread (a large or slow file delays no document's analysis) and off
        # the background thread (nor a document's symbols or tokens)
        self.workspace_executor = ThreadPoolExecutor(max_workers=1,
                                                     thread_name_prefix="tl-workspace")
        self.gate: Any = None  # the server's YieldGate (tl_lsp/yield_gate.py), once set
        self.requests: Any = None  # the gate hover/completion hold: analyses wait for them
        # path -> ((mtime, size), its workspace symbols as (name, lsp.WorkspaceSymbol)):
        # the workspace thread's only, at most `_MAX_WORKSPACE_FILES` files
        self._file_symbols: OrderedDict[str, tuple[tuple[int, int], list[tuple[str, Any]]]] = \
            OrderedDict()
        # analyses just replaced, freed by `free_retired` in the next pause (the server's
        # IdleCollector.later): freeing one of a 10,000-line file takes ~6-10 ms, which
        # should delay neither the diagnostics nor the completion that follows them
        self.retired: list[Any] = []
        # the server's: called on the event loop with the path of a slow read that ended
        self.read_ended: Callable[[str], None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # ---- text sync
    def open(self, uri: str, text: str, version: int | None) -> Document:
        old = self.docs.get(uri)
        if old is not None:
            self._cancel(old)
            old.cancel_tasks()
        path = uri_to_path(uri)
        doc = Document(uri, text, version, path, DocumentHost(path))
        self.docs[uri] = doc
        return doc

    def change(self, uri: str, changes: list[Any], version: int | None) -> Document:
        doc = self.docs[uri]
        text = doc.text
        pos = self.positions(doc)  # the first change's conversion (cached for this text)
        index = pos.index
        for change in changes:
            old_length = len(text)
            text, start, end = apply_change_at(text, change, self.encoding, pos)
            length = end - start + len(text) - old_length
            index = index.after_edit(text, start, end, length)
            pos = Positions(text, self.encoding, index) if len(changes) > 1 else None
            if text is not doc.text:
                doc.serial += 1
                doc.edits.add(start, end, length)
                doc.edit_serials.append(doc.serial)
        self._set_text(doc, text)
        if index.text is doc.text:  # (else the text came back to the same: kept as it was)
            doc.index = index
        doc.version = version
        if len(doc.edits) > _MAX_EDITS:  # a long burst with no analysis: start afresh
            self._forget_last(doc)
        return doc

    def _set_text(self, doc: Document, text: str) -> None:
        if text != doc.text:
            doc.text = text
            # the analysis of the old text stays as `last` (for hover while typing); an
            # analysis of the old text under way stops at its next checkpoint
            doc.analysis = None
            self._cancel(doc)
            doc._positions = None

    @staticmethod
    def _cancel(doc: Document) -> None:
        job, doc.job = doc.job, None
        if job is not None:
            job.cancel.set()

    def _retire(self, a: Any) -> None:
        if a is not None:
            self.retired.append(a)
            if len(self.retired) > 4:  # a burst without pauses: keep the memory bounded
                del self.retired[0]

    def _forget_last(self, doc: Document) -> None:
        """Answer from no older analysis: only one of the current text (or later) counts."""
        if doc.last is not None and doc.last is not doc.analysis:
            self._retire(doc.last)
        doc.last = None
        doc.last_serial = doc.serial - 1
        doc.edits = EditLog()
        doc.edit_serials = []

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
        if doc is not None:
            self._cancel(doc)
            doc.cancel_tasks()
            doc.host.close()  # its parsers and check cache (an analysis under way ends)
        self.free_retired()

    def get(self, uri: str) -> Document:
        doc = self.docs.get(uri)
        if doc is None:
            raise KeyError(f"document not open: {uri}")
        return doc

    def invalidate(self, uri: str) -> None:
        """Forget the analyses of `uri` (a file it depends on changed)."""
        doc = self.docs.get(uri)
        if doc is not None:
            doc.serial += 1  # the same text, new inputs: an analysis under way is stale
            if doc.analysis is not doc.last:
                self._retire(doc.analysis)
            doc.analysis = None
            self._forget_last(doc)
            self._cancel(doc)

    # ---- positions
    def positions(self, doc: Document, analysis: Any = None) -> Positions:
        """Converter for the document's current text (using the analysis' LineIndex)."""
        pos = doc._positions
        if pos is not None and pos.text is doc.text and pos.encoding == self.encoding:
            return pos
        if analysis is None:
            analysis = doc.analysis
        index = getattr(analysis, "line_index", None) if analysis is not None else None
        if index is None or getattr(index, "text", None) is not doc.text:
            index = doc.index
        if index is not None and getattr(index, "text", None) is not doc.text:
            index = None
        pos = Positions(doc.text, self.encoding, index)
        doc._positions = pos
        return pos

    # ---- analyses
    def analysis_future(self, uri: str) -> asyncio.Future[Any]:
        """A future for the analysis of the document's current text. Its result is None
        when a newer edit superseded that text first (ask again for the newest)."""
        doc = self.get(uri)
        loop = asyncio.get_running_loop()
        if doc.analysis is not None:
            fut = loop.create_future()
            fut.set_result(doc.analysis)
            return fut
        if doc.job is not None and doc.job.serial == doc.serial:
            return doc.job.future
        self._cancel(doc)
        self._loop = loop
        fut = loop.create_future()
        job = Job(doc.serial, doc.text, fut, doc.index)
        work = loop.run_in_executor(self.executor, self._analyze_now, job, doc.host)

        def done(f: asyncio.Future[Any]) -> None:
            a = None
            if f.cancelled():  # the executor was shut down
                pass
            elif f.exception() is not None:
                if not fut.done():
                    fut.set_exception(f.exception())  # type: ignore[arg-type]
                    if doc.job is job:
                        doc.job = None
                return
            else:
                a = f.result()
            if a is not None:
                self._finished(doc, job, a)
            elif doc.job is job:
                doc.job = None  # stopped: the next request starts one of the newest text
            if not fut.done():
                fut.set_result(a)

        work.add_done_callback(done)
        doc.job = job
        return fut

    def _finished(self, doc: Document, job: Job, a: Any) -> None:
        """An analysis ended: of the current text, it is the document's analysis; of an
        older one (it ended before it saw its cancellation), still the newest to answer from."""
        if self.docs.get(doc.uri) is not doc:
            return  # closed meanwhile
        if job.serial == doc.serial and doc.job is job:
            doc.analysis = a
            doc.job = None
        if job.serial > doc.last_serial:
            if doc.last is not None and doc.last is not a:
                self._retire(doc.last)
            doc.last, doc.last_serial = a, job.serial
            doc.last_ms = (time.monotonic() - (job.started or time.monotonic())) * 1000
            keep = next((i for i, s in enumerate(doc.edit_serials) if s > job.serial),
                        len(doc.edit_serials))
            doc.edits = EditLog(doc.edits.edits[keep:])
            doc.edit_serials = doc.edit_serials[keep:]
        if not doc.host.prepared:  # the second parser, so the next analysis keeps this intact
            asyncio.get_running_loop().run_in_executor(self.slow_executor, doc.host.prepare)

    def _analyze_now(self, job: Job, host: DocumentHost) -> Any:
        """The analysis of an open document (in the analysis thread), or None when a newer
        edit superseded its text before or while it ran (it stops at its next checkpoint,
        and one superseded before it started never runs). The diagnostics the user waits
        for go before background work that yields to `gate` (semantic tokens)."""
        from tl_core.check.cancel import Cancelled  # lazy: as above

        if job.cancel.is_set():
            return None
        job.started = time.monotonic()
        cancel = job.cancel
        wait = self.requests.wait_while_busy if self.requests is not None else None

        def checkpoint() -> None:
            if cancel.is_set():
                raise Cancelled
            if wait is not None:
                wait()  # a hover meanwhile has the interpreter to itself

        try:
            with self.bounded_reads():
                if self.gate is None:
                    return _analyze(host, job.text, checkpoint, job.index, wait)
                with self.gate.busy():
                    return _analyze(host, job.text, checkpoint, job.index, wait)
        except Cancelled:
            return None

    @contextmanager
    def bounded_reads(self) -> Iterator[None]:
        """Files that programs name, read meanwhile (on this thread), are waited for at most
        `READ_WAIT_S` in all (one analysis naming many slow files waits that long, not that
        long per file); a read still under way then ends in the background and calls
        `read_ended` on the event loop."""
        token = READ_WAIT.set(ReadWait(READ_WAIT_S, self._read_ended,
                                       time.monotonic() + READ_WAIT_S))
        try:
            yield
        finally:
            READ_WAIT.reset(token)

    def _read_ended(self, path: str) -> None:
        """(On a reader thread, `tl_core.read_wait`.)"""
        loop, ended = self._loop, self.read_ended
        if loop is None or ended is None:
            return
        try:
            loop.call_soon_threadsafe(ended, path)
        except RuntimeError:  # the loop closed: the server is gone
            pass

    async def analysis(self, uri: str) -> tuple[Document, Any, Positions]:
        """The analysis of the document's newest text (waiting for it)."""
        while True:
            doc = self.get(uri)
            a = await asyncio.shield(self.analysis_future(uri))
            if a is not None:
                return doc, a, Positions(a.text, self.encoding, getattr(a, "line_index", None))

    async def fresh_within(self, doc: Document, seconds: float) -> Any:
        """The analysis of the document's current text if it is there or, by the time the
        last analysis took, will be within `seconds` (then waited for); else None."""
        if doc.analysis is not None:
            return doc.analysis
        job = doc.job
        if job is None or job.serial != doc.serial or job.started is None:
            return None
        remaining = job.started + doc.last_ms / 1000 - time.monotonic()
        if remaining > seconds:
            return None
        done, _ = await asyncio.wait({job.future}, timeout=seconds)
        return job.future.result() if done else None

    def stale_offset(self, doc: Document, offset: int) -> int | None:
        """Where `offset` of the current text lies in the text of `doc.last`, when no edit
        since that analysis touched the line it is on (an answer there is the same)."""
        if doc.last is None or not doc.host.intact(doc.last):
            return None  # its tree was moved to a newer text (tl_core/host.py)
        if not doc.edits:
            return offset
        pos = self.positions(doc)
        start, end = pos.line_bounds(pos.line_of(offset))
        old = doc.edits.old_range(start, end)
        return None if old is None else old + (offset - start)

    def overlay(self, doc: Document, offset: int) -> Any:
        """The current text around `offset` read with `doc.last`'s names (an `Overlay`,
        tl_core/ide/overlay.py) for completion and signature help, or None when there is no
        such analysis whose tree is intact, or no line within `_OVERLAY_LINES` above the
        cursor's line that the edits since left untouched (what stands for its scope)."""
        if doc.last is None or not doc.host.intact(doc.last):
            return None
        pos = self.positions(doc)
        line = pos.line_of(offset)
        line_start = pos.line_bounds(line)[0]
        scope = self.stale_offset(doc, offset)  # on an untouched line: the cursor's own
        for above in range(line - 1, max(line - _OVERLAY_LINES, 0) - 1, -1):
            if scope is not None:
                break
            start, end = pos.line_bounds(above)
            old = doc.edits.old_range(start, end)
            if old is not None:
                scope = old + (end - start)  # the end of that line in the older text
        if scope is None and line == 0:
            scope = 0  # the first line: nothing above it
        if scope is None:
            return None
        return Overlay(doc.last, doc.text, scope, line_start, doc.edits.to_new, pos.index)

    # ---- files on disk (workspace symbols, definitions in other files)
    async def file_symbols(self, path: str) -> list[tuple[str, Any]] | None:
        """The workspace symbols of a file that is not open, as (name, lsp.WorkspaceSymbol),
        from the workspace thread (None: not a regular file, over
        `_MAX_WORKSPACE_FILE_BYTES`, unreadable, or still being read after `READ_WAIT_S`)."""
        loop = self._loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.workspace_executor, self._file_symbols_now, path)

    def _file_symbols_now(self, path: str) -> list[tuple[str, Any]] | None:
        """(The workspace thread.) The file's read and the files its program names are
        waited for at most `READ_WAIT_S` each (`bounded_reads`)."""
        try:
            st = os.stat(path)
        except OSError:
            return None
        if not stat.S_ISREG(st.st_mode) or st.st_size > _MAX_WORKSPACE_FILE_BYTES:
            return None
        key = (st.st_mtime_ns, st.st_size)
        cached = self._file_symbols.get(path)
        if cached is not None and cached[0] == key:
            self._file_symbols.move_to_end(path)
            return cached[1]
        # lazy: tl-lsp starts without the checker (tests/lsp/test_lsp_features)
        from tl_core.check import analyze
        from tl_core.ide.outline import document_symbols
        from tl_core.ide.workspace import flatten

        with self.bounded_reads():
            try:
                text = _text_within_wait(path, st, _MAX_WORKSPACE_FILE_BYTES)
            except ReadPending:  # a slow disk: left out this time
                return None
            if text is None:
                return None
            a = analyze(text, path)
        pos = Positions(a.text, self.encoding, getattr(a, "line_index", None))
        uri = path_to_uri(path)
        found = [(s.name, workspace_symbol(s, container, uri, pos))
                 for s, container in flatten(document_symbols(a))]
        self._file_symbols[path] = (key, found)
        while len(self._file_symbols) > _MAX_WORKSPACE_FILES:
            self._file_symbols.popitem(last=False)
        return found

    async def text_of_async(self, path: str) -> str | None:
        """The text of `path`: the open document's, else the file's, read off the event
        loop (None when it cannot be read)."""
        uri = path_to_uri(path)
        if uri in self.docs:
            return self.docs[uri].text
        return await asyncio.get_running_loop().run_in_executor(self.slow_executor,
                                                                self._text_now, path)

    def _text_now(self, path: str) -> str | None:
        """The file's text, waited for at most `READ_WAIT_S` (None after that: a location
        in a file that is slow to read is left out)."""
        try:
            st = os.stat(path)
        except OSError:
            return None
        with self.bounded_reads():
            try:
                return _text_within_wait(path, st, MAX_SOURCE_BYTES)
            except ReadPending:
                return None

    def workspace_files(self) -> list[str]:
        """The regular .tl files under the workspace roots (hidden and build folders, and
        FIFOs, devices and sockets named .tl, skipped; symlinked folders not entered): at
        most `_MAX_WORKSPACE_FILES` files, from at most `_MAX_WORKSPACE_ENTRIES` entries
        seen, `_MAX_WORKSPACE_DEPTH` folders deep. Blocking: call it off the event loop."""
        return scan_tl_files(self.roots)

    async def workspace_files_async(self) -> list[str]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.workspace_executor, self.workspace_files)

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
        for executor in (self.executor, self.slow_executor, self.workspace_executor):
            executor.shutdown(wait=False, cancel_futures=True)
