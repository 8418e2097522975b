"""Stays fast while the user types (issue 18), in-process and deterministic: the analysis
thread is held at a hook, so what runs and what answers does not depend on timing.

- a newer edit supersedes the analysis of an older text: of a burst of edits, each asking
  for the newest analysis, only the newest text is analysed (no queue of stale texts), and
  the diagnostics published are those of the final text;
- hover, completion and signature help answer from the previous analysis while the newest
  is under way, at a position no edit since touched (mapped through the edits);
- a position on an edited line waits for the analysis of the newest text.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading

from lsprotocol import types as lsp

from tl_core.check import analyze
from tl_lsp import documents
from tl_lsp import server as S

URI = "file:///typing/a.tl"
TEXT = "".join(f"let x{i} = ones([2, {i + 1}])\nprint(x{i})\n" for i in range(200))


class Hold:
    """Holds every analysis at its first checkpoint (its text parsed: the parser's trees
    moved to it) until `release`; records the texts analyses started and finished on."""

    def __init__(self, monkeypatch) -> None:  # noqa: ANN001
        self.gate = threading.Event()
        self.gate.set()
        self.reached = threading.Event()
        self.texts: list[str] = []
        self.finished: list[str] = []
        original = documents._analyze

        def held(host, text, checkpoint=None):  # noqa: ANN001, ANN202
            self.texts.append(text)
            first = [True]

            def hook() -> None:
                if first[0]:
                    first[0] = False
                    self.reached.set()
                    self.gate.wait(30)
                checkpoint()

            a = original(host, text, hook)
            self.finished.append(text)
            return a

        monkeypatch.setattr(documents, "_analyze", held)

    def hold(self) -> None:
        self.reached.clear()
        self.gate.clear()

    def release(self) -> None:
        self.gate.set()


def server(monkeypatch) -> tuple[S.TensorLogicServer, list]:  # noqa: ANN001
    ls = S.create_server()
    ls.config = dataclasses.replace(ls.config, warm_delay_ms=60_000, progress_delay_ms=60_000)
    published: list = []
    monkeypatch.setattr(ls, "text_document_publish_diagnostics", published.append)
    monkeypatch.setattr(ls, "capability", lambda dotted: None)  # no client in-process
    return ls, published


async def open_doc(ls: S.TensorLogicServer, text: str = TEXT) -> None:
    await S.did_open(ls, lsp.DidOpenTextDocumentParams(
        lsp.TextDocumentItem(uri=URI, language_id="tensorlogic", version=1, text=text)))
    await ls.docs.get(URI).diag_task


async def insert(ls: S.TensorLogicServer, version: int, line: int, col: int, s: str) -> None:
    here = lsp.Range(start=lsp.Position(line, col), end=lsp.Position(line, col))
    await S.did_change(ls, lsp.DidChangeTextDocumentParams(
        lsp.VersionedTextDocumentIdentifier(uri=URI, version=version),
        [lsp.TextDocumentContentChangePartial(range=here, text=s)]))


async def test_a_newer_edit_supersedes_the_analysis_of_an_older_text(monkeypatch):
    hold = Hold(monkeypatch)
    ls, published = server(monkeypatch)
    await open_doc(ls)
    hold.hold()
    hold.texts.clear()
    hold.finished.clear()
    n = 30
    for k in range(n):
        await insert(ls, 2 + k, 0, 0, "y")
        ls.docs.analysis_future(URI)  # a request that needs the newest analysis
        await asyncio.sleep(0)
    hold.release()
    await ls.docs.get(URI).diag_task
    final = ls.docs.get(URI).text
    assert final == "y" * n + TEXT
    # the one held when the burst began (stopped at its first checkpoint) and the last
    assert len(hold.texts) <= 3 and hold.texts[-1] == final, [t[:n] for t in hold.texts]
    assert hold.finished == [final]
    last = published[-1]
    assert last.version == n + 1
    expected = [(d.message, d.span.line) for d in analyze(final, documents.uri_to_path(URI))
                .diagnostics]
    assert [(d.message, d.range.start.line) for d in last.diagnostics] == expected
    assert expected  # `yyy...let` does not parse: the check above compares something
    ls.docs.shutdown()


async def hover_text(ls: S.TensorLogicServer, line: int, col: int) -> lsp.Hover | None:
    params = lsp.HoverParams(text_document=lsp.TextDocumentIdentifier(uri=URI),
                             position=lsp.Position(line, col))
    return await asyncio.wait_for(S.hover(ls, params), 10)


async def test_hover_during_an_analysis_answers_from_the_previous_one(monkeypatch):
    hold = Hold(monkeypatch)
    ls, _ = server(monkeypatch)
    await open_doc(ls)
    fresh = await hover_text(ls, 20, 5)  # `x10` in `let x10 = ones([2, 11])`
    assert fresh is not None and "x10" in fresh.contents.value
    host = ls.docs.get(URI).host
    await asyncio.to_thread(host.prepare, True)  # the second parser (made in a pause)
    assert host.prepared
    hold.hold()
    await insert(ls, 2, 0, 0, "// typed\n")  # one line more above: x10 is now on line 21
    assert await asyncio.to_thread(hold.reached.wait, 10)  # parsed, being checked: held
    before = ls.stale_answers
    stale = await hover_text(ls, 21, 5)
    assert ls.stale_answers == before + 1
    assert stale is not None and stale.contents.value == fresh.contents.value
    assert stale.range == lsp.Range(start=lsp.Position(21, 4), end=lsp.Position(21, 7))
    # completion and signature help answer the same way
    comp = await asyncio.wait_for(S.completion(ls, lsp.CompletionParams(
        text_document=lsp.TextDocumentIdentifier(uri=URI), position=lsp.Position(22, 7))), 10)
    assert "x10" in [item["label"] for item in comp.__dict__["items"]]  # `print(x|10)`
    sig = await asyncio.wait_for(S.signature_help(ls, lsp.SignatureHelpParams(
        text_document=lsp.TextDocumentIdentifier(uri=URI), position=lsp.Position(21, 15))), 10)
    assert sig is not None and "ones" in sig.signatures[0].label
    assert ls.stale_answers == before + 3
    # on the edited line the newest analysis is needed: the hover waits for it
    waiting = asyncio.ensure_future(hover_text(ls, 0, 4))
    await asyncio.sleep(0.2)
    assert not waiting.done()
    hold.release()
    assert await waiting is None  # a comment
    assert ls.stale_answers == before + 3
    ls.docs.shutdown()


async def test_no_answer_from_an_analysis_whose_tree_moved(monkeypatch):
    """With one parser (the second not made yet), the analysis of the new text moves the
    previous analysis' tree to the new text's positions: hover then waits for the new one."""
    from tl_core.host import DocumentHost

    monkeypatch.setattr(DocumentHost, "prepare", lambda self: None)
    hold = Hold(monkeypatch)
    ls, _ = server(monkeypatch)
    await open_doc(ls)
    doc = ls.docs.get(URI)
    assert not doc.host.prepared
    hold.hold()
    await insert(ls, 2, 0, 0, "// typed\n")
    assert await asyncio.to_thread(hold.reached.wait, 10)
    assert not doc.host.intact(doc.last)
    waiting = asyncio.ensure_future(hover_text(ls, 21, 5))
    await asyncio.sleep(0.2)
    assert not waiting.done()
    hold.release()
    h = await waiting
    assert h is not None and "x10" in h.contents.value and h.range.start.line == 21
    assert ls.stale_answers == 0
    ls.docs.shutdown()


def test_untitled_documents_share_nothing():
    from tl_core.host import DocumentHost

    a, b = DocumentHost(None), DocumentHost(None)
    first = a.analyze("let x = ones([2, 3])\n")
    kept = dict(a.records)
    second = b.analyze("let y = zeros([4])\n")
    assert kept and a.records == kept  # b's analysis replaced only b's records
    assert b.records and set(a.records).isdisjoint(b.records)
    assert a.snapshot is first and b.snapshot is second and a.intact(first)
    assert [bd.name for bd in b.analyze("let y = zeros([5])\n").bindings] == ["y"]
    assert a.intact(first)  # b's analyses never touch a's parsers
