"""Semantic tokens and folding ranges after an edit: O(changed items), not O(document).

The plain versions (`tl_core.ide.highlight.semantic_tokens_plain` /
`tl_core.ide.folding.folding_ranges_plain`) tokenize the
whole text, materialize every name occurrence and walk every syntax tree on each request:
~0.5 s on a 10,000-line file. They stay the oracle (tests/ide/test_ide_tokens.py); this
module gives the same lists from caches:

- The text is cut into *segments* at line starts: each begins on the first line of a
  top-level item (or at 0) and runs to the line where the next segment begins. Segments
  start at line starts, so columns inside them are the document's columns, and the
  tokenizer is at a token boundary there (checked: a token reaching the end of a segment,
  which only a string or block comment spanning lines can do, merges it with the next).
- Per segment text: its tokens (relative), its comments and its syntax folds.
- Per segment text plus what its names resolve to: its semantic tokens, relative. The
  resolution of a reused item is its memo record (`tl_core.check.memo.ItemRecord`, keyed
  by identity: a record is reused only when the kinds of the bindings it refers to are
  unchanged); of a re-checked item, its occurrences (`Analysis.occurrences`). Reading those
  does not materialize the reused items' results.
- The document's list is the segments' lists shifted to where they stand now; a segment
  that did not move gives the very objects of the previous answer (they are immutable).

Any failure falls back to the plain version.

The caches belong to one document: its `TokenCaches`, kept by its `DocumentHost`
(tl_core/host.py) and filled by one thread at a time; a caller without one gets a fresh,
empty one (correct, only slower).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from typing import Any

from tl_core.check.model import Analysis
from tl_core.ide.cells import CELL_MARKER, is_marker, regions
from tl_core.ide.lex import LONG_LINE, tokenize
from tl_core.ide.results import Fold, SemanticToken
from tl_core.lang.keywords import DEVICES, KEYWORDS, TYPE_NAMES
from tl_core.syntax import ast as A
from tl_core.syntax.span import LineIndex, Span

_LIMIT = 60_000  # entries per cache; cleared when exceeded (keyed caches, no other state)


class TokenCaches:
    """One document's caches of this module (its host's, tl_core/host.py)."""

    __slots__ = ("toks", "sem", "folds", "recs")

    def __init__(self) -> None:
        self.toks: dict[str, tuple] = {}  # segment text -> (toks, straddles, last text,
        #                                   comments, li)
        self.sem: dict[tuple, list] = {}  # (text, prev, refs key) -> [rel tokens, recs, placed]
        self.folds: dict[tuple, list] = {}  # (text, item rel spans) -> [(rel s, rel e)]
        # id(record) -> (record, classified occurrences): the entry holds the record, so
        # its id is not reused while the entry lives
        self.recs: dict[int, tuple] = {}

KIND_TYPES = {"function": "function", "parameter": "parameter", "variable": "variable",
               "for": "variable", "tensor": "variable", "struct": "struct",
               "entity": "enumMember", "relation": "function", "embedding": "variable"}
_DECL = ("declaration",)
_LIB = ("defaultLibrary",)
_RO_LIB = ("readonly", "defaultLibrary")
_FOLD_NODES = (A.FnDecl, A.MainBlock, A.TestDecl, A.BenchDecl, A.If, A.For, A.While, A.Loop,
               A.Block, A.ArrayLiteral, A.StructDecl, A.ImplDecl, A.LearnBlock,
               A.EmbeddingDecl, A.Call, A.TensorCtor, A.Match)


def _put(cache: dict, key: Any, value: Any) -> None:
    if len(cache) > _LIMIT:
        cache.clear()
    cache[key] = value


def _ref_class(builtin: str | None, kind: str | None, is_def: bool) -> str:
    """What `semantic_tokens` needs of one occurrence: "B" a built-in, "-" nothing, else the
    token type, with "+" when it declares."""
    if builtin is not None:
        return "B"
    if kind is None:
        return "-"
    t = KIND_TYPES.get(kind, "variable")
    return t + "+" if is_def else t


# ---------------------------------------------------------------------------
# segments


def _seg_tokens(seg: str, caches: TokenCaches) -> tuple:
    hit = caches.toks.get(seg)
    if hit is None:
        toks = tokenize(seg, long_lines=LONG_LINE)
        n = len(seg)
        straddles = bool(toks) and toks[-1].end == n and seg.endswith("\n")
        li = LineIndex(seg)
        comments = []
        for t in toks:
            if t.kind == "comment":
                line, _ = li.position(t.start)
                end_line, _ = li.position(t.end)
                comments.append((line, end_line, t.text.startswith("/*")))
        hit = (toks, straddles, toks[-1].text if toks else None, tuple(comments), li)
        _put(caches.toks, seg, hit)
    return hit


def _segments(a: Analysis, pause: Callable[[], None] | None, caches: TokenCaches
              ) -> list[tuple[int, int, int, str, list, str | None]] | None:
    """[(start, end, line, text, items, text of its last token)] covering the text, or
    None when the items are not in order (then the plain version answers). `pause`: as
    `semantic_tokens` takes it."""
    cached = a.ide_cache.segments
    if cached is not None:
        return cached
    text = a.text
    starts = a.line_index.starts
    out: list[tuple[int, int, int, str, list, str | None]] = []
    cur_s = cur_line = 0
    cur: list = []
    prev_end_line = -1
    prev_end = 0
    get = caches.toks.get
    for k, it in enumerate(a.program.items):
        if pause is not None and not k & 31:
            pause()
        sp = it.span
        if sp.start < prev_end:
            return None
        ln = sp.line
        if ln > prev_end_line and ln > cur_line:
            b = starts[ln]
            seg = text[cur_s:b]
            info = get(seg) or _seg_tokens(seg, caches)
            if not info[1]:  # no token runs over its end: cut here
                out.append((cur_s, b, cur_line, seg, cur, info[2]))
                cur_s, cur_line, cur = b, ln, []
        cur.append(it)
        prev_end_line = sp.end_line
        prev_end = sp.end
    seg = text[cur_s:]
    out.append((cur_s, len(text), cur_line, seg, cur, _seg_tokens(seg, caches)[2]))
    a.ide_cache.segments = out
    return out


# ---------------------------------------------------------------------------
# semantic tokens


def _rec_refs(rec: Any, outer: dict, caches: TokenCaches) -> tuple:
    """The record's occurrences as (rel start, rel end, class), in its order."""
    hit = caches.recs.get(id(rec))
    if hit is not None and hit[0] is rec:
        return hit[1]
    rels = rec.rels
    out = []
    for r, who, builtin, is_def in rec.refs:
        x = rels[r]
        if who is None:
            kind = None
        elif isinstance(who, int):
            kind = rec.bindings[who][1]
        else:
            kind = outer[who].kind
        out.append((x[0], x[1], _ref_class(builtin, kind, is_def)))
    res = tuple(out)
    _put(caches.recs, id(rec), (rec, res))
    return res


def _classify(seg: str, prev_text: str | None, refs: list[tuple],
              caches: TokenCaches) -> list[tuple]:
    """Relative semantic tokens of one segment, as the plain version classifies them.
    `refs`: (rel start, rel end, class) in the order `Analysis.refs` has them."""
    toks, _straddles, _last, _comments, li = _seg_tokens(seg, caches)
    refmap: dict[int, tuple] = {}
    for s, e, c in refs:
        refmap[s] = (e, c)
    out: list[tuple] = []
    pos = li.position
    for t in toks:
        kind: str | None = None
        mods: tuple[str, ...] = ()
        tk = t.kind
        if tk == "comment":
            kind = "comment"
        elif tk == "string":
            kind = "string"
        elif tk == "number":
            kind = "number"
        elif tk == "ident":
            r = refmap.get(t.start)
            if r is not None and r[0] == t.end:
                c = r[1]
                if c == "B":
                    kind = "method" if prev_text == "." else "function"
                    mods = _LIB
                elif c != "-":
                    if c.endswith("+"):
                        kind, mods = c[:-1], _DECL
                    else:
                        kind = c
            elif prev_text == ".":
                kind = "property"
            elif prev_text == "::":
                kind = "function"
            elif t.text in TYPE_NAMES:
                kind = "type"
            elif t.text in KEYWORDS:
                kind = "keyword"
            elif t.text in DEVICES:
                kind = "variable"
                mods = _RO_LIB
        elif tk == "op" and t.text in ("@", "⊙", "⊗"):
            kind = "operator"
        if kind is not None:
            if tk == "comment" and "\n" in t.text:
                p = t.start
                for line in t.text.split("\n"):
                    if line:
                        out.append((p, p + len(line)) + pos(p) + pos(p + len(line)) +
                                   (kind, mods))
                    p += len(line) + 1
            else:
                out.append((t.start, t.end) + pos(t.start) + pos(t.end) + (kind, mods))
        prev_text = t.text
    return out


def _resolution(a: Analysis) -> tuple:
    """`a.occurrences()`, asked once per analysis: (the occurrences made so far, sorted
    by start; the reused items still to place, whose own are in their records)."""
    hit = a.ide_cache.resolution
    if hit is None:
        hit = a.ide_cache.resolution = a.occurrences()
    return hit


def _classes(refs: list, s: int) -> tuple:
    """(rel start, rel end, class) of occurrences, relative to `s`."""
    return tuple((r.span.start - s, r.span.end - s,
                  _ref_class(r.builtin, None if r.binding is None else r.binding.kind,
                             r.is_def)) for r in refs)


def semantic_tokens(a: Analysis, pause: Callable[[], None] | None = None,
                    caches: TokenCaches | None = None) -> list[SemanticToken] | None:
    """The document's semantic tokens, equal to the plain version's; None when this path
    cannot answer (the caller then uses the plain version). `pause`, when given, is called
    between steps (every 32 segments): a server running this in the background lets
    requests the editor waits on go first there."""
    cached = a.ide_cache.semantic_tokens
    if cached is not None:
        return list(cached)
    if caches is None:
        caches = TokenCaches()
    segs = _segments(a, pause, caches)
    if segs is None:
        return None
    refs, pending = _resolution(a)
    n_segs = len(segs)
    per_seg: list[list] = [[] for _ in segs]
    if pending:
        seg_starts = [x[0] for x in segs]
        for p in pending:
            per_seg[bisect_left(seg_starts, p[1] + 1) - 1].append(p)
    ref_starts = [r.span.start for r in refs]
    n_refs = len(ref_starts)
    j = 0
    out: list[SemanticToken] = []
    extend = out.extend
    # Tokens are built through the slots' descriptors, inline: about twice as fast as the
    # frozen dataclasses' `__init__` (as in tl_core.check.memo), and ~45,000 objects are
    # made when every segment after the edit moved. The tests compare with the plain
    # answer, built with the constructors.
    new = object.__new__
    d = Span.__dict__
    s0, s1, s2, s3, s4, s5 = (d[f].__set__ for f in ("start", "end", "line", "col",
                                                    "end_line", "end_col"))
    t = SemanticToken.__dict__
    u0, u1, u2 = (t[f].__set__ for f in ("span", "type", "modifiers"))
    prev_text: str | None = None
    get = caches.sem.get
    for k in range(n_segs):
        if pause is not None and not k & 31:
            pause()
        s, e, line, seg, _its, last = segs[k]
        if j < n_refs and (ref_starts[j] < e or k + 1 == n_segs):
            lo = j
            if k + 1 == n_segs:
                j = n_refs
            else:
                while j < n_refs and ref_starts[j] < e:
                    j += 1
            base = _classes(refs[lo:j], s)
        else:
            base = ()
        ps = per_seg[k]
        prev = prev_text if prev_text == "." or prev_text == "::" else None
        if len(ps) == 1:
            p = ps[0]
            pkey: tuple = (p[1] - s, id(p[0]))
        else:
            pkey = tuple((p[1] - s, id(p[0])) for p in ps)
        key = (seg, prev, base, pkey)
        entry = get(key)
        if entry is None:
            occ = {}
            for x0, x1, c in base:
                occ[(x0, x1)] = c
            for p in ps:
                dd = p[1] - s
                for x0, x1, c in _rec_refs(p[0], p[4], caches):
                    occ[(x0 + dd, x1 + dd)] = c
            ordered = sorted(((x0, x1, c) for (x0, x1), c in occ.items()),
                             key=lambda x: x[0])
            # the records are held so that their ids in the key stay theirs
            entry = [_classify(seg, prev, ordered, caches), tuple(p[0] for p in ps), None]
            _put(caches.sem, key, entry)
        placed = entry[2]
        if placed is not None and placed[0] == s and placed[1] == line:
            extend(placed[2])
        else:
            toks = []
            add = toks.append
            for t0, t1, t2, t3, t4, t5, kind, mods in entry[0]:
                sp = new(Span)
                s0(sp, t0 + s)
                s1(sp, t1 + s)
                s2(sp, t2 + line)
                s3(sp, t3)
                s4(sp, t4 + line)
                s5(sp, t5)
                tok = new(SemanticToken)
                u0(tok, sp)
                u1(tok, kind)
                u2(tok, mods)
                add(tok)
            entry[2] = (s, line, toks)
            extend(toks)
        if last is not None:
            prev_text = last
    a.ide_cache.semantic_tokens = out
    return list(out)


# ---------------------------------------------------------------------------
# folding ranges


def _item_folds(seg: str, its: list, s: int, line: int,
                caches: TokenCaches) -> list[tuple[int, int]]:
    if len(its) == 1:
        sp = its[0].span
        key: tuple = (seg, sp.start - s, sp.end - s, sp.line - line, its[0].__class__)
    else:
        key = (seg, tuple((it.span.start - s, it.span.end - s, it.span.line - line,
                           it.__class__) for it in its))
    hit = caches.folds.get(key)
    if hit is None:
        li = _seg_tokens(seg, caches)[4]
        hit = []
        ends: set[int] = set()
        for it in its:
            for n in A.walk(it):
                if isinstance(n, _FOLD_NODES):
                    sp = n.span
                    if sp.end_line > sp.line:
                        el = sp.end_line - line
                        end = el - 1 if li.line_text(el).strip().startswith(
                            ("}", "]", ")")) else el
                        if end in ends:
                            continue
                        ends.add(end)
                        if end > sp.line - line:
                            hit.append((sp.line - line, end))
        _put(caches.folds, key, hit)
    return hit


def folding_ranges(a: Analysis, pause: Callable[[], None] | None = None,
                   marker: str = CELL_MARKER,
                   caches: TokenCaches | None = None) -> list[Fold] | None:
    """The document's folding ranges, equal to the plain version's; None when this path
    cannot answer. `pause`: as `semantic_tokens` takes it; `marker`: the cell marker."""
    cached = a.ide_cache.folds
    if cached is not None and cached[0] == marker:
        return list(cached[1])
    if caches is None:
        caches = TokenCaches()
    segs = _segments(a, pause, caches)
    if segs is None:
        return None
    found: dict[tuple[int, int], str | None] = {}  # first kind added wins (as `seen`)

    def add(s: int, e: int, kind: str | None = None) -> None:
        if e > s and (s, e) not in found:
            found[(s, e)] = kind

    for k, (s, _e, line, seg, its, _last) in enumerate(segs):
        if pause is not None and not k & 31:
            pause()
        for fs, fe in _item_folds(seg, its, s, line, caches):
            add(fs + line, fe + line)
    run_start = None
    last_line = -2
    for _s, _e, base_line, seg, _its, _last in segs:
        seg_li = _seg_tokens(seg, caches)[4]
        for rl, rel_end, block in _seg_tokens(seg, caches)[3]:
            ln = rl + base_line
            if block:
                add(ln, rel_end + base_line, "comment")
                continue
            if is_marker(seg_li.line_text(rl), marker):
                continue
            if ln == last_line + 1 and run_start is not None:
                last_line = ln
                continue
            if run_start is not None:
                add(run_start, last_line, "comment")
            run_start = ln
            last_line = ln
    if run_start is not None:
        add(run_start, last_line, "comment")
    for ln, end in regions(a.line_index, marker):
        add(ln, end, "region")
    imps = [it.span.line for it in a.program.items if isinstance(it, A.Import)]
    if len(imps) > 1:
        add(imps[0], imps[-1], "imports")
    out = [Fold(s, e, kind) for (s, e), kind in found.items()]
    out.sort(key=lambda f: (f.start_line, -f.end_line))
    a.ide_cache.folds = (marker, out)
    return list(out)
