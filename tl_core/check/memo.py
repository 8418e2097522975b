"""Per-item check cache: an edit re-checks only the top-level items it changed.

Checking one top-level item (a script statement, or a `fn` body) has effects on the
Checker: diagnostics, scopes, bindings, types of nodes, name occurrences, uses and type
changes of bindings declared before the item. `record` captures those effects relative to
the item's start (an immutable `ItemRecord`, shared by every analysis where the item stands
unchanged); `reuse` applies them where the same text stands at another place (offsets and
lines shift, columns do not).

Applying is split so that an edit costs O(changed items) plus a small constant per
unchanged one: `replay` does at once only what diagnostics and later items need (the
diagnostics, shifted; the bindings the item declares in the script scope, with spans made
on first use; its type changes of outer bindings), and queues the rest. `materialize`
places the queued scopes, locals and occurrences when a query first needs them, and
`materialize_maps` the node types; `Analysis.type_of` and friends read one item's record
without either (tl_core/check/model.py).

Runs of items are replayed as one (`BlockRecord`, `replay_block`): a block ends after an
item whose text's hash has the `BLOCK_MASK` bits clear (~32 items), so its boundaries
follow the text and an edit changes only the block around it. Where a block's text stands
again from an item's start, one text comparison and one check of the names the block
looked up outside itself replace the key, lookup and dependency check of each of its
items (~6 us an item: most of an edit's cost on a 10,000-line file, bench/check_edit.py).
An item's dependencies name the binding as the item found it (its type may change
after the lookup: `n = n + 1`), so a block's are the first lookups of names that no item
before them in the block declared or changed.

A record is reused only when the item's text, its column and the file-wide environment
(structs, relations, import state) are the same, and every name the item looked up outside
itself resolves to a binding of the same kind and type (its "dependencies"). Items whose
results depend on more than that are never recorded: those that load a model file (the
file may change), report an undefined name (the hint lists every visible name), or
produce a diagnostic that points outside the item.
"""

from __future__ import annotations

import os
import re
import weakref
import zlib
from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING, Any

from tl_core.check.names import FILE_WIDE, Binding
from tl_core.check.placing import OUTER
from tl_core.diagnostics import Diagnostic, Related, Severity
from tl_core.lang.types import MetadataType, ModelNodeType, ModelType, ScalarType, Type
from tl_core.syntax.span import Span, new_span

if TYPE_CHECKING:
    from tl_core.check.context import CheckContext


def enabled() -> bool:
    return os.environ.get("TL_NO_CHECK_CACHE", "") in ("", "0")


class ItemMemo:
    """The records of one document: those of its previous analysis (`old`, the dict its
    `DocumentHost` keeps, tl_core/host.py) and those made or reused by the current one
    (`new`, which replaces the contents of `old` when the analysis ends)."""

    def __init__(self, records: dict) -> None:
        self.records = records
        # read, never written, until `commit` (which ends the analysis): no copy (a copy of
        # thousands of entries, and the GC pass over it, on every edit)
        self.old: dict = records
        self.new: dict = {}
        self.hits = 0
        self.misses = 0
        self.blocks: list[BlockRecord] = []  # the blocks replayed whole (`replay_block`)

    def commit(self) -> None:
        self.records.clear()  # (`old` with it: it is the same dict)
        self.records.update(self.new)
        for blk in self.blocks:  # their items' records, for an edit inside them later
            self.records.update(blk.records)


def type_sig(t: Type) -> Any:
    """A key that differs whenever two types could check differently (constant values and
    model headers included, which type equality ignores)."""
    if isinstance(t, ScalarType):
        return (t, type(t.value).__name__, repr(t.value))
    if isinstance(t, (ModelType, MetadataType, ModelNodeType)):
        return (type(t).__name__, getattr(t, "path", None), getattr(t, "prefix", None),
                id(t.header))
    return t


def binding_sig(b: Binding | None) -> Any:
    if b is None:
        return None
    return (b.kind, type_sig(b.type), b.int_literal, b.path)


def _abs(r: tuple, base: int, line: int) -> Span:
    return new_span(r[0] + base, r[1] + base, r[2] + line, r[3], r[4] + line, r[5])


@dataclass(frozen=True, slots=True)
class Snapshot:
    diags: int
    scopes: int
    bindings: int
    types: int
    refs: int
    points: int
    calls: int
    uses: int
    deps: int
    journal: int
    serial: int


def snapshot(c: CheckContext) -> Snapshot:
    c.uncacheable = False
    return Snapshot(len(c.diags), len(c.scopes), len(c.all_bindings), len(c.types),
                    len(c.refs), len(c.point_types), len(c.call_bindings), len(c.use_log),
                    len(c.dep_log), len(c.journal), c.serial)


def _last(d: dict, n: int) -> list:
    """The last `n` entries of a dict, in insertion order."""
    out = list(islice(reversed(d.items()), n))
    out.reverse()
    return out


@dataclass(frozen=True, slots=True)
class ItemRecord:
    """Everything one item did to the Checker, relative to the item's start (offsets and
    lines; columns are absolute, the item's column is part of the cache key). Immutable and
    shared by every analysis in which the item stands unchanged."""

    deps: tuple  # (name, stop_at_fn, binding signature, the Type object it held)
    diags: tuple  # (rel span, message, severity, code, ((rel span, message), ...))
    scopes: tuple  # (rel span, parent index or OUTER, kind)
    bindings: tuple
    types: dict  # (rel start, rel end, node class) -> Type (read, never written)
    refs: tuple
    points: dict  # rel offset of a name occurrence -> Type
    calls: dict  # rel offset of a called fn's name -> its shape-variable bindings
    outer_uses: tuple  # (name, rel span, read)
    outer_sets: tuple  # (name, type, int_literal)
    outer_binds: tuple = ()  # indices into `bindings` declared in the outer (script) scope
    late_diags: tuple = ()  # the unused-variable warnings `Checker.finish` gives its locals
    rels: tuple = ()  # the item's distinct spans, relative; "rel span" fields index it
    # the cache key it is kept under (`Checker.memoized`): a reused record is kept under
    # this same tuple, so an unchanged item leaves no new key behind
    key: tuple = ()


_NAMES_A_LINE = re.compile(r"\bon line \d")


def record(c: CheckContext, snap: Snapshot, span: Span, outer_scope: object,
           memo_key: tuple = ()) -> ItemRecord | None:
    if c.uncacheable:
        return None
    base, line = span.start, span.line
    start, end = span.start, span.end

    rels: list[tuple] = []  # the item's distinct spans, relative; the rest index them
    rel_index: dict[tuple, int] = {}

    def _rel(sp: Span, base: int, line: int) -> int:
        r = (sp.start - base, sp.end - base, sp.line - line, sp.col, sp.end_line - line,
             sp.end_col)
        i = rel_index.get(r)
        if i is None:
            i = rel_index[r] = len(rels)
            rels.append(r)
        return i

    def inside(sp: Span) -> bool:
        return start <= sp.start and sp.end <= end

    diags = []
    for d in c.diags[snap.diags:]:
        if not inside(d.span) or any(not inside(r.span) for r in d.related):
            return None
        if _NAMES_A_LINE.search(d.message):  # "declared on line 3": moves with the text
            return None
        diags.append((_rel(d.span, base, line), d.message, d.severity, d.code,
                      tuple((_rel(r.span, base, line), r.message) for r in d.related)))
    scopes = c.scopes[snap.scopes:]
    scope_index = {id(s): i for i, s in enumerate(scopes)}
    scope_recs = []
    for s in scopes:
        if s.parent is None:
            return None
        parent = scope_index.get(id(s.parent))
        if parent is None:
            if s.parent is not outer_scope:
                return None
            parent = OUTER
        scope_recs.append((_rel(s.span, base, line), parent, s.kind))
    bindings = c.all_bindings[snap.bindings:]
    bind_index = {id(b): i for i, b in enumerate(bindings)}
    bind_recs = []
    for b in bindings:
        if b.path is not None or not inside(b.span):
            return None
        si = scope_index.get(id(b.scope))
        if si is None:
            if b.scope is not outer_scope:
                return None
            si = OUTER
        bind_recs.append((b.name, b.kind, _rel(b.span, base, line), _rel(b.decl_span, base, line),
                          b.type, si, tuple(_rel(sp, base, line) for sp in b.refs.values()),
                          b.reads, b.int_literal, b.written_type, b.doc))
    types = {(k[0] - base, k[1] - base, k[2]): t
             for k, t in _last(c.types, len(c.types) - snap.types)}
    refs = []
    for _k, r in _last(c.refs, len(c.refs) - snap.refs):
        if r.binding is None:
            who: Any = None
        elif id(r.binding) in bind_index:
            who = bind_index[id(r.binding)]
        elif r.binding.serial < snap.serial:
            who = r.binding.name
        else:
            return None  # a binding the loop re-check dropped; do not trust this record
        refs.append((_rel(r.span, base, line), who, r.builtin, r.is_def))
    points = {k - base: t for k, t in _last(c.point_types,
                                            len(c.point_types) - snap.points)}
    calls = {k - base: v for k, v in _last(c.call_bindings,
                                           len(c.call_bindings) - snap.calls)}
    outer_uses = []
    for b, sp, read in c.use_log[snap.uses:]:
        if b.serial < snap.serial:
            outer_uses.append((b.name, _rel(sp, base, line), read))
    sets: dict[str, tuple] = {}
    for b, _old in c.journal[snap.journal:]:
        if b.serial < snap.serial:
            sets[b.name] = (b.name, b.type, b.int_literal)
    deps = []
    seen = set()
    for name, stop, b, t, int_lit in c.dep_log[snap.deps:]:
        if b is not None and b.serial >= snap.serial:
            continue  # resolved inside the item
        key = (name, stop)
        if key in seen:
            continue
        seen.add(key)
        # the binding as the item found it (`n = n + 1` changes what it read)
        deps.append((name, stop, None if b is None else
                     (b.kind, type_sig(t), int_lit, b.path), t))
    # every outer binding used or changed must be a dependency that found a binding: on
    # replay `reuse` finds each such one again or refuses the record, so that placing the
    # item (tl_core/check/placing.py) always finds the outer bindings it names
    names = {d[0] for d in deps if d[2] is not None}
    for n in [u[0] for u in outer_uses] + list(sets) + [r[1] for r in refs
                                                         if isinstance(r[1], str)]:
        if n not in names:
            return None
    outer_binds = tuple(i for i, br in enumerate(bind_recs) if br[5] == OUTER)
    late = tuple((br[2], unused_message(br[0]), UNUSED_SEVERITY, "unused-variable")
                 for br, b in zip(bind_recs, bindings, strict=True)
                 if br[5] != OUTER and unused_warned(b))
    return ItemRecord(tuple(deps), tuple(diags), tuple(scope_recs), tuple(bind_recs), types,
                      tuple(refs), points, calls, tuple(outer_uses), tuple(sets.values()),
                      outer_binds, late, tuple(rels), memo_key)


def reuse(c: CheckContext, rec: ItemRecord, base: int, line: int, end: int,
          outer_scope: Any) -> ItemRecord | None:
    """Replay `rec` where the item now starts (offset `base`, line `line`; it ends at
    `end`) when its dependencies still hold; returns the record to keep
    (`rec`, or a copy whose dependencies name this check's type objects), else None.

    This runs for every unchanged item on every edit, so it is written for speed (see
    `_found`)."""
    found = _found(rec.deps, outer_scope)
    if found is None:
        return None
    out, stale = found
    if not out:
        out = _NO_DEPS
    if stale:  # the types as the item found them: replaying may change them (`n = n + 1`)
        rec = ItemRecord(_deps_found(rec.deps, out), *(getattr(rec, f) for f in _FIELDS[1:]))
    replay(c, rec, base, line, end, outer_scope, out)
    return rec


def _deps_found(deps: tuple, found: dict[str, Binding]) -> tuple:
    """`deps` naming the Type objects of the bindings `found` for them now, before a replay
    changes them: the record's copy then matches by identity only where a later item finds
    the same type, as it found it (after a replay, a second `n = n + 1` of the same text
    took the first one's record, whose dependency named the type it had set: stale
    constant values in hover)."""
    return tuple((n, st, sg, found[n].type if n in found else None) for n, st, sg, _t in deps)


def _found(deps: tuple, scope: Any) -> tuple[dict[str, Binding], bool] | None:
    """The bindings that the dependencies `deps` (`ItemRecord.deps`) name, looked up in
    `scope`, and whether one holds another Type object than recorded (an equal one); None
    when one no longer holds. In the script scope a lookup is one dict access, and a
    binding holding the very Type object recorded (types are immutable) needs no signature;
    only when the object differs is the signature compared (`binding_sig`, the oracle)."""
    out: dict[str, Binding] = {}
    names = scope.names if scope.parent is None else None
    stale = False
    for name, stop, sig, t in deps:
        b = names.get(name) if names is not None else scope.lookup(name, stop)
        if b is None:
            if sig is not None:
                return None
            continue
        if sig is None:
            return None
        if not (b.type is t and b.kind == sig[0] and b.int_literal == sig[2] and
                b.path == sig[3]):
            if binding_sig(b) != sig:
                return None
            stale = True
        out[name] = b
    return out, stale


_FIELDS = ItemRecord.__slots__
_NO_DEPS: dict = {}  # shared, never written: an item without dependencies


def unused_warned(b: Binding) -> bool:
    """Whether `Checker.finish` warns that `b` is never used (the one rule for both)."""
    return (b.kind == "variable" and b.reads == 0 and b.path is None and
            b.scope is not None and b.scope.kind != "script" and not b.name.startswith("_"))


def unused_message(name: str) -> str:
    return f"variable '{name}' is assigned but never used; remove it or name it _{name}"


UNUSED_SEVERITY = Severity.WARNING


class LazySpanBinding(Binding):
    """A `Binding` whose spans are made on first use.

    A reused item's outer bindings must exist at once (later items look them up), but most
    are never asked for their spans; building two frozen `Span`s and running the dataclass
    `__init__` for each of thousands of them was most of an edit's cost. The subclass keeps
    the relative span and makes the `Span` when `span`/`decl_span` is read."""

    @property  # type: ignore[override]
    def span(self) -> Span:  # noqa: D102
        sp = self.__dict__.get("_span")
        if sp is None:
            sp = self.__dict__["_span"] = _abs(self._r, self._base, self._line)
        return sp

    @span.setter
    def span(self, value: Span) -> None:
        self.__dict__["_span"] = value

    def name_start(self) -> int:  # noqa: D102 - without making the span
        d = self.__dict__
        sp = d.get("_span")
        return sp.start if sp is not None else d["_r"][0] + d["_base"]

    @property  # type: ignore[override]
    def decl_span(self) -> Span:  # noqa: D102
        sp = self.__dict__.get("_decl_span")
        if sp is None:
            sp = self.__dict__["_decl_span"] = _abs(self._dr, self._base, self._line)
        return sp

    @decl_span.setter
    def decl_span(self, value: Span) -> None:
        self.__dict__["_decl_span"] = value


def _new_lazy_binding(name: str, kind: str, r: tuple, dr: tuple, base: int, line: int,
                      t: Type, scope: Any, reads: int, int_lit: bool, written: bool, doc: str,
                      serial: int) -> Binding:
    """A `LazySpanBinding`, its fields set straight into its `__dict__` (thousands per
    edit: no dataclass `__init__`)."""
    b = object.__new__(LazySpanBinding)
    b.__dict__ = {"name": name, "kind": kind, "_r": r, "_dr": dr, "_base": base,
                  "_line": line, "type": t, "path": None, "node": None,
                  "_scope": weakref.ref(scope), "refs": {}, "reads": reads,
                  "int_literal": int_lit, "written_type": written, "doc": doc,
                  "serial": serial}
    return b


def replay(c: CheckContext, rec: ItemRecord, base: int, line: int, end: int, outer_scope: Any,
           outer: dict[str, Binding]) -> None:
    """Apply what later items and the diagnostics need of `rec` at offset `base`, line
    `line` (the item ends at `end`) now: its
    diagnostics, the bindings it declares in the outer scope and its type changes of outer
    bindings. The rest (scopes, locals, types of nodes, occurrences) waits in `c.pending`
    for `materialize`, which the Analysis runs when a query first needs it."""
    if rec.diags or rec.late_diags or rec.outer_sets:
        _replay_diags_and_sets(c, rec, base, line, outer)
    rels = rec.rels
    # the bindings made here, for `placing.item_scopes`: one binding as itself (most items
    # declare one: no list per item for the cyclic GC to walk), several in a list
    eager: Any = ()
    if rec.outer_binds:
        made = []
        recs = rec.bindings
        names = outer_scope.names
        blist = outer_scope.bindings
        starts, start_names, wide = (outer_scope.starts, outer_scope.start_names,
                                     outer_scope.wide_names)
        new = _new_lazy_binding
        for i in rec.outer_binds:
            name, kind, r, dr, t, _si, _refs, reads, int_lit, written, doc = recs[i]
            rel = rels[r]
            b = new(name, kind, rel, rels[dr], base, line, t, outer_scope, reads, int_lit,
                    written, doc, c.serial)
            c.serial += 1
            names[name] = b  # Scope.add, inlined: thousands per edit
            blist.append(b)
            if kind in FILE_WIDE:  # a recorded binding has no path
                wide.append(name)
            else:
                starts.append(rel[0] + base)
                start_names.append(name)
            c.all_bindings.append(b)
            made.append(b)
        eager = made[0] if len(made) == 1 else made
    c.pending.append((rec, base, line, outer_scope, outer, eager, end))


# A block ends after an item whose text's hash has these bits clear: ~32 items a block,
# and the boundaries move with the text (content-defined), so that an edit changes only
# the block around it (the blocks before and after it keep their first item and text).
BLOCK_MASK = 31


def block_boundary(body: str, mask: int) -> bool:
    """Whether a block ends after an item of this text: its CRC-32 has the `mask` bits
    clear. CRC-32, not `hash`: Python's string hash changes from process to process
    (PYTHONHASHSEED), so the blocks and what an edit looks at would too."""
    return not zlib.crc32(body.encode("utf-8", "surrogatepass")) & mask


@dataclass(frozen=True, slots=True)
class BlockRecord:
    """A run of consecutive items of one pass, each with its `ItemRecord`, replayed as one
    (`replay_block`) where the same text stands again from an item's start: what the
    items' replays one by one would do, with one key, one text comparison and one
    dependency check for the run. Immutable; kept in the check cache under
    `("block", first item's key)`."""

    text: str  # from the first item's start to the last one's end
    n: int  # how many items
    classes: tuple  # the items' node classes (the same text may parse otherwise)
    # the names the items looked up outside the block, as `ItemRecord.deps` (the first
    # lookup of each name that no item before it in the block declared or changed)
    deps: tuple
    # per item: (its record, its start, line and end relative to the block's first item,
    # the names of its resolved dependencies, where its outer bindings begin and end in
    # `binds`)
    items: tuple
    # the outer (script-scope) bindings the items declare, in order: (name, kind, rel span,
    # rel declaration span, type, reads, int_literal, written_type, doc, the item's start
    # and line relative to the block); the spans are relative to their item
    binds: tuple
    names: tuple  # their names
    # their starts relative to the block and names, for the scope's index (`Scope.starts`),
    # and the names of the file-wide ones (`Scope.wide_names`)
    starts: tuple
    start_names: tuple
    wide: tuple
    # the bulk path applies (`_replay_bulk`: `shared`, no diagnostics, no outer binding
    # changed)
    bulk: bool
    # one name -> binding dict serves as every item's `outer`: no name declared twice in
    # the block, none declared that an item found outside it
    shared: bool
    records: dict  # the items' records by their keys (`ItemMemo.commit`)


def close_block(memo: ItemMemo, text: str, forming: list[tuple]) -> None:
    """Keep the items checked or reused one by one since the last boundary (`forming`:
    (record or None, start, line, end, node class) each) as a block, when each has a
    record."""
    if not forming or any(f[0] is None for f in forming):
        return
    blk = make_block(text, forming)
    memo.new[("block", forming[0][0].key)] = blk


def make_block(text: str, forming: list[tuple]) -> BlockRecord:
    base, line = forming[0][1], forming[0][2]
    declared: set[str] = set()
    changed: set[str] = set()
    found_outside: set[str] = set()
    seen: set[tuple] = set()
    deps: list[tuple] = []
    items = []
    binds: list[tuple] = []
    starts: list[int] = []
    start_names: list[str] = []
    wide: list[str] = []
    records = {}
    dup = False
    quiet = True  # no diagnostics, no outer binding changed
    for rec, start, ln, end, _cls in forming:
        resolved = []
        for d in rec.deps:
            name, stop, sig, _t = d
            if sig is not None:
                resolved.append(name)
            if name in declared or name in changed or (name, stop) in seen:
                continue  # decided inside the block
            seen.add((name, stop))
            deps.append(d)
            if sig is not None:
                found_outside.add(name)
        for name, _t, _lit in rec.outer_sets:
            changed.add(name)
        quiet = quiet and not (rec.diags or rec.late_diags or rec.outer_sets)
        first = len(binds)
        for i in rec.outer_binds:
            name, kind, r, dr, t, _si, _refs, reads, int_lit, written, doc = rec.bindings[i]
            dup = dup or name in declared
            declared.add(name)
            rel = rec.rels[r]
            binds.append((name, kind, rel, rec.rels[dr], t, reads, int_lit, written, doc,
                          start - base, ln - line))
            if kind in FILE_WIDE:  # a recorded binding has no path
                wide.append(name)
            else:
                starts.append(rel[0] + start - base)
                start_names.append(name)
        items.append((rec, start - base, ln - line, end - base, tuple(resolved), first,
                      len(binds)))
        records[rec.key] = rec
    shared = not dup and not (declared & found_outside)
    return BlockRecord(text[base:forming[-1][3]], len(forming),
                       tuple(f[4] for f in forming), tuple(deps), tuple(items),
                       tuple(binds), tuple(b[0] for b in binds), tuple(starts),
                       tuple(start_names), tuple(wide), shared and quiet, shared, records)


def replay_block(c: CheckContext, blk: BlockRecord, base: int, line: int,
                 outer_scope: Any) -> BlockRecord | None:
    """Replay the block `blk` whose first item now starts at offset `base`, line `line`
    (its text stands there unchanged) in the script scope `outer_scope` when its
    dependencies hold: as `reuse` of each item in turn would. Returns the block to keep
    (`blk`, or a copy whose dependencies name this check's type objects), else None."""
    if outer_scope.parent is not None:
        return None
    found = _found(blk.deps, outer_scope)
    if found is None:
        return None
    env, stale = found
    if stale:  # before the replay changes them, and adds the block's own names to `env`
        blk = BlockRecord(blk.text, blk.n, blk.classes, _deps_found(blk.deps, env),
                          *(getattr(blk, f) for f in _BLOCK_FIELDS[4:]))
    if blk.bulk:
        _replay_bulk(c, blk, base, line, outer_scope, env)
    else:
        _replay_in_turn(c, blk, base, line, outer_scope, env)
    return blk


_BLOCK_FIELDS = BlockRecord.__slots__


def _replay_bulk(c: CheckContext, blk: BlockRecord, base: int, line: int, outer_scope: Any,
                 env: dict[str, Binding]) -> None:
    """`replay_block` of a block without diagnostics or changed outer bindings whose items
    share one `outer` dict: the bindings made in one loop and added to the scope, its
    index and the checker's list at once."""
    scope_ref = weakref.ref(outer_scope)
    serial = c.serial
    lazy = LazySpanBinding
    new = object.__new__
    made = []
    for name, kind, rel, drel, t, reads, int_lit, written, doc, rb, rl in blk.binds:
        b = new(lazy)  # as `_new_lazy_binding`, inlined: thousands per edit
        b.__dict__ = {"name": name, "kind": kind, "_r": rel, "_dr": drel,
                      "_base": base + rb, "_line": line + rl, "type": t, "path": None,
                      "node": None, "_scope": scope_ref, "refs": {}, "reads": reads,
                      "int_literal": int_lit, "written_type": written, "doc": doc,
                      "serial": serial}
        serial += 1
        made.append(b)
    c.serial = serial
    outer_scope.names.update(zip(blk.names, made, strict=True))
    outer_scope.bindings.extend(made)
    outer_scope.starts.extend([s + base for s in blk.starts])
    outer_scope.start_names.extend(blk.start_names)
    outer_scope.wide_names.extend(blk.wide)
    c.all_bindings.extend(made)
    env.update(zip(blk.names, made, strict=True))
    pending = c.pending
    for rec, rb, rl, re_, _resolved, k0, k1 in blk.items:
        pending.append((rec, base + rb, line + rl, outer_scope, env,
                        made[k0] if k1 - k0 == 1 else made[k0:k1] if k1 > k0 else (),
                        base + re_))


def _replay_in_turn(c: CheckContext, blk: BlockRecord, base: int, line: int, outer_scope: Any,
                    env: dict[str, Binding]) -> None:
    """`replay_block` item by item (diagnostics, outer bindings changed, or names that
    mean different bindings to different items)."""
    shared = blk.shared
    binds = blk.binds
    for rec, rb, rl, re_, resolved, k0, k1 in blk.items:
        if shared:
            outer = env
        elif resolved:
            outer = {n: env[n] for n in resolved}
        else:
            outer = _NO_DEPS
        replay(c, rec, base + rb, line + rl, base + re_, outer_scope, outer)
        if k1 > k0:
            env.update(zip([b[0] for b in binds[k0:k1]], c.all_bindings[-(k1 - k0):],
                           strict=True))


def _replay_diags_and_sets(c: CheckContext, rec: ItemRecord, base: int, line: int,
                           outer: dict[str, Binding]) -> None:
    """The diagnostics of `rec` placed at `base`/`line`, and its type changes of outer
    bindings (`replay`'s first half)."""
    diags = c.diags
    rels = rec.rels
    for r, msg, sev, code, related in rec.diags:
        diags.append(Diagnostic(_abs(rels[r], base, line), msg, sev, code,
                                tuple(Related(_abs(rels[x], base, line), m)
                                      for x, m in related)))
    for r, msg, sev, code in rec.late_diags:
        diags.append(Diagnostic(_abs(rels[r], base, line), msg, sev, code))
    for name, t, int_lit in rec.outer_sets:
        b = outer[name]
        c.journal.append((b, b.type))
        b.type = t
        b.int_literal = int_lit
