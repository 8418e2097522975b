"""The knowledge base: entity types, relations as dense tensors, rules as einsums.

- Every relation is a dense float32 tensor over the universe of entities (one axis per
  argument, `len(universe)` long). A Boolean relation holds 0/1; a weighted one (declared
  with `embed`, given a fact with a `weight`, or derived from a weighted relation) holds
  scores in [0, 1]. Facts are kept in index form (tuple of entity indices -> weight) and
  scattered into a tensor when the program is solved, so adding a fact is cheap and the
  tensors grow with the universe.
- A rule `H(X, Z) <- A(X, Y), B(Y, Z)` is one einsum: each distinct variable is a letter,
  each body atom an operand (constants select a slice, a repeated variable a diagonal),
  `X != Y` an operand `1 - I`, `X == c` a one-hot vector; the output letters are the head's
  variables: `einsum("xy,yz->xz", A, B)` counts the derivations of each head tuple. A
  Boolean head keeps `count > 0` (a step); a weighted head keeps
  `sigmoid((count - 1/2) / temperature)` where `count > 0` (a soft step; 0 elsewhere).
- Rules are evaluated stratum by stratum: the strongly connected components of the
  "head depends on body" graph, dependencies first. A recursive Boolean stratum runs
  semi-naively: after the first round only the facts new in the previous round (the delta)
  are joined, once per recursive body atom, until no new fact appears. A weighted stratum
  iterates naively (every rule on the whole relations, keeping the larger score) until the
  scores change by less than 1e-6.

MLX is imported on first use (importing tl_core must not import it).
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tl_core.logic.domain import EntityType, Universe
from tl_core.logic.terms import Atom, Compare, Const, LogicError, Rule, Var, signature_text

GENERIC_TYPES = ("entity", "concept")
DEFAULT_TEMPERATURE = 0.1
MAX_CELLS = 1 << 28  # a dense relation larger than this (1 GiB of float32) is refused
SOFT_TOLERANCE = 1e-6
SOFT_MAX_ROUNDS = 1000
_LETTERS = string.ascii_lowercase + string.ascii_uppercase


@dataclass(frozen=True)
class Param:
    name: str
    type: str  # "entity" / "concept" (any entity) or an entity type's name


@dataclass
class Relation:
    name: str
    arity: int
    params: tuple[Param, ...] | None = None  # None: not declared (known from its first use)
    embed: str | None = None  # the `embed` type as written, e.g. "float16[32]"
    weighted: bool = False  # declared with embed, or given a weighted fact

    def signature(self) -> str:
        params = (tuple((f"_{i + 1}", "") for i in range(self.arity)) if self.params is None
                  else tuple((p.name, p.type) for p in self.params))
        return signature_text(self.name, params, self.embed)


@dataclass(frozen=True)
class Solutions:
    """A query's answers: `rows` are the values of `variables` (in order of first
    appearance), sorted by entity order; `scores` are set for a weighted relation."""

    variables: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    scores: tuple[float, ...] | None = None


@dataclass
class KnowledgeBase:
    temperature: float = DEFAULT_TEMPERATURE
    universe: Universe = field(default_factory=Universe)
    types: dict[str, EntityType] = field(default_factory=dict)
    relations: dict[str, Relation] = field(default_factory=dict)
    facts: dict[str, dict[tuple[int, ...], float]] = field(default_factory=dict)
    rules: list[Rule] = field(default_factory=list)
    _solved: dict[str, Any] | None = None  # relation name -> tensor, until the next change
    _weighted: dict[str, bool] = field(default_factory=dict)  # of the last solve
    rounds: int = 0  # fixpoint rounds of the last solve (all strata together)

    # -- declarations -----------------------------------------------------------------

    def declare_entity(self, name: str, members: Sequence[str] | None = None) -> EntityType:
        """`entity T` (members None: data-driven) or `entity T = {a, b}`. Declaring a type
        again (a program run twice in one session) replaces a fixed type's members and
        keeps the members a data-driven one has collected."""
        old = self.types.get(name)
        if old is not None and members is None and not old.fixed:
            return old
        t = EntityType(name, members is not None)
        for m in members or ():
            t.members[m] = self.universe.add(m)
        self.types[name] = t
        self._changed()
        return t

    def declare_relation(self, name: str, params: Sequence[tuple[str, str]],
                         embed: str | None = None) -> Relation:
        ps = tuple(Param(n, t) for n, t in params)
        for i, p in enumerate(ps):
            if p.type not in GENERIC_TYPES and p.type not in self.types:
                raise LogicError(f"unknown entity type '{p.type}' for parameter {p.name} of "
                                 f"{name}; declare it with `entity {p.type}` or use entity",
                                 arg=i)
        old = self.relations.get(name)
        if old is not None and self.facts.get(name) and old.arity != len(ps):
            raise LogicError(f"relation {name} already has facts with {old.arity} "
                             f"argument{'s' if old.arity != 1 else ''}; it cannot be "
                             f"redeclared with {len(ps)}")
        rel = Relation(name, len(ps), ps, embed, embed is not None or (
            old is not None and old.weighted and old.params is None))
        self.relations[name] = rel
        self.facts.setdefault(name, {})
        self._changed()
        return rel

    def _use(self, atom: Atom, what: str, define: bool) -> Relation:
        """The relation of `atom`, checking its arity; `define`: an unknown relation is
        created (a rule head, a rule body atom); else it is an error (a query, a fact)."""
        rel = self.relations.get(atom.relation)
        if rel is None:
            if not define:
                known = ", ".join(sorted(self.relations)) or "none yet"
                raise LogicError(f"unknown relation '{atom.relation}' in this {what} "
                                 f"(relations: {known})")
            rel = self.relations[atom.relation] = Relation(atom.relation, len(atom.args))
            self.facts.setdefault(atom.relation, {})
        elif rel.arity != len(atom.args):
            n = len(atom.args)
            raise LogicError(f"{rel.signature()} takes {rel.arity} argument"
                             f"{'s' if rel.arity != 1 else ''}, this {what} gives {n}",
                             arg=min(rel.arity, n) if n > rel.arity else None)
        return rel

    # -- facts and rules --------------------------------------------------------------

    def add_fact(self, atom: Atom, weight: float | None = None) -> None:
        rel = self._use(atom, "fact", define=False)
        for i, a in enumerate(atom.args):
            if isinstance(a, Var):
                raise LogicError(f"a fact cannot hold the variable {a.name}; facts are "
                                 f"ground (write a rule `{atom} <- ...` instead)", arg=i)
        if weight is not None and not 0.0 <= weight <= 1.0:
            raise LogicError(f"a fact's weight must be in [0, 1], found {weight:g}")
        names = [a.name for a in atom.args]
        if rel.params is not None:
            for i, (p, n) in enumerate(zip(rel.params, names, strict=True)):
                t = self.types.get(p.type)
                if t is not None and t.fixed and n not in t:
                    shown = ", ".join(t.members) or "none"
                    raise LogicError(f"'{n}' is not a {t.name} (parameter {p.name} of "
                                     f"{rel.name}); {t.name}'s members are {shown}", arg=i)
        ids = tuple(self.universe.add(n) for n in names)
        if rel.params is not None:
            for p, n, i in zip(rel.params, names, ids, strict=True):
                self._collect(p.type, n, i)
        if weight is not None:
            rel.weighted = True
        self.facts[rel.name][ids] = 1.0 if weight is None else float(weight)
        self._changed()

    def _collect(self, ptype: str, name: str, index: int) -> None:
        """A constant in a fact joins the data-driven entity types: the parameter's own
        type, or (an `entity` parameter, as in the original) every data-driven type unless
        the constant is a member of a declared fixed type."""
        if ptype in GENERIC_TYPES:
            if any(t.fixed and name in t for t in self.types.values()):
                return
            targets: Iterable[EntityType] = [t for t in self.types.values() if not t.fixed]
        else:
            targets = [self.types[ptype]] if not self.types[ptype].fixed else []
        for t in targets:
            t.members.setdefault(name, index)

    def add_rule(self, rule: Rule) -> None:
        known = set(self.relations)
        try:
            self._check_rule(rule)
        except LogicError:
            for name in set(self.relations) - known:  # a refused rule defines nothing
                del self.relations[name]
                self.facts.pop(name, None)
            raise
        if rule in self.rules:  # the same rule again (a program run twice): nothing new
            return
        for item in (rule.head, *rule.body):
            terms = item.args if isinstance(item, Atom) else (item.left, item.right)
            for t in terms:
                if isinstance(t, Const):
                    self.universe.add(t.name)
        self.rules.append(rule)
        self._changed()

    def _check_rule(self, rule: Rule) -> None:
        self._use(rule.head, "rule head", define=True)
        bound: set[str] = set()
        for j, item in enumerate(rule.body):
            if isinstance(item, Atom):
                try:
                    self._use(item, "rule body atom", define=True)
                except LogicError as exc:
                    raise LogicError(exc.message, exc.arg, item=j) from None
                bound.update(item.variables())
        for j, item in enumerate(rule.body):
            if isinstance(item, Compare):
                for v in item.variables():
                    if v not in bound:
                        raise LogicError(f"variable {v} of `{item.left} {item.op} "
                                         f"{item.right}` appears in no relation of the body",
                                         item=j)
        for i, a in enumerate(rule.head.args):
            if isinstance(a, Var) and a.name not in bound:
                raise LogicError(f"head variable {a.name} appears in no relation of the body; "
                                 f"every head variable must be bound by a body atom", arg=i)

    def _changed(self) -> None:
        self._solved = None

    # -- reading ----------------------------------------------------------------------

    def members(self, type_name: str) -> list[str]:
        return list(self.types[type_name].members)

    def fact_count(self, name: str) -> int:
        """Tuples with a nonzero value after solving (facts and derived)."""
        import mlx.core as mx  # lazy: keeps MLX out of the checker (it imports tl_core.logic)

        t = self.solve()[name]
        return int(mx.sum(t > 0).item())

    def query(self, atom: Atom) -> Solutions:
        import mlx.core as mx  # lazy: keeps MLX out of the checker (it imports tl_core.logic)
        import numpy as np

        rel = self._use(atom, "query", define=False)
        t = self.solve()[rel.name]
        variables = atom.variables()
        scores_wanted = self._weighted.get(rel.name, False)
        idx: list[Any] = []
        sub = ""
        letters = {v: _LETTERS[k] for k, v in enumerate(variables)}
        for a in atom.args:
            if isinstance(a, Const):
                i = self.universe.index.get(a.name)
                if i is None:
                    return Solutions(variables, (), () if scores_wanted else None)
                idx.append(i)
            else:
                idx.append(slice(None))
                sub += letters[a.name]
        if any(isinstance(i, int) for i in idx):
            t = t[tuple(idx)]
        out = "".join(letters[v] for v in variables)
        if sub != out:
            t = mx.einsum(f"{sub}->{out}", t)
        arr = np.asarray(t)
        hits = np.argwhere(arr > 0)
        names = self.universe.names
        rows = tuple(tuple(names[i] for i in hit) for hit in hits)
        scores = tuple(float(arr[tuple(hit)]) for hit in hits) if scores_wanted else None
        return Solutions(variables, rows, scores)

    # -- solving ----------------------------------------------------------------------

    def solve(self) -> dict[str, Any]:
        """Every relation's tensor at the fixpoint of the rules (cached until a change)."""
        if self._solved is not None:
            return self._solved
        n = len(self.universe)
        for rel in self.relations.values():
            cells = n ** rel.arity
            if cells > MAX_CELLS:
                raise LogicError(f"relation {rel.name} has {rel.arity} arguments over "
                                 f"{n} entities: {cells:.3g} cells, too many for a dense "
                                 f"tensor (at most {MAX_CELLS:.3g})")
        full = {name: self._base(name, n) for name in self.relations}
        self._weighted = self._weights()
        self.rounds = 0
        for scc in self._strata():
            rules = [r for r in self.rules if r.head.relation in scc]
            if not rules:
                continue
            if any(self._weighted[r] for r in scc):
                self._solve_soft(scc, rules, full, n)
            else:
                self._solve_boolean(scc, rules, full, n)
        self._solved = full
        return full

    def _base(self, name: str, n: int) -> Any:
        import mlx.core as mx  # lazy: keeps MLX out of the checker (it imports tl_core.logic)
        import numpy as np

        arity = self.relations[name].arity
        arr = np.zeros((n,) * arity, dtype=np.float32)
        facts = self.facts.get(name, {})
        if facts:
            if arity == 0:
                arr[()] = max(facts.values())
            else:
                keys = np.array(list(facts), dtype=np.int64).reshape(len(facts), arity)
                arr[tuple(keys.T)] = np.array(list(facts.values()), dtype=np.float32)
        return mx.array(arr)

    def _weights(self) -> dict[str, bool]:
        weighted = {name: rel.weighted for name, rel in self.relations.items()}
        changed = True
        while changed:  # a head derived from a weighted relation is weighted
            changed = False
            for r in self.rules:
                if not weighted[r.head.relation] and any(weighted[a.relation] for a in r.atoms):
                    weighted[r.head.relation] = changed = True
        return weighted

    def _strata(self) -> list[set[str]]:
        """Strongly connected components of head -> body, dependencies first (Tarjan)."""
        deps: dict[str, list[str]] = {name: [] for name in self.relations}
        for r in self.rules:
            deps[r.head.relation].extend(a.relation for a in r.atoms)
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        stack: list[str] = []
        on_stack: set[str] = set()
        out: list[set[str]] = []

        def visit(v: str) -> None:
            index[v] = low[v] = len(index)
            stack.append(v)
            on_stack.add(v)
            for w in deps[v]:
                if w not in index:
                    visit(w)
                    low[v] = min(low[v], low[w])
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
            if low[v] == index[v]:
                comp = set()
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.add(w)
                    if w == v:
                        break
                out.append(comp)

        for v in deps:
            if v not in index:
                visit(v)
        return out

    def _solve_boolean(self, scc: set[str], rules: list[Rule], full: dict[str, Any],
                       n: int) -> None:
        import mlx.core as mx  # lazy: keeps MLX out of the checker (it imports tl_core.logic)

        recursive = [r for r in rules if any(a.relation in scc for a in r.atoms)]
        for r in rules:
            if r not in recursive:
                s = self._rule_sum(r, full, n)
                if s is not None:
                    full[r.head.relation] = mx.maximum(full[r.head.relation],
                                                       (s > 0).astype(mx.float32))
        self.rounds += 1
        if not recursive:
            return
        delta = {name: full[name] for name in scc}
        while True:
            self.rounds += 1
            new: dict[str, Any] = {}
            for r in recursive:
                for j, item in enumerate(r.body):
                    if not isinstance(item, Atom) or item.relation not in scc:
                        continue
                    s = self._rule_sum(r, full, n, delta=delta[item.relation], at=j)
                    if s is None:
                        continue
                    h = r.head.relation
                    step = (s > 0).astype(mx.float32)
                    new[h] = step if h not in new else mx.maximum(new[h], step)
            grown = False
            for h, t in list(new.items()):
                fresh = t * (1.0 - full[h])
                mx.eval(fresh)
                if mx.any(fresh > 0).item():
                    grown = True
                    full[h] = full[h] + fresh
                    new[h] = fresh
                else:
                    del new[h]
            if not grown:
                return
            mx.eval([full[h] for h in new])
            delta = {name: new.get(name) for name in scc}

    def _solve_soft(self, scc: set[str], rules: list[Rule], full: dict[str, Any],
                    n: int) -> None:
        import mlx.core as mx  # lazy: keeps MLX out of the checker (it imports tl_core.logic)

        base = {name: full[name] for name in scc}
        for _ in range(SOFT_MAX_ROUNDS):
            self.rounds += 1
            nxt = dict(base)
            for r in rules:
                s = self._rule_sum(r, full, n)
                if s is None:
                    continue
                soft = mx.where(s > 0, mx.sigmoid((s - 0.5) / self.temperature), 0.0)
                h = r.head.relation
                nxt[h] = mx.maximum(nxt[h], soft.astype(mx.float32))
            change = max(mx.max(mx.abs(nxt[h] - full[h])).item() if full[h].size else 0.0
                         for h in scc)
            full.update(nxt)
            if change < SOFT_TOLERANCE:
                return

    def _rule_sum(self, rule: Rule, full: dict[str, Any], n: int, delta: Any = None,
                  at: int | None = None) -> Any:
        """The einsum of a rule's body, laid out as the head: the number of derivations of
        each head tuple (a sum of products of scores for weighted relations). None when the
        body cannot hold (an empty delta, a false comparison of constants)."""
        import mlx.core as mx  # lazy: keeps MLX out of the checker (it imports tl_core.logic)

        letters: dict[str, str] = {}
        fresh = iter(reversed(_LETTERS))

        def letter(v: str) -> str:
            if v not in letters:
                letters[v] = _LETTERS[len(letters)]
            return letters[v]

        ids = self.universe.index
        operands: list[Any] = []
        subs: list[str] = []
        for j, item in enumerate(rule.body):
            if isinstance(item, Atom):
                t = delta if j == at else full[item.relation]
                if t is None:
                    return None
                sub = ""
                idx: list[Any] = []
                for a in item.args:
                    if isinstance(a, Const):
                        idx.append(ids[a.name])
                    else:
                        idx.append(slice(None))
                        sub += letter(a.name)
                if any(isinstance(i, int) for i in idx):
                    t = t[tuple(idx)]
                operands.append(t)
                subs.append(sub)
                continue
            left, right, equal = item.left, item.right, item.op == "=="
            if isinstance(left, Const) and isinstance(right, Const):
                if (left.name == right.name) != equal:
                    return None
            elif isinstance(left, Var) and isinstance(right, Var):
                if left.name == right.name:
                    if not equal:
                        return None
                    continue
                eye = mx.eye(n, dtype=mx.float32)
                operands.append(eye if equal else 1.0 - eye)
                subs.append(letter(left.name) + letter(right.name))
            else:
                var, const = (left, right) if isinstance(left, Var) else (right, left)
                hot = _one_hot(n, ids[const.name])  # type: ignore[union-attr]
                operands.append(hot if equal else 1.0 - hot)
                subs.append(letter(var.name))  # type: ignore[union-attr]
        out = ""
        seen: set[str] = set()
        for a in rule.head.args:
            if isinstance(a, Const):
                f = next(fresh)
                operands.append(_one_hot(n, ids[a.name]))
                subs.append(f)
                out += f
            elif a.name in seen:
                f = next(fresh)
                operands.append(mx.eye(n, dtype=mx.float32))
                subs.append(letters[a.name] + f)
                out += f
            else:
                seen.add(a.name)
                out += letters[a.name]
        if not operands:  # a body of true comparisons between constants
            operands.append(mx.array(1.0))
            subs.append("")
        if len(letters) + len(out) > len(_LETTERS):
            raise LogicError(f"rule `{rule}` has too many variables for one einsum "
                             f"(at most {len(_LETTERS)} letters)")
        return compact_einsum(subs, operands, out, n)


def compact_einsum(subs: list[str], operands: list[Any], out: str, n: int) -> Any:
    """`einsum(subs -> out)` over the active entities only.

    Relations are sparse (a graph of 2,000 nodes and 2,400 edges; the delta of one
    semi-naive round) and a product is zero wherever one factor is, so each letter ranges
    only over the indices where every operand that carries it has a nonzero slice. The
    operands are gathered down to those indices (again, while that shrinks them further:
    restricting one letter can empty slices along another), joined, and the result
    scattered back into the full head. This keeps the dense-tensor semantics (and one
    einsum per rule) while the cost follows the active domain; when most of the domain is
    active the plain einsum runs."""
    import mlx.core as mx  # lazy: keeps MLX out of the checker (it imports tl_core.logic)
    import numpy as np

    spec = ",".join(subs) + "->" + out
    if not any(subs):
        return mx.einsum(spec, *operands)
    letters = sorted(set("".join(subs)))
    index = {letter: np.arange(n) for letter in letters}
    small = list(operands)
    for _ in range(MAX_COMPACTIONS):
        keep = _active(subs, small)
        if any(not k.any() for k in keep.values()):
            return mx.zeros((n,) * len(out), dtype=mx.float32)
        if all(k.all() for k in keep.values()):
            break
        if all(k.sum() * 4 >= n * 3 for k in keep.values()) and small is operands:
            return mx.einsum(spec, *operands)
        positions = {letter: mx.array(np.flatnonzero(k)) for letter, k in keep.items()
                     if not k.all()}
        small = [_gather(t, sub, positions) for sub, t in zip(subs, small, strict=True)]
        index = {letter: index[letter][keep[letter]] for letter in letters}
    result = mx.einsum(spec, *small)
    if not out or all(len(index[letter]) == n for letter in out):
        return result
    full = mx.zeros((n,) * len(out), dtype=mx.float32)
    grids = np.ix_(*(index[letter] for letter in out))
    full[tuple(mx.array(g) for g in grids)] = result
    return full


MAX_COMPACTIONS = 3


def _active(subs: list[str], operands: list[Any]) -> dict[str, Any]:
    """Per letter, a NumPy mask of the positions where every operand carrying the letter
    has a nonzero slice."""
    import mlx.core as mx  # lazy: keeps MLX out of the checker (it imports tl_core.logic)
    import numpy as np

    masks: list[tuple[str, Any]] = []
    for sub, t in zip(subs, operands, strict=True):
        for axis, letter in enumerate(sub):
            if sub.index(letter) == axis:
                other = tuple(k for k in range(t.ndim) if k != axis)
                masks.append((letter, mx.any(t != 0, axis=other) if other else t != 0))
    mx.eval([m for _, m in masks])
    keep: dict[str, Any] = {}
    for letter, m in masks:
        a = np.asarray(m)
        keep[letter] = a if letter not in keep else keep[letter] & a
    return keep


def _gather(t: Any, sub: str, positions: dict[str, Any]) -> Any:
    import mlx.core as mx  # lazy: keeps MLX out of the checker (it imports tl_core.logic)

    for axis, letter in enumerate(sub):
        if letter in positions:
            t = mx.take(t, positions[letter], axis=axis)
    return t


def _one_hot(n: int, i: int) -> Any:
    import mlx.core as mx  # lazy: keeps MLX out of the checker (it imports tl_core.logic)

    return (mx.arange(n) == i).astype(mx.float32)
