"""The trees the parser builds for every construct of the dialect."""

from __future__ import annotations

import pytest

from tl_core.syntax import ast as A
from tl_core.syntax import parse


def sx(n) -> str:  # noqa: ANN001, C901 - a compact printer for expected trees
    if isinstance(n, A.Name):
        return n.id
    if isinstance(n, A.Number):
        return n.text
    if isinstance(n, A.String):
        return repr(n.value)
    if isinstance(n, A.Bool):
        return str(n.value).lower()
    if isinstance(n, A.Binary):
        return f"({n.op} {sx(n.left)} {sx(n.right)})"
    if isinstance(n, A.Unary):
        return f"({n.op}u {sx(n.operand)})"
    if isinstance(n, A.Cast):
        return f"(as {sx(n.expr)} {n.type.dtype if isinstance(n.type, A.TensorTypeExpr) else n.type.name})"
    if isinstance(n, A.Call):
        return f"{sx(n.func)}({', '.join(sx(a) for a in n.args)})"
    if isinstance(n, A.Arg):
        return (f"{n.name}: " if n.name else "") + sx(n.value)
    if isinstance(n, A.Field):
        return f"{sx(n.obj)}.{n.name}"
    if isinstance(n, A.Path):
        return f"{n.base}::{n.member}"
    if isinstance(n, A.Index):
        return f"{sx(n.obj)}[{', '.join(sx(i) for i in n.items)}]"
    if isinstance(n, A.Slice):
        parts = [sx(n.start) if n.start else "", sx(n.stop) if n.stop else ""]
        if n.step:
            parts.append(sx(n.step))
        return ":".join(parts)
    if isinstance(n, A.ArrayLiteral):
        return "[" + ", ".join(sx(i) for i in n.items) + "]"
    if isinstance(n, A.TupleExpr):
        return "(" + ", ".join(sx(i) for i in n.items) + ",)"
    if isinstance(n, A.TensorCtor):
        return f"tensor<{n.dtype}>(" + ", ".join(sx(a) for a in n.args) + ")"
    if isinstance(n, A.StructLit):
        return n.name + "{" + ", ".join(f"{f.name}: {sx(f.value)}" for f in n.fields) + "}"
    if isinstance(n, A.ErrorExpr):
        return "<error>"
    return type(n).__name__


def expr(text: str):  # noqa: ANN201
    result = parse(f"let v = {text}\n")
    assert result.errors == ()
    return result.program.items[0].value


@pytest.mark.parametrize("text,tree", [
    ("a || b && c", "(|| a (&& b c))"),
    ("a == b < c", "(== a (< b c))"),
    ("a + b as float32 < c", "(< (as (+ a b) float32) c)"),
    ("a - b - c", "(- (- a b) c)"),
    ("a + b * c", "(+ a (* b c))"),
    ("a * b @ c ⊙ d % e / f", "(/ (% (⊙ (@ (* a b) c) d) e) f)"),
    ("a ** b ** c", "(** (** a b) c)"),
    ("a ⊗ b * c", "(* (⊗ a b) c)"),
    ("-a ** 2", "(** (-u a) 2)"),
    ("!a && b", "(&& (!u a) b)"),
    ("- -a", "(-u (-u a))"),
    ("f(a, k: v, j = 2)", "f(a, k: v, j: 2)"),
    ('model_from("layer.0.weight": w)', "model_from(layer.0.weight: w)"),
    ("m.get_tensor(\"w\").shape", "m.get_tensor('w').shape"),
    ("x[i, :, 1:3, -1, ::2, a:b:c]", "x[i, :, 1:3, (-u 1), ::2, a:b:c]"),
    ("x[:, 0]", "x[:, 0]"),
    ("f32::ones([2, 3])", "f32::ones([2, 3])"),
    ("(a, b)", "(a, b,)"),
    ("(a)", "a"),
    ("[[1.0, 2.0], [3.0, 4.0]]", "[[1.0, 2.0], [3.0, 4.0]]"),
    ("[]", "[]"),
    ("tensor<int>([1, 2], device: gpu)", "tensor<int>([1, 2], device: gpu)"),
    ("Point { x: 1.0, y: 2.0 }", "Point{x: 1.0, y: 2.0}"),
    ("x.T @ y", "(@ x.T y)"),
    ("1e-5 + 2.5E+3", "(+ 1e-5 2.5E+3)"),
])
def test_expression_trees(text: str, tree: str) -> None:
    assert sx(expr(text)) == tree


def test_numbers_and_strings() -> None:
    assert expr("3").value == 3 and not expr("3").is_float
    assert expr("3.5").value == 3.5 and expr("3.5").is_float
    assert expr("1e-5").is_float
    assert expr('"a\\tb\\"c\\\\"').value == 'a\tb"c\\'


def test_match_patterns() -> None:
    m = expr("match x { 0 => a, -1 | 2 => b, (p, _) if p > 1 => { c }, P { x: 0, y } => d, "
             "\"s\" => e, true => f, z => g }")
    assert isinstance(m, A.Match)
    pats = [arm.pattern for arm in m.arms]
    assert isinstance(pats[0], A.PatLiteral) and pats[0].value.value == 0
    assert isinstance(pats[1], A.PatOr) and pats[1].alternatives[0].value.value == -1
    assert isinstance(pats[2], A.PatTuple) and isinstance(pats[2].items[1], A.PatWildcard)
    assert m.arms[2].guard is not None and isinstance(m.arms[2].body, A.BlockExpr)
    assert isinstance(pats[3], A.PatStruct) and [f.name for f in pats[3].fields] == ["x", "y"]
    assert pats[3].fields[1].pattern is None
    assert isinstance(pats[4].value, A.String) and isinstance(pats[5].value, A.Bool)
    assert isinstance(pats[6], A.PatBind) and pats[6].name == "z"


def test_statements() -> None:
    text = """let x: float16[2] = ones([2])
x = x + 1.0
y := 2
tensor w: float16[3, 2] learnable = randn([3, 2])
tensor z: float16[?, N] frozen
if a { } else if b { } else { }
for i in range(3) { continue }
while c { break }
loop { }
{ let inner = 1 }
print(x); print(y)
"""
    result = parse(text)
    assert result.errors == ()
    kinds = [type(i).__name__ for i in result.program.items]
    assert kinds == ["Let", "Assign", "Assign", "TensorDecl", "TensorDecl", "If", "For", "While",
                     "Loop", "BlockStmt", "ExprStmt", "ExprStmt"]
    items = result.program.items
    assert items[2].op == ":="
    assert items[3].type.qualifier == "learnable" and items[4].type.qualifier == "frozen"
    assert [(d.kind, d.value) for d in items[4].type.dims] == [("unknown", None), ("var", "N")]
    assert items[4].value is None
    assert isinstance(items[5].orelse, A.If) and isinstance(items[5].orelse.orelse, A.Block)


def test_declarations() -> None:
    text = """import "lib.tl"
fn f<T>(self, x: float16[N], y: Vec<T>,) -> void { return }
main { f() }
test t1 { }
bench b1 { }
struct S<T> { a: float16[3], b: T
  c: int }
impl<T> S<T> { fn m(self) { } }
impl Drop for S { fn drop(self) { } }
entity Person
entity City = {paris, seoul}
relation R(x: entity, y: entity) embed float16[32]
embedding e1 { entities: {a, b}, dimension: 64, init: xavier }
relation_embedding e2 { relations: all, dimension: 8 }
learn { objective: loss, optimizer: sgd(lr: 0.1)
  epochs: 3
  let q = 1 }
"""
    result = parse(text)
    assert result.errors == ()
    it = result.program.items
    assert [type(i).__name__ for i in it] == [
        "Import", "FnDecl", "MainBlock", "TestDecl", "BenchDecl", "StructDecl", "ImplDecl",
        "ImplDecl", "EntityDecl", "EntityDecl", "RelationDecl", "EmbeddingDecl", "EmbeddingDecl",
        "LearnBlock"]
    assert it[0].path == "lib.tl"
    fn = it[1]
    assert fn.type_params == ("T",) and fn.params[0].type is None
    assert isinstance(fn.params[2].type, A.NamedTypeExpr) and fn.params[2].type.args[0].name == "T"
    assert fn.ret.name == "void"
    assert [f.name for f in it[5].fields] == ["a", "b", "c"] and it[5].type_params == ("T",)
    assert it[6].target.name == "S" and it[6].trait is None and it[6].methods[0].name == "m"
    assert it[7].trait == "Drop" and it[7].target.name == "S"
    assert it[8].members is None and [n.id for n in it[9].members.items] == ["paris", "seoul"]
    assert isinstance(it[10].embed, A.TensorTypeExpr) and len(it[10].params) == 2
    assert it[11].kind == "embedding" and isinstance(it[11].fields[0].value, A.SetLiteral)
    assert it[12].kind == "relation_embedding" and it[12].fields[0].value.id == "all"
    kinds = [type(x).__name__ for x in it[13].items]
    assert kinds == ["ConfigField", "ConfigField", "ConfigField", "Let"]


def test_logic() -> None:
    text = """Parent(alice, bob)
G(X, Z) <- P(X, Y), P(Y, Z), s(X) > 0.5, e[X] ~ e[Z]
P(alice, X)?
G(alice, Z)? where Z != bob, Z != carol
infer forward P(a, X)?
infer { forward Q(x)? backward R(y)? where y > 1 gradient S(z)? symbolic T(w)? }
"""
    result = parse(text)
    assert result.errors == ()
    fact, rule, q1, q2, inf1, inf2 = result.program.items
    assert isinstance(fact, A.ExprStmt) and isinstance(fact.expr, A.Call)
    assert isinstance(rule, A.Rule) and rule.head.func.id == "G" and len(rule.body) == 4
    assert rule.body[3].op == "~"
    assert isinstance(q1, A.Query) and q1.constraints == ()
    assert len(q2.constraints) == 2
    assert [i.mode for i in inf1.items] == ["forward"]
    assert [i.mode for i in inf2.items] == ["forward", "backward", "gradient", "symbolic"]
    assert len(inf2.items[1].query.constraints) == 1


def test_layout_rules() -> None:
    text = "let e = a\n(d)\n[1]\n{ f }\nlet g = h(\n  1)\nlet i = j\n  .k\n"
    result = parse(text)
    assert result.errors == ()
    kinds = [type(i).__name__ for i in result.program.items]
    assert kinds == ["Let", "ExprStmt", "ExprStmt", "BlockStmt", "Let", "Let"]
    assert sx(result.program.items[5].value) == "j.k"


def test_struct_literal_not_allowed_as_condition() -> None:
    result = parse("if x { y }\nwhile p { }\nfor i in xs { }\n")
    assert result.errors == ()
    assert isinstance(result.program.items[0].cond, A.Name)
    ok = parse("if (P { x: 1 }).x == 1 { }\n")
    assert ok.errors == ()


def test_soft_keywords_are_names_elsewhere() -> None:
    result = parse("fn forward(x: int) -> int { return x }\nlet test = forward(1)\n"
                   "embedding(t, ids)\nlet where = 1\n")
    assert result.errors == ()
    assert result.program.items[0].name == "forward"
    assert isinstance(result.program.items[2], A.ExprStmt)


def test_spans_use_code_points_on_unicode_lines() -> None:
    text = 'let s = "한국어 🚀" // 주석\nlet t = s\n'
    result = parse(text)
    let_t = result.program.items[1]
    assert (let_t.span.line, let_t.span.col) == (1, 0)
    s = result.program.items[0].value.span
    assert text[s.start:s.end] == '"한국어 🚀"' and (s.col, s.end_col) == (8, 15)


def test_byte_order_mark_is_whitespace() -> None:
    result = parse("\ufefflet x = 1\n")
    assert result.errors == ()
    assert result.program.items[0].span.col == 1


def test_double_colon_before_a_number_is_two_slice_colons() -> None:
    # a bug fixed: `x[a::2]` read `a::` as a path and failed ("expected a name, found '2'")
    from tl_core.syntax import parse

    def slice_of(text: str):  # noqa: ANN202
        result = parse(text)
        assert result.errors == ()
        (item,) = result.program.items
        (sl,) = item.value.items
        return (type(sl).__name__, sl.start.id, sl.stop, sl.step.value)

    assert slice_of("let y = x[a::2]\n") == slice_of("let y = x[a: :2]\n") == (
        "Slice", "a", None, 2)
    assert parse("let y = x[a::-1]\n").errors == ()
    path = parse("let y = E::b\n").program.items[0].value
    assert type(path).__name__ == "Path"
