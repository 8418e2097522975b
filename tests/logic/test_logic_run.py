"""Logic statements through the interpreter (Session): printed answers, errors at the
argument, entity iteration. Expected answers are worked out by hand from the facts."""

from __future__ import annotations

import textwrap

from tl_core.runtime import Session


def run(src: str, session: Session | None = None):
    s = session or Session(device="cpu")
    return s.run(textwrap.dedent(src))


def errors(r) -> list[tuple[int, int, str]]:
    return [(d.span.line, d.span.col, d.message) for d in r.errors
            if d.severity.value == "error"]


FAMILY = """\
entity Person
entity City = {paris, seoul}
relation Parent(x: entity, y: entity)
relation Lives(p: Person, c: City)
Parent(alice, bob)
Parent(bob, carol)
Parent(carol, dave)
Ancestor(X, Y) <- Parent(X, Y)
Ancestor(X, Z) <- Parent(X, Y), Ancestor(Y, Z)
"""


def test_query_prints_the_originals_form_in_entity_order():
    r = run(FAMILY + "Ancestor(alice, Z)?\nParent(X, Y)? where X != bob\n")
    assert errors(r) == []
    assert r.stdout == """\
Query: Ancestor(alice, Z)
  Found 3 solution(s)
  Solution 1:
    Z = bob
  Solution 2:
    Z = carol
  Solution 3:
    Z = dave
Query: Parent(X, Y)
  Found 2 solution(s)
  Solution 1:
    X = alice
    Y = bob
  Solution 2:
    X = carol
    Y = dave
"""


def test_ground_queries_say_yes_or_no():
    r = run(FAMILY + "Ancestor(alice, dave)?\nAncestor(dave, alice)?\n")
    assert r.stdout == ("Query: Ancestor(alice, dave)\n  Found 1 solution(s)\n"
                        "  Solution 1: Yes\nQuery: Ancestor(dave, alice)\n"
                        "  No solutions found\n")


def test_parameter_names_are_variables_in_queries():
    # as in the original: `y` names Parent's parameter, so it is a variable
    r = run(FAMILY + "Parent(bob, y)?\n")
    assert r.stdout == "Query: Parent(bob, y)\n  Found 1 solution(s)\n  Solution 1:\n    y = carol\n"


def test_infer_answers_after_forward_chaining():
    r = run(FAMILY + "infer forward Ancestor(X, dave)?\ninfer {\n  backward Parent(alice, X)?\n}\n")
    assert r.stdout.splitlines() == [
        "Query: Ancestor(X, dave)", "  Found 3 solution(s)",
        "  Solution 1:", "    X = alice", "  Solution 2:", "    X = bob",
        "  Solution 3:", "    X = carol",
        "Query: Parent(alice, X)", "  Found 1 solution(s)", "  Solution 1:", "    X = bob"]


def test_facts_after_rules_and_a_growing_domain_in_one_session():
    s = Session(device="cpu")
    run(FAMILY, s)
    r = run("Parent(dave, erin)\nAncestor(bob, X)?\n", s)
    assert errors(r) == []
    assert [ln.strip() for ln in r.stdout.splitlines() if "=" in ln] == [
        "X = carol", "X = dave", "X = erin"]


def test_for_over_an_entity_type():
    r = run(FAMILY + "Lives(alice, paris)\nfor p in Person { print(p) }\nfor c in City { print(c) }\n")
    assert errors(r) == []
    assert r.stdout == "alice\nbob\ncarol\ndave\nparis\nseoul\n"


def test_weighted_facts_give_scores():
    r = run("""\
        relation Likes(a: entity, b: entity)
        Likes(ann, tea, weight: 0.9)
        Likes(ann, cake, weight: 0.25)
        Likes(ann, B)?
    """)
    assert errors(r) == []
    assert r.stdout == ("Query: Likes(ann, B)\n  Found 2 solution(s)\n  Solution 1:\n"
                        "    B = tea\n    score = 0.9000\n  Solution 2:\n    B = cake\n"
                        "    score = 0.2500\n")


def test_errors_point_at_the_argument():
    cases = {
        "Lives(alice, london)": (
            9, 13, "'london' is not a City (parameter c of Lives); City's members are "
                   "paris, seoul"),
        "Parent(alice, bob, carol)": (
            9, 19, "relation Parent(x: entity, y: entity) takes 2 arguments, this fact "
                   "gives 3"),
        "Parent(alice, X)": (
            9, 14, "a fact cannot hold the variable X; facts are ground (write a rule "
                   "`Parent(alice, X) <- ...` instead)"),
        "Bad(X, Y) <- Parent(X, Z)": (
            9, 7, "head variable Y appears in no relation of the body; every head variable "
                  "must be bound by a body atom"),
        "Bad(X) <- Parent(X, Y, Z)": (
            9, 23, "relation Parent(x: entity, y: entity) takes 2 arguments, this rule body "
                   "atom gives 3"),
        "Nope(X)?": (9, 0, "unknown relation 'Nope' in this query (relations: Ancestor, "
                           "Lives, Parent)"),
        "relation R(a: Animal)": (
            9, 11, "unknown entity type 'Animal' for parameter a of R; declare it with "
                   "`entity Animal` or use entity"),
    }
    for src, want in cases.items():
        r = run(FAMILY + src + "\n")
        assert errors(r) == [want], src


def test_rule_body_items_the_original_skips_warn():
    r = run(FAMILY + "relation Score(a: entity)\nHigh(X) <- Parent(X, Y), score(X) > 0.5\n"
            "High(X)?\n")
    assert errors(r) == []
    assert [d.message for d in r.errors] == [
        "`score(X) > 0.5` is ignored in a rule body (as in the original): only relation "
        "atoms and == / != between terms take part"]
    assert "Found 3 solution(s)" in r.stdout


def test_running_a_program_twice_in_a_session_answers_the_same():
    s = Session(device="cpu")
    src = FAMILY + "Lives(alice, paris)\nAncestor(alice, Z)?\n"
    first = run(src, s)
    second = run(src, s)
    assert errors(first) == errors(second) == []
    assert first.stdout == second.stdout
    kb = s.interpreter.logic.kb
    assert len(kb.rules) == 2
    assert kb.members("Person") == ["alice", "bob", "carol", "dave"]
    r = run("entity Person\nfor p in Person { print(p) }\n", s)  # a data-driven type keeps
    assert r.stdout == "alice\nbob\ncarol\ndave\n"


def test_logic_inside_main_and_errors_in_a_later_infer_item():
    r = run(FAMILY + "main {\n  Parent(dave, erin)\n  Ancestor(carol, X)?\n}\n")
    assert errors(r) == []
    assert r.stdout.splitlines()[-4:] == ["  Solution 1:", "    X = dave", "  Solution 2:",
                                           "    X = erin"]
    r = run(FAMILY + "infer {\n  forward Parent(alice, X)?\n  backward Nope(X)?\n}\n")
    assert errors(r) == [(11, 11, "unknown relation 'Nope' in this query (relations: "
                                  "Ancestor, Lives, Parent)")]
