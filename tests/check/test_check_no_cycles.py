"""An analysis holds no reference cycles: once replaced it is freed by reference counting,
without waiting for a pass of Python's cyclic garbage collector (a bug fixed: bindings
referred to their scopes strongly, and each analysis of a large file left thousands of
objects that only a 30-300 ms generation-1 or full pass could free)."""

from __future__ import annotations

import gc
from pathlib import Path

from tests.hosts import analyze

ROOT = Path(__file__).resolve().parents[2]


def unreachable_after(fn) -> int:  # noqa: ANN001
    """How many objects the cyclic collector finds after `fn()` (0: none left to it)."""
    gc.collect()
    was = gc.isenabled()
    gc.disable()
    try:
        fn()
        return gc.collect()
    finally:
        if was:
            gc.enable()


def test_an_analysis_is_freed_without_the_cyclic_collector(tmp_path: Path) -> None:
    text = (ROOT / "examples" / "quickstart" / "linear.tl").read_text(encoding="utf-8")
    text += "\nfn f(x: float16[N]) -> float16[N] {\n    let y = x\n    return y\n}\n"
    path = str(tmp_path / "doc.tl")
    analyze(text, path)  # fill the per-item cache

    def edits() -> None:
        for i in range(3):
            a = analyze(text + f"\nlet v{i} = 1\n", path)
            a.materialize()
            assert [b.scope is not None for b in a.bindings if b.path is None]
            del a

    assert unreachable_after(edits) == 0


def test_a_binding_reaches_its_scope_while_the_analysis_lives() -> None:
    a = analyze("let a = 1\nfn f(x: float16[N]) -> float16[N] {\n    return x\n}\n")
    kinds = {b.name: b.scope.kind for b in a.bindings}
    assert kinds == {"a": "script", "f": "script", "x": "fn"}
