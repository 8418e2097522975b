"""The tensor engine (tl_core.logic.engine) against the set-based oracle (tests/logic/oracle)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.logic.oracle import evaluate
from tl_core.logic import Atom, Compare, Const, KnowledgeBase, LogicError, Rule, Var


def term(t: str) -> Var | Const:
    return Var(t) if t[0].isupper() else Const(t)


def atom(rel: str, *args: str) -> Atom:
    return Atom(rel, tuple(term(a) for a in args))


def rule(head: Atom, *body: Atom | Compare) -> Rule:
    return Rule(head, tuple(body))


def ne(a: str, b: str) -> Compare:
    return Compare("!=", term(a), term(b))


def eq(a: str, b: str) -> Compare:
    return Compare("==", term(a), term(b))


def solve_both(arities: dict[str, int], facts: dict[str, set[tuple[str, ...]]],
               rules: list[Rule]) -> tuple[dict[str, set], dict[str, set]]:
    """(engine's relations, oracle's relations) as sets of tuples."""
    kb = KnowledgeBase()
    for name, k in arities.items():
        kb.declare_relation(name, [(f"a{i}", "entity") for i in range(k)])
    for name, tuples in facts.items():
        for t in tuples:
            kb.add_fact(Atom(name, tuple(Const(x) for x in t)))
    for r in rules:
        kb.add_rule(r)
    got = {}
    for name, rel in kb.relations.items():
        sol = kb.query(Atom(name, tuple(Var(f"V{i}") for i in range(rel.arity))))
        got[name] = set(sol.rows)
    want = evaluate(facts, rules)
    return got, {name: want.get(name, set()) for name in got}


TC = [rule(atom("TC", "X", "Y"), atom("E", "X", "Y")),
      rule(atom("TC", "X", "Z"), atom("E", "X", "Y"), atom("TC", "Y", "Z"))]
TC_NONLINEAR = [rule(atom("TC", "X", "Y"), atom("E", "X", "Y")),
                rule(atom("TC", "X", "Z"), atom("TC", "X", "Y"), atom("TC", "Y", "Z"))]

edges = st.lists(st.tuples(st.integers(0, 11), st.integers(0, 11)), max_size=30)


@settings(max_examples=40, deadline=None)
@given(edges, st.booleans())
def test_transitive_closure_random_graphs(es, nonlinear):
    facts = {"E": {(f"n{a}", f"n{b}") for a, b in es}}
    got, want = solve_both({"E": 2}, facts, TC_NONLINEAR if nonlinear else TC)
    assert got == want


def test_transitive_closure_chain_needs_many_rounds():
    facts = {"E": {(f"n{i}", f"n{i + 1}") for i in range(40)}}
    got, want = solve_both({"E": 2}, facts, TC)
    assert got == want
    assert len(got["TC"]) == 40 * 41 // 2


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 6), min_size=1, max_size=14))
def test_same_generation_random_forests(parents):
    # node i + 1's parent is parents[i] reduced below i + 1: a random forest
    up = {(f"v{i + 1}", f"v{p % (i + 1)}") for i, p in enumerate(parents)}
    facts = {"Up": up, "Down": {(b, a) for a, b in up},
             "Flat": {(f"v{i}", f"v{i}") for i in range(len(parents) + 1)}}
    rules = [rule(atom("SG", "X", "Y"), atom("Flat", "X", "Y")),
             rule(atom("SG", "X", "Y"), atom("Up", "X", "U"), atom("SG", "U", "V"),
                  atom("Down", "V", "Y"))]
    got, want = solve_both({"Up": 2, "Down": 2, "Flat": 2}, facts, rules)
    assert got == want


def test_mutual_recursion_even_odd():
    facts = {"Zero": {("c0",)}, "Succ": {(f"c{i}", f"c{i + 1}") for i in range(9)}}
    rules = [rule(atom("Even", "X"), atom("Zero", "X")),
             rule(atom("Odd", "Y"), atom("Even", "X"), atom("Succ", "X", "Y")),
             rule(atom("Even", "Y"), atom("Odd", "X"), atom("Succ", "X", "Y"))]
    got, want = solve_both({"Zero": 1, "Succ": 2}, facts, rules)
    assert got == want
    assert got["Even"] == {(f"c{i}",) for i in range(0, 10, 2)}


def test_stratified_program_with_comparisons_constants_and_head_shapes():
    facts = {"E": {("a", "b"), ("b", "a"), ("b", "c"), ("c", "d"), ("d", "c"), ("a", "a")}}
    rules = [*TC,
             rule(atom("Mutual", "X", "Y"), atom("TC", "X", "Y"), atom("TC", "Y", "X"),
                  ne("X", "Y")),
             rule(atom("FromA", "Y"), atom("TC", "a", "Y"), ne("Y", "a")),
             rule(atom("Loop", "X", "X"), atom("TC", "X", "X")),
             rule(atom("Tag", "X", "hub"), atom("E", "X", "b")),
             rule(atom("Same", "X", "Y"), atom("E", "X", "Y"), eq("X", "Y")),
             rule(atom("IsC", "X"), atom("E", "Y", "X"), eq("X", "c")),
             rule(atom("SelfE", "X"), atom("E", "X", "X"))]
    got, want = solve_both({"E": 2}, facts, rules)
    assert got == want
    assert got["Mutual"] == {("a", "b"), ("b", "a"), ("c", "d"), ("d", "c")}


names = st.sampled_from(["p", "q", "r", "s"])
variables = st.sampled_from(["X", "Y", "Z"])


@st.composite
def programs(draw):
    """Random safe, negation-free programs over P/1, Q/2, R/2 (+ derived H1/1, H2/2)."""
    arity = {"P": 1, "Q": 2, "R": 2, "H1": 1, "H2": 2}
    facts = {"P": {(draw(names),) for _ in range(draw(st.integers(0, 3)))},
             "Q": {(draw(names), draw(names)) for _ in range(draw(st.integers(0, 6)))},
             "R": {(draw(names), draw(names)) for _ in range(draw(st.integers(0, 6)))}}
    rules = []
    for _ in range(draw(st.integers(1, 5))):
        body = []
        for _ in range(draw(st.integers(1, 3))):
            rel = draw(st.sampled_from(sorted(arity)))
            body.append(Atom(rel, tuple(
                Const(draw(names)) if draw(st.integers(0, 5)) == 0 else Var(draw(variables))
                for _ in range(arity[rel]))))
        bound = sorted({v for a in body for v in a.variables()})
        if not bound:
            continue
        if len(bound) >= 2 and draw(st.booleans()):
            body.append(Compare(draw(st.sampled_from(["==", "!="])), Var(bound[0]),
                                Var(bound[1])))
        head_rel = draw(st.sampled_from(["H1", "H2"]))
        head = Atom(head_rel, tuple(Var(draw(st.sampled_from(bound)))
                                    for _ in range(arity[head_rel])))
        rules.append(Rule(head, tuple(body)))
    return facts, rules


@settings(max_examples=60, deadline=None)
@given(programs())
def test_random_programs_match_the_oracle(prog):
    facts, rules = prog
    got, want = solve_both({"P": 1, "Q": 2, "R": 2}, facts, rules)
    assert got == want


def test_domains_grow_after_solving():
    kb = KnowledgeBase()
    kb.declare_relation("E", [("x", "entity"), ("y", "entity")])
    kb.add_rule(TC[0])
    kb.add_rule(TC[1])
    kb.add_fact(atom("E", "a", "b"))
    assert kb.query(atom("TC", "a", "X")).rows == (("b",),)
    kb.add_fact(atom("E", "b", "zed"))  # a new entity: every tensor grows
    assert kb.query(atom("TC", "a", "X")).rows == (("b",), ("zed",))
    assert kb.fact_count("TC") == 3


def test_entity_types_fixed_and_data_driven():
    kb = KnowledgeBase()
    kb.declare_entity("Person")
    kb.declare_entity("City", ["paris", "seoul"])
    kb.declare_relation("Lives", [("p", "Person"), ("c", "City")])
    kb.declare_relation("Knows", [("a", "entity"), ("b", "entity")])
    kb.add_fact(atom("Lives", "alice", "paris"))
    kb.add_fact(atom("Knows", "bob", "seoul"))
    assert kb.members("Person") == ["alice", "bob"]
    assert kb.members("City") == ["paris", "seoul"]
    with pytest.raises(LogicError) as err:
        kb.add_fact(atom("Lives", "carol", "london"))
    assert err.value.message == ("'london' is not a City (parameter c of Lives); City's "
                                 "members are paris, seoul")
    assert err.value.arg == 1


def test_errors_name_the_argument():
    kb = KnowledgeBase()
    kb.declare_relation("E", [("x", "entity"), ("y", "entity")])
    with pytest.raises(LogicError) as err:
        kb.add_fact(atom("E", "a", "b", "c"))
    assert err.value.message == ("relation E(x: entity, y: entity) takes 2 arguments, "
                                 "this fact gives 3")
    assert err.value.arg == 2
    with pytest.raises(LogicError) as err:
        kb.add_fact(atom("E", "a", "X"))
    assert err.value.arg == 1
    with pytest.raises(LogicError) as err:
        kb.add_rule(rule(atom("H", "X", "Z"), atom("E", "X", "Y")))
    assert err.value.message.startswith("head variable Z appears in no relation of the body")
    assert err.value.arg == 1
    with pytest.raises(LogicError) as err:
        kb.query(atom("Nope", "X"))
    assert err.value.message == "unknown relation 'Nope' in this query (relations: E)"
    with pytest.raises(LogicError):
        kb.declare_relation("L", [("p", "Person")])


def test_weighted_rule_is_a_soft_step_of_the_einsum():
    kb = KnowledgeBase(temperature=0.25)
    kb.declare_relation("Likes", [("a", "entity"), ("b", "entity")])
    kb.declare_relation("Sells", [("s", "entity"), ("b", "entity")])
    kb.add_fact(atom("Likes", "ann", "tea"), weight=0.9)
    kb.add_fact(atom("Likes", "ann", "cake"), weight=0.4)
    kb.add_fact(atom("Sells", "shop", "tea"))
    kb.add_fact(atom("Sells", "shop", "cake"))
    kb.add_rule(rule(atom("Visits", "X", "S"), atom("Likes", "X", "B"),
                     atom("Sells", "S", "B")))
    sol = kb.query(atom("Visits", "ann", "S"))
    assert sol.rows == (("shop",),)
    count = 0.9 * 1 + 0.4 * 1
    assert sol.scores == pytest.approx((1 / (1 + math.exp(-(count - 0.5) / 0.25)),))
    assert kb.query(atom("Likes", "ann", "B")).scores == pytest.approx((0.9, 0.4))


def test_weighted_recursion_converges_to_a_fixpoint():
    import mlx.core as mx

    kb = KnowledgeBase()
    kb.declare_relation("E", [("x", "entity"), ("y", "entity")])
    for a, b, w in [("a", "b", 0.9), ("b", "c", 0.8), ("c", "a", 0.7)]:
        kb.add_fact(atom("E", a, b), weight=w)
    for r in TC:
        kb.add_rule(r)
    assert len(kb.query(atom("TC", "X", "Y")).rows) == 9
    rel = kb.solve()
    e, tc = rel["E"], rel["TC"]

    def soft(s):
        return mx.where(s > 0, mx.sigmoid((s - 0.5) / kb.temperature), 0.0)

    # the fixpoint equation TC = max(soft(E), soft(einsum(E, TC))), written out here
    rhs = mx.maximum(soft(e), soft(mx.einsum("xy,yz->xz", e, tc)))
    assert mx.allclose(tc, rhs, atol=1e-5).item()


def test_semi_naive_rounds_of_the_documented_example():
    # docs/language.md section 9: round 1 copies Parent, round 2 adds alice-carol, round 3
    # joins that delta and finds nothing new
    kb = KnowledgeBase()
    kb.declare_relation("Parent", [("x", "entity"), ("y", "entity")])
    kb.add_fact(atom("Parent", "alice", "bob"))
    kb.add_fact(atom("Parent", "bob", "carol"))
    kb.add_rule(rule(atom("Ancestor", "X", "Y"), atom("Parent", "X", "Y")))
    kb.add_rule(rule(atom("Ancestor", "X", "Z"), atom("Parent", "X", "Y"),
                     atom("Ancestor", "Y", "Z")))
    assert kb.query(atom("Ancestor", "X", "Y")).rows == (
        ("alice", "bob"), ("alice", "carol"), ("bob", "carol"))
    assert kb.rounds == 3
