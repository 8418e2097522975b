"""The TensorLogic language server: registers LSP features and calls `tl_core.ide`.

Every answer comes from `tl_core` (check, ide, kernel); this module only routes requests,
schedules work, and converts through `tl_lsp.protocol`. Handlers never let an exception
escape as anything but an LSP error response plus a log line.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import sys
import threading
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException, JsonRpcInternalError, JsonRpcInvalidParams
from pygls.io_ import StdoutWriter
from pygls.lsp import get_method_options_type
from pygls.lsp.server import LanguageServer

from tl_core.ide.cells import cell_at  # light: no checker (tl_core/ide/__init__.py)
from tl_core.models import formats as model_formats
from tl_lsp import protocol as proto
from tl_lsp.capabilities import (
    CMD_INTERRUPT,
    CMD_RESTART,
    CMD_RUN_CELL,
    CMD_RUN_FILE,
    CMD_RUN_SELECTION,
    DOCUMENT_TEXT,
    FEATURES,
    NAME,
    RUN_OUTPUT,
    TOKEN_MODIFIERS,
    TOKEN_TYPES,
    VERSION,
    Feature,
)
from tl_lsp.config import SECTION, Config, ignored_launch_settings
from tl_lsp.documents import WORKSPACE_BUDGET_S, Documents, path_to_uri, uri_to_path
from tl_lsp.gc_policy import IdleCollector
from tl_lsp.kernel_client import KernelError
from tl_lsp.lasting import make_converters
from tl_lsp.rpc import TensorLogicProtocol, strict_converter
from tl_lsp.runs import Runner
from tl_lsp.yield_gate import YieldGate

log = logging.getLogger("tl_lsp")

# the features, their options, commands and the token legend are in tl_lsp.capabilities
# (plain data): the early `initialize` answer (tl_lsp/fast_start.py) is built from the same
# table


class _LazyIde:
    """`tl_core.ide`, imported on first use (after `initialize` was answered)."""

    def __getattr__(self, name: str) -> Any:
        from tl_core import ide as module  # lazy: the IDE features load after start (`warm_up`)

        return getattr(module, name)


ide: Any = _LazyIde()


def warm_up(ls: TensorLogicServer) -> None:
    """In the analysis thread right after `initialized`: import the checker and what an
    analysis imports on first use, then `make_lasting`, before the first document's
    analysis, which this thread runs next."""
    import resource  # noqa: F401 - tl_core.limits, on Unix

    from tl_core import ide  # noqa: F401
    from tl_core.check import analyze  # lazy: here, in the analysis thread after `initialized`
    from tl_core.check.cancel import Cancelled  # noqa: F401

    analyze("", None)
    make_lasting(ls)


def _nothing() -> None:
    pass


def make_lasting(ls: TensorLogicServer) -> None:
    """What the server keeps for its life, made before any document's objects (why:
    tl_lsp/lasting.py; ~0.2 s, stepping aside for a request meanwhile): the modules hover,
    completion and signature help use (the first hover waited ~75 ms at load 8 for
    `tl_core.ide.hover`'s imports, bench/lsp.py, typing), those of the other features, and
    the converters of every message the server reads and writes."""
    import uuid  # noqa: F401 - semantic tokens' result ids

    import tl_core.ide.completion
    import tl_core.ide.hover
    import tl_core.ide.signature
    import tl_core.ide.tokens  # noqa: F401

    tl_core.ide.completion.prepare()  # lasting labels
    for name in tl_core.ide.__all__:
        getattr(tl_core.ide, name)  # each feature's module
    "".encode("utf-16-le")  # the codec positions are converted with (tl_lsp/protocol.py)
    answers = (proto.RawJSON, proto.RawJSONList, dict, list, str, int, float, bool, type(None))
    make_converters(ls.protocol._converter, ls.protocol.fm.features, answers,
                    ls.requests.wait_while_busy)


F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


# How long a change waits before its analysis starts when no analysis of the document is
# under way (typing with pauses, the previous diagnostics out): the completion, signature
# help or hover an editor sends right after the edit is read and answered first. Started at
# once, the analysis held the interpreter when that request's bytes arrived, and the reader
# thread waited for it (for a CPU too, on a loaded machine): hover after an edit at 10/s,
# p50 6-12 ms -> 2-6 ms in four alternated pairs at load 3-4 (bench/lsp.py's typing scenario
# through a probe; issue 18). The diagnostics come that much later. In a burst an analysis
# holds the interpreter anyway: the next one starts at once (the older one stops).
START_DELAY_MS = 3


def debounce_ms(configured: int, busy: bool, since_previous_ms: float | None) -> int:
    """How long a change waits before its analysis: `configured` (diagnosticsDelayMs) when
    it comes that soon after the previous change while that one's diagnostics are still on
    their way (`busy`: a burst); `START_DELAY_MS` when nothing is on its way; else nothing."""
    if not busy:
        return START_DELAY_MS
    if since_previous_ms is None or since_previous_ms >= configured:
        return 0
    return configured


class TensorLogicServer(LanguageServer):
    def __init__(self) -> None:
        # our protocol: the document notifications reach us untouched (tl_lsp/rpc.py)
        super().__init__(
            NAME, VERSION, protocol_cls=TensorLogicProtocol, converter_factory=strict_converter
        )
        self.docs = Documents()
        self.gate = YieldGate()
        self.docs.gate = self.gate
        # held by interactive requests only: the analysis waits at its checkpoints meanwhile
        self.requests = YieldGate(max_wait_s=0.05)
        self.docs.requests = self.requests
        self.protocol.requests = self.requests  # held from a request's first byte read
        self.docs.read_ended = lambda path: self.files_changed([path])
        self.config = Config()
        self.runner = Runner(
            lambda: self.config.python,
            self._kernel_died,
            self._kernel_stderr,
            self._kernel_restarted,
        )
        self._completions: dict[int, Any] = {}
        self._completion_id = 0
        self._progress_shown: set[int] = set()
        self._ignored_settings: set[str] = set()
        self.gc = IdleCollector()  # inert until `install` (tl_lsp/__main__.py)
        self._gc_task: asyncio.Future[Any] | None = None
        self.stale_answers = 0  # answers from an older analysis (interactive_analysis)

    protocol: TensorLogicProtocol

    def hold_interactive(self) -> None:
        """A hover, completion or signature help is being answered: background work and
        the analysis wait at their next step. Released (`release_interactive`) once its
        answer is written: pygls writes it in the handler task's done callback, which runs
        after the handler's own `call_soon` and before the one that callback schedules
        (`guarded`). Released as the handler returned, the analysis took the interpreter
        back while the answer was being converted and written (a hover right after an edit:
        p90 ~4-8 ms from the handler's end to the write, bench/lsp.py; issue 18)."""
        self.gate.hold()
        self.requests.hold()

    def release_interactive(self) -> None:
        self.requests.release()
        self.gate.release()

    def start_io(self, stdin: Any = None, stdout: Any = None) -> int:  # type: ignore[override]
        """Serve LSP on stdin/stdout (tl_lsp/rpc.py reads the messages); the exit code:
        0 after `shutdown` and `exit` (or at the end of stdin), 1 for `exit` alone."""
        self.protocol.set_writer(StdoutWriter(stdout or sys.stdout.buffer))
        # a request's way to its handler passes several threads (the pipe's reader, the
        # event loop), each waiting up to the switch interval for the interpreter while the
        # analysis thread runs: 5 ms by default; 0.5 ms halved hover while typing
        # (bench/lsp.py, typing; issue 18). 0.2 ms: the reader's hop, before the analysis
        # sees the request and waits (tl_lsp/rpc.py), waits less; the analysis otherwise
        # runs alone (no other thread asks for the interpreter, so no more switches)
        sys.setswitchinterval(0.0002)
        self._stop_event = threading.Event()
        code = 1
        try:
            code = asyncio.run(self._serve(stdin or sys.stdin.buffer))
        except BrokenPipeError:
            log.error("Connection to the client is lost! Shutting down the server.")
        except KeyboardInterrupt:
            pass
        finally:
            self.shutdown()
        return code

    async def _serve(self, stdin: Any) -> int:
        try:
            return await self.protocol.serve(stdin)
        finally:  # also for `exit` without `shutdown`: no kernel outlives the server
            await self.runner.shutdown()
            self.docs.shutdown()

    # ---- messages to the client
    def log_line(self, message: str, kind: lsp.MessageType = lsp.MessageType.Log) -> None:
        with contextlib.suppress(Exception):
            self.window_log_message(lsp.LogMessageParams(type=kind, message=message))

    def _kernel_died(self, message: str) -> None:
        log.warning(message)
        self.log_line(message, lsp.MessageType.Error)
        with contextlib.suppress(Exception):
            self.window_show_message(
                lsp.ShowMessageParams(type=lsp.MessageType.Error, message=message)
            )

    def _kernel_restarted(self, message: str) -> None:
        self.log_line(message, lsp.MessageType.Warning)
        with contextlib.suppress(Exception):
            self.window_show_message(
                lsp.ShowMessageParams(type=lsp.MessageType.Warning, message=message)
            )

    def _kernel_stderr(self, line: str) -> None:
        log.info("kernel: %s", line)

    def capability(self, dotted: str) -> Any:
        obj: Any = self.client_capabilities
        for part in dotted.split("."):
            obj = getattr(obj, part, None) if obj is not None else None
        return obj

    def apply_workspace_settings(self, settings: Any) -> None:
        """Settings from `workspace/configuration` or `didChangeConfiguration`: all but the
        kernel's Python (tl_lsp/config.py says why), which is reported once."""
        for key in ignored_launch_settings(settings, self.config):
            if key not in self._ignored_settings:
                self._ignored_settings.add(key)
                self.log_line(
                    f"tl-lsp: the `{SECTION}.{key}` setting of the workspace is ignored: the "
                    "kernel's Python is taken only from the editor's own settings "
                    "(initializationOptions), since the server runs it",
                    lsp.MessageType.Warning,
                )
        self.config = self.config.merged(settings)

    # ---- analyses with $/progress when they are slow (first read of a large header)
    def files_changed(self, paths: list[str]) -> None:
        """Files on disk changed (or a slow read of one ended): analyse again, and publish
        the diagnostics of, the open documents that read them."""
        for uri in self.docs.dependents_of(paths):
            self.docs.invalidate(uri)
            self.schedule_diagnostics(uri, delay_ms=0)

    async def analysis(self, uri: str):
        fut = self.docs.analysis_future(uri)
        delay = self.config.progress_delay_ms / 1000
        if not fut.done() and self.capability("window.work_done_progress"):
            done, _ = await asyncio.wait({fut}, timeout=delay)
            if not done and id(fut) not in self._progress_shown:
                # one progress per slow analysis, however many requests wait for it
                self._progress_shown.add(id(fut))
                # lazy: the run path (tl_core.kernel, tl_core.runtime) is not loaded at start
                from tl_core.kernel.protocol import doc_name

                doc = self.docs.get(uri)
                try:
                    async with self.progress("TensorLogic", f"Analysing {doc_name(uri, doc.path)}"):
                        await asyncio.shield(fut)
                finally:
                    self._progress_shown.discard(id(fut))
        return await self.docs.analysis(uri)

    @contextlib.asynccontextmanager
    async def progress(self, title: str, message: str):
        """$/progress around the work; yields `report(message, percentage)`."""
        token = str(uuid.uuid4())
        created = False
        try:
            await asyncio.wait_for(self.work_done_progress.create_async(token), 5)
            created = True
            self.work_done_progress.begin(
                token, lsp.WorkDoneProgressBegin(title=title, message=message, cancellable=False)
            )
        except Exception as exc:  # a client without progress support: just do the work
            log.info("no progress: %s", exc)

        def report(text: str, percentage: int | None = None) -> None:
            if created:
                self.work_done_progress.report(
                    token, lsp.WorkDoneProgressReport(message=text, percentage=percentage))

        try:
            yield report
        finally:
            if created:
                self.work_done_progress.end(token, lsp.WorkDoneProgressEnd(message="done"))

    # ---- diagnostics
    def schedule_diagnostics(self, uri: str, delay_ms: int | None = None) -> None:
        """Analyse and publish soon. Debounced on the trailing edge of a burst: a change that
        comes within `diagnosticsDelayMs` of the previous one while that one's diagnostics
        are still on their way waits that long (and replaces the pending job); a change
        after the last diagnostics went out is analysed after `START_DELAY_MS` (however soon
        it comes: the requests sent with it go first)."""
        doc = self.docs.docs.get(uri)
        if doc is None:
            return
        busy = doc.diag_task is not None and not doc.diag_task.done()
        doc.cancel_tasks()
        now = asyncio.get_running_loop().time()
        previous, doc.last_change = doc.last_change, now
        if delay_ms is None:
            since = None if previous is None else (now - previous) * 1000
            delay_ms = debounce_ms(self.config.diagnostics_delay_ms, busy, since)
        doc.diag_task = asyncio.ensure_future(self._publish_diagnostics(uri, delay_ms))

    async def _publish_diagnostics(self, uri: str, delay_ms: int) -> None:
        try:
            if delay_ms:
                await asyncio.sleep(delay_ms / 1000)
            doc = self.docs.docs.get(uri)
            if doc is None:
                return
            version = doc.version
            doc, a, pos = await self.analysis(uri)
            if self.docs.docs.get(uri) is not doc or doc.version != version:
                return  # stale: a newer version is on its way
            items = [proto.diagnostic(d, pos, uri) for d in a.diagnostics]
            items += self.run_diagnostics(uri, pos)
            self.text_document_publish_diagnostics(
                lsp.PublishDiagnosticsParams(uri=uri, version=version, diagnostics=items)
            )
            self.gc.touch()  # an analysis just ended: wait a pause before collecting
            self.gc.later(self.free_retired_later)  # at the next pause, not before an answer
            self.warm_later(uri, doc, a)
        except asyncio.CancelledError:
            pass
        except Exception as exc:
            log.exception("diagnostics failed for %s", uri)
            self.log_line(f"tl-lsp: diagnostics failed for {uri}: {exc!r}", lsp.MessageType.Error)

    def give_back(self) -> None:
        """After a close, in a pause: with no document left open, the parser's memos go
        too (`tl_core.syntax.parser.forget_memos`); then the memory, to the operating
        system (`IdleCollector.give_back`)."""
        if not self.docs.docs:
            parser = sys.modules.get("tl_core.syntax.parser")  # (loaded if anything parsed)
            if parser is not None:
                parser.forget_memos()
        self.gc.give_back()

    def free_retired_later(self) -> None:
        """Free the replaced analyses in the background thread, a part at a time."""
        if self.docs.retired:
            loop = asyncio.get_running_loop()
            loop.run_in_executor(self.docs.slow_executor, self.docs.free_retired, self.gate.step)

    def warm_later(self, uri: str, doc: Any, a: Any) -> None:
        """Once typing pauses, finish the analysis off the event loop.

        After an edit the checker reuses unchanged items lazily (`Analysis.materialize`
        places them at their new positions on first use, ~60 ms on a 10,000-line file), so
        diagnostics come fast. Hover, completion and signature help answer without it (from
        the item under the cursor); references, rename and highlights need it, and doing it
        in the analysis thread after a pause keeps those fast; during a burst of typing the
        pending warm-up is dropped, so it never delays the next analysis."""
        if doc.warm_task is not None:
            doc.warm_task.cancel()
            doc.warm_task = None
        materialize = getattr(a, "materialize", None)
        if materialize is None:
            return

        async def warm() -> None:
            await asyncio.sleep(self.config.warm_delay_ms / 1000)
            if self.docs.docs.get(uri) is doc and doc.analysis is a:
                loop = asyncio.get_running_loop()
                # yielding every 32 items: a hover meanwhile is answered at once
                await loop.run_in_executor(self.docs.executor, materialize, self.gate.step)

        doc.warm_task = asyncio.ensure_future(warm())

    def run_diagnostics(self, uri: str, pos: proto.Positions) -> list[lsp.Diagnostic]:
        """The last run's errors, placed by line and column on the current text."""
        last = self.runner.last.get(uri)
        if last is None:
            return []
        return [proto.diagnostic(e.diagnostic(pos.index), pos, uri) for e in last.errors]

    def run_output(self, uri: str, text: str) -> None:
        """A piece of the run log (docs/kernel.md: `head`, printed text, `tail`), sent as
        it comes: `tensorlogic/output {uri, text}`."""
        with contextlib.suppress(Exception):
            self.protocol.notify(RUN_OUTPUT, {"uri": uri, "text": text})


# requests the editor waits on as the user types or points (tl_lsp/yield_gate.py)
INTERACTIVE = frozenset(("hover", "completion", "completionItem/resolve", "signatureHelp"))


def guarded(name: str, notification: bool = False) -> Callable[[F], F]:
    """Turn any exception of a handler into a log line and (for requests) an error response."""

    def deco(fn: F) -> F:
        @functools.wraps(fn)
        async def wrapper(ls: TensorLogicServer, *args: Any) -> Any:
            ls.gc.touch()
            try:
                if name in INTERACTIVE:
                    # background work and the analysis step aside meanwhile, and until
                    # the answer is written (`hold_interactive`)
                    ls.hold_interactive()
                    try:
                        return await fn(ls, *args)
                    finally:
                        loop = asyncio.get_running_loop()
                        loop.call_soon(loop.call_soon, ls.release_interactive)
                return await fn(ls, *args)
            except asyncio.CancelledError:
                raise
            except JsonRpcException as exc:
                ls.log_line(f"tl-lsp: {name}: {exc.message}", lsp.MessageType.Warning)
                if notification:
                    return None
                raise
            except Exception as exc:
                log.exception("%s failed", name)
                ls.log_line(
                    f"tl-lsp: {name} failed: {type(exc).__name__}: {exc}", lsp.MessageType.Error
                )
                if notification:
                    return None
                raise JsonRpcInternalError(f"{name} failed: {type(exc).__name__}: {exc}") from exc

        return wrapper  # type: ignore[return-value]

    return deco


# ---------------------------------------------------------------------------
# Lifecycle and configuration


async def initialize(ls: TensorLogicServer, params: lsp.InitializeParams) -> None:
    ls.docs.encoding = proto.negotiate_encoding(params.capabilities)
    ls.config = ls.config.merged(params.initialization_options, launch=True)
    roots = [uri_to_path(f.uri) for f in params.workspace_folders or []]
    if not roots and params.root_uri:
        roots = [uri_to_path(params.root_uri)]
    elif not roots and params.root_path:
        roots = [params.root_path]
    ls.docs.roots = [r for r in roots if r]


@guarded("initialized", notification=True)
async def initialized(ls: TensorLogicServer, params: lsp.InitializedParams) -> None:
    loop = asyncio.get_running_loop()
    loop.run_in_executor(ls.docs.executor, warm_up, ls)
    # the background thread's own objects (its Thread, locks), made before any document's
    # (it starts on its first task: the first analysis' `prepare`; tl_lsp/lasting.py)
    loop.run_in_executor(ls.docs.slow_executor, _nothing)
    if ls.gc.active and ls._gc_task is None:
        ls._gc_task = asyncio.ensure_future(ls.gc.run())
    if ls.capability("workspace.did_change_watched_files.dynamic_registration"):
        watchers = [lsp.FileSystemWatcher(glob_pattern=g) for g in watch_globs()]
        await ls.client_register_capability_async(
            lsp.RegistrationParams(
                registrations=[
                    lsp.Registration(
                        id="tl-watch",
                        method=lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                        register_options=lsp.DidChangeWatchedFilesRegistrationOptions(
                            watchers=watchers
                        ),
                    )
                ]
            )
        )
    await pull_configuration(ls)


def watch_globs() -> list[str]:
    """What the client watches for us: documents, and model files of every registered format
    (a changed model file re-checks the documents that load it)."""
    return ["**/*.tl", *model_formats.watch_globs()]


async def pull_configuration(ls: TensorLogicServer) -> None:
    if not ls.capability("workspace.configuration"):
        return
    result = await asyncio.wait_for(
        ls.workspace_configuration_async(
            lsp.ConfigurationParams(items=[lsp.ConfigurationItem(section=SECTION)])
        ),
        10,
    )
    if result:
        ls.apply_workspace_settings(result[0])


@guarded("didChangeConfiguration", notification=True)
async def did_change_configuration(
    ls: TensorLogicServer, params: lsp.DidChangeConfigurationParams
) -> None:
    ls.apply_workspace_settings(params.settings)
    await pull_configuration(ls)
    for uri in ls.docs.docs:
        ls.schedule_diagnostics(uri)


async def shutdown(ls: TensorLogicServer, params: Any) -> None:
    await ls.runner.shutdown()
    ls.docs.shutdown()


# ---------------------------------------------------------------------------
# Text sync


@guarded("didOpen", notification=True)
async def did_open(ls: TensorLogicServer, params: lsp.DidOpenTextDocumentParams) -> None:
    td = params.text_document
    ls.docs.open(td.uri, td.text, td.version)
    ls.schedule_diagnostics(td.uri, delay_ms=0)


@guarded("didChange", notification=True)
async def did_change(ls: TensorLogicServer, params: lsp.DidChangeTextDocumentParams) -> None:
    td = params.text_document
    ls.docs.change(td.uri, list(params.content_changes), td.version)
    ls.schedule_diagnostics(td.uri)


@guarded("didClose", notification=True)
async def did_close(ls: TensorLogicServer, params: lsp.DidCloseTextDocumentParams) -> None:
    uri = params.text_document.uri
    ls.docs.close(uri)  # the document's state, its host and its pending tasks go with it
    ls.runner.last.pop(uri, None)
    ls._completions = {}  # the last completion list (for resolve) may be this document's
    ls.gc.later(ls.give_back)  # its memory, to the operating system (tl_lsp/gc_policy.py)
    ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=uri, diagnostics=[]))


@guarded(DOCUMENT_TEXT)
async def document_text(ls: TensorLogicServer, params: Any) -> dict[str, Any] | None:
    """The text the server holds for an open document (for tests and for debugging a
    client's text sync): `{uri, version, text}`, or null when it is not open."""
    uri = params.get("uri") if isinstance(params, dict) else getattr(params, "uri", None)
    if not isinstance(uri, str):
        raise JsonRpcInvalidParams(f'{DOCUMENT_TEXT} expects {{"uri": "<document URI>"}}')
    doc = ls.docs.docs.get(uri)
    return None if doc is None else {"uri": uri, "version": doc.version, "text": doc.text}


@guarded("didSave", notification=True)
async def did_save(ls: TensorLogicServer, params: lsp.DidSaveTextDocumentParams) -> None:
    path = uri_to_path(params.text_document.uri)
    if path:
        for uri in ls.docs.dependents(path):
            if uri != params.text_document.uri:
                ls.docs.invalidate(uri)
                ls.schedule_diagnostics(uri, delay_ms=0)


@guarded("didChangeWatchedFiles", notification=True)
async def did_change_watched_files(
    ls: TensorLogicServer, params: lsp.DidChangeWatchedFilesParams
) -> None:
    ls.files_changed([p for p in (uri_to_path(change.uri) for change in params.changes) if p])


# ---------------------------------------------------------------------------
# Questions about one position


def _offset(pos: proto.Positions, position: lsp.Position) -> int:
    return pos.offset(position)


# How long hover, completion and signature help wait for the analysis of the newest text
# when it is about to end, before they answer from the previous one (issue 18: 10 ms).
FRESH_WAIT_S = 0.003


async def interactive_analysis(
    ls: TensorLogicServer, uri: str, position: lsp.Position, tokens: bool = False
) -> tuple[Any, proto.Positions, int]:
    """What hover, completion and signature help answer from: (analysis, converter for the
    answer's spans, offset of `position` in the analysis' text).

    The analysis of the newest text when it is there (or about to be); else, while it is
    under way (~70 ms after an edit of a 10,000-line file), the previous analysis:
    - for hover (`tokens` False), when no edit since touched the line of `position` (the
      answer there is the one the newest text would give, but for types changed by the
      edits); the position goes back through the edits, the answer's spans forward
      (`tl_core.syntax.edits`); on an edited line, an `Overlay` of it: the name under the
      cursor in the newest text, as the previous analysis knows it there;
    - for completion and signature help (`tokens`: they read the tokens before the cursor),
      an `Overlay` of it (tl_core/ide/overlay.py): the newest text's tokens, the previous
      analysis' names, also on the line being typed.
    Else the newest, waited for.
    """
    doc = ls.docs.get(uri)
    if doc.analysis is None and doc.last is not None:
        if _older_answer(ls, doc, position, tokens) is not None:
            with ls.requests.released():  # the analysis waits for requests, not for this
                fresh = await ls.docs.fresh_within(doc, FRESH_WAIT_S)
            doc = ls.docs.get(uri)
            if fresh is None and doc.analysis is None and doc.last is not None:
                older = _older_answer(ls, doc, position, tokens)  # the text may have changed
                if older is not None:
                    ls.stale_answers += 1
                    return older
    with ls.requests.released():
        _, a, pos = await ls.analysis(uri)
    return a, pos, pos.offset(position)


def _older_answer(ls: TensorLogicServer, doc: Any, position: lsp.Position,
                  tokens: bool) -> tuple[Any, proto.Positions, int] | None:
    """`interactive_analysis`'s answer from `doc.last`, or None where it has none."""
    pos = ls.docs.positions(doc)
    offset = pos.offset(position)
    if tokens:
        overlay = ls.docs.overlay(doc, offset)
        return None if overlay is None else (overlay, pos, offset)
    old = ls.docs.stale_offset(doc, offset)
    if old is None:  # hover on an edited line: the name there, as `doc.last` knows it
        overlay = ls.docs.overlay(doc, offset)
        return None if overlay is None else (overlay, pos, offset)
    return doc.last, proto.MovedPositions(pos, doc.edits.to_new, offset), old


@guarded("hover")
async def hover(ls: TensorLogicServer, params: lsp.HoverParams) -> lsp.Hover | None:
    uri = params.text_document.uri
    a, pos, offset = await interactive_analysis(ls, uri, params.position)
    last = ls.runner.last.get(uri)
    h = ide.hover_at(a, offset, last.relations if last else None)
    return proto.hover(h, pos) if h is not None else None


@guarded("completion")
async def completion(ls: TensorLogicServer, params: lsp.CompletionParams) -> proto.RawJSON:
    a, pos, offset = await interactive_analysis(ls, params.text_document.uri, params.position,
                                                tokens=True)
    # tl_core ranks and cuts before it builds the items (thousands of names in scope)
    found = ide.complete_list_at(a, offset, ls.config.completion_limit)
    items, incomplete = found.items, found.incomplete
    resolve = ls.capability("text_document.completion.completion_item.resolve_support")
    lazy = bool(resolve and "documentation" in (resolve.properties or []))
    ls._completion_id += 1
    cid = ls._completion_id
    ls._completions = {cid: items}  # keep only the latest list for resolve
    snippets = bool(ls.capability("text_document.completion.completion_item.snippet_support"))
    defaults = ls.capability("text_document.completion.completion_list.item_defaults")
    return proto.RawJSON(proto.completion_list_json(
        items, pos, lazy, snippets, cid, incomplete, "editRange" in (defaults or ())))


@guarded("completionItem/resolve")
async def completion_resolve(ls: TensorLogicServer, item: lsp.CompletionItem) -> lsp.CompletionItem:
    data = item.data if isinstance(item.data, dict) else {}
    items = ls._completions.get(data.get("cid"))
    i = data.get("i")
    if items is not None and isinstance(i, int) and 0 <= i < len(items) and items[i].doc:
        item.documentation = proto.markdown(items[i].doc)
    return item


@guarded("signatureHelp")
async def signature_help(
    ls: TensorLogicServer, params: lsp.SignatureHelpParams
) -> lsp.SignatureHelp | None:
    a, _pos, offset = await interactive_analysis(ls, params.text_document.uri, params.position,
                                                 tokens=True)
    s = ide.signature_at(a, offset)
    return proto.signature_help(s) if s is not None and s.signatures else None


async def _locations(ls: TensorLogicServer, uri: str, pos: proto.Positions, locs) -> list:
    out = []
    for loc in locs:
        if loc.path is None or path_to_uri(loc.path) == uri:
            out.append(lsp.Location(uri=uri, range=pos.span_range(loc.span)))
            continue
        text = await ls.docs.text_of_async(loc.path)
        if text is None:
            continue
        other = proto.Positions(text, ls.docs.encoding)
        out.append(lsp.Location(uri=path_to_uri(loc.path), range=other.span_range(loc.span)))
    return out


@guarded("definition")
async def definition(ls: TensorLogicServer, params: lsp.DefinitionParams) -> list[lsp.Location]:
    uri = params.text_document.uri
    _, a, pos = await ls.analysis(uri)
    return await _locations(ls, uri, pos, ide.definition_at(a, _offset(pos, params.position)))


@guarded("references")
async def references(ls: TensorLogicServer, params: lsp.ReferenceParams) -> list[lsp.Location]:
    uri = params.text_document.uri
    _, a, pos = await ls.analysis(uri)
    locs = ide.references(
        a, _offset(pos, params.position), include_declaration=params.context.include_declaration
    )
    return await _locations(ls, uri, pos, locs)


@guarded("prepareRename")
async def prepare_rename(
    ls: TensorLogicServer, params: lsp.PrepareRenameParams
) -> lsp.Range | None:
    _, a, pos = await ls.analysis(params.text_document.uri)
    span = ide.prepare_rename(a, _offset(pos, params.position))
    return pos.span_range(span) if span is not None else None


@guarded("rename")
async def rename(ls: TensorLogicServer, params: lsp.RenameParams) -> lsp.WorkspaceEdit:
    uri = params.text_document.uri
    _, a, pos = await ls.analysis(uri)
    result = ide.rename(a, _offset(pos, params.position), params.new_name)
    if result.error:
        raise JsonRpcInvalidParams(result.error)
    return lsp.WorkspaceEdit(changes={uri: [proto.text_edit(e, pos) for e in result.edits]})


# ---------------------------------------------------------------------------
# Whole-document answers


@guarded("documentSymbol")
async def document_symbol(
    ls: TensorLogicServer, params: lsp.DocumentSymbolParams
) -> proto.RawJSONList:
    _, a, pos = await ls.analysis(params.text_document.uri)
    # ~200 ms of work on a 10,000-line file: in the background thread, yielding to hover
    # and completion, and handed to pygls as plain JSON (tl_lsp/yield_gate.py)
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(ls.docs.slow_executor, _symbols_json, ls, a, pos)


def _symbols_json(ls: TensorLogicServer, a: Any, pos: proto.Positions) -> proto.RawJSONList:
    pause = ls.gate.pause
    return proto.document_symbols_json(ide.document_symbols(a, pause), pos, pause)


@guarded("workspace/symbol")
async def workspace_symbol(
    ls: TensorLogicServer, params: lsp.WorkspaceSymbolParams
) -> list[lsp.WorkspaceSymbol]:
    """The open documents' symbols, then those of the workspace's other .tl files, from the
    workspace thread (`Documents.file_symbols`: bounded files, their symbols kept); new
    files are analysed for at most `WORKSPACE_BUDGET_S` per request."""
    out: list[lsp.WorkspaceSymbol] = []
    for uri in list(ls.docs.docs):
        if uri not in ls.docs.docs:  # closed meanwhile
            continue
        _, a, pos = await ls.analysis(uri)
        out.extend(proto.workspace_symbol(m.symbol, m.container, uri, pos)
                   for m in ide.workspace_symbols(a, params.query))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WORKSPACE_BUDGET_S
    for path in await ls.docs.workspace_files_async():
        if len(out) > 2000 or loop.time() > deadline:
            break
        if path_to_uri(path) in ls.docs.docs:
            continue
        found = await ls.docs.file_symbols(path)
        out.extend(symbol for name, symbol in found or () if ide.matches(params.query, name))
    return out


@guarded("semanticTokens/full")
async def semantic_tokens_full(
    ls: TensorLogicServer, params: lsp.SemanticTokensParams
) -> lsp.SemanticTokens:
    uri = params.text_document.uri
    data = await _semantic_data(ls, uri)
    result_id = str(uuid.uuid4())
    ls.docs.get(uri).sem_result = (result_id, data)
    return lsp.SemanticTokens(data=data, result_id=result_id)


@guarded("semanticTokens/full/delta")
async def semantic_tokens_delta(
    ls: TensorLogicServer, params: lsp.SemanticTokensDeltaParams
) -> lsp.SemanticTokens | lsp.SemanticTokensDelta:
    uri = params.text_document.uri
    data = await _semantic_data(ls, uri)
    result_id = str(uuid.uuid4())
    doc = ls.docs.get(uri)
    previous, doc.sem_result = doc.sem_result, (result_id, data)
    if previous is None or previous[0] != params.previous_result_id:
        return lsp.SemanticTokens(data=data, result_id=result_id)
    return lsp.SemanticTokensDelta(
        edits=proto.semantic_tokens_edits(previous[1], data), result_id=result_id
    )


async def _semantic_data(ls: TensorLogicServer, uri: str) -> list[int]:
    doc, a, pos = await ls.analysis(uri)
    loop = asyncio.get_running_loop()
    # ~70 ms after an edit of a 10,000-line file (the first time ~500 ms): in its own
    # thread, one at a time (the document host's token caches are filled there only)
    return await loop.run_in_executor(ls.docs.slow_executor, _encoded_tokens, ls, a, pos,
                                      doc.host.tokens)


def _encoded_tokens(ls: TensorLogicServer, a: Any, pos: proto.Positions,
                    caches: Any) -> list[int]:
    pause = ls.gate.pause  # a hover or completion meanwhile goes first
    return proto.encode_semantic_tokens(ide.semantic_tokens(a, pause, caches), pos,
                                        TOKEN_TYPES, TOKEN_MODIFIERS, pause)


@guarded("foldingRange")
async def folding_range(
    ls: TensorLogicServer, params: lsp.FoldingRangeParams
) -> proto.RawJSONList:
    doc, a, pos = await ls.analysis(params.text_document.uri)
    # ~40 ms after an edit of a 10,000-line file: in the background, as the symbols
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(ls.docs.slow_executor, _folds_json, ls, a, pos,
                                      doc.host.tokens)


def _folds_json(ls: TensorLogicServer, a: Any, pos: proto.Positions,
                caches: Any) -> proto.RawJSONList:
    marker = ls.config.cell_marker  # the one cell rule, as runCell uses it
    return proto.folding_ranges_json(ide.folding_ranges(a, ls.gate.pause, marker, caches),
                                     pos)


@guarded("inlayHint")
async def inlay_hint(ls: TensorLogicServer, params: lsp.InlayHintParams) -> list[lsp.InlayHint]:
    uri = params.text_document.uri
    _, a, pos = await ls.analysis(uri)
    start, end = pos.offsets(params.range)
    return [proto.inlay_hint(h, pos) for h in ide.inlay_hints(a, start, end)]


@guarded("codeLens")
async def code_lens(ls: TensorLogicServer, params: lsp.CodeLensParams) -> list[lsp.CodeLens]:
    uri = params.text_document.uri
    _, a, pos = await ls.analysis(uri)
    lenses = ide.code_lenses(a, ls.config.cell_marker)  # the marker runCell uses
    return [proto.code_lens(lens, pos, uri) for lens in lenses]


@guarded("formatting")
async def formatting(
    ls: TensorLogicServer, params: lsp.DocumentFormattingParams
) -> list[lsp.TextEdit]:
    _, a, pos = await ls.analysis(params.text_document.uri)
    return [proto.text_edit(e, pos) for e in ide.format_document(a)]


@guarded("rangeFormatting")
async def range_formatting(
    ls: TensorLogicServer, params: lsp.DocumentRangeFormattingParams
) -> list[lsp.TextEdit]:
    _, a, pos = await ls.analysis(params.text_document.uri)
    start, end = pos.offsets(params.range)
    return [proto.text_edit(e, pos) for e in ide.format_range(a, start, end)]


# ---------------------------------------------------------------------------
# Run commands


def _command_args(args: tuple[Any, ...]) -> dict[str, Any]:
    """Accept `{uri, ...}` as one object, or positional `uri, range|line`."""
    if len(args) == 1 and isinstance(args[0], dict):
        return dict(args[0])
    if args and isinstance(args[0], str):
        out: dict[str, Any] = {"uri": args[0]}
        if len(args) > 1:
            out["line" if isinstance(args[1], int) else "range"] = args[1]
        return out
    return {}


def _require_doc(ls: TensorLogicServer, args: dict[str, Any]):
    uri = args.get("uri")
    if not isinstance(uri, str):
        raise JsonRpcInvalidParams('expected an argument {"uri": ...} naming an open document')
    doc = ls.docs.docs.get(uri)
    if doc is None:
        raise JsonRpcInvalidParams(f"the document {uri} is not open in the language server")
    return uri, doc


async def _run(ls: TensorLogicServer, uri: str, start: int | None, end: int | None) -> dict:
    from tl_core.kernel.protocol import RunRequest  # lazy: loads with the first run

    doc = ls.docs.get(uri)
    request = RunRequest.for_offsets(uri, doc.text, start, end, doc.path, ls.config.device)
    head = request.head()
    ls.run_output(uri, head + "\n")
    async with ls.progress("TensorLogic", f"Running {head.removeprefix('[run ')[:-1]}") as report:

        def on_progress(p: dict) -> None:  # a learn block's epochs (docs/kernel.md)
            done, total = p.get("done"), p.get("total")
            pct = (min(100, max(0, int(100 * done / total)))
                   if isinstance(done, int) and isinstance(total, int) and total > 0 else None)
            report(f"{p.get('title', '')} {p.get('message', '')}".strip(), pct)

        try:
            result = await ls.runner.run(request, on_progress,
                                         lambda text: ls.run_output(uri, text))
        except KernelError as exc:  # the client reports the command's failure
            ls.log_line(f"{head} {exc.message}", lsp.MessageType.Error)
            raise JsonRpcInternalError(exc.message) from exc
    ls.run_output(uri, result.labels.tail)
    ls.log_line(result.labels.log, lsp.MessageType.Info)
    out = proto.run_result_json(result, proto.Positions(request.text, ls.docs.encoding))
    ls.schedule_diagnostics(uri, delay_ms=0)
    return out


@guarded(CMD_RUN_SELECTION)
async def run_selection(ls: TensorLogicServer, *args: Any) -> dict:
    a = _command_args(args)
    uri, doc = _require_doc(ls, a)
    rng = a.get("range")
    if not isinstance(rng, dict):
        raise JsonRpcInvalidParams('expected {"uri": ..., "range": {"start": ..., "end": ...}}')
    lrange = ls.protocol._converter.structure(rng, lsp.Range)
    start, end = ls.docs.positions(doc).offsets(lrange)
    return await _run(ls, uri, start, end)


@guarded(CMD_RUN_CELL)
async def run_cell(ls: TensorLogicServer, *args: Any) -> dict:
    a = _command_args(args)
    uri, doc = _require_doc(ls, a)
    line = a.get("line")
    if not isinstance(line, int):
        raise JsonRpcInvalidParams('expected {"uri": ..., "line": <0-based line in the cell>}')
    cell = cell_at(doc.text, line, ls.config.cell_marker)
    first, after = cell.start, cell.end
    pos = ls.docs.positions(doc)
    return await _run(
        ls,
        uri,
        pos.index.offset(first, 0),
        pos.index.offset(after, 0) if after < len(pos.index.starts) else len(doc.text),
    )


@guarded(CMD_RUN_FILE)
async def run_file(ls: TensorLogicServer, *args: Any) -> dict:
    uri, _ = _require_doc(ls, _command_args(args))
    return await _run(ls, uri, None, None)


@guarded(CMD_INTERRUPT)
async def interrupt(ls: TensorLogicServer, *args: Any) -> dict:
    return {"interrupted": await ls.runner.interrupt()}


@guarded(CMD_RESTART)
async def restart_kernel(ls: TensorLogicServer, *args: Any) -> dict:
    await ls.runner.restart()
    for uri in ls.docs.docs:
        ls.schedule_diagnostics(uri, delay_ms=0)
    kernel = ls.runner.kernel
    return {"restarted": True, "pid": kernel.pid if kernel is not None else None}


def _options(ls: TensorLogicServer, feature: Feature) -> Any:
    """The feature's options (JSON in tl_lsp.capabilities) as the lsprotocol type pygls
    expects at registration."""
    if feature.options is None:
        return None
    kind: Any = get_method_options_type(feature.method)
    if feature.method.startswith(lsp.TEXT_DOCUMENT_SEMANTIC_TOKENS_FULL):
        kind = lsp.SemanticTokensLegend  # what pygls builds `semanticTokensProvider` from
    return ls.protocol._converter.structure(feature.options, kind)


def create_server() -> TensorLogicServer:
    """A new server with every feature and command of `FEATURES` registered (the table
    that also gives the early `initialize` answer, tl_lsp/capabilities.py)."""
    ls = TensorLogicServer()
    handlers = globals()
    for feature in FEATURES:
        handler = handlers[feature.handler]
        if feature.command:
            ls.command(feature.method)(handler)
        else:
            ls.feature(feature.method, _options(ls, feature))(handler)
    return ls
