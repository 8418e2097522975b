"""The document store keeps each text's `LineIndex` through edits (`LineIndex.after_edit`)
and hands it to the analysis of that text: no search of the whole text for line breaks per
keystroke, neither in the server (positions) nor in the analysis (issue 18)."""

from __future__ import annotations

import asyncio
import random

from lsprotocol import types as lsp

from tl_core.syntax.span import LineIndex
from tl_lsp import documents

URI = "file:///line-index/a.tl"


def change(l1: int, c1: int, l2: int, c2: int, text: str) -> lsp.TextDocumentContentChangePartial:
    return lsp.TextDocumentContentChangePartial(
        range=lsp.Range(start=lsp.Position(l1, c1), end=lsp.Position(l2, c2)), text=text)


async def test_the_index_follows_the_edits_and_reaches_the_analysis():
    docs = documents.Documents()
    try:
        text = "".join(f"let x{i} = ones([2, {i + 1}])\nprint(x{i})\n" for i in range(50))
        doc = docs.open(URI, text, 1)
        rnd = random.Random(18)
        for version in range(2, 40):
            lines = doc.text.count("\n")
            batch = []
            for _ in range(rnd.randint(1, 3)):  # one didChange of 1-3 changes
                l1, l2 = sorted((rnd.randint(0, lines), rnd.randint(0, lines)))
                batch.append(change(l1, rnd.randint(0, 9), l2, rnd.randint(0, 30),
                                    rnd.choice(["", "y", "\n", "let q = 1\n", "😀\n\n"])))
            docs.change(URI, batch, version)
            assert doc.index.text is doc.text
            assert doc.index.starts == LineIndex(doc.text).starts
            assert docs.positions(doc).index is doc.index
        a = await asyncio.wait_for(docs.analysis_future(URI), 30)
        assert a.text is doc.text and a.line_index is doc.index
    finally:
        docs.shutdown()
