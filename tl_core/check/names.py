"""The checker's answers per name: bindings, the scopes that declare them and the name
occurrences (`Ref`), below the Analysis (tl_core/check/model.py) and the reuse of checked
items (tl_core/check/memo.py, tl_core/check/placing.py), which both build them."""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field

from tl_core.lang.types import UNKNOWN, Type
from tl_core.syntax.span import Span

# Kinds of binding visible in their whole file, not only after their declaration.
FILE_WIDE = frozenset(("function", "struct", "entity", "relation", "embedding"))


def node_key(node: object) -> tuple:
    """The key of a syntax node in `Analysis.types`: its span and class (positions, not
    object identity, so results of unchanged items can be reused after a re-parse)."""
    sp = node.span  # type: ignore[attr-defined]
    return (sp.start, sp.end, node.__class__)


@dataclass(eq=False)
class Binding:
    """One named thing: a variable, parameter, function, tensor declaration, struct, ...

    `span` is the name at the declaration, `decl_span` the whole declaration; `path` is the
    defining file when it is not the analysed document (imports). `refs` maps the start
    offset of every use (read or write) in this document to its span.
    """

    name: str
    kind: str  # variable | parameter | function | tensor | struct | for | entity | relation ...
    span: Span
    decl_span: Span
    type: Type = UNKNOWN
    path: str | None = None
    node: object = None
    scope: Scope | None = None
    refs: dict[int, Span] = field(default_factory=dict)
    reads: int = 0
    int_literal: bool = False
    written_type: bool = False
    doc: str = ""
    detail: str = ""  # a one-line signature for hover (a relation's)
    serial: int = 0  # creation order within one check (tells outer from local bindings)

    def name_start(self) -> int:
        """`span.start` (a binding replayed from the check cache answers without making
        its span: tl_core/check/memo.py)."""
        return self.span.start


def _get_scope(b: Binding) -> Scope | None:
    ref = b.__dict__.get("_scope")
    return None if ref is None else ref()


def _set_scope(b: Binding, scope: Scope | None) -> None:
    b.__dict__["_scope"] = None if scope is None else weakref.ref(scope)


def new_binding(name: str, kind: str, span: Span, decl_span: Span, t: Type, node: object,
                path: str | None, scope: Scope | None, serial: int) -> Binding:
    """`Binding(name, kind, span, decl_span, t, path=path, node=node, scope=scope)` with
    `serial`, its `__dict__` set at once: the checker declares thousands per analysis, and
    the dataclass `__init__` (fifteen fields, the scope's property) was most of a
    declaration's cost (tests/check/test_check_cache.py compares the two)."""
    b = object.__new__(Binding)
    b.__dict__ = {"name": name, "kind": kind, "span": span, "decl_span": decl_span,
                  "type": t, "path": path, "node": node,
                  "_scope": None if scope is None else weakref.ref(scope), "refs": {},
                  "reads": 0, "int_literal": False, "written_type": False, "doc": "",
                  "detail": "", "serial": serial}
    return b


# A binding refers to its scope weakly. Why: the scope holds its bindings (`names`,
# `bindings`), so a strong back-reference made every analysis a cycle that only Python's
# cyclic GC could free; on a large file those passes (~200 ms) were the slow edits
# (bench/lsp.py). Without the cycle an analysis is freed as soon as it is replaced. The
# Analysis holds every scope (`scopes`), so `scope` is None only for a binding kept longer
# than its analysis.
Binding.scope = property(_get_scope, _set_scope)  # type: ignore[assignment]


@dataclass(eq=False)
class Scope:
    span: Span
    parent: Scope | None
    kind: str  # script | fn | block | loop | main | test | bench
    names: dict[str, Binding] = field(default_factory=dict)
    bindings: list[Binding] = field(default_factory=list)
    # An index of `bindings` kept by every writer of it (`add`, or inlined where speed
    # matters: tl_core/check/memo.py): the start and name of each binding visible after
    # its declaration, in declaration order, and the names of those visible everywhere.
    # `Analysis.visible_at` reads which names are declared before an offset from it
    # without touching the bindings (thousands in a large script scope).
    starts: list[int] = field(default_factory=list)
    start_names: list[str] = field(default_factory=list)
    wide_names: list[str] = field(default_factory=list)

    def add(self, b: Binding) -> None:
        """Declare `b` here: the last binding of its name, and in the index."""
        self.names[b.name] = b
        self.bindings.append(b)
        self._index(b)

    def reindex(self) -> None:
        """Rebuild the index from `bindings` (after bindings were removed)."""
        self.starts.clear()
        self.start_names.clear()
        self.wide_names.clear()
        for b in self.bindings:
            self._index(b)

    def _index(self, b: Binding) -> None:
        if b.kind in FILE_WIDE or b.path is not None:
            self.wide_names.append(b.name)
        else:
            self.starts.append(b.name_start())
            self.start_names.append(b.name)

    def indexed(self) -> bool:
        """Does the index hold every binding?"""
        return len(self.starts) + len(self.wide_names) == len(self.bindings)

    def lookup(self, name: str, stop_at_fn: bool = False) -> Binding | None:
        s: Scope | None = self
        while s is not None:
            b = s.names.get(name)
            if b is not None:
                return b
            if stop_at_fn and s.kind == "fn":
                return None
            s = s.parent
        return None


@dataclass(frozen=True, slots=True)
class Ref:
    """One occurrence of a name: a binding's declaration or use, or a built-in's use."""

    span: Span
    binding: Binding | None
    builtin: str | None = None
    is_def: bool = False


@dataclass(frozen=True, slots=True)
class ImportInfo:
    span: Span
    path_span: Span
    written: str
    resolved: str | None
    ok: bool
