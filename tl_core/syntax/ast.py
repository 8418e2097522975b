"""The TensorLogic syntax tree: frozen dataclasses, every node with a `Span`.

This module is the contract between the parser, the checker, the ide queries, the
formatter and the runtime. Nodes hold only syntax; meaning lives in `tl_core.check`.

Conventions:
- `span` is always the first field and covers the whole construct.
- Names that the editor must point at (declarations, fields, keyword arguments) carry their
  own `*_span`.
- Sequences are tuples, so nodes are hashable and safely shared between cached parses.
- `ErrorExpr` / `ErrorStmt` stand where the parser recovered from a syntax error.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass

from tl_core.syntax.span import Span

# ---------------------------------------------------------------------------
# Type expressions (as written in source)


@dataclass(frozen=True, slots=True)
class DimExpr:
    """One dimension of a tensor type: `3`, `N`, `D_in` or `?`."""

    span: Span
    kind: str  # "int" | "var" | "unknown"
    value: int | str | None  # 3, "N", None


@dataclass(frozen=True, slots=True)
class TensorTypeExpr:
    """`float16[N, 3]`, optionally followed by `learnable` or `frozen`.

    `dims` is None for a bare element type used as a tensor (`float16` without brackets).
    """

    span: Span
    dtype: str
    dims: tuple[DimExpr, ...] | None
    qualifier: str | None = None  # "learnable" | "frozen" | None


@dataclass(frozen=True, slots=True)
class NamedTypeExpr:
    """Any other type: `int`, `float`, `bool`, `string`, `void`, `Model`, a struct name,
    a type parameter, or a generic `Name<T, U>`."""

    span: Span
    name: str
    args: tuple[TypeExpr, ...] = ()


TypeExpr = TensorTypeExpr | NamedTypeExpr

# ---------------------------------------------------------------------------
# Expressions


@dataclass(frozen=True, slots=True)
class Name:
    span: Span
    id: str


@dataclass(frozen=True, slots=True)
class Number:
    span: Span
    value: int | float
    text: str
    is_float: bool  # written with '.', or an exponent


@dataclass(frozen=True, slots=True)
class String:
    span: Span
    value: str  # escapes resolved


@dataclass(frozen=True, slots=True)
class Bool:
    span: Span
    value: bool


@dataclass(frozen=True, slots=True)
class ArrayLiteral:
    """`[a, b, c]`: a list, a shape, or (nested) a tensor literal; the checker decides."""

    span: Span
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class SetLiteral:
    """`{a, b}` in `entity E = {a, b}` and `embedding` fields."""

    span: Span
    items: tuple[Name, ...]


@dataclass(frozen=True, slots=True)
class TupleExpr:
    """`(a, b)`: two or more comma-separated expressions in parentheses."""

    span: Span
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Arg:
    """A call argument; `name` is set for keyword arguments (`device: gpu`, `lr=0.1`,
    `"layer.0.weight": W`), with `name_span` on the name."""

    span: Span
    value: Expr
    name: str | None = None
    name_span: Span | None = None


@dataclass(frozen=True, slots=True)
class Call:
    """`f(a, k: v)`, `m.get_tensor("w")` (func is a Field), `Name::new(x)` (func is a Path).

    `paren_span` is the span of the `(`: signature help and error messages point at it.
    """

    span: Span
    func: Expr
    args: tuple[Arg, ...]
    paren_span: Span


@dataclass(frozen=True, slots=True)
class TensorCtor:
    """`tensor<float16>(literal, device: gpu)`."""

    span: Span
    dtype: str
    dtype_span: Span
    args: tuple[Arg, ...]
    paren_span: Span


@dataclass(frozen=True, slots=True)
class Field:
    """`x.shape`, `self.w`, `model.metadata.format`."""

    span: Span
    obj: Expr
    name: str
    name_span: Span


@dataclass(frozen=True, slots=True)
class Path:
    """`Name::member` (associated function or built-in namespace: `f32::ones`)."""

    span: Span
    base: str
    base_span: Span
    member: str
    member_span: Span


@dataclass(frozen=True, slots=True)
class Slice:
    """`a:b`, `:`, `a:`, `:b`, optionally `a:b:step` inside an index."""

    span: Span
    start: Expr | None
    stop: Expr | None
    step: Expr | None = None


@dataclass(frozen=True, slots=True)
class Index:
    """`x[i, :, 1:3, -1]`; each item is an expression or a `Slice`."""

    span: Span
    obj: Expr
    items: tuple[Expr | Slice, ...]


@dataclass(frozen=True, slots=True)
class Unary:
    span: Span
    op: str  # "-" | "!"
    operand: Expr
    word: bool = False  # `!` written as the original's word `not` (messages, constraints)


@dataclass(frozen=True, slots=True)
class Binary:
    """Binary operators of LANGUAGE.md section 4, and `~` inside rule bodies."""

    span: Span
    op: str  # "||" "&&" "==" "!=" "<" "<=" ">" ">=" "+" "-" "*" "/" "%" "@" "⊙" "**" "⊗" "~"
    left: Expr
    right: Expr
    op_span: Span


@dataclass(frozen=True, slots=True)
class Cast:
    """`e as float32`."""

    span: Span
    expr: Expr
    type: TypeExpr


@dataclass(frozen=True, slots=True)
class FieldInit:
    span: Span
    name: str
    name_span: Span
    value: Expr


@dataclass(frozen=True, slots=True)
class StructLit:
    """`Point { x: 1.0, y: 2.0 }`."""

    span: Span
    name: str
    name_span: Span
    fields: tuple[FieldInit, ...]


# Patterns of `match`


@dataclass(frozen=True, slots=True)
class PatLiteral:
    span: Span
    value: Expr  # Number | String | Bool (a negative number is a Number)


@dataclass(frozen=True, slots=True)
class PatWildcard:
    span: Span


@dataclass(frozen=True, slots=True)
class PatBind:
    span: Span
    name: str


@dataclass(frozen=True, slots=True)
class PatTuple:
    span: Span
    items: tuple[Pattern, ...]


@dataclass(frozen=True, slots=True)
class PatField:
    span: Span
    name: str
    name_span: Span
    pattern: Pattern | None  # `Point { x }` binds x; `Point { x: p }`


@dataclass(frozen=True, slots=True)
class PatStruct:
    span: Span
    name: str
    name_span: Span
    fields: tuple[PatField, ...]


@dataclass(frozen=True, slots=True)
class PatOr:
    span: Span
    alternatives: tuple[Pattern, ...]


Pattern = PatLiteral | PatWildcard | PatBind | PatTuple | PatStruct | PatOr


@dataclass(frozen=True, slots=True)
class MatchArm:
    span: Span
    pattern: Pattern
    guard: Expr | None
    body: Expr  # an expression; a `{ ... }` arm body is a BlockExpr


@dataclass(frozen=True, slots=True)
class Match:
    span: Span
    scrutinee: Expr
    arms: tuple[MatchArm, ...]


@dataclass(frozen=True, slots=True)
class BlockExpr:
    """A block used as an expression (match arm bodies): the value is its last
    expression statement."""

    span: Span
    block: Block


@dataclass(frozen=True, slots=True)
class ErrorExpr:
    """Stands where an expression was expected but the text did not parse."""

    span: Span


Expr = (
    Name | Number | String | Bool | ArrayLiteral | SetLiteral | TupleExpr | Call | TensorCtor
    | Field | Path | Index | Unary | Binary | Cast | StructLit | Match | BlockExpr | ErrorExpr
)

# ---------------------------------------------------------------------------
# Statements


@dataclass(frozen=True, slots=True)
class Block:
    """`{ ... }`; `span` includes the braces."""

    span: Span
    stmts: tuple[Stmt, ...]


@dataclass(frozen=True, slots=True)
class Let:
    """`let x = e` or `let x: type = e`."""

    span: Span
    name: str
    name_span: Span
    type: TypeExpr | None
    value: Expr


@dataclass(frozen=True, slots=True)
class Assign:
    """`x = e`, `x := e`, `self.w = e`, `a[i] = e`."""

    span: Span
    target: Expr  # Name | Field | Index
    op: str  # "=" | ":="
    value: Expr


@dataclass(frozen=True, slots=True)
class TensorDecl:
    """`tensor w: float16[3, 2] learnable = e` (the value may be omitted)."""

    span: Span
    name: str
    name_span: Span
    type: TensorTypeExpr
    value: Expr | None


@dataclass(frozen=True, slots=True)
class Return:
    span: Span
    value: Expr | None


@dataclass(frozen=True, slots=True)
class If:
    span: Span
    cond: Expr
    then: Block
    orelse: Block | If | None


@dataclass(frozen=True, slots=True)
class For:
    span: Span
    var: str
    var_span: Span
    iterable: Expr
    body: Block


@dataclass(frozen=True, slots=True)
class With:
    """`with Person { ... }`: the original's block over an entity type (UPSTREAM.md 17.5)."""

    span: Span
    type_name: str
    type_span: Span
    body: Block


@dataclass(frozen=True, slots=True)
class While:
    span: Span
    cond: Expr
    body: Block


@dataclass(frozen=True, slots=True)
class Loop:
    span: Span
    body: Block


@dataclass(frozen=True, slots=True)
class Break:
    span: Span


@dataclass(frozen=True, slots=True)
class Continue:
    span: Span


@dataclass(frozen=True, slots=True)
class ExprStmt:
    """An expression used as a statement: calls, method calls, and facts
    (`Parent(alice, bob)`, which the checker recognises by the relation name)."""

    span: Span
    expr: Expr


@dataclass(frozen=True, slots=True)
class BlockStmt:
    span: Span
    block: Block


@dataclass(frozen=True, slots=True)
class Rule:
    """`Grandparent(X, Z) <- Parent(X, Y), Parent(Y, Z)`; body items are calls (atoms),
    comparisons and `~` tensor equations (Binary with op "~")."""

    span: Span
    head: Call
    body: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Query:
    """`Parent(alice, X)?`, optionally `where c1, c2`."""

    span: Span
    atom: Call
    constraints: tuple[Expr, ...] = ()


@dataclass(frozen=True, slots=True)
class InferItem:
    span: Span
    mode: str  # "forward" | "backward" | "gradient" | "symbolic"
    mode_span: Span
    query: Query


@dataclass(frozen=True, slots=True)
class Infer:
    """`infer forward Q?` (one item) or `infer { forward Q1? backward Q2? }`."""

    span: Span
    items: tuple[InferItem, ...]


@dataclass(frozen=True, slots=True)
class ErrorStmt:
    """Stands where a statement or item did not parse; `text` is the skipped source."""

    span: Span
    text: str


Stmt = (
    Let | Assign | TensorDecl | Return | If | For | With | While | Loop | Break | Continue
    | ExprStmt
    | BlockStmt | Rule | Query | Infer | ErrorStmt
)

# ---------------------------------------------------------------------------
# Top-level items


@dataclass(frozen=True, slots=True)
class Param:
    """A function parameter; `type` is None for `self`."""

    span: Span
    name: str
    name_span: Span
    type: TypeExpr | None


@dataclass(frozen=True, slots=True)
class FnDecl:
    span: Span
    name: str
    name_span: Span
    type_params: tuple[str, ...]
    params: tuple[Param, ...]
    ret: TypeExpr | None
    body: Block


@dataclass(frozen=True, slots=True)
class MainBlock:
    span: Span
    body: Block


@dataclass(frozen=True, slots=True)
class TestDecl:
    span: Span
    name: str
    name_span: Span
    body: Block


@dataclass(frozen=True, slots=True)
class BenchDecl:
    span: Span
    name: str
    name_span: Span
    body: Block


@dataclass(frozen=True, slots=True)
class Import:
    span: Span
    path: str
    path_span: Span


@dataclass(frozen=True, slots=True)
class StructField:
    span: Span
    name: str
    name_span: Span
    type: TypeExpr


@dataclass(frozen=True, slots=True)
class StructDecl:
    span: Span
    name: str
    name_span: Span
    type_params: tuple[str, ...]
    fields: tuple[StructField, ...]


@dataclass(frozen=True, slots=True)
class ImplDecl:
    """`impl<T> Name<T> { fn ... }` or `impl Drop for Name { ... }` (trait = "Drop")."""

    span: Span
    type_params: tuple[str, ...]
    trait: str | None
    target: NamedTypeExpr
    methods: tuple[FnDecl, ...]


@dataclass(frozen=True, slots=True)
class EntityDecl:
    """`entity Person` or `entity Person = {alice, bob}`."""

    span: Span
    name: str
    name_span: Span
    members: SetLiteral | None


@dataclass(frozen=True, slots=True)
class RelationDecl:
    """`relation Parent(x: entity, y: entity) embed float16[32]`."""

    span: Span
    name: str
    name_span: Span
    params: tuple[Param, ...]
    embed: TypeExpr | None


@dataclass(frozen=True, slots=True)
class ConfigField:
    """A `name: value` field of `embedding`, `relation_embedding` or `learn`; the value
    may be an expression, a SetLiteral, or a Name such as `auto`, `all`, `xavier`."""

    span: Span
    name: str
    name_span: Span
    value: Expr


@dataclass(frozen=True, slots=True)
class EmbeddingDecl:
    span: Span
    kind: str  # "embedding" | "relation_embedding"
    name: str
    name_span: Span
    fields: tuple[ConfigField, ...]


@dataclass(frozen=True, slots=True)
class LearnBlock:
    """`learn { ... }`: statements and the fields objective/optimizer/epochs/scheduler."""

    span: Span
    items: tuple[Stmt | ConfigField, ...]


Item = (
    FnDecl | MainBlock | TestDecl | BenchDecl | Import | StructDecl | ImplDecl | EntityDecl
    | RelationDecl | EmbeddingDecl | LearnBlock | Stmt
)


@dataclass(frozen=True, slots=True)
class Comment:
    span: Span
    text: str  # including the `//` or `/* */`


@dataclass(frozen=True, slots=True)
class Program:
    span: Span
    items: tuple[Item, ...]


# ---------------------------------------------------------------------------
# Generic traversal


def children(node: object) -> Iterator[object]:
    """The direct child nodes of `node`, in source order (spans are not nodes)."""
    for f in dataclasses.fields(node):  # type: ignore[arg-type]
        value = getattr(node, f.name)
        if isinstance(value, tuple):
            for v in value:
                if dataclasses.is_dataclass(v) and not isinstance(v, Span):
                    yield v
        elif dataclasses.is_dataclass(value) and not isinstance(value, Span):
            yield value


def walk(node: object) -> Iterator[object]:
    """`node` and all its descendants, pre-order."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(list(children(n))))


def node_at(root: object, offset: int) -> list[object]:
    """The chain of nodes whose span contains `offset`, outermost first."""
    chain: list[object] = []
    node = root
    while True:
        chain.append(node)
        nxt = None
        for c in children(node):
            span = getattr(c, "span", None)
            if span is not None and span.start <= offset <= span.end:
                nxt = c
                break
        if nxt is None:
            return chain
        node = nxt
