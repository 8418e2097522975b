"""The checker on logic statements: hover on relations, references, a clean program.
(Error messages at the argument are golden: tests/check/golden/logic_errors.tl.)"""

from __future__ import annotations

from tl_core import ide
from tl_core.check import analyze

TEXT = """\
entity City = {paris, seoul}
relation Lives(p: entity, c: City) embed float16[32]
Lives(alice, paris)
Near(X, Y) <- Lives(X, C), Lives(Y, C), X != Y
Near(alice, Who)?
Lives(P, paris)?
"""


def at(marker: str, delta: int = 0) -> int:
    return TEXT.index(marker) + delta


def test_hover_shows_a_relations_signature():
    a = analyze(TEXT)
    assert a.diagnostics == [] or all(d.severity.value != "error" for d in a.diagnostics)
    h = ide.hover_at(a, at("Lives(alice", 1))
    assert h is not None and "relation Lives(p: entity, c: City) embed float16[32]" in h.markdown
    h = ide.hover_at(a, at("Lives(Y", 1))
    assert "relation Lives(p: entity, c: City)" in h.markdown
    h = ide.hover_at(a, at("Near(alice", 1))  # defined by a rule: its head
    assert h is not None and "relation Near(X, Y)" in h.markdown


def test_relation_references_and_entity_members():
    a = analyze(TEXT)
    refs = ide.references(a, at("relation Lives", 10))
    assert len(refs) == 5  # the declaration, the fact, two body atoms, the query
    h = ide.hover_at(a, at("paris)\nNear", 1))
    assert h is not None and "entity" in h.markdown


def test_a_correct_logic_program_has_no_diagnostics():
    from pathlib import Path

    text = Path("examples/syntax/logic.tl").read_text()
    a = analyze(text)
    assert [d.message for d in a.diagnostics if d.severity.value == "error"] == []


def test_hover_shows_the_fact_count_of_the_last_run():
    from tl_core.runtime import Session

    a = analyze(TEXT)
    r = Session(device="cpu").run(TEXT)
    # Lives: the one fact; Near: alice-? none (only alice lives anywhere), so 0
    assert dict(r.relations) == {"Lives": 1, "Near": 0}
    h = ide.hover_at(a, at("Lives(alice", 1), dict(r.relations))
    assert h.markdown.endswith("1 fact after the last run")
    h = ide.hover_at(a, at("Near(alice", 1), dict(r.relations))
    assert h.markdown.endswith("0 facts after the last run")


def test_run_relations_from_a_kernel_result():
    from tl_core.kernel.protocol import RunResult

    def relations(raw: dict) -> dict:
        return RunResult.read(raw).relations

    assert relations({"relations": {"A": 2, "B": True, "C": "x"}}) == {"A": 2}
    assert relations({"relations": [1]}) == {}
    assert relations({}) == {}
