"""Go to definition, find references and rename (with the checks that keep a rename safe)."""

from __future__ import annotations

import re

from tl_core.check.model import Analysis, Binding
from tl_core.ide.results import Location, RenameResult, TextEdit
from tl_core.lang.builtins import BUILTINS
from tl_core.lang.keywords import RESERVED
from tl_core.syntax.span import Span


def definition_at(a: Analysis, offset: int) -> list[Location]:
    for imp in a.imports:
        if imp.path_span.start <= offset <= imp.path_span.end and imp.resolved:
            return [Location(imp.resolved, Span(0, 0, 0, 0, 0, 0))]
    r = a.ref_at(offset, place=False)  # only the binding's place is read
    if r is None or r.binding is None:
        return []
    b = r.binding
    return [Location(b.path if b.path else a.path, b.span)]


def references(a: Analysis, offset: int, include_declaration: bool = True) -> list[Location]:
    r = a.ref_at(offset)
    if r is None:
        return []
    out: list[Location] = []
    if r.builtin is not None:
        for x in a.refs:
            if x.builtin == r.builtin:
                out.append(Location(a.path, x.span))
        return out
    b = r.binding
    if b is None:
        return []
    if include_declaration and b.path is None:
        out.append(Location(a.path, b.span))
    for span in sorted(b.refs.values(), key=lambda s: s.start):
        if span.start != b.span.start or b.path is not None:
            out.append(Location(a.path, span))
    return out


_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def prepare_rename(a: Analysis, offset: int) -> Span | None:
    r = a.ref_at(offset)
    if r is None or r.binding is None or r.binding.path is not None:
        return None
    return r.span


def rename(a: Analysis, offset: int, new_name: str) -> RenameResult:
    r = a.ref_at(offset)
    if r is None or r.binding is None:
        return RenameResult((), "nothing to rename here; place the cursor on a name")
    b = r.binding
    if b.path is not None:
        return RenameResult((), f"'{b.name}' is defined in {b.path}; rename it there")
    if not _IDENT.match(new_name):
        return RenameResult((), f"'{new_name}' is not a valid name; names are letters, digits "
                                f"and _ and do not start with a digit")
    if new_name in RESERVED:
        return RenameResult((), f"'{new_name}' is a keyword and cannot be used as a name")
    if new_name == b.name:
        return RenameResult(())
    clash = _rename_clash(a, b, new_name)
    if clash:
        return RenameResult((), clash)
    spans = {b.span.start: b.span}
    spans.update(b.refs)
    edits = tuple(TextEdit(s, new_name) for _, s in sorted(spans.items()))
    return RenameResult(edits)


def _rename_clash(a: Analysis, b: Binding, new: str) -> str | None:
    if b.kind == "function" or b.scope is None:
        if new in a.functions:
            other = a.functions[new]
            return f"a function named '{new}' already exists (line {other.span.line + 1})"
        if new in BUILTINS:
            return f"'{new}' is a built-in function; choose another name"
    # Any binding of that name visible where `b` is declared or used.
    points = [b.span.start] + list(b.refs)
    for p in points:
        other = a.visible(max(p, b.span.end)).get(new)
        if other is not None and other is not b:
            return (f"'{new}' is already defined (line {other.span.line + 1}) where "
                    f"'{b.name}' is used")
    if b.scope is not None:
        for other in b.scope.bindings:
            if other.name == new:
                return f"'{new}' is already defined in the same scope (line {other.span.line + 1})"
    if new in BUILTINS and b.kind == "function":
        return f"'{new}' is a built-in function; choose another name"
    return None

