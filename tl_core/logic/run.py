"""Running logic statements: the syntax tree -> the knowledge base -> printed answers.

The interpreter hands every logic item here (`LogicRunner.run`): entity and relation
declarations, facts (a call statement naming a declared relation), rules, queries and
`infer`. Terms follow the original (UPSTREAM.md 17.5): in facts and queries a bare name is
a variable when it is one uppercase letter or names one of the relation's parameters
(ignoring case), else an entity constant; in rules every bare name is a variable. Strings
and numbers are constants everywhere. Query answers print in the original's form.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import mlx.core as mx

from tl_core.lang.learning import INITS
from tl_core.logic.engine import KnowledgeBase
from tl_core.logic.terms import Atom, Compare, Const, LogicError, Rule, Term, Var
from tl_core.runtime.env import Env
from tl_core.runtime.errors import TLRuntimeError
from tl_core.syntax import ast

if TYPE_CHECKING:
    from tl_core.runtime.context import RunContext


@dataclass(frozen=True)
class EntityTypeValue:
    """An entity type's name used as a value (`for p in Person`)."""

    name: str

    def __str__(self) -> str:
        return f"<Type: {self.name}>"


class LogicRunner:
    def __init__(self, interp: RunContext) -> None:
        self.interp = interp
        self.kb = KnowledgeBase()

    # -- dispatch ---------------------------------------------------------------------

    def run(self, item: Any, env: Env) -> None:
        try:
            if isinstance(item, ast.EntityDecl):
                members = None if item.members is None else [m.id for m in item.members.items]
                self.kb.declare_entity(item.name, members)
            elif isinstance(item, ast.RelationDecl):
                self.declare_relation(item)
            elif isinstance(item, ast.Rule):
                self.add_rule(item)
            elif isinstance(item, ast.Query):
                self.query(item, env)
            elif isinstance(item, ast.Infer):
                for it in item.items:
                    self.run(it.query, env)
            elif isinstance(item, ast.EmbeddingDecl):
                self.embedding(item, env)
            else:
                raise TLRuntimeError(f"not a logic statement: {type(item).__name__}", item.span)
        except LogicError as exc:
            raise TLRuntimeError(exc.message, self._where(item, exc)) from None

    def _where(self, item: Any, exc: LogicError) -> Any:
        """The span a LogicError points at: the argument, the body item, or the item."""
        if isinstance(item, ast.RelationDecl):
            return item.params[exc.arg].span if exc.arg is not None else item.name_span
        atom = item
        if isinstance(item, ast.Rule):
            atom = item.head if exc.item is None else item.body[exc.item]
        elif isinstance(item, ast.Query):
            atom = item.atom
        if isinstance(atom, ast.Call) and exc.arg is not None and exc.arg < len(atom.args):
            return atom.args[exc.arg].span
        return atom.span

    def is_relation(self, name: str) -> bool:
        return name in self.kb.relations

    def is_entity_type(self, name: str) -> bool:
        return name in self.kb.types

    def members(self, value: EntityTypeValue) -> list[str]:
        return self.kb.members(value.name)

    def fact_counts(self) -> tuple[tuple[str, int], ...]:
        """(relation, facts given and derived) for each relation, after solving; () when
        the program cannot be solved (its error was reported where it happened)."""
        try:
            return tuple((name, self.kb.fact_count(name)) for name in self.kb.relations)
        except LogicError:
            return ()

    # -- declarations, facts, rules ---------------------------------------------------

    def declare_relation(self, item: ast.RelationDecl) -> None:
        params = []
        for p in item.params:
            t = p.type.name if isinstance(p.type, ast.NamedTypeExpr) else "entity"
            params.append((p.name, t))
        embed = self.interp.source_of(item.embed) if item.embed is not None else None
        self.kb.declare_relation(item.name, params, embed)

    def fact(self, call: ast.Call, env: Env) -> None:
        """`R(a, b)` or `R(a, b, weight: 0.8)` as a statement."""
        weight = None
        args = []
        for a in call.args:
            if a.name == "weight":
                w = self.interp.eval(a.value, env)
                if isinstance(w, bool) or not isinstance(w, (int, float)):
                    try:
                        w = float(w.item())  # a one-element tensor
                    except (AttributeError, TypeError, ValueError):
                        raise TLRuntimeError(f"a fact's weight must be a number, found "
                                             f"{self.interp.format(w)}", a.value.span) from None
                weight = float(w)
            elif a.name is not None:
                raise TLRuntimeError(f"a fact takes only the keyword weight:, found {a.name}:",
                                     a.name_span or a.span)
            else:
                args.append(a)
        name = call.func.id  # type: ignore[attr-defined]
        atom = Atom(name, tuple(self.query_term(a.value, name) for a in args))
        try:
            self.kb.add_fact(atom, weight)
        except LogicError as exc:
            span = args[exc.arg].span if exc.arg is not None and exc.arg < len(args) \
                else call.span
            raise TLRuntimeError(exc.message, span) from None

    def add_rule(self, item: ast.Rule) -> None:
        head = self.atom(item.head, self.rule_term)
        body: list[Atom | Compare] = []
        kept: list[int] = []
        for j, b in enumerate(item.body):
            conv = self.body_item(b)
            if conv is None:
                self.interp.warn_once(
                    f"rule-skip:{b.span.start}",
                    f"`{self.interp.source_of(b)}` is ignored in a rule body (as in the "
                    f"original): only relation atoms and == / != between terms take part",
                    b.span)
                continue
            body.append(conv)
            kept.append(j)
        if not any(isinstance(b, Atom) for b in body):
            raise TLRuntimeError("a rule body needs at least one relation atom", item.span)
        try:
            self.kb.add_rule(Rule(head, tuple(body)))
        except LogicError as exc:
            raise LogicError(exc.message, exc.arg,
                             None if exc.item is None else kept[exc.item]) from None

    def body_item(self, e: Any) -> Atom | Compare | None:
        if isinstance(e, ast.Call) and isinstance(e.func, ast.Name):
            return self.atom(e, self.rule_term)
        if isinstance(e, ast.Binary) and e.op in ("==", "!="):
            left, right = self.plain_term(e.left), self.plain_term(e.right)
            if left is not None and right is not None:
                return Compare(e.op, left, right)
        return None

    # -- embeddings -------------------------------------------------------------------

    def embedding(self, item: ast.EmbeddingDecl, env: Env) -> None:
        """`embedding E { entities: {a, b} | auto | T, dimension: D, init: xavier }` (or
        `relation_embedding E { relations: {r1, r2} | all, ... }`): binds E to a float16
        table [max(1, N), D], one row per entity (relation) in the order listed (`auto`,
        `all`: the order they became known), as the original."""
        key = "entities" if item.kind == "embedding" else "relations"
        fields = {f.name: f for f in item.fields}
        for f in item.fields:
            if f.name not in (key, "dimension", "init"):
                raise TLRuntimeError(f"unknown {item.kind} field '{f.name}'; the fields are "
                                     f"{key}, dimension, init", f.name_span)
        if key not in fields or "dimension" not in fields:
            raise TLRuntimeError(f"{item.kind} {item.name} needs `{key}:` and `dimension:`",
                                 item.span)
        rows = self.embedding_rows(fields[key], key)
        dim = self.interp.eval(fields["dimension"].value, env)
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
            raise TLRuntimeError(f"dimension must be a whole number >= 1, found "
                                 f"{self.interp.format(dim)}", fields["dimension"].value.span)
        init = "random"
        if "init" in fields:
            v = fields["init"].value
            init = v.id if isinstance(v, ast.Name) else ""
            if init not in INITS:
                raise TLRuntimeError(f"init must be one of {', '.join(INITS)}",
                                     fields["init"].value.span)
        n = max(1, len(rows))
        shape = (n, dim)
        if init == "zeros":
            table = mx.zeros(shape)
        elif init == "ones":
            table = mx.ones(shape)
        elif init == "xavier":
            bound = (6.0 / (n + dim)) ** 0.5
            table = mx.random.uniform(-bound, bound, shape)
        elif init == "he":
            table = mx.random.normal(shape) * (2.0 / n) ** 0.5
        else:
            table = mx.random.uniform(-0.1, 0.1, shape)
        table = table.astype(mx.float16)
        mx.eval(table)
        env.vars[item.name] = table
        what = "entities" if item.kind == "embedding" else "relations"
        self.interp.write(f"Initialized {item.kind} '{item.name}': {len(rows)} {what} × "
                          f"{dim} dimensions\n")

    def embedding_rows(self, f: ast.ConfigField, key: str) -> list[str]:
        v = f.value
        if isinstance(v, ast.SetLiteral):
            return list(dict.fromkeys(m.id for m in v.items))
        if isinstance(v, ast.Name):
            if key == "entities" and v.id == "auto":
                return list(self.kb.universe.names)
            if key == "relations" and v.id == "all":
                return list(self.kb.relations)
            if key == "entities" and v.id in self.kb.types:
                return self.kb.members(v.id)
        shown = "{a, b}, auto or an entity type" if key == "entities" else "{r1, r2} or all"
        raise TLRuntimeError(f"{key} must be {shown}", v.span)

    # -- terms ------------------------------------------------------------------------

    def atom(self, call: Any, convert: Any) -> Atom:
        if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name):
            raise TLRuntimeError("expected a relation atom such as Parent(X, Y)", call.span)
        for a in call.args:
            if a.name is not None:
                raise TLRuntimeError(f"a relation atom takes no keyword arguments, found "
                                     f"{a.name}:", a.name_span or a.span)
        name = call.func.id
        return Atom(name, tuple(convert(a.value, name) for a in call.args))

    def plain_term(self, e: Any) -> Term | None:
        if isinstance(e, ast.Name):
            return Var(e.id)
        if isinstance(e, ast.String):
            return Const(e.value)
        if isinstance(e, ast.Number):
            return Const(e.text)
        return None

    def rule_term(self, e: Any, relation: str) -> Term:
        t = self.plain_term(e)
        if t is None:
            raise TLRuntimeError("a rule's arguments are variables, strings or numbers",
                                 e.span)
        return t

    def query_term(self, e: Any, relation: str) -> Term:
        if isinstance(e, ast.Name):
            if _is_variable(e.id, self.kb.relations.get(relation)):
                return Var(e.id)
            return Const(e.id)
        t = self.plain_term(e)
        if t is None:
            raise TLRuntimeError("an argument here is an entity name, a variable, a string "
                                 "or a number", e.span)
        return t

    # -- queries ----------------------------------------------------------------------

    def query(self, q: ast.Query, env: Env) -> None:
        name = q.atom.func.id if isinstance(q.atom.func, ast.Name) else ""
        atom = self.atom(q.atom, lambda e, _r: self.query_term(e, name))
        sol = self.kb.query(atom)
        rows = list(zip(sol.rows, sol.scores or [None] * len(sol.rows), strict=True))
        if q.constraints:
            scope = self.constraint_scope(env)
            rows = [r for r in rows if self.admits(q, sol.variables, r[0], scope)]
        lines = [f"Query: {self.interp.source_of(q.atom)}"]
        if not rows:
            lines.append("  No solutions found")
        else:
            lines.append(f"  Found {len(rows)} solution(s)")
            for i, (values, score) in enumerate(rows, 1):
                lines.append(f"  Solution {i}:" + ("" if sol.variables else " Yes"))
                lines.extend(f"    {v} = {x}" for v, x in zip(sol.variables, values,
                                                               strict=True))
                if score is not None:
                    lines.append(f"    score = {score:.4f}")
        self.interp.write("\n".join(lines) + "\n")

    def constraint_scope(self, env: Env) -> Env:
        """`env` plus every entity name not otherwise bound, standing for itself."""
        scope = Env(env)
        for n in self.kb.universe.names:
            if not env.lookup(n)[0]:
                scope.vars[n] = n
        return scope

    def admits(self, q: ast.Query, variables: tuple[str, ...], values: tuple[str, ...],
               scope: Env) -> bool:
        """Whether a solution passes the query's `where` constraints (the original printed
        them and ignored them; we apply them), its variables bound to entity names."""
        inner = Env(scope)
        inner.vars.update(zip(variables, values, strict=True))
        return all(self.interp.holds(c, inner) for c in q.constraints)


def _is_variable(name: str, rel: Any) -> bool:
    if len(name) == 1 and name.isupper():
        return True
    if rel is not None and rel.params is not None:
        return any(p.name.lower() == name.lower() for p in rel.params)
    return False
