"""Chunked parsing: the full parse, and the incremental parser that reuses chunk parses.

Both split the document with `scanner.split_chunks` and parse each chunk with
`parser.parse_chunk`, so `IncrementalParser().parse(t) == parse(t)` for every text.

The incremental parser keeps the previous text, its chunks and their parses. For a new text
it finds the edited region (common prefix and suffix), re-splits only from the chunk before
the edit until a boundary lines up with an old one after the edit, re-parses the chunks in
between (or takes them from a cache keyed by chunk text), and reuses the chunks after the
edit by moving their anchors (tl_core/syntax/span.py): a chunk's spans are relative to its
anchor, so text inserted before it costs two additions per chunk, not a new tree.
"""

from __future__ import annotations

import dataclasses
import gc
import re
import threading
from collections.abc import Callable
from contextlib import contextmanager
from itertools import chain
from operator import itemgetter

from tl_core.diagnostics import Diagnostic, Related
from tl_core.syntax import ast as A
from tl_core.syntax.fastnew import N
from tl_core.syntax.parser import parse_chunk
from tl_core.syntax.result import ParseResult
from tl_core.syntax.scanner import Chunk, comment_matches, split_chunks
from tl_core.syntax.span import Anchor, AnchoredSpan, Span, new_anchored_span

# One parsed chunk: (anchor, items, errors, comments, uses_next_word, next_word). The anchor
# is the chunk's (start, line); every span in the entry hangs from it. The chunk ends where
# the next one starts (chunks cover the text).
_Entry = tuple

_mk = new_anchored_span


def _parse_one(text: str, c: Chunk) -> _Entry:
    start, end, line = c.start, c.end, c.line
    res = parse_chunk(text, start, end, line, c.next_word)
    anchor = res.anchor
    comments = []
    for s, e in comment_matches(text, start, end):
        nl = text.rfind("\n", start, s)
        col = s - (nl + 1 if nl != -1 else start)
        ln = text.count("\n", start, s)
        body = text[s:e]
        k = body.count("\n")
        if k:
            end_line = ln + k
            end_col = len(body) - body.rindex("\n") - 1
        else:
            end_line = ln
            end_col = col + len(body)
        comments.append(N.Comment(_mk(anchor, s - start, e - start, ln, col, end_line, end_col),
                                  body))
    return (anchor, res.items, res.errors, tuple(comments), res.uses_next_word, c.next_word)


def _program(text: str, entries: list, pause: Callable[[], None] | None = None) -> ParseResult:
    """The document's program from its chunks' entries (`_joined`), `pause` between steps."""
    pause = pause or _no_pause
    items = _joined(entries, _ITEMS, pause)
    errors = _joined(entries, _ERRORS, pause)
    if errors:
        errors = tuple([_requote(dg) if dg.related else dg for dg in errors])
    comments = _joined(entries, _COMMENTS, pause)
    n = len(text)
    last = text.rfind("\n")
    program = N.Program(N.Span(0, n, 0, 0, text.count("\n"), n - (last + 1)), items)
    return ParseResult(program, errors, comments)


def _joined(entries: list, part: Callable[[_Entry], tuple], pause: Callable[[], None]) -> tuple:
    """One part of every entry, joined: `_JOIN_EVERY` entries at a time in one C-level
    pass (`chain`), `pause` between.

    Why: a Python loop of three `extend`s per chunk took ~2 ms of the ~4 ms re-parse
    after a keystroke in a 10,000-line file; one C-level pass over all the entries took
    0.3-3 ms (each item's memory is touched), during which no other thread can have the
    interpreter: the first hops of a hover sent right after an edit waited behind it
    (bench/lsp.py, bursts at 100 edits/s, a probe sampling the analysis thread where
    other threads waited for the interpreter: ~70% of those waits; issue 18)."""
    if len(entries) <= _JOIN_EVERY:
        return tuple(chain.from_iterable(map(part, entries)))
    out: list = []
    for j in range(0, len(entries), _JOIN_EVERY):
        pause()
        out.extend(chain.from_iterable(map(part, entries[j:j + _JOIN_EVERY])))
    return tuple(out)


_JOIN_EVERY = 256  # entries joined in one C-level pass (~0.02-0.1 ms)
_ITEMS, _ERRORS, _COMMENTS = itemgetter(1), itemgetter(2), itemgetter(3)


_gc_lock = threading.Lock()
_gc_state = {"depth": 0, "was_enabled": False}  # guarded by _gc_lock


PROMOTE_MIN_CHARS = 20_000  # a parse of at least this much text promotes its tree
_PAUSE_EVERY = 1024  # chunks moved between two calls of `parse`'s pause (~0.2 ms)
# chunk parses no longer in the document that a parser keeps (for an undo): between this
# and twice this many, whatever the document's size (`IncrementalParser._prune`)
STALE_MAX = 128


def _no_pause() -> None:
    pass


@contextmanager
def gc_paused(promote: bool = False):
    """Pause the cyclic garbage collector while building trees.

    Why: a parse allocates ~10 objects per token and a document's tree holds ~10^5 of them;
    the collector's generational passes over them cost more than the parse itself (measured
    1.6x on a full parse, 4x on shifting; see bench/parse.py). The trees hold no cycles, so
    pausing loses nothing; the previous setting comes back when the outermost parse ends.

    `promote` (a large tree was built): before the collector comes back, move everything
    it tracks to its oldest generation (`gc.freeze()` then `gc.unfreeze()`), so the new
    tree is not walked by the next young-generation passes (~10% of a 10,000-line parse,
    bench/parse.py). Objects of the caller's still in the young generations move too: any
    cycles among them are then freed by the next full collection instead of a young one.
    Skipped when the process has frozen objects of its own (unfreezing would undo that).
    """
    with _gc_lock:
        if _gc_state["depth"] == 0:
            _gc_state["was_enabled"] = gc.isenabled()
            gc.disable()
        _gc_state["depth"] += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_state["depth"] -= 1
            if _gc_state["depth"] == 0 and _gc_state["was_enabled"]:
                if promote and gc.get_freeze_count() == 0:
                    gc.freeze()
                    gc.unfreeze()
                gc.enable()


def parse_uncached(text: str):  # noqa: ANN201 - ParseResult
    with gc_paused(promote=len(text) >= PROMOTE_MIN_CHARS):
        return _program(text, [_parse_one(text, c) for c in split_chunks(text)])


def _common_prefix(a: str, b: str) -> int:
    n = min(len(a), len(b))
    lo, hi = 0, n  # a[:lo] == b[:lo]; answer <= hi
    if a[:n] == b[:n]:
        return n
    while hi - lo > 64:
        mid = (lo + hi) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid
    while lo < hi and a[lo] == b[lo]:
        lo += 1
    return lo


def _common_suffix(a: str, b: str, limit: int) -> int:
    n = min(len(a), len(b), limit)
    la, lb = len(a), len(b)
    lo, hi = 0, n
    if a[la - n:] == b[lb - n:]:
        return n
    while hi - lo > 64:
        mid = (lo + hi) // 2
        if a[la - mid:la - lo] == b[lb - mid:lb - lo]:
            lo = mid
        else:
            hi = mid
    while lo < hi and a[la - lo - 1] == b[lb - lo - 1]:
        lo += 1
    return lo


class IncrementalParser:
    """`parse(text)` equal to `tl_core.syntax.parse(text)`, re-parsing only what changed.

    Keep one instance per open document. Not thread-safe (use one per thread). The trees it
    returns read the positions of the latest text it parsed (their anchors move; see
    tl_core/syntax/span.py): keep a tree only while its text is current.

    An edit costs the re-parse of the chunks it touched plus O(chunks) additions (moving
    the anchors after it); finding the chunks is a binary search over the anchors.
    """

    def __init__(self) -> None:
        self._text: str | None = None
        self._entries: list[_Entry] = []
        # chunk parses by (text, next word when the parse names it): those of the document
        # and at most `STALE_MAX` recent ones no longer in it (so an undo finds its chunk
        # again), in the order they were parsed
        self._by_text: dict[tuple[str, str], _Entry] = {}
        self.reparsed = 0  # chunks parsed (not reused) by the last call
        self.rescanned = 0  # chunks re-split by the last call
        self.copied = 0  # chunks reused by text at a second place (a tree copied)

    def parse(self, text: str, pause: Callable[[], None] | None = None):  # noqa: ANN201
        """The ParseResult of `text`. `pause`, when given, is called between steps (each
        chunk parsed, every `_PAUSE_EVERY` chunks moved, before the program is joined): it
        may wait (a server lets a request have the interpreter), never raise."""
        first = self._text is None and len(text) >= PROMOTE_MIN_CHARS
        with gc_paused(promote=first):
            return self._parse(text, pause or _no_pause)

    def _parse(self, text: str, pause: Callable[[], None]):  # noqa: ANN202
        old = self._text
        self.copied = 0
        entries = self._entries
        if old is None or not entries:
            chunks = split_chunks(text)
            self.rescanned = len(chunks)
            self._by_text = {}
            new = self._fill(text, chunks, {}, lambda e: False, pause=pause)
            pause()
            return self._done(text, new, pause)
        if old == text:
            self.reparsed = self.rescanned = 0
            return _program(text, entries, pause)
        p = _common_prefix(old, text)
        s = _common_suffix(old, text, min(len(old), len(text)) - p)
        old_end = len(old) - s  # the edit replaced old[p:old_end] by text[p:new_end]
        new_end = len(text) - s
        delta = len(text) - len(old)
        dlines = text.count("\n", p, new_end) - old.count("\n", p, old_end)
        n = len(entries)
        # the chunk holding offset p, and one before it (its boundary may depend on p)
        k = max(0, _index_at(entries, 0, n, p) - 1)
        resume: list[int] = []

        def stop(offset: int, _line: int) -> bool:
            if offset < new_end or k + 1 >= n:
                return False
            j = _index_at(entries, k + 1, n, offset - delta)
            if j <= k or entries[j][0].start != offset - delta:
                return False  # not where an old chunk started
            resume.append(j)
            return True

        first = entries[k][0]
        mid_chunks = split_chunks(text, first.start, first.line, stop)
        i = resume[0] if resume else n
        self.rescanned = len(mid_chunks)
        # the replaced chunks' trees are free to move to their new place
        free = {}
        for j in range(k, i):
            end = entries[j + 1][0].start if j + 1 < n else len(old)
            e = entries[j]
            free.setdefault((old[e[0].start:end], e[5] if e[4] else ""), e)
        # the chunks after the edit keep their trees: their anchors move
        tail: list[_Entry] = []
        for j in range(i, n, _PAUSE_EVERY):
            pause()
            tail += [_move(e, delta, dlines) for e in entries[j:j + _PAUSE_EVERY]]
        prefix = entries[:k]
        claimed: set[int] = set()

        def in_use(e: _Entry) -> bool:
            """Is this tree (found by its text) already placed in the new document?"""
            a = e[0]
            if id(a) in claimed:
                return True
            for part in (prefix, tail):
                j = _index_at(part, 0, len(part), a.start)
                # the same tree (its anchor): the cache's entry may be another tuple of it
                # (`_fill` makes one when the next word changes)
                if part and part[j][0] is a:
                    return True
            return False

        def place(e: _Entry) -> None:
            claimed.add(id(e[0]))

        mid = self._fill(text, mid_chunks, free, in_use, place, pause)
        pause()
        return self._done(text, prefix + mid + tail, pause)

    def _fill(self, text: str, chunks: list[Chunk], free: dict, in_use,  # noqa: ANN001
              place=None, pause: Callable[[], None] = _no_pause  # noqa: ANN001
              ) -> list[_Entry]:
        """Entries for `chunks`: a free tree of the same text moved here, else a copy of a
        tree in use, else a new parse."""
        out = []
        reparsed = 0
        by_text = self._by_text
        seen: set[int] = set()  # trees placed by this call
        for c in chunks:
            pause()
            body = text[c.start : c.end]
            entry = None
            for cache in (free, by_text):
                entry = cache.get((body, ""))
                if entry is not None and entry[4]:
                    entry = cache.get((body, c.next_word))
                if entry is not None:
                    break
            if entry is None:
                entry = _parse_one(text, c)
                reparsed += 1
                by_text[(body, c.next_word if entry[4] else "")] = entry
            elif id(entry[0]) in seen or in_use(entry):
                entry = _copy_entry(entry, c) or _parse_one(text, c)
                self.copied += 1
            else:
                a = entry[0]
                entry = _move(entry, c.start - a.start, c.line - a.line)
                if entry[5] != c.next_word:  # a tree whose parse ignores the next word
                    entry = (*entry[:5], c.next_word)
            seen.add(id(entry[0]))
            if place is not None:
                place(entry)
            out.append(entry)
        self.reparsed = reparsed
        return out

    def _done(self, text: str, entries: list, pause: Callable[[], None]):  # noqa: ANN202
        self._text = text
        self._entries = entries
        if len(self._by_text) > len(entries) + 2 * STALE_MAX:
            self._prune(text, entries)
        return _program(text, entries, pause)

    def _prune(self, text: str, entries: list) -> None:
        """Keep the document's chunk parses and the `STALE_MAX` newest of the others.

        Why: typing parses the line being typed once per keystroke (`let q = s`, `let q =
        so`, ...), and each parse stayed in the cache until it held twice the document's
        chunks: on a 10,000-line file (~6,000 chunks) ~12,000 stale trees, ~2 MB more per
        400 keystrokes, per parser (bench/lsp.py, typing; docs/benchmarks.md, issue 18)."""
        current = {}
        for j, e in enumerate(entries):
            end = entries[j + 1][0].start if j + 1 < len(entries) else len(text)
            current[(text[e[0].start:end], e[5] if e[4] else "")] = e
        stale = [kv for kv in self._by_text.items() if kv[0] not in current]
        by_text = dict(stale[-STALE_MAX:])  # the newest: the parse order is the dict's
        by_text.update(current)
        self._by_text = by_text


def _index_at(entries: list[_Entry], lo: int, hi: int, offset: int) -> int:
    """The last index in [lo, hi) whose chunk starts at or before `offset` (lo if none)."""
    best = lo
    hi -= 1
    while lo <= hi:
        mid = (lo + hi) // 2
        if entries[mid][0].start <= offset:
            best = mid
            lo = mid + 1
        else:
            hi = mid - 1
    return best


# ---------------------------------------------------------------------------
# moving and copying chunk trees


def _move(entry: _Entry, d: int, dl: int) -> _Entry:
    """The entry, its anchor moved by `d` code points and `dl` lines (the tree stays; the
    messages that quote a position are written again by `_program`, as they are read)."""
    anchor = entry[0]
    anchor.start += d
    anchor.line += dl
    return entry


_QUOTE = re.compile(r"started at \d+:\d+")


def _requote(dg: Diagnostic) -> Diagnostic:
    """The diagnostic with the position its message quotes ("... the call started at 3:14",
    parser.py) read from its related span, where the chunk's tree stands now. The message
    may quote an older place: the tree moved since it was parsed (its anchor moves), or is
    a copy of a tree at another place, and a cached tuple of the same tree is never
    rewritten when the anchor moves (so it cannot be fixed once, when moving)."""
    rs = dg.related[0].span
    quote = f"started at {rs.line + 1}:{rs.col + 1}"
    message = dg.message
    if quote in message or "started at " not in message:
        return dg
    message = _QUOTE.sub(quote, message, count=1)
    return Diagnostic(dg.span, message, dg.severity, dg.code, dg.related, dg.source)


def _copy_entry(entry: _Entry, c: Chunk) -> _Entry | None:
    """A copy of the entry's tree hanging from a new anchor at chunk `c` (the same text
    stands at two places). None for a tree too deep to copy (parse it again instead)."""
    anchor, items, errors, comments, uses_next, _next_word = entry
    new = Anchor(c.start, c.line)
    try:
        copied = (
            new,
            tuple([_rebind(x, new) for x in items]),
            tuple([_rebind_diag(e, new) for e in errors]),
            tuple([N.Comment(_rebind(x.span, new), x.text) for x in comments]),
            uses_next,
            c.next_word,
        )
    except RecursionError:
        return None
    return copied


def _rebind(x, anchor: Anchor):  # noqa: ANN001, ANN202
    return _REBINDERS[type(x)](x, anchor)


def _rebind_tuple(x: tuple, anchor: Anchor) -> tuple:
    rb = _REBINDERS
    return tuple([rb[type(v)](v, anchor) for v in x])


def _same(x, anchor: Anchor):  # noqa: ANN001, ANN202
    return x


def _rebind_span(s: AnchoredSpan, anchor: Anchor) -> AnchoredSpan:
    return new_anchored_span(anchor, *s.relative())


def _make_rebinder(cls):  # noqa: ANN001, ANN202
    """Generated code: a new node of `cls` whose spans hang from another anchor, built slot
    by slot (fast; the dataclass constructor costs about 3x as much)."""
    env: dict = {"_new": object.__new__, "_C": cls, "RB": None}
    lines = ["def rebind(n, a):", "    o = _new(_C)"]
    for i, f in enumerate(dataclasses.fields(cls)):
        env[f"_f{i}"] = cls.__dict__[f.name].__set__
        ann = str(f.type).replace(" ", "")
        v = f"n.{f.name}"
        if ann in ("str", "int", "bool", "str|None", "int|float", "int|str|None"):
            lines.append(f"    _f{i}(o, {v})")
        else:
            lines.append(f"    x = {v}")
            lines.append(f"    _f{i}(o, RB[type(x)](x, a))")
    lines.append("    return o")
    exec("\n".join(lines) + "\n", env)  # noqa: S102 - generated from the dataclass fields
    return env


_REBINDERS: dict = {tuple: _rebind_tuple, type(None): _same, str: _same, int: _same,
                    float: _same, bool: _same, AnchoredSpan: _rebind_span,
                    Span: _same}  # a plain Span holds document positions: nothing to move
_envs = []
for _name in dir(A):
    _cls = getattr(A, _name)
    if (isinstance(_cls, type) and dataclasses.is_dataclass(_cls)
            and _cls.__module__ == A.__name__):
        _env = _make_rebinder(_cls)
        _envs.append(_env)
        _REBINDERS[_cls] = _env["rebind"]
for _env in _envs:
    _env["RB"] = _REBINDERS


def _rebind_diag(dg: Diagnostic, anchor: Anchor) -> Diagnostic:
    related = tuple(Related(_rebind(r.span, anchor), r.message) for r in dg.related)
    return Diagnostic(_rebind(dg.span, anchor), dg.message, dg.severity, dg.code, related,
                      dg.source)
