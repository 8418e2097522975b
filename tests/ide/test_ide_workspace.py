"""tl_core.ide.workspace: which symbols a workspace-symbol query picks."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tl_core.check.analyzer import analyze
from tl_core.ide.results import Symbol, SymbolMatch
from tl_core.ide.workspace import flatten, matches, workspace_symbols
from tl_core.syntax.span import Span

TEXT = """fn helper_lib(x: float16[N]) -> float16[N] {
    let doubled = x + x
    return doubled
}
struct Pair { left: int, right: int }
let total = 1
"""


def test_matches_is_an_ordered_subsequence_ignoring_case():
    assert matches("hl", "helper_lib") and matches("HLB", "helper_lib")
    assert matches("", "anything") and matches("helper_lib", "helper_lib")
    assert not matches("lh", "helper_lib") and not matches("x", "helper_lib")
    assert not matches("helper_libs", "helper_lib")


@given(st.text("abAB_", max_size=6), st.text("abAB_", max_size=8))
def test_matches_agrees_with_a_subsequence_search(query: str, name: str):
    i = 0
    for ch in name.lower():
        if i < len(query) and query[i].lower() == ch:
            i += 1
    assert matches(query, name) == (i == len(query))


def test_flatten_gives_parents_first_with_their_container():
    s = Span(0, 1, 0, 0, 0, 1)
    child = Symbol("layer.0.weight", "field", s, s)
    tree = [Symbol("m", "module", s, s, "", (child,)), Symbol("n", "variable", s, s)]
    assert [(x.name, c) for x, c in flatten(tree)] == [
        ("m", None), ("layer.0.weight", "m"), ("n", None)]


def test_workspace_symbols_of_a_document():
    a = analyze(TEXT, "/tmp/ws.tl")
    got = [(m.symbol.name, m.symbol.kind, m.container) for m in workspace_symbols(a, "")]
    assert got == [("helper_lib", "function", None), ("x", "variable", "helper_lib"),
                   ("doubled", "variable", "helper_lib"), ("Pair", "struct", None),
                   ("left", "field", "Pair"), ("right", "field", "Pair"),
                   ("total", "variable", None)]
    picked = workspace_symbols(a, "dbl")
    assert picked == [SymbolMatch(picked[0].symbol, "helper_lib")]
    assert picked[0].symbol.name == "doubled"
    assert picked[0].symbol.selection_span.line == 1
    assert workspace_symbols(a, "zzz") == []
