"""Chunked parsing: the full parse, and the incremental parser that caches chunk parses.

Both split the document with `scanner.split_chunks` and parse each chunk with
`parser.parse_chunk`, so `IncrementalParser().parse(t) == parse(t)` for every text. The
cache maps a chunk's text (and the word that follows it) to its parse at the position where
it was last seen; a chunk that moved is reused with its spans shifted (chunks start at column
0, so only offsets and line numbers move).
"""

from __future__ import annotations

from dataclasses import fields

from tl_core.diagnostics import Diagnostic, Related
from tl_core.syntax import ast as A
from tl_core.syntax.parser import parse_chunk
from tl_core.syntax.scanner import comment_matches, split_chunks
from tl_core.syntax.span import Span

_Entry = tuple  # (start, line, items, errors, comments)


def _parse_one(text: str, start: int, end: int, line: int, next_word: str) -> _Entry:
    res = parse_chunk(text, start, end, line, next_word)
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
        comments.append(A.Comment(Span(s, e, ln, col, end_line, end_col), body))
    return (start, line, res.items, res.errors, tuple(comments))


def _program(text: str, items: list, errors: list, comments: list):  # noqa: ANN202
    from tl_core.syntax import ParseResult

    n = len(text)
    nl = text.count("\n")
    last = text.rfind("\n")
    end_col = n - (last + 1)
    program = A.Program(Span(0, n, 0, 0, nl, end_col), tuple(items))
    return ParseResult(program, tuple(errors), tuple(comments))


def parse_uncached(text: str):  # noqa: ANN201 - ParseResult (import cycle)
    items: list = []
    errors: list = []
    comments: list = []
    for c in split_chunks(text):
        _s, _l, its, errs, coms = _parse_one(text, c.start, c.end, c.line, c.next_word)
        items.extend(its)
        errors.extend(errs)
        comments.extend(coms)
    return _program(text, items, errors, comments)


class IncrementalParser:
    """`parse(text)` equal to `tl_core.syntax.parse(text)`, re-parsing only changed chunks.

    Keeps the chunk parses of the last document it saw (one instance per open document).
    """

    def __init__(self) -> None:
        self._exact: dict[tuple[str, str, int, int], _Entry] = {}
        self._any: dict[tuple[str, str], _Entry] = {}
        self.reparsed = 0  # chunks parsed (not reused) by the last call, for tests/benchmarks

    def parse(self, text: str):  # noqa: ANN201 - ParseResult
        items: list = []
        errors: list = []
        comments: list = []
        exact: dict = {}
        any_: dict = {}
        old_exact = self._exact
        old_any = self._any
        reparsed = 0
        for c in split_chunks(text):
            key = (text[c.start : c.end], c.next_word)
            ekey = (key[0], key[1], c.start, c.line)
            entry = old_exact.get(ekey)
            if entry is None:
                base = old_any.get(key) or any_.get(key)
                entry = None
                if base is not None:
                    try:
                        entry = shift_entry(base, c.start - base[0], c.line - base[1])
                    except RecursionError:
                        entry = None
                if entry is None:
                    entry = _parse_one(text, c.start, c.end, c.line, c.next_word)
                    reparsed += 1
            exact[ekey] = entry
            any_.setdefault(key, entry)
            items.extend(entry[2])
            errors.extend(entry[3])
            comments.extend(entry[4])
        self._exact = exact
        self._any = any_
        self.reparsed = reparsed
        return _program(text, items, errors, comments)


# ---------------------------------------------------------------------------
# shifting spans (generated per node class, for speed)


def _sspan(s: Span, d: int, dl: int) -> Span:
    return Span(s.start + d, s.end + d, s.line + dl, s.col, s.end_line + dl, s.end_col)


def _shift(x, d: int, dl: int):  # noqa: ANN001, ANN202
    t = type(x)
    if t is tuple:
        return tuple([_shift(v, d, dl) for v in x])
    f = _SHIFTERS.get(t)
    if f is None:
        if t is Span:
            return _sspan(x, d, dl)
        return x
    return f(x, d, dl)


def _make_shifter(cls):  # noqa: ANN001, ANN202
    parts = []
    for f in fields(cls):
        ann = str(f.type).replace(" ", "")
        if ann == "Span":
            parts.append(f"S(n.{f.name}.start+d, n.{f.name}.end+d, n.{f.name}.line+dl, "
                         f"n.{f.name}.col, n.{f.name}.end_line+dl, n.{f.name}.end_col)")
        elif ann in ("str", "int", "bool", "str|None", "int|float", "int|str|None"):
            parts.append(f"n.{f.name}")
        else:
            parts.append(f"sh(n.{f.name}, d, dl)")
    src = f"def shift(n, d, dl):\n    return C({', '.join(parts)})\n"
    env = {"C": cls, "S": Span, "sh": _shift}
    exec(src, env)  # noqa: S102 - generated from the dataclass fields above
    return env["shift"]


_SHIFTERS: dict = {}
for _name in dir(A):
    _cls = getattr(A, _name)
    if isinstance(_cls, type) and hasattr(_cls, "__dataclass_fields__") and _cls.__module__ == A.__name__:
        _SHIFTERS[_cls] = _make_shifter(_cls)


def _shift_diag(dg: Diagnostic, d: int, dl: int) -> Diagnostic:
    related = tuple(Related(_sspan(r.span, d, dl), r.message) for r in dg.related)
    message = dg.message
    if dl and dg.related:
        # "expected ')' to close the call started at 3:14": the position moves with the chunk
        old, new = dg.related[0].span, related[0].span
        message = message.replace(f"started at {old.line + 1}:{old.col + 1}",
                                  f"started at {new.line + 1}:{new.col + 1}")
    return Diagnostic(_sspan(dg.span, d, dl), message, dg.severity, dg.code, related, dg.source)


def shift_entry(entry: _Entry, d: int, dl: int) -> _Entry:
    start, line, items, errors, comments = entry
    if d == 0 and dl == 0:
        return entry
    return (
        start + d,
        line + dl,
        tuple([_shift(x, d, dl) for x in items]),
        tuple(_shift_diag(e, d, dl) for e in errors),
        tuple(A.Comment(_sspan(c.span, d, dl), c.text) for c in comments),
    )
