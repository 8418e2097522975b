"""What the checker produces: the Analysis of one document (its bindings, scopes and name
occurrences are the types of tl_core/check/names.py, re-exported here)."""

from __future__ import annotations

import gc
import heapq
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from itertools import islice
from operator import is_, itemgetter, le

from tl_core.check import placing
from tl_core.check.names import FILE_WIDE, Binding, ImportInfo, Ref, Scope, node_key
from tl_core.diagnostics import Diagnostic
from tl_core.lang.types import Type
from tl_core.syntax.ast import node_at
from tl_core.syntax.span import LineIndex

__all__ = ["FILE_WIDE", "Analysis", "Binding", "IdeCaches", "ImportInfo", "QueryCaches", "Ref",
           "Scope", "SharedMemo", "VisibleAt", "node_key"]


@dataclass(slots=True)
class IdeCaches:
    """The editor queries' caches of one analysis (`tl_core.ide`), filled on their first
    use and never read by the checker: typed slots instead of ad-hoc attributes. Like
    every container of the analysis, `Analysis.release` empties them."""

    tokens: list | None = None  # tl_core.ide.lex.all_tokens: the whole text's tokens
    segments: list | None = None  # tl_core.ide.tokens: the text cut at top-level items
    resolution: tuple | None = None  # tl_core.ide.tokens: `Analysis.occurrences()`
    semantic_tokens: list | None = None  # tl_core.ide.tokens: the answer
    folds: tuple | None = None  # tl_core.ide.tokens: (cell marker, the answer)
    completion_info: dict = field(default_factory=dict)  # tl_core.ide.completion, by binding
    # the memo the document's analyses share (`SharedMemo`, set by its DocumentHost;
    # tl_core/host.py): not this analysis' own, so `release` leaves it
    shared: SharedMemo | None = None


class SharedMemo:
    """What the editor queries memoize across the analyses of one document: kept by its
    `DocumentHost` (tl_core/host.py) and dropped with it when the document closes, never
    in a module global (those outlived the document: issue 18). Each table is bounded by
    its user.

    `completion`: a binding's completion details by (name, kind, doc, is a function,
    id of its type), holding the type (`tl_core.ide.completion._binding_info`)."""

    __slots__ = ("completion",)

    def __init__(self) -> None:
        self.completion: dict[tuple, tuple] = {}


@dataclass(slots=True)
class QueryCaches:
    """The Analysis' memos of its own query answers: owned by the `Analysis` methods named
    on each slot (and `VisibleAt`, its view), never read elsewhere. Filled on first use;
    an entry about a scope keeps the scope and its binding count and is remade when either
    differs (placing the reused items adds scopes and bindings after the first queries).
    Like every container of the analysis, `Analysis.release` empties them."""

    # `_pending_at`, when the reused items are not in text-ordered runs: (starts, entries)
    pending_index: tuple[list[int], list[tuple]] | None = None
    # `scope_at`: every scope (placed), sorted, and their starts; remade when more scopes
    sorted_scopes: tuple[list[Scope], list[int]] | None = None
    # `_scope_at_unplaced`: the scopes the check made at once, sorted, and their starts
    eager_scopes: tuple[list[Scope], list[int]] | None = None
    # `ref_at(place=False)`: the occurrences the check made at once, sorted, their starts
    eager_refs: tuple[list[Ref], list[int]] | None = None
    # `_item_made`: a reused item made on its own, by id of its pending entry
    items_made: dict[int, list] = field(default_factory=dict)
    # `_scope_extras`, `_in_order`, `_visible_entries`: per scope, by id
    scope_extras: dict[int, tuple] = field(default_factory=dict)
    in_order: dict[int, tuple] = field(default_factory=dict)
    visible_entries: dict[int, tuple] = field(default_factory=dict)
    # `_root_alone`, `_root_wide`, `_root_others`: about the script scope
    root_alone: tuple | None = None
    root_wide: tuple | None = None
    root_others: tuple | None = None
    # `VisibleAt._by_letter`: a sorted name list cut to one first letter
    names_by_letter: dict[tuple[int, str], tuple] = field(default_factory=dict)


@dataclass(eq=False)
class Analysis:
    """One checked document: a finished answer of the checker (`analyze`).

    Everything it tells was decided by the check: `diagnostics`, the text, parse, imports,
    `functions` and `dependencies` are complete when `analyze` returns, and so is
    everything the per-node results are made of. Those of top-level items reused from the
    previous analysis are held as their records (`_pending`, memo's immutable
    `ItemRecord`s with where each item stands now) and are only laid out at their new
    positions (`types`, `bindings`, `refs`, `scopes`, `point_types`, `call_bindings`) when
    one of those is first read (`materialize`, tl_core/check/placing.py), so an edit costs
    the changed items plus a small constant per unchanged one (placing a 10,000-line
    file's takes ~60 ms, more than its whole re-analysis). That layout is arithmetic on
    the records; it never checks again and never calls the checker: an Analysis holds no
    reference to its producer. It cannot fail: `memo.record` keeps only records whose
    every outside name a resolved dependency backs, and `memo.reuse` replays one only when
    each of those resolves again (tests/check/test_check_cache.py). Queries keep their
    memos in typed slots (`QueryCaches`, `IdeCaches`); none changes an answer.
    """

    text: str
    path: str | None
    parse: object  # ParseResult
    diagnostics: tuple[Diagnostic, ...]
    line_index: LineIndex
    _types: dict[tuple, Type] = field(default_factory=dict)
    _bindings: list[Binding] = field(default_factory=list)
    _refs: dict[tuple[int, int], Ref] = field(default_factory=dict)
    _scopes: list[Scope] = field(default_factory=list)
    _functions: dict[str, Binding] = field(default_factory=dict)
    imports: list[ImportInfo] = field(default_factory=list)
    _point_types: dict[int, Type] = field(default_factory=dict)
    _call_bindings: dict[int, dict[str, int]] = field(default_factory=dict)
    _pending: list = field(default_factory=list)  # tl_core.check.memo.Pending, in order
    _pending_runs: list[int] = field(default_factory=list)  # where runs in text order begin
    _sorted_refs: list[Ref] | None = None  # set once the reused items' structure is placed
    _maps_done: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _ref_starts: list[int] = field(default_factory=list)
    # The files the check looked at (normalized absolute paths): model files and tokenizers
    # named by constant paths, the imported files and those read in search of import
    # cycles, including missing ones. A change to any other file cannot change this
    # analysis (the editor re-checks a document when one of these changes).
    dependencies: frozenset[str] = frozenset()
    ide_cache: IdeCaches = field(default_factory=IdeCaches)
    # how many occurrences and scopes the check made at once (`__post_init__`)
    _made_at_once: tuple[int, int] = field(init=False, repr=False)
    _memo: QueryCaches = field(default_factory=QueryCaches, repr=False)

    def __post_init__(self) -> None:
        # what the check made at once; placing only adds after these (or replaces values)
        self._made_at_once = (len(self._refs), len(self._scopes))

    def release(self, step: Callable[[], None], size: int = 1024) -> None:
        """Take this analysis apart a slice at a time, calling `step` between slices, for
        a caller that holds the last reference to it (a server freeing a replaced analysis
        in the background: freed in one piece, a 10,000-line file's takes ~6-10 ms in
        which no other thread runs). Every dict and list it holds, directly or in a tuple
        (its check's containers and its queries' caches), was made for it alone, so they
        are emptied; what they held that is shared (records, types, nodes) lives on."""
        parts = self.__dict__
        for key in list(parts):
            value = parts.pop(key, None)
            if isinstance(value, (IdeCaches, QueryCaches)):  # their containers
                value = tuple(x for f in fields(value) for v in (getattr(value, f.name),)
                              for x in (v if isinstance(v, tuple) else (v,)))
            for container in value if isinstance(value, tuple) else (value,):
                if isinstance(container, dict):
                    while container:
                        for _ in range(min(size, len(container))):
                            container.popitem()
                        step()
                elif isinstance(container, list):
                    while container:
                        del container[-size:]
                        step()
            del value
            step()

    def materialize(self, step: Callable[[], None] | None = None) -> None:
        """Place the reused items' results at their positions in this text (once;
        thread-safe: queries may run while the next version is being analysed). `step`,
        when given, is called every 32 items (a server doing this in the background lets
        other threads run there; it must not wait, the placing holds the lock, nor raise:
        what is placed stays)."""
        self._place(maps=True, step=step)

    def _place(self, maps: bool, step: Callable[[], None] | None = None) -> None:
        """Scopes, bindings and occurrences of the reused items; with `maps` also the
        `types`, `point_types` and `call_bindings` dicts (which `type_of`, `point_type`
        and `call_binding` do without)."""
        if self._sorted_refs is not None and (self._maps_done or not maps):
            return
        with self._lock:
            if self._sorted_refs is not None and (self._maps_done or not maps):
                return
            # many small objects, none freed: cyclic GC passes would only cost time
            gc_was_enabled = gc.isenabled()
            gc.disable()
            try:
                pending = self._pending  # empty after a check from scratch: nothing to place
                if pending and self._sorted_refs is None:
                    placing.materialize(self, pending, step)
                if maps and not self._maps_done:
                    if pending:
                        placing.materialize_maps(self, pending, step)
                    self._maps_done = True
            finally:
                if gc_was_enabled:
                    gc.enable()
            if self._sorted_refs is None:
                refs, starts = _by_start(list(self._refs.values()), step)
                self._ref_starts = starts  # (`ref_at`'s index: before the refs show as placed)
                self._sorted_refs = refs

    def _pending_at(self, offset: int) -> tuple | None:
        """The reused item (memo pending entry) whose span holds `offset`, if any.

        The checker adds them in runs that stand in text order (`_pending_runs`: the script
        items, then the fn bodies), so each run is searched by bisection in place: this is
        asked on the first query after every edit, and sorting ~6,000 entries first cost
        most of a completion's time."""
        pending = self._pending
        runs = self._pending_runs
        if runs:
            for r, lo in enumerate(runs):
                hi = runs[r + 1] if r + 1 < len(runs) else len(pending)
                i = bisect_right(pending, offset, lo, hi, key=_SECOND) - 1
                if i >= lo and offset <= pending[i][6]:
                    return pending[i]
            return None
        idx = self._memo.pending_index
        if idx is None:
            entries = sorted(pending, key=_SECOND)
            idx = self._memo.pending_index = (list(map(_SECOND, entries)), entries)
        starts, entries = idx
        i = bisect_right(starts, offset) - 1
        if i >= 0 and offset <= entries[i][6]:
            return entries[i]
        return None

    def point_type(self, offset: int) -> Type | None:
        """The type at the name occurrence starting at `offset` (`point_types.get`)."""
        if not self._maps_done:
            p = self._pending_at(offset)
            if p is not None:
                t = p[0].points.get(offset - p[1])
                if t is not None:
                    return t
        return self._point_types.get(offset)

    def call_binding(self, offset: int) -> dict[str, int] | None:
        """The shape variables bound by the call whose fn name starts at `offset`."""
        if not self._maps_done:
            p = self._pending_at(offset)
            if p is not None:
                v = p[0].calls.get(offset - p[1])
                if v is not None:
                    return v
        return self._call_bindings.get(offset)

    @property
    def types(self) -> dict[tuple, Type]:
        self.materialize()
        return self._types

    @property
    def bindings(self) -> list[Binding]:
        self._place(maps=False)
        return self._bindings

    @property
    def refs(self) -> list[Ref]:
        """Every name occurrence, sorted by start."""
        self._place(maps=False)
        return self._sorted_refs  # type: ignore[return-value]

    @property
    def scopes(self) -> list[Scope]:
        self._place(maps=False)
        return self._scopes

    @property
    def functions(self) -> dict[str, Binding]:
        """The functions by name (made by the check: placing adds none)."""
        return self._functions

    @property
    def point_types(self) -> dict[int, Type]:
        self.materialize()
        return self._point_types

    @property
    def call_bindings(self) -> dict[int, dict[str, int]]:
        self.materialize()
        return self._call_bindings

    @property
    def script_scope(self) -> Scope | None:
        """The file's top-level scope (made by the check, with every top-level binding:
        needs no placing)."""
        scopes = self._scopes
        return scopes[0] if scopes and scopes[0].parent is None else None

    def occurrences(self) -> tuple[list[Ref], list]:
        """The name occurrences without placing anything: (those made so far, sorted by
        start; the reused items still to place, in `_pending` order (memo's entries:
        record, start, line, ...), whose own occurrences are their records' `refs`).
        Once placed: (every occurrence, [])."""
        with self._lock:
            if self._sorted_refs is not None:
                return self._sorted_refs, []
            return sorted(self._refs.values(), key=_REF_START), list(self._pending)

    @property
    def program(self) -> object:
        return self.parse.program  # type: ignore[attr-defined]

    def type_of(self, node: object) -> Type | None:
        if getattr(node, "span", None) is None:
            return None
        key = node_key(node)
        if not self._maps_done:
            # a reused item's record answers for its nodes (it wins over pass-1 entries
            # in its range, as its check came after them)
            p = self._pending_at(key[0])
            if p is not None:
                base = p[1]
                t = p[0].types.get((key[0] - base, key[1] - base, key[2]))
                if t is not None:
                    return t
        return self._types.get(key)

    def _placed_ref_at(self, offset: int) -> Ref | None:
        if not self._ref_starts:
            self._ref_starts = [r.span.start for r in self.refs]
        i = bisect_right(self._ref_starts, offset) - 1
        for j in (i, i - 1):
            if 0 <= j < len(self.refs):
                r = self.refs[j]
                if r.span.start <= offset <= r.span.end:
                    return r
        return None

    def chain_at(self, offset: int) -> list[object]:
        """The nodes whose span holds `offset`, outermost (the Program) first. Finds the
        top-level item by bisection, so it costs the depth of the tree, not its width."""
        program = self.program
        items = program.items  # type: ignore[attr-defined]
        # a search over the items themselves: a list of their starts would read every
        # item's (anchored) span on the first query after each edit (~2.5 ms on 10k lines)
        i = bisect_right(items, offset, key=_node_start) - 1
        for j in (i, i - 1):
            if 0 <= j < len(items) and items[j].span.start <= offset <= items[j].span.end:
                return [program] + node_at(items[j], offset)
        return [program]

    def scope_at(self, offset: int) -> Scope | None:
        """The innermost scope whose span holds `offset`.

        Scopes nest, so it is the scope with the greatest start <= offset, or the nearest
        ancestor of that scope that still holds `offset`.
        """
        scopes = self.scopes
        hit = self._memo.sorted_scopes
        if hit is None or len(hit[0]) != len(scopes):
            ordered = sorted(scopes, key=_SCOPE_ORDER)
            hit = self._memo.sorted_scopes = (ordered, [s.span.start for s in ordered])
        return _innermost(hit[0], hit[1], offset)

    def placed(self) -> bool:
        """Are the reused items' scopes, bindings and occurrences in place?"""
        return self._sorted_refs is not None

    def _scope_at_unplaced(self, offset: int) -> Scope | None:
        """`scope_at` without placing the reused items. Outside their own scopes the scopes
        made so far answer (the script's, and those of the items checked this time); inside
        one, that item's scopes are made on their own (`placing.item_scopes`, kept for this
        analysis but not registered in it): the same scopes and bindings placing would
        make, for this one item instead of thousands."""
        p = self._pending_at(offset)
        if p is not None:
            rec, base = p[0], p[1]
            rels = rec.rels
            for r, _parent, _kind in rec.scopes:
                if rels[r][0] + base <= offset <= rels[r][1] + base:
                    ordered, starts = self._item_scopes(p)
                    return _innermost(ordered, starts, offset)
        cache = self._memo.eager_scopes
        if cache is None:  # those made at once (placing may be adding to `_scopes`)
            ordered = sorted(self._scopes[:self._made_at_once[1]], key=_SCOPE_ORDER)
            cache = self._memo.eager_scopes = (ordered, [s.span.start for s in ordered])
        return _innermost(cache[0], cache[1], offset)

    def _item_scopes(self, p: tuple) -> tuple[list[Scope], list[int]]:
        """The scopes of the reused item `p` (a pending entry), made on their own once per
        analysis, sorted as `scope_at` sorts, and their starts."""
        hit = self._item_made(p)
        return hit[1], hit[2]

    def _item_made(self, p: tuple) -> list:
        """[p, its scopes sorted, their starts, its spans, its bindings, its refs sorted by
        start or None until asked, their starts]: the reused item `p` made on its own."""
        cache = self._memo.items_made
        hit = cache.get(id(p))
        if hit is None or hit[0] is not p:
            rec, base, line, outer_scope, _outer, eager, _end = p
            sp_of, scopes, bindings = placing.item_scopes(rec, base, line, outer_scope, eager)
            ordered = sorted(scopes, key=_SCOPE_ORDER)
            hit = cache[id(p)] = [p, ordered, [s.span.start for s in ordered], sp_of,
                                  bindings, None, None]
        return hit

    def ref_at(self, offset: int, place: bool = True) -> Ref | None:
        """The name occurrence whose span holds `offset` (touching its end counts).

        With `place=False`, right after an edit nothing is placed: inside a reused item its
        occurrences are made on their own (with the bindings `visible` makes there), so the
        binding may be an equal one rather than the placed object. For answers that show
        it (hover, definition), not for ones that compare bindings (references, rename)."""
        if place or self.placed():
            return self._placed_ref_at(offset)
        found: dict[tuple[int, int], Ref] = {}
        eager = self._memo.eager_refs
        if eager is None:
            eager = self.index_made_at_once()
        for r in _refs_holding(eager[0], eager[1], offset):
            found[(r.span.start, r.span.end)] = r
        p = self._pending_at(offset)
        if p is not None:
            made = self._item_made(p)
            if made[5] is None:
                refs = sorted(placing.item_refs(p[0], made[3].__getitem__, made[4], p[4]),
                              key=_REF_START)
                made[5], made[6] = refs, [r.span.start for r in refs]
            for r in _refs_holding(made[5], made[6], offset):  # placed over the others
                found[(r.span.start, r.span.end)] = r
        if not found:
            return None
        return max(found.values(), key=_REF_START)

    def index_made_at_once(self) -> tuple[list[Ref], list[int]]:
        """`ref_at(place=False)`'s index: the occurrences the check made at once, sorted by
        start, and their starts (made once). An editor makes it on its analysis thread as
        the analysis ends (`DocumentHost.analyze`): made by the first hover after an edit
        instead, it was ~1 ms of that hover's ~1.4 ms of CPU on a 10,000-line file (issue
        18). The placing may be adding to `_refs` in another thread meanwhile (the copy is
        one C-level step)."""
        eager = self._memo.eager_refs
        if eager is None:
            refs = list(self._refs.values())[:self._made_at_once[0]]
            eager = self._memo.eager_refs = _by_start(refs, None)
        return eager

    def lookup(self, name: str, offset: int) -> Binding | None:
        """The binding `name` refers to at `offset` (declared before it, or file-wide)."""
        s = self.scope_at(offset)
        while s is not None:
            b = s.names.get(name)
            if b is not None:
                if self._visible_at(b, offset):
                    return b
                for other in reversed(s.bindings):
                    if other.name == name and self._visible_at(other, offset):
                        return other
            s = s.parent
        return self.functions.get(name)

    @staticmethod
    def _visible_at(b: Binding, offset: int) -> bool:
        return b.kind in FILE_WIDE or b.path is not None or b.span.start < offset

    def visible(self, offset: int) -> dict[str, Binding]:
        """Names visible at `offset`: each scope's bindings declared before `offset`, inner
        scopes first; functions and other file-wide declarations are visible everywhere.

        This needs no placing of the reused items (`placed`): the script's bindings, those
        of every item included, are made at once, and inside a reused item that one item's
        scopes are made (`_scope_at_unplaced`). So completing after an edit does not wait
        ~60 ms on a 10,000-line file for the rest of the analysis."""
        out: dict[str, Binding] = {}
        s = self._visible_scope(offset)
        while s is not None:
            # (name, start or -1 when visible everywhere, binding), last declared first:
            # the same test as `_visible_at`, without a call and a span per binding
            # (completion asks this of thousands of names on every keystroke)
            for name, _start, b in self._visible_entries(s, offset):
                if name not in out:
                    out[name] = b
            s = s.parent
        for name, b in self._functions.items():  # made at once, placed or not
            out.setdefault(name, b)
        return out

    def _visible_scope(self, offset: int) -> Scope | None:
        """`scope_at(offset)`, without placing the reused items when it need not."""
        return self.scope_at(offset) if self.placed() else self._scope_at_unplaced(offset)

    def visible_at(self, offset: int) -> VisibleAt:
        """`visible(offset)` asked one name at a time: `visible_at(o).get(n)` is
        `visible(o).get(n)`, without building the dict of every name in scope (completion
        with a limit asks only the best few of thousands)."""
        chain = []
        s = self._visible_scope(offset)
        while s is not None:
            chain.append((s, s.names, self._scope_extras(s)))
            s = s.parent
        return VisibleAt(self, offset, tuple(chain))

    def _scope_extras(self, s: Scope) -> dict[str, list[Binding]] | None:
        """What `s.names` (each name's last binding) does not tell of `s.bindings`: the
        bindings, in declaration order, of each name declared more than once or whose
        binding was dropped from `names` (a loop's re-check); None when it tells all.
        Memoized per scope; the usual answer is found by two C-level passes."""
        cache = self._memo.scope_extras
        hit = cache.get(id(s))
        bl = s.bindings
        if hit is not None and hit[0] is s and hit[1] == len(bl):
            return hit[2]
        names = s.names
        extras: dict[str, list[Binding]] | None = None
        # names tells all when it holds exactly the bindings; without redeclarations they
        # stand in the same order in both (a C-level check of the usual case)
        if len(bl) != len(names) or not all(map(is_, bl, names.values())):
            by: dict[str, list[Binding]] = {}
            for b in bl:
                by.setdefault(b.name, []).append(b)
            extras = {n: lst for n, lst in by.items() if len(lst) > 1 or names.get(n) is not lst[0]}
        cache[id(s)] = (s, len(bl), extras)
        return extras

    def _root_alone(self, root: Scope | None) -> tuple[list[str], frozenset[str]]:
        """The functions a function answers for by itself at any offset outside inner
        scopes that name them: declared once in `root` (the script scope), or only outside
        it; sorted, and as a set. Memoized per analysis."""
        functions = self._functions
        names = {} if root is None else root.names
        key = (id(root), 0 if root is None else len(root.bindings), len(functions))
        hit = self._memo.root_alone
        if hit is None or hit[0] != key or hit[1] is not root:
            get = names.get
            alone = {n for n, b in functions.items() if get(n, b) is b}
            extras = None if root is None else self._scope_extras(root)
            if extras:
                alone.difference_update(extras)
            hit = (key, root, sorted(alone), frozenset(alone))
            self._memo.root_alone = hit
        return hit[2], hit[3]

    def _root_wide(self, root: Scope) -> frozenset[str]:
        """The names visible everywhere in `root` or as functions but `_root_alone`'s
        (structs, relations, imports, functions declared twice...); memoized."""
        alone = self._root_alone(root)[1]
        hit = self._memo.root_wide
        if hit is None or hit[0] is not alone:
            wide = set(root.wide_names)
            wide.update(self._functions)
            hit = self._memo.root_wide = (alone, frozenset(wide - alone))
        return hit[1]

    def _root_others(self, root: Scope | None) -> tuple[list[str], frozenset[str]]:
        """The names of `root` and of the functions but `_root_alone`'s, sorted, and as a
        set; memoized per analysis (C-level work: ~1 ms for 5,000 names)."""
        alone = self._root_alone(root)[1]
        key = (id(root), 0 if root is None else len(root.bindings), len(self._functions))
        hit = self._memo.root_others
        if hit is None or hit[0] != key or hit[1] is not root:
            others = set() if root is None else set(root.names)
            extras = None if root is None else self._scope_extras(root)
            if extras:
                others.update(extras)
            others.update(self._functions)
            others -= alone
            hit = self._memo.root_others = (key, root, sorted(others), frozenset(others))
        return hit[2], hit[3]

    def _in_order(self, s: Scope) -> bool:
        """Is `s`'s index whole and are its starts in order (memoized per analysis)?"""
        cache = self._memo.in_order
        key = (len(s.bindings), len(s.starts), len(s.wide_names))
        hit = cache.get(id(s))
        if hit is None or hit[0] is not s or hit[1] != key:
            st = s.starts
            ok = s.indexed() and all(map(le, st, islice(st, 1, None)))
            hit = cache[id(s)] = (s, key, ok)
        return hit[2]

    def _visible_entries(self, s: Scope, offset: int) -> list[tuple[str, int, Binding]]:
        """The (name, start or -1 when visible everywhere, binding) of `s`'s bindings visible
        at `offset`, in `reversed(s.bindings)` order (what the `_visible_at` test keeps).

        Memoized per scope: when the positional bindings stand in declaration order (the
        script scope of a large file), those visible at `offset` are found by bisection."""
        cache = self._memo.visible_entries
        hit = cache.get(id(s))
        if hit is None or hit[0] is not s or hit[1] != len(s.bindings):
            entries = [(b.name, -1 if b.kind in FILE_WIDE or b.path is not None else
                        b.name_start(), b) for b in reversed(s.bindings)]
            pos_idx = [i for i, e in enumerate(entries) if e[1] >= 0]
            neg = [-entries[i][1] for i in pos_idx]
            ordered = all(x <= y for x, y in zip(neg, neg[1:], strict=False))
            wide_idx = [i for i, e in enumerate(entries) if e[1] < 0]
            hit = cache[id(s)] = (s, len(s.bindings), entries, ordered, pos_idx, neg,
                                  wide_idx)
        _s, _n, entries, ordered, pos_idx, neg, wide_idx = hit
        if not ordered:
            return [e for e in entries if e[1] < offset]
        # positional entries come latest-first: those at or after `offset` are a prefix
        c = bisect_right(neg, -offset)
        i = pos_idx[c] if c < len(pos_idx) else len(entries)
        j = bisect_left(wide_idx, i)
        return [entries[k] for k in wide_idx[:j]] + entries[i:]


_SECOND = itemgetter(1)


def _SCOPE_ORDER(s: Scope) -> tuple[int, int]:  # noqa: N802 - a sort key, named as one
    return (s.span.start, -s.span.end)


def _by_start(refs: list[Ref], step: Callable[[], None] | None
              ) -> tuple[list[Ref], list[int]]:
    """`sorted(refs, key=start)` (stable) and the sorted starts, with `step` called between
    chunks: the starts are read in Python (anchored spans), the sort itself runs on them
    at C speed, so no stretch of it keeps other threads out for long (~15 ms for 15,000
    in one piece)."""
    starts: list[int] = []
    for i in range(0, len(refs), 2048):
        if step is not None:
            step()
        starts += [r.span.start for r in refs[i:i + 2048]]
    order = sorted(range(len(refs)), key=starts.__getitem__)
    if step is not None:
        step()
    return [refs[i] for i in order], [starts[i] for i in order]


def _node_start(node: object) -> int:
    return node.span.start  # type: ignore[attr-defined]


def _REF_START(r: Ref) -> int:  # noqa: N802 - a sort key, named as one
    return r.span.start


def _refs_holding(refs: list[Ref], starts: list[int], offset: int) -> list[Ref]:
    """Those of `refs` (sorted by start) whose span holds `offset`, the two last
    starting at or before it being the only candidates (occurrences do not overlap)."""
    i = bisect_right(starts, offset) - 1
    return [refs[j] for j in (i - 1, i) if j >= 0 and refs[j].span.start <= offset <=
            refs[j].span.end]


def _innermost(ordered: list[Scope], starts: list[int], offset: int) -> Scope | None:
    """The innermost of `ordered` (sorted by start, then widest first) holding `offset`."""
    i = bisect_right(starts, offset) - 1
    if i < 0:
        return None
    s: Scope | None = ordered[i]
    while s is not None and not (s.span.start <= offset <= s.span.end):
        s = s.parent
    return s


class VisibleAt:
    """The names visible at one offset, asked one at a time (`Analysis.visible_at`)."""

    __slots__ = ("_a", "_chain", "_offset")

    def __init__(self, a: Analysis, offset: int, chain: tuple) -> None:
        self._a = a
        self._offset = offset
        self._chain = chain  # (scope, its names, its extras), innermost first

    def get(self, name: str) -> Binding | None:
        """`Analysis.visible(offset).get(name)`: the innermost scope's last binding of
        `name` declared before the offset (or visible everywhere), else the function."""
        offset = self._offset
        for _s, names, extras in self._chain:
            if extras is not None:
                some = extras.get(name)
                if some is not None:
                    for b in reversed(some):
                        if b.kind in FILE_WIDE or b.path is not None or b.name_start() < offset:
                            return b
                    continue
            b = names.get(name)
            if b is not None and (b.kind in FILE_WIDE or b.path is not None or
                                  b.name_start() < offset):
                return b
        return self._a._functions.get(name)

    def names(self, first: str = "") -> Iterator[str]:
        """The names `get` may answer for (and some it answers None for) but those of
        `function_names`, sorted, each once; with `first`, only those whose first
        letter's lower case it is.

        From the script scope, only the names declared before the offset (found in its
        index, `Scope.starts`, by bisection) and those visible everywhere: typing near
        the top of a large file must not look up the thousands of names declared below."""
        root = self._root()
        a = self._a
        inner: set[str] = set()
        for _s, names, extras in self._chain[:-1]:
            inner.update(names)
            if extras:
                inner.update(extras)
        if root is not None and a._in_order(root):
            k = bisect_left(root.starts, self._offset)
            cands = set(root.start_names[:k])
            cands -= a._root_alone(root)[1]
            cands |= a._root_wide(root)
            cands |= inner
            if first:
                cands = {n for n in cands if n[:1].lower() == first}
            return iter(sorted(cands))
        base, base_set = a._root_others(root)
        base = self._by_letter(base, first)
        inner -= base_set
        if first:
            inner = {n for n in inner if n[:1].lower() == first}
        if not inner:
            return iter(base)
        return heapq.merge(base, sorted(inner))

    def wide_names(self) -> list[str] | None:
        """The names declared in the scopes here as visible everywhere (functions,
        structs, relations, imports...), each once; None when a scope's index is not whole.
        Every binding of those kinds that `get` answers with is among them."""
        out: dict[str, None] = {}
        for s, _names, _extras in self._chain:
            if not s.indexed():
                return None
            out.update(dict.fromkeys(s.wide_names))
        return list(out)

    def function_names(self, first: str = "") -> list[str]:
        """The other names `get` may answer for, sorted: functions declared once in the
        script scope (or only outside it). `get` answers those with the function unless
        an inner scope declares the name too (then `names` lists it as well)."""
        return self._by_letter(self._a._root_alone(self._root())[0], first)

    def _root(self) -> Scope | None:
        return self._chain[-1][0] if self._chain else None

    def _by_letter(self, names: list[str], first: str) -> list[str]:
        if not first:
            return names
        cache = self._a._memo.names_by_letter
        hit = cache.get((id(names), first))
        if hit is None or hit[0] is not names:
            hit = cache[(id(names), first)] = (names, [n for n in names if n[:1].lower() == first])
        return hit[1]
