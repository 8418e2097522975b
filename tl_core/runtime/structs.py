"""Structs at run time: values, literals, fields, methods, `Type::f(...)` and `match`.

A struct value is immutable here and structs are values (UPSTREAM.md §1.3: copied when
assigned): `p.x = 1.0` rebinds `p` to a copy with the new field. A method's `self` is the
receiver; when the method assigns to `self` (or its fields), the receiver written as a
variable or a field path gets the new value back, as Rust's `&mut self` would. Generic
parameters are erased: a field declared `T` takes any value.

The words of every error are the checker's (tl_core.lang.structs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import mlx.core as mx

from tl_core.lang import structs as L
from tl_core.lang.dtypes import kind_of
from tl_core.runtime.errors import TLRuntimeError
from tl_core.runtime.values import tensor_type, type_name
from tl_core.syntax import ast

if TYPE_CHECKING:
    from tl_core.runtime.context import RunContext
    from tl_core.runtime.env import Env


@dataclass(frozen=True, eq=False)
class StructValue:
    """A value of a user struct: its name and its fields in declaration order."""

    name: str
    fields: dict[str, Any]

    def replaced(self, fname: str, value: Any) -> StructValue:
        return StructValue(self.name, {**self.fields, fname: value})

    def type_name(self) -> str:
        return self.name

    def format_with(self, fmt: Any) -> str:
        """`Point { x: 1.0, y: 2.0 }` (`fmt` formats one field's value)."""
        if not self.fields:
            return f"{self.name} {{}}"
        return f"{self.name} {{ " + ", ".join(f"{k}: {fmt(v)}" for k, v in
                                               self.fields.items()) + " }"


def impl_problem(interp: RunContext, impl: ast.ImplDecl) -> str | None:
    return L.impl_problem(impl, list(interp.struct_defs.decls))


def literal(interp: RunContext, e: ast.StructLit, env: Env) -> StructValue:
    defs = interp.struct_defs
    decl = defs.decls.get(e.name)
    if decl is None:
        raise TLRuntimeError(L.undefined_struct(e.name, list(defs.decls)), e.name_span)
    given: dict[str, Any] = {}
    for f in e.fields:
        if defs.field_decl(e.name, f.name) is None:
            raise TLRuntimeError(L.literal_unknown_field(defs, e.name, f.name), f.name_span)
        if f.name in given:
            raise TLRuntimeError(L.literal_twice(e.name, f.name), f.name_span)
        given[f.name] = (interp.eval(f.value, env), f.value.span)
    missing = [f.name for f in decl.fields if f.name not in given]
    if missing:
        raise TLRuntimeError(L.literal_missing(e.name, missing), e.span)
    shapes: dict[str, int] = {}
    values = {f.name: check_field(interp, decl, f, *given[f.name], shapes) for f in decl.fields}
    return StructValue(e.name, values)


def check_field(interp: RunContext, decl: ast.StructDecl, f: ast.StructField, v: Any,
                span: Any, shapes: dict[str, int]) -> Any:
    """A field's value against its declared type (converting numbers and lists to a
    declared tensor type); shape variables must agree across the fields of one literal."""
    t = f.type
    if L.is_type_param(decl, t):
        return v
    if isinstance(t, ast.TensorTypeExpr):
        if isinstance(v, (int, float, list)) and not isinstance(v, bool):
            v = interp.to_tensor(v, span, interp.dtype_of(t.dtype, t.span))
        declared = _tensor_text(t)
        if not isinstance(v, mx.array):
            raise TLRuntimeError(L.field_type(decl.name, f.name, declared, type_name(v)), span)
        want_int = kind_of(t.dtype) == "int"
        if want_int != (not mx.issubdtype(v.dtype, mx.inexact)) and v.dtype != mx.bool_:
            raise TLRuntimeError(L.field_type(decl.name, f.name, declared, tensor_type(v)), span)
        if t.dims is not None:
            detail = _dims_problem(t, v.shape, shapes)
            if detail is not None:
                raise TLRuntimeError(L.field_type(decl.name, f.name, declared,
                                                  tensor_type(v), detail), span)
        return v
    if isinstance(t, ast.NamedTypeExpr):
        ok = SCALAR_CHECKS.get(t.name)
        if ok is not None:
            if ok(v) or (isinstance(v, mx.array) and v.size == 1 and t.name in ("int", "float")):
                return float(v) if t.name == "float" and isinstance(v, int) else v
            raise TLRuntimeError(L.field_type(decl.name, f.name, t.name, type_name(v)), span)
        if t.name in interp.struct_defs.decls and not (
                isinstance(v, StructValue) and v.name == t.name):
            raise TLRuntimeError(L.field_type(decl.name, f.name, t.name, type_name(v)), span)
    return v


# What a value declared `int`/`float`/`bool`/`string` may be (a parameter, a field).
SCALAR_CHECKS = {
    "int": lambda x: isinstance(x, int) and not isinstance(x, bool),
    "float": lambda x: isinstance(x, (int, float)) and not isinstance(x, bool),
    "bool": lambda x: isinstance(x, bool),
    "string": lambda x: isinstance(x, str),
}


def _tensor_text(t: ast.TensorTypeExpr) -> str:
    if t.dims is None:
        return t.dtype
    return t.dtype + "[" + ", ".join("?" if d.kind == "unknown" else str(d.value)
                                     for d in t.dims) + "]"


def _dims_problem(t: ast.TensorTypeExpr, shape: tuple[int, ...],
                  shapes: dict[str, int]) -> str | None:
    dims = t.dims or ()
    if len(dims) != len(shape):
        return f" ({len(shape)} dimensions, not {len(dims)})"
    for i, d in enumerate(dims):
        if d.kind == "int" and shape[i] != d.value:
            return f" (dimension {i} is {shape[i]}, not {d.value})"
        if d.kind == "var":
            prev = shapes.setdefault(str(d.value), shape[i])
            if prev != shape[i]:
                return f" ({d.value} is {prev} from an earlier field)"
    return None


def get_field(v: StructValue, e: ast.Field, text: str, defs: L.StructDefs) -> Any:
    if e.name in v.fields:
        return v.fields[e.name]
    raise TLRuntimeError(L.unknown_field(defs, v.name, e.name, text), e.name_span)


def with_field(interp: RunContext, obj: Any, target: ast.Field, value: Any) -> StructValue:
    """The struct `obj` with field `target.name` set to `value` (checked as in a literal)."""
    if not isinstance(obj, StructValue):
        raise TLRuntimeError(f"cannot assign to a field of {type_name(obj)}", target.span)
    defs = interp.struct_defs
    f = defs.field_decl(obj.name, target.name)
    if f is None:
        raise TLRuntimeError(L.unknown_field(defs, obj.name, target.name,
                                             interp.source_of(target.obj)), target.name_span)
    decl = defs.decls[obj.name]
    return obj.replaced(target.name, check_field(interp, decl, f, value, target.span, {}))


def call_method(interp: RunContext, obj: StructValue, e: ast.Call, func: ast.Field,
                env: Env) -> Any:
    """`value.m(args)`: the method of the value's struct, with `self` the value; a method
    that changed `self` writes it back to the receiver when that is a variable or field."""
    defs = interp.struct_defs
    fn = defs.method(obj.name, func.name)
    if fn is None:
        raise TLRuntimeError(L.unknown_method(defs, obj.name, func.name), func.name_span)
    if not L.takes_self(fn):
        raise TLRuntimeError(L.not_a_method(obj.name, func.name), func.name_span)
    frame: list[Any] = []
    result = _call(interp, obj.name, fn, e, env, (obj, func.obj.span), frame)
    if frame:
        new_self = frame[0].vars.get("self", obj)
        if new_self is not obj and _is_place(func.obj):
            interp.assign_place(func.obj, new_self, env)
    return result


def call_associated(interp: RunContext, e: ast.Call, func: ast.Path, env: Env) -> Any:
    """`Name::f(args)` (`Self::f` inside an impl); a method taking self takes it first."""
    defs = interp.struct_defs
    name = func.base
    if name == "Self":
        if not interp.impl_stack:
            raise TLRuntimeError(L.self_outside_impl(), func.base_span)
        name = interp.impl_stack[-1]
    fn = defs.method(name, func.member)
    if fn is None:
        raise TLRuntimeError(L.unknown_associated(defs, name, func.member), func.member_span)
    return _call(interp, name, fn, e, env, None, None)


def _call(interp: RunContext, owner: str, fn: ast.FnDecl, e: ast.Call, env: Env,
          receiver: tuple[Any, Any] | None, frame: list[Any] | None) -> Any:
    info = interp.method_info(owner, fn)
    interp.impl_stack.append(owner)
    try:
        return interp.call_fn(info, e, env, receiver=receiver, frame_out=frame,
                              implicit_self=receiver is not None)
    finally:
        interp.impl_stack.pop()


def _is_place(node: Any) -> bool:
    while isinstance(node, ast.Field):
        node = node.obj
    return isinstance(node, ast.Name)


def match(interp: RunContext, p: ast.PatStruct, value: Any, scope: Env) -> bool:
    """`Point { x: 0.0, y }`: the value is a Point and each named field matches."""
    defs = interp.struct_defs
    if p.name not in defs.decls:
        raise TLRuntimeError(L.undefined_struct(p.name, list(defs.decls)), p.name_span)
    for f in p.fields:
        if defs.field_decl(p.name, f.name) is None:
            raise TLRuntimeError(L.literal_unknown_field(defs, p.name, f.name), f.name_span)
    if not isinstance(value, StructValue) or value.name != p.name:
        return False
    for f in p.fields:
        v = value.fields[f.name]
        if f.pattern is None:
            scope.vars[f.name] = v
        elif not interp.match_pattern(f.pattern, v, scope):
            return False
    return True


def check_arg(decl: ast.FnDecl, p: ast.Param, v: Any, span: Any, defs: L.StructDefs) -> None:
    """A parameter declared as a struct (`p: Point`) takes a value of that struct."""
    t = p.type
    if isinstance(t, ast.NamedTypeExpr) and t.name in defs.decls and t.name not in \
            decl.type_params and not (isinstance(v, StructValue) and v.name == t.name):
        raise TLRuntimeError(f"{decl.name}(): argument '{p.name}' must be {t.name}; found "
                             f"{type_name(v)}", span)
