"""Structs and their methods: the declarations a program makes (`struct`, `impl`) and the
words of every error about them, shared by the checker (tl_core.check.structs) and the
runtime (tl_core.runtime.structs) so the two say the same thing at the same place.

A struct value is a record of its declared fields; generic parameters (`struct Pair<T>`)
are checked where the checker can and erased at run time. Methods are the `fn`s of
`impl Name { ... }` blocks: those whose first parameter is `self` are called `value.m(...)`
(or `Name::m(value, ...)`), the others `Name::f(...)` (`Self::f` inside an impl).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from tl_core.syntax import ast as A


@dataclass
class StructDefs:
    """The structs of a program and the methods of their impl blocks (file-wide)."""

    decls: dict[str, A.StructDecl] = field(default_factory=dict)
    methods: dict[str, dict[str, A.FnDecl]] = field(default_factory=dict)

    def add_struct(self, decl: A.StructDecl) -> None:
        self.decls[decl.name] = decl

    def add_impl(self, impl: A.ImplDecl) -> None:
        table = self.methods.setdefault(impl.target.name, {})
        for m in impl.methods:
            table[m.name] = m

    def field_names(self, name: str) -> list[str]:
        decl = self.decls.get(name)
        return [] if decl is None else [f.name for f in decl.fields]

    def field_decl(self, name: str, fname: str) -> A.StructField | None:
        decl = self.decls.get(name)
        if decl is None:
            return None
        return next((f for f in decl.fields if f.name == fname), None)

    def method(self, name: str, mname: str) -> A.FnDecl | None:
        return self.methods.get(name, {}).get(mname)

    def method_names(self, name: str) -> list[str]:
        return list(self.methods.get(name, {}))

    def key(self) -> tuple:
        """What a check of code using these structs depends on (the check cache's key)."""
        return (tuple((n, d.type_params, tuple((f.name, _type_key(f.type)) for f in d.fields))
                      for n, d in sorted(self.decls.items())),
                tuple((n, tuple((m, tuple((p.name, _type_key(p.type)) for p in fn.params),
                                 _type_key(fn.ret)) for m, fn in sorted(ms.items())))
                      for n, ms in sorted(self.methods.items())))


def _type_key(t: object) -> object:
    if t is None:
        return None
    if isinstance(t, A.TensorTypeExpr):
        return (t.dtype, None if t.dims is None else tuple((d.kind, d.value) for d in t.dims))
    if isinstance(t, A.NamedTypeExpr):
        return (t.name, tuple(_type_key(a) for a in t.args))
    return repr(t)


def takes_self(fn: A.FnDecl) -> bool:
    return bool(fn.params) and fn.params[0].name == "self" and fn.params[0].type is None


def is_type_param(decl: A.StructDecl | None, t: object, extra: tuple[str, ...] = ()) -> bool:
    """Is `t` one of the struct's (or a method's) type parameters (`T`), erased at run time?"""
    return isinstance(t, A.NamedTypeExpr) and not t.args and (
        decl is not None and t.name in decl.type_params or t.name in extra)


def _hint(name: str, names: list[str]) -> str:
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
    return "; did you mean " + " or ".join(f"'{c}'" for c in close) + "?" if close else ""


# -- messages (the checker's and the runtime's) --------------------------------------

def undefined_struct(name: str, known: list[str]) -> str:
    return f"undefined struct '{name}'" + _hint(name, known)


def unknown_field(defs: StructDefs, name: str, fname: str, text: str) -> str:
    """`p.z` (`text`: `p` as written) where Point has no field z."""
    fields = defs.field_names(name)
    if defs.method(name, fname) is not None:
        return f"{fname} is a method of {name}: call it, {text}.{fname}(...)"
    return (f"{name} has no field '{fname}'; fields: {', '.join(fields) or 'none'}"
            + _hint(fname, fields))


def literal_unknown_field(defs: StructDefs, name: str, fname: str) -> str:
    fields = defs.field_names(name)
    return (f"{name} has no field '{fname}'; fields: {', '.join(fields) or 'none'}"
            + _hint(fname, fields))


def literal_twice(name: str, fname: str) -> str:
    return f"field '{fname}' is given twice in this {name} literal"


def literal_missing(name: str, missing: list[str]) -> str:
    word = "field" if len(missing) == 1 else "fields"
    return (f"this {name} literal is missing {word} " + ", ".join(f"'{m}'" for m in missing)
            + "; every field needs a value")


def field_type(name: str, fname: str, declared: str, found: str, detail: str = "") -> str:
    return f"field '{fname}' of {name} must be {declared}; found {found}{detail}"


def unknown_method(defs: StructDefs, name: str, mname: str) -> str:
    methods = [m for m, fn in defs.methods.get(name, {}).items() if takes_self(fn)]
    if mname in defs.field_names(name):
        return (f"{mname} is a field of {name}, not a method: read it without (...), "
                f"or call a function it holds")
    return (f"{name} has no method '{mname}'; methods: {', '.join(methods) or 'none'}"
            + _hint(mname, methods))


def not_a_method(name: str, mname: str) -> str:
    return (f"{mname} is an associated function of {name} (it takes no self): call it "
            f"{name}::{mname}(...)")


def unknown_associated(defs: StructDefs, name: str, mname: str) -> str:
    names = defs.method_names(name)
    listed = ", ".join(names) or f"none (add one in an impl {name} block)"
    return f"{name} has no associated function '{mname}'; functions: {listed}" + \
        _hint(mname, names)


def self_outside_impl() -> str:
    return "Self is only defined inside an impl block"


def impl_of_unknown(name: str, known: list[str]) -> str:
    return f"impl of undefined struct '{name}'" + _hint(name, known)


def impl_problem(impl: A.ImplDecl, known: list[str]) -> str | None:
    """What is wrong with an impl block as a whole: a trait impl, an unknown struct."""
    name = impl.target.name
    if impl.trait == "Drop":
        return drop_unsupported(name)
    if impl.trait is not None:
        return (f"impl {impl.trait} for {name} is not supported: write the methods in impl "
                f"{name} {{ ... }}")
    if name not in known:
        return impl_of_unknown(name, known)
    return None


def drop_unsupported(name: str) -> str:
    return (f"impl Drop for {name} is not supported: a struct value is copied when assigned, "
            f"so there is no single moment it is dropped; call a cleanup method explicitly")
