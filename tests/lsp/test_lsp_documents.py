"""tl_lsp.documents: a replaced analysis is kept (to answer hovers from while the next one
is made) until the new one is there, then freed after the diagnostics are out (freeing a
large one is not on the way from an edit to its diagnostics)."""

from __future__ import annotations

import asyncio
import weakref
from pathlib import Path

from lsprotocol import types as lsp

from tl_lsp.documents import Documents


def change(text: str) -> lsp.TextDocumentContentChangeWholeDocument:
    return lsp.TextDocumentContentChangeWholeDocument(text=text)


def test_a_replaced_analysis_waits_for_free_retired(tmp_path: Path) -> None:
    async def main() -> None:
        docs = Documents()
        uri = (tmp_path / "a.tl").as_uri()
        docs.open(uri, "let a = 1\n", 1)
        first = await docs.analysis_future(uri)
        ref = weakref.ref(first)
        del first
        docs.change(uri, [change("let a = 2\n")], 2)
        assert docs.get(uri).analysis is None
        assert docs.get(uri).last is ref() is not None  # kept: answers while typing
        assert docs.retired == []
        second = await docs.analysis_future(uri)
        assert docs.get(uri).analysis is second is docs.get(uri).last
        assert docs.retired == [ref()]  # not freed yet
        docs.free_retired()
        assert ref() is None  # no cycles: freed at once
        docs.invalidate(uri)
        assert docs.retired == [second]
        docs.close(uri)
        assert docs.retired == []
        docs.shutdown()

    asyncio.run(main())


def test_free_retired_in_steps_takes_apart_only_what_nothing_else_holds(tmp_path: Path) -> None:
    async def main() -> None:
        docs = Documents()
        uri = (tmp_path / "a.tl").as_uri()
        text = "".join(f"let a{i} = {i}\nfn f{i}(x: int) -> int {{\n    return x\n}}\n"
                       for i in range(600))
        docs.open(uri, text, 1)
        held = await docs.analysis_future(uri)
        held.materialize()
        docs.change(uri, [change(text + "let b = 1\n")], 2)
        free = await docs.analysis_future(uri)
        free.materialize()
        ref = weakref.ref(free)
        refs_of_free = free._refs
        del free
        docs.change(uri, [change(text + "let b = 2\n")], 3)
        await docs.analysis_future(uri)
        assert docs.retired[-1] is ref() and docs.retired[0] is held
        steps = []
        docs.free_retired(lambda: steps.append(1))
        assert ref() is None and docs.retired == []
        assert refs_of_free == {} and len(steps) > 10  # cleared a slice at a time
        assert len(held._refs) > 2000 and held.diagnostics is not None  # held: left whole
        docs.shutdown()

    asyncio.run(main())
