"""`Analysis.visible_at(offset)` answers one name at a time what `Analysis.visible(offset)`
answers for all of them (the oracle), placed or not, with shadowing, loops and functions."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.hosts import analyze
from tests.ide.test_ide_unplaced import BLOCK as UNPLACED_BLOCK
from tl_core.check.model import FILE_WIDE, Analysis

TEXT = """\
let x = 1
let y = x + 1
let x = 2.0
fn f(a: float, x: float) -> float {
    let b = a + x
    let b = b * 2.0
    for i in range(3) {
        let c = b + i
        b = c
    }
    return b
}
let total = 0
for i in range(10) {
    let t = i
    total = total + t
}
let n = 0
while n < 3 {
    n = n + 1
    let inner = n
}
fn g() -> float {
    return f(1.0, 2.0)
}
let z = g()
let Zed = 3
let _hidden = 4
struct Pair { left: int, right: float }
fn h(Pair: int) -> int {
    return Pair
}
"""

# the completion test's block, and a redeclaration of a script-scope name in each
BLOCK = UNPLACED_BLOCK + "let x{i} = z{i}\n"


def check_offset(a: Analysis, offset: int) -> None:
    every = a.visible(offset)
    at = a.visible_at(offset)
    for name, b in every.items():
        assert at.get(name) is b, (offset, name)
    names = list(at.names())
    functions = at.function_names()
    assert names == sorted(set(names))
    assert functions == sorted(set(functions))
    assert set(every) <= set(names) | set(functions)
    for name in names + functions:
        assert at.get(name) is every.get(name), (offset, name)
    for name in set(functions) - set(names):  # only ever a function
        assert at.get(name) is a._functions[name], (offset, name)
    wide = at.wide_names()
    assert wide is not None and len(wide) == len(set(wide))
    assert {n for n, b in every.items() if b.kind in FILE_WIDE or b.path} <= set(wide) | set(
        a._functions)
    structs = {n for n in wide if (b := at.get(n)) is not None and b.kind == "struct"}
    assert structs == {n for n, b in every.items() if b.kind == "struct"}
    for first in {n[:1].lower() for n in names + functions} | {"q"}:
        assert list(at.names(first)) == [n for n in names if n[:1].lower() == first]
        assert at.function_names(first) == [n for n in functions if n[:1].lower() == first]


@pytest.mark.parametrize("index", ["used", "not used"])
def test_every_offset_of_a_small_document(index: str, monkeypatch: pytest.MonkeyPatch):
    if index == "not used":  # as for a script scope whose index is out of order
        monkeypatch.setattr(Analysis, "_in_order", lambda _a, _s: False)
    a = analyze(TEXT, "/tmp/visible-at.tl", use_cache=False)
    inside_h = TEXT.index("return Pair") + 7
    assert a.visible(inside_h)["Pair"].kind == "parameter"
    assert a.visible(len(TEXT))["Pair"].kind == "struct"
    for offset in range(len(TEXT) + 1):
        check_offset(a, offset)


def test_the_script_scopes_index_is_whole_and_in_order(tmp_path: Path):
    for a in (analyze(TEXT, None, use_cache=False), edited(tmp_path, 20)[1]):
        script = next(s for s in a._scopes if s.parent is None)
        assert script.indexed() and a._in_order(script)
        assert script.starts == sorted(script.starts)
        positional = [b for b in script.bindings if b.kind not in FILE_WIDE]
        assert script.start_names == [b.name for b in positional]
        assert script.starts == [b.name_start() for b in positional]
        assert script.wide_names == [b.name for b in script.bindings if b.kind in FILE_WIDE]


def test_a_scope_whose_names_do_not_tell_all_its_bindings():
    a = analyze(TEXT, "/tmp/visible-at.tl", use_cache=False)
    script = next(s for s in a.scopes if s.parent is None)
    assert a._scope_extras(script) == {"x": [b for b in script.bindings if b.name == "x"]}
    fn_scope = next(s for s in a.scopes if "a" in s.names)
    assert set(a._scope_extras(fn_scope) or {}) == {"b"}
    # a binding dropped from `names` (what a loop's re-check leaves) is still found
    b = script.names.pop("y")
    try:
        a._memo.scope_extras.clear()
        end = len(TEXT)
        assert a.visible_at(end).get("y") is b is a.visible(end)["y"]
    finally:
        script.names["y"] = b


def edited(tmp_path: Path, n: int) -> tuple[str, Analysis]:
    path = str(tmp_path / "doc.tl")
    text = "".join(BLOCK.format(i=i) for i in range(n)) + TEXT
    analyze(text, path)
    text = text.replace("[[1.0, 2.0]", "[[1.5, 2.0]", 1)
    return text, analyze(text, path)


def test_right_after_an_edit_it_answers_without_placing(tmp_path: Path):
    text, a = edited(tmp_path, 50)
    assert not a.placed()
    for offset in range(0, len(text) + 1, 3):
        check_offset(a, offset)
    assert not a.placed()
    fresh = analyze(text, None, use_cache=False)
    for offset in range(0, len(text) + 1, 3):
        assert a._scope_at_unplaced(offset).span == fresh.scope_at(offset).span
        assert names_and_kinds(a.visible(offset)) == names_and_kinds(fresh.visible(offset))
    a.materialize()
    for offset in range(0, len(text) + 1, 5):
        check_offset(a, offset)


def names_and_kinds(visible: dict) -> list[tuple]:
    return [(name, b.kind, str(b.type), b.span) for name, b in visible.items()]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(blocks=st.integers(0, 12), where=st.lists(st.floats(0, 1), min_size=1, max_size=8))
def test_any_document_and_offset(tmp_path: Path, blocks: int, where: list[float]):
    text, a = edited(tmp_path, blocks)
    for w in where:
        check_offset(a, round(w * len(text)))


def test_reused_items_are_found_by_bisection_in_their_runs(tmp_path: Path):
    """`_pending_at` searches each run of reused items in place; the oracle is the sorted
    index it builds when there are no runs."""
    text, a = edited(tmp_path, 30)
    assert len(a._pending_runs) == 2 and len(a._pending) > 50
    runs = [*a._pending_runs, len(a._pending)]
    for lo, hi in zip(runs, runs[1:], strict=False):
        starts = [p[1] for p in a._pending[lo:hi]]
        assert starts == sorted(starts)
    answers = [a._pending_at(o) for o in range(len(text) + 1)]
    a._pending_runs = []
    assert [a._pending_at(o) for o in range(len(text) + 1)] == answers
    assert sum(p is not None for p in answers) > len(text) // 2


def test_releasing_replaced_analyses_leaves_the_next_ones_whole(tmp_path: Path):
    """`Analysis.release` empties the containers of an analysis nothing else holds, a
    slice at a time; what later analyses share with it (records, types, nodes) lives on."""
    from tl_core import ide

    path = str(tmp_path / "doc.tl")
    text = "".join(BLOCK.format(i=i) for i in range(300)) + TEXT
    old = analyze(text, path)
    old.materialize()
    ide.semantic_tokens(old)
    ide.folding_ranges(old)
    ide.complete_list_at(old, len(text), 50)
    for k in range(3):
        text = text.replace(f"[[1.0, 2.0], [3.0, 4.0]], device: cpu)\nfn f{k}(",
                            f"[[1.5, 2.0], [3.0, 4.0]], device: cpu)\nfn f{k}(", 1)
        new = analyze(text, path)
        refs = old._refs
        caches = old.ide_cache  # the IDE's caches (typed slots) are emptied too
        filled = (caches.semantic_tokens, caches.completion_info, caches.segments)
        assert all(filled) and (k > 0 or caches.folds[1])
        steps: list[int] = []
        old.release(functools.partial(steps.append, 1))
        assert refs == {} and vars(old) == {} and len(steps) > 10
        assert not any(filled) and not (caches.folds or ((), ()))[1]
        old = new
        fresh = analyze(text, None, use_cache=False)
        assert new.diagnostics == fresh.diagnostics
        for off in range(0, len(text), 97):
            assert ide.hover_at(new, off) == ide.hover_at(fresh, off)
            assert ide.complete_list_at(new, off, 30) == ide.complete_list_at(fresh, off, 30)
        assert ide.semantic_tokens(new) == ide.semantic_tokens_plain(fresh)


def test_queries_keep_their_memos_in_declared_slots(tmp_path):
    """Every query of an analysis (placed or not) writes only the fields `Analysis` declares
    (its memos live in `QueryCaches`, the editor's in `IdeCaches`), never ad-hoc attributes."""
    from dataclasses import fields

    from tests.ide.test_ide_unplaced import edited_pair
    from tl_core import ide

    declared = {f.name for f in fields(Analysis)}
    text, a = edited_pair(tmp_path, n=30)
    assert a._pending and not a.placed()
    offsets = [text.index("x3"), text.index("b7"), text.index("f9("), len(text) - 2]
    for place in (False, True):
        for off in offsets:
            at = a.visible_at(off)
            list(at.names("f"))
            at.function_names("f")
            at.wide_names()
            a.visible(off)
            a.ref_at(off, place=place)
            ide.hover_at(a, off)
            ide.complete_list_at(a, off, 5)
            ide.signature_at(a, off)
        ide.semantic_tokens(a)
        ide.folding_ranges(a)
        if not place:
            a.materialize()
    assert set(vars(a)) <= declared, set(vars(a)) - declared
    assert a._memo.root_alone is not None and a._memo.visible_entries
