"""A plain-Python, set-based Datalog evaluator: the oracle the tensor engine is tested
against. Facts are sets of tuples of names; rules are joined naively (nested loops over
substitutions) and re-run until nothing new appears. No tensors, no cleverness."""

from __future__ import annotations

from tl_core.logic import Atom, Compare, Const, Rule, Var


def _match(atom: Atom, tup: tuple[str, ...], subst: dict[str, str]) -> dict[str, str] | None:
    out = dict(subst)
    for term, value in zip(atom.args, tup, strict=True):
        if isinstance(term, Const):
            if term.name != value:
                return None
        elif out.setdefault(term.name, value) != value:
            return None
    return out


def _value(term: Var | Const, subst: dict[str, str]) -> str:
    return term.name if isinstance(term, Const) else subst[term.name]


def derive(rule: Rule, db: dict[str, set[tuple[str, ...]]]) -> set[tuple[str, ...]]:
    substs: list[dict[str, str]] = [{}]
    for item in rule.body:
        if isinstance(item, Atom):
            substs = [m for s in substs for tup in db.get(item.relation, set())
                      if (m := _match(item, tup, s)) is not None]
    for item in rule.body:
        if isinstance(item, Compare):
            substs = [s for s in substs
                      if (_value(item.left, s) == _value(item.right, s)) == (item.op == "==")]
    return {tuple(_value(t, s) for t in rule.head.args) for s in substs}


def evaluate(facts: dict[str, set[tuple[str, ...]]], rules: list[Rule]
             ) -> dict[str, set[tuple[str, ...]]]:
    db = {k: set(v) for k, v in facts.items()}
    while True:
        grown = False
        for r in rules:
            new = derive(r, db) - db.setdefault(r.head.relation, set())
            if new:
                db[r.head.relation] |= new
                grown = True
        if not grown:
            return db
