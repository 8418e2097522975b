"""Completion, signature help, hover and definition right after an edit answer without
placing the reused items (`Analysis.placed`): outside their own scopes from the scopes made
at once, inside one from that item's scopes and occurrences made on their own. They answer
exactly what an analysis from scratch (all placed) answers: the oracle."""

from __future__ import annotations

import re
from pathlib import Path

from tests.hosts import analyze
from tl_core import ide

BLOCK = """\
let x{i} = tensor<float16>([[1.0, 2.0], [3.0, 4.0]], device: cpu)
fn f{i}(a: float16[N, D]) -> float16[N, D] {{
    let b{i} = a + a
    return b{i}
}}
let z{i} = f{i}(x{i})
"""


def edited_pair(tmp_path: Path, n: int = 300) -> tuple[str, object]:
    """An analysis after a one-character edit (most items reused, not placed)."""
    path = str(tmp_path / "doc.tl")
    text = "".join(BLOCK.format(i=i) for i in range(n)) + "let q = \n"
    analyze(text, path)
    text = text.replace("[[1.0, 2.0], [3.0, 4.0]]", "[[1.5, 2.0], [3.0, 4.0]]", 1)
    return text, analyze(text, path)


def answers(a, offsets: list[int], limit: int) -> list[tuple]:  # noqa: ANN001
    out = []
    for off in offsets:
        got = ide.complete_list_at(a, off, limit)
        out.append((tuple((c.label, c.kind, c.detail, c.sort_text, c.replace_span)
                          for c in got.items), got.incomplete))
    return out


def test_top_level_completion_needs_no_placing_and_equals_the_placed_answer(tmp_path):
    text, a = edited_pair(tmp_path)
    placed = a.placed()
    assert placed is False
    end = len(text) - 1  # after `let q = `
    tops = [end, text.index("let z150"), text.index("let x299") + 4, text.index("let z7")]
    got = {limit: answers(a, tops, limit) for limit in (200, 10**6, 5)}
    placed = a.placed()
    assert placed is False  # answered from the scopes made at once
    fresh = analyze(text, None, use_cache=False)  # checked from scratch: placed
    assert {limit: answers(fresh, tops, limit) for limit in got} == got


def test_inside_a_reused_fn_only_that_item_is_made(tmp_path):
    text, a = edited_pair(tmp_path)
    insides = [text.index("return b150") + len("return "), text.index("let b7 =") + 4,
               text.index("return b299") + len("return b2"), text.index("return b0") - 1]
    got = {limit: answers(a, insides, limit) for limit in (200, 10**6, 5)}
    placed = a.placed()
    assert placed is False
    assert "b150" in [label for label, *_ in got[200][0][0]]
    assert "a" in [label for label, *_ in got[200][1][0]]
    fresh = analyze(text, None, use_cache=False)
    assert {limit: answers(fresh, insides, limit) for limit in got} == got
    # placing later makes the item's scopes again, registered: the answers stay the same
    a.materialize()
    assert {limit: answers(a, insides, limit) for limit in got} == got


def test_signature_help_needs_no_placing_and_equals_the_placed_answer(tmp_path):
    text, a = edited_pair(tmp_path)
    text += "let r = f3(x2, \nlet s = softmax(x1, \n"
    a = analyze(text, str(tmp_path / "doc.tl"))
    offsets = [m.end() for m in re.finditer(r"[(,] ?", text)]
    got = [ide.signature_at(a, off) for off in offsets]
    placed = a.placed()
    assert placed is False
    assert sum(g is not None for g in got) > 600
    fresh = analyze(text, None, use_cache=False)
    assert [ide.signature_at(fresh, off) for off in offsets] == got


def test_hover_and_definition_need_no_placing_and_equal_the_placed_answer(tmp_path):
    text, a = edited_pair(tmp_path, 40)
    text += "let r = softmax(z3, dim: 0)\nprint(r, f5(x5))\n"
    a = analyze(text, str(tmp_path / "doc.tl"))
    offsets = range(len(text) + 1)
    hovers = [ide.hover_at(a, off) for off in offsets]
    places = [ide.definition_at(a, off) for off in offsets]
    placed = a.placed()
    assert placed is False
    assert sum(h is not None for h in hovers) > len(text) // 2
    fresh = analyze(text, str(tmp_path / "doc.tl"), use_cache=False)
    assert [ide.hover_at(fresh, off) for off in offsets] == hovers
    assert [ide.definition_at(fresh, off) for off in offsets] == places
    # references compare bindings: they place first, and agree with the fresh answer
    inside = text.index("return b7") + len("return ")
    assert ide.references(a, inside) == ide.references(fresh, inside)
    assert len(ide.references(a, inside)) == 2


def test_queries_while_the_warm_up_places_in_another_thread(tmp_path):
    """The server places the reused items in its analysis thread once typing pauses, while
    hover and completion may run: their answers without placing must not read what placing
    is changing (a dict changing size while it is read, say)."""
    import sys
    import threading

    text, a = edited_pair(tmp_path, 300)
    fresh = analyze(text, str(tmp_path / "doc.tl"), use_cache=False)
    offsets = [m.start() + 1 for m in re.finditer(r"\b[abxz]\d+", text)][::7]
    expected = [ide.hover_at(fresh, off) for off in offsets]
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        worker = threading.Thread(target=a.materialize)
        worker.start()
        got = [ide.hover_at(a, off) for off in offsets]
        worker.join()
    finally:
        sys.setswitchinterval(old)
    assert got == expected


def test_struct_fields_need_no_placing(tmp_path):
    tail = "struct Pair { left: int, right: float16[2] }\nfn g(p: Pair) -> int {\n    return p.\n}\n"
    text, a = edited_pair(tmp_path, 50)
    a = analyze(text + tail, str(tmp_path / "doc.tl"))
    off = len(text) + tail.index("p.") + 2
    got = answers(a, [off], 200)
    placed = a.placed()
    assert placed is False
    assert [label for label, *_ in got[0][0]] == ["left", "right"]
    fresh = analyze(text + tail, None, use_cache=False)
    assert answers(fresh, [off], 200) == got


def test_background_work_calls_its_step_and_answers_the_same(tmp_path):
    """Semantic tokens and placing take a `pause`/`step` callback (the server's yield gate):
    called as they go, changing nothing in what they answer."""
    text, a = edited_pair(tmp_path, 300)
    calls = []
    toks = ide.semantic_tokens(a, lambda: calls.append("tokens"))
    assert calls.count("tokens") >= 300 * 3 // 32  # ~3 items a block, every 32
    assert toks == ide.semantic_tokens_plain(analyze(text, None, use_cache=False))
    a.materialize(lambda: calls.append("place"))
    assert calls.count("place") >= 2 * len(a._pending) // 32
    fresh = analyze(text, None, use_cache=False)
    assert [(r.span, r.is_def, r.builtin) for r in a.refs] == [
        (r.span, r.is_def, r.builtin) for r in fresh.refs]


def test_the_host_indexes_the_occurrences_made_at_once_before_any_query(tmp_path):
    """The first hover after an edit found `ref_at`'s index of the occurrences the check
    made at once unmade and sorted them itself (~1 ms of its ~1.4 ms of CPU on a
    10,000-line file, issue 18): the analysis thread makes it as the analysis ends, the
    same the query would make (every such occurrence, ordered by start, stable)."""
    text, a = edited_pair(tmp_path, 40)
    made = a._memo.eager_refs
    assert made is not None and not a.placed()
    refs, starts = made
    at_once = list(a._refs.values())[:a._made_at_once[0]]
    assert refs == sorted(at_once, key=lambda r: r.span.start)
    assert starts == [r.span.start for r in refs] == sorted(starts)
    assert len(refs) > 10  # the edited item's and the script's own
    off = text.index("x3 =")
    assert a.ref_at(off, place=False) is not None
    assert a._memo.eager_refs is made  # used as it is, not made again
