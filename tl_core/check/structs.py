"""The checker's structs: literals (unknown, repeated and missing fields, field types),
field reads, method calls, `Type::f(...)` calls, `Self`, struct patterns and impl blocks,
with the runtime's words (tl_core.lang.structs).

Each function takes the checker `c` (its `struct_defs`, `error`, `infer`, `call_fn`, ...).
Generic parameters are not inferred: a field or a result declared `T` is unknown (`?`).
"""

from __future__ import annotations

from typing import Any

from tl_core.check.model import Binding, node_key
from tl_core.lang import shapes as S
from tl_core.lang import structs as L
from tl_core.lang.types import (
    UNKNOWN,
    UNKNOWN_DIM,
    DimVar,
    FnType,
    ModelType,
    ScalarType,
    StructType,
    TensorType,
    Type,
    UnknownType,
    dim_value,
)
from tl_core.syntax import ast as A


def collect_impl(c: Any, it: A.ImplDecl) -> None:
    """Pass 1: an impl block's methods become known file-wide (errors: an impl of an
    unknown struct, a trait impl)."""
    problem = L.impl_problem(it, list(c.struct_defs.decls))
    if problem is not None and not (c.import_failed and it.trait is None):
        c.error(it.target.span, problem, "not-supported" if it.trait else "undefined-name")
    if it.trait is None:
        c.struct_defs.add_impl(it)


def declared(c: Any, t: object, decl: A.StructDecl | None, owner: str | None = None) -> Type:
    """A declared field/parameter/result type as the checker reads it outside the struct:
    type parameters and shape variables unknown, `Self` the impl's struct."""
    if L.is_type_param(decl, t):
        return UNKNOWN
    if isinstance(t, A.NamedTypeExpr) and t.name == "Self" and owner is not None:
        return StructType(owner)
    ty = c.type_of_expr(t)
    if isinstance(ty, TensorType) and ty.dims is not None:
        return TensorType(ty.dtype, tuple(UNKNOWN_DIM if isinstance(d, DimVar) else d
                                          for d in ty.dims))
    return ty


def literal(c: Any, e: A.StructLit, scope: Any) -> Type:
    defs = c.struct_defs
    decl = defs.decls.get(e.name)
    if decl is None:
        if not c.import_failed:
            c.error(e.name_span, L.undefined_struct(e.name, list(defs.decls)), "undefined-name")
        for f in e.fields:
            c.infer(f.value, scope)
        return UNKNOWN
    c.use(c.structs[e.name], e.name_span)
    seen: set[str] = set()
    shapes: dict[str, int] = {}
    for f in e.fields:
        t = c.infer(f.value, scope)
        fd = defs.field_decl(e.name, f.name)
        if fd is None:
            c.error(f.name_span, L.literal_unknown_field(defs, e.name, f.name), "unknown-member")
            continue
        if f.name in seen:
            c.error(f.name_span, L.literal_twice(e.name, f.name), "duplicate-definition")
            continue
        seen.add(f.name)
        problem = value_problem(c, decl, fd, t, shapes)
        if problem is not None:
            c.error(f.value.span, problem, "type-mismatch")
    missing = [f.name for f in decl.fields if f.name not in seen]
    if missing and all(defs.field_decl(e.name, f.name) is not None for f in e.fields):
        c.error(e.span, L.literal_missing(e.name, missing), "missing-field")
    return StructType(e.name)


def value_problem(c: Any, decl: A.StructDecl, fd: A.StructField, t: Type,
                  shapes: dict[str, int]) -> str | None:
    """The runtime's message when a field's value of type `t` clearly cannot fill it."""
    ft = fd.type
    if L.is_type_param(decl, ft) or isinstance(t, UnknownType):
        return None
    found = str(t.resolved()) if isinstance(t, TensorType) else str(t)
    if isinstance(ft, A.TensorTypeExpr):
        want = c.type_of_expr(ft)
        text = str(want)
        if isinstance(t, ScalarType) and t.name in ("string", "bool", "void") or \
                isinstance(t, (StructType, ModelType)):
            return L.field_type(decl.name, fd.name, text, found)
        if isinstance(t, TensorType) and t.dims is not None and ft.dims is not None:
            dims = ft.dims
            if len(dims) != len(t.dims):
                return L.field_type(decl.name, fd.name, text, found,
                                    f" ({len(t.dims)} dimensions, not {len(dims)})")
            for i, (d, have) in enumerate(zip(dims, t.dims, strict=True)):
                v = dim_value(have)
                if v is None:
                    continue
                if d.kind == "int" and v != d.value:
                    return L.field_type(decl.name, fd.name, text, found,
                                        f" (dimension {i} is {v}, not {d.value})")
                if d.kind == "var":
                    prev = shapes.setdefault(str(d.value), v)
                    if prev != v:
                        return L.field_type(decl.name, fd.name, text, found,
                                            f" ({d.value} is {prev} from an earlier field)")
        return None
    if isinstance(ft, A.NamedTypeExpr):
        name = ft.name
        if name in ("int", "float", "bool", "string"):
            ok = isinstance(t, ScalarType) and (t.name == name or name == "float" and
                                                t.name == "int") or \
                isinstance(t, TensorType) and name in ("int", "float") and \
                (t.dims is None or S.numel(t) in (None, 1))
            return None if ok else L.field_type(decl.name, fd.name, name, found)
        if name in c.struct_defs.decls and not (isinstance(t, StructType) and t.name == name):
            return L.field_type(decl.name, fd.name, name, found)
    return None


def assign_field(c: Any, target: A.Field, t: Type) -> None:
    """`p.x = v`: a value of type `t` must fit the field (the runtime's check)."""
    obj = c.types.get(node_key(target.obj))
    if not isinstance(obj, StructType) or obj.name not in c.struct_defs.decls:
        return
    fd = c.struct_defs.field_decl(obj.name, target.name)
    if fd is not None:
        problem = value_problem(c, c.struct_defs.decls[obj.name], fd, t, {})
        if problem is not None:
            c.error(target.span, problem, "type-mismatch")


def field(c: Any, t: StructType, e: A.Field) -> Type:
    defs = c.struct_defs
    decl = defs.decls.get(t.name)
    if decl is None:
        return UNKNOWN
    fd = defs.field_decl(t.name, e.name)
    if fd is None:
        c.error(e.name_span, L.unknown_field(defs, t.name, e.name, c.src(e.obj.span)),
                "unknown-member")
        return UNKNOWN
    return declared(c, fd.type, decl)


def method_call(c: Any, t: StructType, f: A.Field, e: A.Call, scope: Any) -> Type:
    """`value.m(args)`."""
    defs = c.struct_defs
    if t.name not in defs.decls:
        c.arg_infos(e.args, scope)
        return UNKNOWN
    fn = defs.method(t.name, f.name)
    if fn is None:
        c.arg_infos(e.args, scope)
        c.error(f.name_span, L.unknown_method(defs, t.name, f.name), "unknown-member")
        return UNKNOWN
    if not L.takes_self(fn):
        c.arg_infos(e.args, scope)
        c.error(f.name_span, L.not_a_method(t.name, f.name), "unknown-member")
        return UNKNOWN
    return _call(c, t.name, fn, fn.params[1:], e, scope)


def path_call(c: Any, f: A.Path, e: A.Call, scope: Any) -> Type:
    """`Name::f(args)` / `Self::f(args)` (a method taking self takes it first)."""
    defs = c.struct_defs
    name = f.base
    if name == "Self":
        if c.impl_name is None:
            c.arg_infos(e.args, scope)
            c.error(f.base_span, L.self_outside_impl(), "undefined-name")
            return UNKNOWN
        name = c.impl_name
    elif name in c.structs:
        c.use(c.structs[name], f.base_span)
    fn = defs.method(name, f.member)
    if fn is None:
        c.arg_infos(e.args, scope)
        if name in defs.decls or name in defs.methods:
            c.error(f.member_span, L.unknown_associated(defs, name, f.member), "unknown-member")
        return UNKNOWN
    return _call(c, name, fn, fn.params, e, scope)


def _call(c: Any, owner: str, fn: A.FnDecl, params: tuple[A.Param, ...], e: A.Call,
          scope: Any) -> Type:
    decl = c.struct_defs.decls.get(owner)
    ptypes = tuple((p.name, StructType(owner) if p.name == "self" and p.type is None else
                    _param_type(c, p.type, decl, fn, owner)) for p in params)
    ret = _param_type(c, fn.ret, decl, fn, owner) if fn.ret is not None else \
        ScalarType("void")
    ft = FnType(ptypes, ret, fn.name)
    return c.call_fn(Binding(fn.name, "function", fn.name_span, fn.span, ft), e, scope)


def _param_type(c: Any, t: object, decl: A.StructDecl | None, fn: A.FnDecl,
                owner: str) -> Type:
    """A method's parameter or result type: shape variables kept (the call binds them),
    type parameters of the struct or the method unknown, `Self` the owner."""
    if L.is_type_param(decl, t, fn.type_params):
        return UNKNOWN
    if isinstance(t, A.NamedTypeExpr) and t.name == "Self":
        return StructType(owner)
    return c.type_of_expr(t)


def bind_pattern(c: Any, p: A.PatStruct, scope: Any) -> None:
    """`Point { x, y: 0.0 }`: an unknown struct or field is an error; `x` binds the field
    (typed from the declaration)."""
    defs = c.struct_defs
    decl = defs.decls.get(p.name)
    if decl is None and not c.import_failed:
        c.error(p.name_span, L.undefined_struct(p.name, list(defs.decls)), "undefined-name")
    elif decl is not None:
        c.use(c.structs[p.name], p.name_span)
    for f in p.fields:
        fd = defs.field_decl(p.name, f.name) if decl is not None else None
        if decl is not None and fd is None:
            c.error(f.name_span, L.literal_unknown_field(defs, p.name, f.name), "unknown-member")
        if f.pattern is None:
            t = declared(c, fd.type, decl) if fd is not None else UNKNOWN
            c.declare(scope, f.name, "for", f.name_span, f.span, t, f)
        else:
            c.bind_pattern(f.pattern, scope)


def arg_problem(pt: Type, at: Type) -> bool:
    """Is `at` clearly not a value of the struct type `pt` (a parameter `p: Point`)?"""
    if not isinstance(pt, StructType) or isinstance(at, UnknownType):
        return False
    return not (isinstance(at, StructType) and at.name == pt.name)
