"""Chunked parsing: the full parse, and the incremental parser that reuses chunk parses.

Both split the document with `scanner.split_chunks` and parse each chunk with
`parser.parse_chunk`, so `IncrementalParser().parse(t) == parse(t)` for every text.

The incremental parser keeps the previous text, its chunks and their parses. For a new text
it finds the edited region (common prefix and suffix), re-splits only from the chunk before
the edit until a boundary lines up with an old one after the edit, re-parses the chunks in
between (or takes them from a cache keyed by chunk text), and reuses the chunks after the
edit with their spans shifted. Chunks start at column 0, so a shift moves only offsets and
line numbers.
"""

from __future__ import annotations

import dataclasses
import gc
import threading
from contextlib import contextmanager

from tl_core.diagnostics import Diagnostic, Related
from tl_core.syntax import ast as A
from tl_core.syntax.fastnew import N
from tl_core.syntax.parser import parse_chunk
from tl_core.syntax.scanner import Chunk, comment_matches, split_chunks
from tl_core.syntax.span import Span

# One parsed chunk: (start, line, items, errors, comments, uses_next_word)
_Entry = tuple


def _parse_one(text: str, c: Chunk) -> _Entry:
    start, end, line = c.start, c.end, c.line
    res = parse_chunk(text, start, end, line, c.next_word)
    comments = []
    for s, e in comment_matches(text, start, end):
        nl = text.rfind("\n", start, s)
        col = s - (nl + 1 if nl != -1 else start)
        ln = line + text.count("\n", start, s)
        body = text[s:e]
        k = body.count("\n")
        if k:
            end_line = ln + k
            end_col = len(body) - body.rindex("\n") - 1
        else:
            end_line = ln
            end_col = col + len(body)
        comments.append(N.Comment(N.Span(s, e, ln, col, end_line, end_col), body))
    return (start, line, res.items, res.errors, tuple(comments), res.uses_next_word)


def _program(text: str, entries: list):  # noqa: ANN202 - ParseResult (import cycle)
    from tl_core.syntax import ParseResult

    items: list = []
    errors: list = []
    comments: list = []
    for e in entries:
        items.extend(e[2])
        errors.extend(e[3])
        comments.extend(e[4])
    n = len(text)
    last = text.rfind("\n")
    program = N.Program(N.Span(0, n, 0, 0, text.count("\n"), n - (last + 1)), tuple(items))
    return ParseResult(program, tuple(errors), tuple(comments))


_gc_lock = threading.Lock()
_gc_state = {"depth": 0, "was_enabled": False}  # guarded by _gc_lock


@contextmanager
def gc_paused():
    """Pause the cyclic garbage collector while building trees.

    Why: a parse allocates ~10 objects per token and a document's tree holds ~10^5 of them;
    the collector's generational passes over them cost more than the parse itself (measured
    1.6x on a full parse, 4x on shifting; see bench/parse.py). The trees hold no cycles, so
    pausing loses nothing; the previous setting comes back when the outermost parse ends.
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
                gc.enable()


def parse_uncached(text: str):  # noqa: ANN201 - ParseResult
    with gc_paused():
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

    Keep one instance per open document. Not thread-safe (use one per thread).
    """

    def __init__(self) -> None:
        self._text: str | None = None
        self._chunks: list[Chunk] = []
        self._entries: list[_Entry] = []
        self._by_text: dict[tuple[str, str], _Entry] = {}
        self.reparsed = 0  # chunks parsed (not reused) by the last call
        self.rescanned = 0  # chunks re-split by the last call

    def parse(self, text: str):  # noqa: ANN201 - ParseResult
        with gc_paused():
            return self._parse(text)

    def _parse(self, text: str):  # noqa: ANN202
        old = self._text
        if old is None or not self._chunks:
            chunks = split_chunks(text)
            entries = self._fill(text, chunks, 0, len(chunks))
            self.rescanned = len(chunks)
            return self._done(text, chunks, entries)
        if old == text:
            self.reparsed = self.rescanned = 0
            return _program(text, self._entries)
        p = _common_prefix(old, text)
        s = _common_suffix(old, text, min(len(old), len(text)) - p)
        old_end = len(old) - s  # the edit replaced old[p:old_end] by text[p:new_end]
        new_end = len(text) - s
        delta = len(text) - len(old)
        dlines = text.count("\n", p, new_end) - old.count("\n", p, old_end)
        old_chunks = self._chunks
        # the chunk holding offset p, and one before it (its boundary may depend on p)
        k = 0
        lo, hi = 0, len(old_chunks) - 1
        while lo <= hi:
            mid = (lo + hi) // 2
            if old_chunks[mid].start <= p:
                k = mid
                lo = mid + 1
            else:
                hi = mid - 1
        k = max(0, k - 1)
        old_starts = {c.start: i for i, c in enumerate(old_chunks)}
        resume: list[int] = []

        def stop(offset: int, _line: int) -> bool:
            if offset < new_end:
                return False
            i = old_starts.get(offset - delta)
            if i is None:
                return False
            resume.append(i)
            return True

        start_chunk = old_chunks[k]
        mid_chunks = split_chunks(text, start_chunk.start, start_chunk.line, stop)
        if resume:
            i = resume[0]
            tail = [Chunk(c.start + delta, c.end + delta, c.line + dlines, c.next_word)
                    for c in old_chunks[i:]]
            tail_entries = [self._shift(e, delta, dlines) for e in self._entries[i:]]
        else:
            tail = []
            tail_entries = []
        chunks = old_chunks[:k] + mid_chunks + tail
        self.rescanned = len(mid_chunks)
        mid_entries = self._fill(text, mid_chunks, 0, len(mid_chunks))
        entries = self._entries[:k] + mid_entries + tail_entries
        return self._done(text, chunks, entries)

    def _fill(self, text: str, chunks: list[Chunk], a: int, b: int) -> list[_Entry]:
        out = []
        reparsed = 0
        by_text = self._by_text
        for c in chunks[a:b]:
            body = text[c.start : c.end]
            entry = by_text.get((body, ""))
            if entry is not None and entry[5]:
                entry = by_text.get((body, c.next_word))
            if entry is None:
                entry = _parse_one(text, c)
                reparsed += 1
                by_text[(body, c.next_word if entry[5] else "")] = entry
            else:
                entry = self._shift(entry, c.start - entry[0], c.line - entry[1])
            out.append(entry)
        self.reparsed = reparsed
        return out

    def _shift(self, entry: _Entry, d: int, dl: int) -> _Entry:
        if d == 0 and dl == 0:
            return entry
        try:
            return shift_entry(entry, d, dl)
        except RecursionError:  # a pathological tree: parse its text again instead
            return None  # type: ignore[return-value]

    def _done(self, text: str, chunks: list[Chunk], entries: list):  # noqa: ANN202
        if any(e is None for e in entries):
            entries = [e if e is not None else _parse_one(text, c) for c, e in zip(chunks, entries, strict=True)]
        self._text = text
        self._chunks = chunks
        self._entries = entries
        # keep the text cache to what this document holds now
        keep = {}
        for c, e in zip(chunks, entries, strict=True):
            keep[(text[c.start : c.end], c.next_word if e[5] else "")] = e
        self._by_text = keep
        return _program(text, entries)


# ---------------------------------------------------------------------------
# shifting spans (generated per node class, for speed)


def _shift(x, d: int, dl: int):  # noqa: ANN001, ANN202
    return _SHIFTERS[type(x)](x, d, dl)


def _shift_tuple(x: tuple, d: int, dl: int) -> tuple:
    sh = _SHIFTERS
    return tuple([sh[type(v)](v, d, dl) for v in x])


def _same(x, d: int, dl: int):  # noqa: ANN001, ANN202
    return x


_SPAN_FIELDS = ("start", "end", "line", "col", "end_line", "end_col")


def _make_shifter(cls):  # noqa: ANN001, ANN202
    """Generated code: a new node with every span moved, built slot by slot (fast)."""
    env: dict = {"_new": object.__new__, "_C": cls, "_S": Span, "SH": None}
    for i, name in enumerate(_SPAN_FIELDS):
        env[f"_p{i}"] = Span.__dict__[name].__set__
    lines = ["def shift(n, d, dl):", "    o = _new(_C)"]

    def span_code(expr: str, target: str) -> list[str]:
        return [
            f"    s = {expr}",
            "    t = _new(_S)",
            "    _p0(t, s.start + d); _p1(t, s.end + d); _p2(t, s.line + dl)",
            "    _p3(t, s.col); _p4(t, s.end_line + dl); _p5(t, s.end_col)",
            f"    {target}(o, t)",
        ]

    for i, f in enumerate(dataclasses.fields(cls)):
        env[f"_f{i}"] = cls.__dict__[f.name].__set__
        ann = str(f.type).replace(" ", "")
        v = f"n.{f.name}"
        if ann == "Span":
            lines += span_code(v, f"_f{i}")
        elif ann == "Span|None":
            lines.append(f"    if {v} is None:")
            lines.append(f"        _f{i}(o, None)")
            lines.append("    else:")
            lines += ["    " + x for x in span_code(v, f"_f{i}")]
        elif ann in ("str", "int", "bool", "str|None", "int|float", "int|str|None"):
            lines.append(f"    _f{i}(o, {v})")
        else:
            lines.append(f"    x = {v}")
            lines.append(f"    _f{i}(o, SH[type(x)](x, d, dl))")
    lines.append("    return o")
    exec("\n".join(lines) + "\n", env)  # noqa: S102 - generated from the dataclass fields
    return env


_SHIFTERS: dict = {tuple: _shift_tuple, type(None): _same, str: _same, int: _same,
                   float: _same, bool: _same}
_envs = []
for _name in dir(A):
    _cls = getattr(A, _name)
    if (isinstance(_cls, type) and dataclasses.is_dataclass(_cls)
            and _cls.__module__ == A.__name__):
        _env = _make_shifter(_cls)
        _envs.append(_env)
        _SHIFTERS[_cls] = _env["shift"]
for _env in _envs:
    _env["SH"] = _SHIFTERS
_SHIFTERS[Span] = lambda s, d, dl: N.Span(s.start + d, s.end + d, s.line + dl, s.col,
                                         s.end_line + dl, s.end_col)


def _shift_diag(dg: Diagnostic, d: int, dl: int) -> Diagnostic:
    related = tuple(Related(_shift(r.span, d, dl), r.message) for r in dg.related)
    message = dg.message
    if dl and dg.related:
        # "expected ')' to close the call started at 3:14": the position moves with the chunk
        old, new = dg.related[0].span, related[0].span
        message = message.replace(f"started at {old.line + 1}:{old.col + 1}",
                                  f"started at {new.line + 1}:{new.col + 1}")
    return Diagnostic(_shift(dg.span, d, dl), message, dg.severity, dg.code, related, dg.source)


def shift_entry(entry: _Entry, d: int, dl: int) -> _Entry:
    start, line, items, errors, comments, uses_next = entry
    if d == 0 and dl == 0:
        return entry
    return (
        start + d,
        line + dl,
        tuple([_shift(x, d, dl) for x in items]),
        tuple([_shift_diag(e, d, dl) for e in errors]),
        tuple([N.Comment(_shift(c.span, d, dl), c.text) for c in comments]),
        uses_next,
    )
