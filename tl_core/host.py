"""`DocumentHost`: what the tools keep between the analyses of one open document.

As rust-analyzer's `AnalysisHost` (and ruff's `Session` with its `DocumentSnapshot`s): the
language server's document store owns one host per open document; the host makes
`Analysis` snapshots of the document's texts and keeps what makes the next one fast.
Nothing here is keyed by path or by `id()`: two untitled documents (path None) have two
hosts and share nothing, and closing a document (dropping its host) frees all of it.

A host holds:
- two incremental parsers (`tl_core.syntax.IncrementalParser`): an edit re-parses only
  the top-level chunks it touched. Two, because a parser's trees read the positions of
  the last text it parsed (anchored spans, `tl_core/syntax/span.py`): each analysis takes
  the parser that did not make the newest finished one (`snapshot`), so the snapshot's
  tree stays intact while the next text is analysed, and the editor can answer a hover
  from it meanwhile (`intact`). The second parser is made in a pause (`prepare`, for
  texts up to `PREPARE_MAX_CHARS`); when an edit comes first, its analysis makes it (a full
  parse of the new text, or it waits for the `prepare` under way) instead of moving the
  snapshot's tree: hovers in the first second after opening a large file answered only
  once that analysis ended (bench/lsp.py, typing: p95 130-630 ms), now from the snapshot.
  Above `PREPARE_MAX_CHARS` the one parser serves every analysis.
- the per-item check cache (`records`, `tl_core/check/memo.py`): read when an analysis
  starts, replaced when it ends; a cancelled analysis leaves it as it was.
- the IDE's caches of semantic tokens and folds per segment of text (`tokens`,
  `tl_core.ide.tokens.TokenCaches`), handed to `ide.semantic_tokens` / `folding_ranges`.
- the queries' memo across analyses (`shared`, `tl_core.check.model.SharedMemo`), which
  each analysis it makes carries (`Analysis.ide_cache.shared`): completion's details of
  the bindings by type.

Threading contract (the one place it is written down; docs/ARCHITECTURE.md, "Threads"):
- `analyze` runs on one thread at a time (a lock makes a second caller wait); the server
  runs it on its analysis thread, with a `checkpoint` that raises `Cancelled` once a newer
  edit made the text stale (`tl_core/check/cancel.py`).
- `prepare` may run on another thread (the server's background thread) while an analysis
  runs: it builds the second parser under that parser's own lock, which an analysis
  never waits for (it takes the other parser instead).
- An `Analysis` is an immutable snapshot: any thread may read it, it holds no reference to
  its host and never calls back into it. Its syntax tree's positions stay those of its text
  while `intact(analysis)` holds; after that, only ask it what `Analysis` itself computed
  (diagnostics, types by node) or make a new one.
- `tokens` is filled by one thread at a time (the server's background thread).
- The caches that stay module globals are keyed by what they read, never by a document,
  and each is bounded: model headers by (path, mtime, size) (`tl_core/models/header.py`),
  tokenizers and the errors of their bytes likewise (`tokenizer/tokenizer.py`), the reads
  under way that outlived a `ReadWait` (one per file state, till they end) and the last
  outcomes of such reads (`tl_core/read_wait.py`), CoreML specs likewise (`models/coreml.py`), the name trees of those headers
  (`models/navigation.py`, holding the header they are keyed by), imported files by
  (path, mtime, size) (`check/imports.py`), the IDE's tables built from the built-in
  registry (`ide/completion.py`), compiled chat templates by their text (`tokenizer/chat.py`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tl_core.check.model import Analysis

# The largest text whose host makes a second parser: its tree doubles the syntax trees'
# memory and its first parse takes ~1 s per 400,000 characters (a 10,000-line file), so a
# larger document keeps one parser (no answers from the previous analysis meanwhile).
PREPARE_MAX_CHARS = 2_000_000


class DocumentHost:
    def __init__(self, path: str | None = None) -> None:
        self.path = path
        self.records: dict = {}  # the check cache: item records of the last analysis
        self.snapshot: Analysis | None = None  # the newest analysis that finished
        self._snapshot_slot: int | None = None
        self._parsers: list[Any] = [None, None]
        self._texts: list[str | None] = [None, None]  # what each parser's trees read
        self._slot_locks = [threading.Lock(), threading.Lock()]
        self._lock = threading.Lock()  # one analysis at a time
        self._tokens: Any = None
        self.shared: Any = None  # SharedMemo, made by the first analysis
        self.closed = False

    @property
    def tokens(self) -> Any:
        """The document's `tl_core.ide.tokens.TokenCaches` (made on first use)."""
        if self._tokens is None:
            # lazy: tl-lsp starts without the IDE features (tests/lsp)
            from tl_core.ide.tokens import TokenCaches

            self._tokens = TokenCaches()
        return self._tokens

    def analyze(self, text: str, checkpoint: Callable[[], None] | None = None,
                line_index: Any = None, pause: Callable[[], None] | None = None) -> Analysis:
        """The analysis of `text` (this document's current text). `checkpoint` runs between
        top-level items and may raise `Cancelled`, which stops it and keeps nothing.
        `line_index`: the `LineIndex` of `text`, when the caller keeps one. `pause` (never
        raises; may wait) runs between steps of the parse, where stopping is not possible:
        the server waits there while a hover or completion is answered (the re-parse is
        the first few ms of every analysis after an edit, when that hover comes)."""
        # lazy: the checker and the parser load with the first analysis, not at start
        from tl_core.check.analyzer import analyze
        from tl_core.syntax import IncrementalParser

        with self._lock:
            slot = self._free_slot()  # waits below for a `prepare` of that slot under way
            with self._slot_locks[slot]:
                parser = self._parsers[slot]
                if parser is None:
                    parser = self._parsers[slot] = IncrementalParser()
                self._texts[slot] = None  # its trees move now
                parsed = parser.parse(text, pause)
                self._texts[slot] = text
            if pause is not None:
                pause()
            a = analyze(text, self.path, parse_result=parsed, checkpoint=checkpoint,
                        records=None if self.closed else self.records, line_index=line_index)
            if pause is not None:
                pause()
            a.index_made_at_once()  # here, not in the first hover that reads it
            if not self.closed:
                if self.shared is None:
                    from tl_core.check.model import SharedMemo  # lazy: as above

                    self.shared = SharedMemo()
                a.ide_cache.shared = self.shared
            self.snapshot, self._snapshot_slot = a, slot
            return a

    def _free_slot(self) -> int:
        """A parser slot whose trees no finished analysis needs: the one that did not make
        the snapshot (made now if missing), unless the snapshot's text is too large for
        two parsers (`PREPARE_MAX_CHARS`): then the snapshot's own."""
        s, snap = self._snapshot_slot, self.snapshot
        if s is None or snap is None:
            return 0
        other = 1 - s
        if self._parsers[other] is not None or (len(snap.text) <= PREPARE_MAX_CHARS
                                                 and not self.closed):
            return other
        return s

    def intact(self, a: Any) -> bool:
        """Whether `a` is the snapshot and its syntax tree still reads the positions of
        its own text (no analysis since moved them)."""
        s = self._snapshot_slot
        return a is self.snapshot and s is not None and self._texts[s] is a.text

    def prepare(self, wait: bool = False) -> None:
        """Make the second parser (a full parse of the snapshot's text: ~1 s for 10,000
        lines), so that later analyses leave the snapshot's tree intact. For a pause.
        With `wait`, also wait for one being made by another thread."""
        s, snap = self._snapshot_slot, self.snapshot
        if s is None or snap is None or self.closed or self._parsers[1 - s] is not None:
            return
        if len(snap.text) > PREPARE_MAX_CHARS:
            return
        lock = self._slot_locks[1 - s]
        if not lock.acquire(blocking=wait):
            return
        try:
            if self._parsers[1 - s] is not None:
                return  # made meanwhile
            from tl_core.syntax import IncrementalParser  # lazy: as in `analyze`

            parser = IncrementalParser()
            parser.parse(snap.text)
            self._texts[1 - s] = snap.text
            self._parsers[1 - s] = parser
        finally:
            lock.release()

    @property
    def prepared(self) -> bool:
        return all(p is not None for p in self._parsers)

    def close(self) -> None:
        """Drop the parsers and the check cache (the document was closed)."""
        self.closed = True  # an analysis under way keeps its own references until it ends
        self.records = {}
        self._tokens = None
        self.shared = None
        self.snapshot = self._snapshot_slot = None
        self._parsers = [None, None]
        self._texts = [None, None]
