"""Placing reused items: the scopes, bindings, name occurrences and node types of a
top-level item whose check was reused (tl_core/check/memo.py records and replays it), made
at its new position when a query first needs them. Below the Analysis
(tl_core/check/model.py), which calls these lazily, and above the per-name answers
(tl_core/check/names.py) it builds; the records' layout is memo's `ItemRecord`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Protocol

from tl_core.check.names import Binding, Ref, Scope
from tl_core.syntax.span import Span, new_span

# a record's scope index or binding's scope index for "the scope around the item"
OUTER = -1


class ItemRecord(Protocol):
    """What placing reads of a record (`tl_core.check.memo.ItemRecord`, which imports this
    module: named here by its fields, so that no import, not even an annotation's, goes
    back up to memo). Offsets and lines relative to the item's start."""

    rels: tuple  # the item's distinct spans; the "rel span" fields below index it
    scopes: tuple  # (rel span, parent index or OUTER, kind)
    # (name, kind, rel span, rel decl span, type, scope index or OUTER, rel spans of its
    #  uses, reads, int_literal, written_type, doc)
    bindings: tuple
    refs: tuple  # (rel span, binding index or outer name or None, builtin, is_def)
    outer_uses: tuple  # (outer name, rel span, read)
    types: dict  # (rel start, rel end, node class) -> Type
    points: dict  # rel offset of a name occurrence -> Type
    calls: dict  # rel offset of a called fn's name -> its shape-variable bindings


def ref_maker():  # noqa: ANN202
    """`Ref(span, binding, builtin, is_def)` through slot descriptors (see span.new_span)."""
    new = object.__new__
    d = Ref.__dict__
    s0, s1, s2, s3 = (d[f].__set__ for f in ("span", "binding", "builtin", "is_def"))

    def make(span: Span, binding: Any, builtin: str | None, is_def: bool) -> Any:
        r = new(Ref)
        s0(r, span)
        s1(r, binding)
        s2(r, builtin)
        s3(r, is_def)
        return r

    return make


def item_scopes(rec: ItemRecord, base: int, line: int, outer_scope: Any,
                eager_list: Any) -> tuple[list[Span], list[Any], list[Any]]:
    """One reused item's spans (one per distinct relative span), scopes and bindings (its
    outer ones from `eager_list`, a list or the one binding itself (`memo.replay`); its
    locals made here and declared in their scopes), as a check of the item would have made
    them; registered nowhere."""
    sp_of = [new_span(r0 + base, r1 + base, r2 + line, r3, r4 + line, r5)
             for r0, r1, r2, r3, r4, r5 in rec.rels]
    at = sp_of.__getitem__
    scopes: list[Scope] = []
    for r, parent, kind in rec.scopes:
        scopes.append(Scope(at(r), outer_scope if parent == OUTER else scopes[parent], kind))
    bindings: list[Binding] = []
    eager = iter((eager_list,) if isinstance(eager_list, Binding) else eager_list)
    for (name, kind, r, dr, t, si, _brefs, reads, int_lit, written, doc) in rec.bindings:
        if si == OUTER:
            b = next(eager)
        else:
            scope = scopes[si]
            b = Binding(name, kind, at(r), at(dr), t, scope=scope)
            b.reads = reads
            b.int_literal = int_lit
            b.written_type = written
            b.doc = doc
            scope.add(b)
        bindings.append(b)
    return sp_of, scopes, bindings


def materialize(a: Any, pending: list[tuple], step: Callable[[], None] | None = None) -> None:
    """Place the pending items' scopes, locals and name occurrences into the Analysis `a`
    (its private containers), as a check of each item would have. `step`: called every
    32 items (see `Analysis.materialize`)."""
    new_ref = ref_maker()
    all_bindings = a._bindings
    all_scopes = a._scopes
    refs = a._refs
    for k, (rec, base, line, outer_scope, outer, eager_list, _end) in enumerate(pending):
        if step is not None and not k & 31:
            step()
        sp_of, scopes, bindings = item_scopes(rec, base, line, outer_scope, eager_list)
        at = sp_of.__getitem__
        all_scopes.extend(scopes)
        for name, r, read in rec.outer_uses:
            b = outer[name]
            sp = at(r)
            b.refs[sp.start] = sp
            if read:
                b.reads += 1
        for b, brec in zip(bindings, rec.bindings, strict=True):
            if brec[5] != OUTER:
                all_bindings.append(b)
            d = b.refs
            for x in brec[6]:
                sp = at(x)
                d[sp.start] = sp
        for ref in item_refs(rec, at, bindings, outer, new_ref):
            sp = ref.span
            refs[(sp.start, sp.end)] = ref


def item_refs(rec: ItemRecord, at: Any, bindings: list, outer: dict[str, Any],
              new_ref: Any = None) -> Iterator[Any]:
    """One reused item's name occurrences (`Ref`s), in record order, from its spans (`at`)
    and bindings as `item_scopes` made them."""
    new_ref = new_ref or ref_maker()
    for r, who, builtin, is_def in rec.refs:
        b = None if who is None else bindings[who] if isinstance(who, int) else outer[who]
        yield new_ref(at(r), b, builtin, is_def)


def materialize_maps(a: Any, pending: list[tuple],
                     step: Callable[[], None] | None = None) -> None:
    """Place the pending items' node types, types at name occurrences and call bindings
    into the Analysis' dicts (`Analysis.type_of` and friends read one item's record without
    this; only whole-document readers of the dicts need it)."""
    types = a._types
    points = a._point_types
    calls = a._call_bindings
    for k, (rec, base, _line, _outer_scope, _outer, _eager, _end) in enumerate(pending):
        if step is not None and not k & 31:
            step()
        for (s, e, cls), t in rec.types.items():
            types[(s + base, e + base, cls)] = t
        for k, t in rec.points.items():
            points[k + base] = t
        for k, v in rec.calls.items():
            calls[k + base] = v
