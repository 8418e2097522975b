"""Checking logic statements: facts, rules and queries against the relations' signatures.

Pass 1 of the checker collects the signatures (`collect`): declared relations with their
parameter types, relations a rule head defines (arity from the first such rule, in text
order), and entity types with their members when fixed. `LogicCheck` then reports, at the
argument: arity errors, constants outside a fixed entity type, variables in facts, rule
variables used as two different entity types, head variables no body atom binds; unknown
relations in queries (errors) and rule bodies (warnings: such a relation is empty). Names
follow the runtime (tl_core.logic.run): in facts and queries a bare name is a variable when
it is one uppercase letter or one of the relation's parameter names, else an entity; in
rules every bare name is a variable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tl_core.diagnostics import Severity
from tl_core.lang.shapes import did_you_mean
from tl_core.logic.terms import signature_text
from tl_core.syntax import ast as A

if TYPE_CHECKING:
    from tl_core.check.context import CheckContext
    from tl_core.check.names import Scope

GENERIC = ("entity", "concept")


@dataclass(frozen=True)
class RelSig:
    name: str
    params: tuple[tuple[str, str], ...]  # (name, type); a rule-defined relation: its head's
    declared: bool
    embed: str | None = None

    @property
    def arity(self) -> int:
        return len(self.params)

    def text(self) -> str:
        return signature_text(self.name, self.params if self.declared else
                              tuple((n, "") for n, _ in self.params), self.embed)


@dataclass(frozen=True)
class LogicEnv:
    relations: dict[str, RelSig]
    types: dict[str, tuple[str, ...] | None]  # None: data-driven

    def key(self) -> tuple:
        """Hashable, for the per-item cache: items are re-checked when this changes."""
        return (tuple(sorted((r.name, r.params, r.declared) for r in self.relations.values())),
                tuple(sorted(self.types.items(), key=lambda kv: kv[0])))


def collect(items: tuple[Any, ...], text: str) -> LogicEnv:
    relations: dict[str, RelSig] = {}
    types: dict[str, tuple[str, ...] | None] = {}
    for it in items:
        if isinstance(it, A.EntityDecl):
            types[it.name] = None if it.members is None else tuple(m.id for m in it.members.items)
        elif isinstance(it, A.RelationDecl):
            params = tuple((p.name, p.type.name if isinstance(p.type, A.NamedTypeExpr)
                            else "entity") for p in it.params)
            embed = text[it.embed.span.start:it.embed.span.end] if it.embed else None
            relations[it.name] = RelSig(it.name, params, True, embed)
    for it in items:
        if isinstance(it, A.Rule) and isinstance(it.head.func, A.Name):
            name = it.head.func.id
            if name not in relations:
                params = tuple((text[a.span.start:a.span.end], "entity") for a in it.head.args)
                relations[name] = RelSig(name, params, False)
    return LogicEnv(relations, types)


class LogicCheck:
    def __init__(self, checker: CheckContext, env: LogicEnv) -> None:
        self.c = checker
        self.env = env

    # -- statements -------------------------------------------------------------------

    def relation_decl(self, it: A.RelationDecl) -> None:
        for p in it.params:
            t = p.type
            if isinstance(t, A.NamedTypeExpr) and t.name not in GENERIC and \
                    t.name not in self.env.types:
                self.c.error(t.span, f"unknown entity type '{t.name}' for parameter {p.name} "
                                     f"of {it.name}; declare it with `entity {t.name}` or use "
                                     f"entity", "logic")

    def fact(self, call: A.Call, scope: Scope) -> None:
        name = call.func.id  # type: ignore[attr-defined]
        sig = self.env.relations[name]
        self.use_relation(call, scope)
        args = []
        for a in call.args:
            if a.name == "weight":
                self.c.infer(a.value, scope)
            elif a.name is not None:
                self.c.error(a.name_span or a.span, f"a fact takes only the keyword weight:, "
                                                    f"found {a.name}:", "logic")
            else:
                args.append(a)
        if not self.arity(call, args, sig, "fact"):
            return
        for i, a in enumerate(args):
            v = a.value
            if isinstance(v, A.Name) and self.is_query_var(v.id, sig):
                self.c.error(a.span, f"a fact cannot hold the variable {v.id}; facts are "
                                     f"ground (write a rule `{self.c.src(call.span)} <- ...` "
                                     f"instead)", "logic")
            else:
                self.constant(a, i, sig, scope)

    def statement(self, st: Any, scope: Scope) -> None:
        if isinstance(st, A.Rule):
            self.rule(st, scope)
        elif isinstance(st, A.Query):
            self.query(st, scope)
        elif isinstance(st, A.Infer):
            for it in st.items:
                self.query(it.query, scope)

    def query(self, q: A.Query, scope: Scope) -> None:
        call = q.atom
        if not isinstance(call.func, A.Name):
            self.c.error(call.span, "a query is a relation atom such as Parent(alice, X)?",
                         "logic")
            return
        sig = self.env.relations.get(call.func.id)
        if sig is None:
            known = ", ".join(sorted(self.env.relations)) or "none declared"
            self.c.error(call.func.span, f"unknown relation '{call.func.id}' in this query "
                                         f"(relations: {known})", "logic")
            return
        self.use_relation(call, scope)
        if not self.arity(call, list(call.args), sig, "query"):
            return
        for i, a in enumerate(call.args):
            if not (isinstance(a.value, A.Name) and self.is_query_var(a.value.id, sig)):
                self.constant(a, i, sig, scope)

    def rule(self, r: A.Rule, scope: Scope) -> None:
        types: dict[str, tuple[str, str, A.Arg]] = {}  # variable -> (type, param, first arg)
        bound: set[str] = set()
        for item in r.body:
            if isinstance(item, A.Call) and isinstance(item.func, A.Name):
                sig = self.env.relations.get(item.func.id)
                if sig is None:
                    hint = did_you_mean(item.func.id, list(self.env.relations), 0.7)
                    self.c.error(item.func.span, f"relation '{item.func.id}' is not declared "
                                                 f"and no rule defines it: it holds no facts, "
                                                 f"so this rule never fires"
                                                 + (f"; {hint}" if hint else ""), "logic",
                                 Severity.WARNING)
                    bound.update(a.value.id for a in item.args if isinstance(a.value, A.Name))
                    continue
                self.use_relation(item, scope)
                if self.arity(item, list(item.args), sig, "rule body atom"):
                    self.rule_args(item, sig, types, bound, scope)
            elif not (isinstance(item, A.Binary) and item.op in ("==", "!=")):
                self.c.error(item.span, f"`{self.c.src(item.span)}` is ignored in a rule body "
                                        f"(as in the original): only relation atoms and == / "
                                        f"!= between terms take part", "logic",
                             Severity.WARNING)
        head = r.head
        if not isinstance(head.func, A.Name):
            return
        sig = self.env.relations[head.func.id]
        self.use_relation(head, scope)
        if not self.arity(head, list(head.args), sig, "rule head"):
            return
        for a in head.args:
            if isinstance(a.value, A.Name) and a.value.id not in bound:
                self.c.error(a.span, f"head variable {a.value.id} appears in no relation of "
                                     f"the body; every head variable must be bound by a body "
                                     f"atom", "logic")
        self.rule_args(head, sig, types, set(), scope)

    # -- pieces -----------------------------------------------------------------------

    def rule_args(self, call: A.Call, sig: RelSig, types: dict[str, tuple[str, str, A.Arg]],
                  bound: set[str], scope: Scope) -> None:
        for i, a in enumerate(call.args):
            v = a.value
            if not isinstance(v, A.Name):
                self.constant(a, i, sig, scope)
                continue
            bound.add(v.id)
            if not sig.declared:
                continue
            pname, ptype = sig.params[i]
            if ptype in GENERIC:
                continue
            first = types.get(v.id)
            if first is None:
                types[v.id] = (ptype, f"parameter {pname} of {sig.name}", a)
            elif first[0] != ptype:
                self.c.error(a.span, f"{v.id} is a {ptype} here (parameter {pname} of "
                                     f"{sig.name}) but a {first[0]} where it is first used "
                                     f"({first[1]})", "logic")

    def arity(self, call: A.Call, args: list[A.Arg], sig: RelSig, what: str) -> bool:
        if len(args) == sig.arity:
            return True
        n = sig.arity
        where = args[n].span if len(args) > n else call.span
        self.c.error(where, f"{sig.text()} takes {n} argument{'s' if n != 1 else ''}, this "
                            f"{what} gives {len(args)}", "logic")
        return False

    def constant(self, a: A.Arg, i: int, sig: RelSig, scope: Scope) -> None:
        v = a.value
        if isinstance(v, A.Name):
            name = v.id
            b = self.c.resolve(scope, name)
            if b is not None and b.kind == "entity":
                self.c.use(b, v.span)
        elif isinstance(v, A.String):
            name = v.value
        elif isinstance(v, A.Number):
            name = v.text
        else:
            self.c.error(a.span, "an argument here is an entity name, a variable, a string or "
                                 "a number", "logic")
            return
        if not sig.declared:
            return
        pname, ptype = sig.params[i]
        members = self.env.types.get(ptype)
        if ptype not in GENERIC and members is not None and name not in members:
            self.c.error(a.span, f"'{name}' is not a {ptype} (parameter {pname} of "
                                 f"{sig.name}); {ptype}'s members are "
                                 f"{', '.join(members) or 'none'}", "logic")

    def use_relation(self, call: A.Call, scope: Scope) -> None:
        b = self.c.resolve(scope, call.func.id)  # type: ignore[attr-defined]
        if b is not None and b.kind == "relation" and b.span != call.func.span:
            self.c.use(b, call.func.span)  # (a rule-defined relation's first head declares)

    @staticmethod
    def is_query_var(name: str, sig: RelSig) -> bool:
        if len(name) == 1 and name.isupper():
            return True
        return sig.declared and any(p.lower() == name.lower() for p, _ in sig.params)
