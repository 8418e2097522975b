"""Closing a document frees its memory (issue 18): the server, run in-process, forgets
everything it kept for the document (its analysis, semantic tokens, the last run's result,
the last completion list), and Python's traced memory goes back to what it was before
the document was opened, its `DocumentHost` (the item records and the incremental
parsers, ~15 MB each for this 10,000-line file; tl_core/host.py) included.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import tracemalloc
import types
import weakref

from lsprotocol import types as lsp

from tl_lsp import server as S

URI = "file:///close/a.tl"
OTHER = "file:///close/b.tl"
# ~10,000 lines, the size of the issue's measurements
TEXT = "".join(
    f"fn f{i}(x: float16[N, D]) -> float16[N, D] {{\n    let y{i} = x + x\n    return y{i}\n}}\n"
    for i in range(2500)
)


class Sink:
    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass


class RunResult:  # stands in for the kernel's last result (tl_lsp.runs.LastRun)
    pass


async def open_edit_ask_close(ls: S.TensorLogicServer, uri: str = URI) -> list[weakref.ref]:
    doc = lsp.TextDocumentIdentifier(uri=uri)
    await S.did_open(ls, lsp.DidOpenTextDocumentParams(
        lsp.TextDocumentItem(uri=uri, language_id="tensorlogic", version=1, text=TEXT)))
    for version in range(2, 6):
        here = lsp.Range(start=lsp.Position(1, 4), end=lsp.Position(1, 4))
        await S.did_change(ls, lsp.DidChangeTextDocumentParams(
            lsp.VersionedTextDocumentIdentifier(uri=uri, version=version),
            [lsp.TextDocumentContentChangePartial(range=here, text="a")]))
    await ls.docs.get(uri).diag_task
    at = lsp.Position(1, 9)
    await S.hover(ls, lsp.HoverParams(text_document=doc, position=at))
    await S.completion(ls, lsp.CompletionParams(text_document=doc, position=at))
    await S.semantic_tokens_full(ls, lsp.SemanticTokensParams(text_document=doc))
    await S.document_symbol(ls, lsp.DocumentSymbolParams(text_document=doc))
    ls.runner.last[uri] = run = RunResult()
    state = ls.docs.get(uri)
    # the document's state (its analysis, the previous one kept for hovers while typing)
    held = [weakref.ref(state.analysis), weakref.ref(run), weakref.ref(state),
            weakref.ref(state.host)]
    if state.last is not None:
        held.append(weakref.ref(state.last))
    del state
    del run
    await S.did_close(ls, lsp.DidCloseTextDocumentParams(text_document=doc))
    await asyncio.sleep(0.2)  # the closing's own tasks end
    gc.collect()
    return held


async def kept_after(uris: list[str]) -> tuple[list[weakref.ref], int, int]:
    """Open, edit, ask and close each of `uris` (the first ones warm up), tracing the last:
    (weak references to what it held, memory kept after the close, the growth meanwhile)."""
    ls = S.create_server()
    ls.protocol.set_writer(Sink())
    ls.protocol.client_capabilities = lsp.ClientCapabilities()
    for uri in uris[:-1]:  # fills lasting caches (imports, ...)
        await open_edit_ask_close(ls, uri)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        held = await open_edit_ask_close(ls, uris[-1])
        after, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert uris[-1] not in ls.docs.docs
    assert ls._completions == {} and uris[-1] not in ls.runner.last
    ls.docs.shutdown()
    return held, after - before, peak - before


def test_closing_a_document_frees_what_it_held():
    held, kept, grew = asyncio.run(kept_after([URI, URI, URI]))
    assert [ref() for ref in held] == [None] * len(held)
    # the document took tens of MB; once the checker's cache of this file is there (the
    # second time), reopening and closing it again keeps nothing
    assert grew > 10 << 20 and kept < grew // 10, (kept, grew)


def test_closing_a_document_gives_back_the_checkers_caches():
    held, kept, grew = asyncio.run(kept_after([URI, OTHER]))
    assert [ref() for ref in held] == [None] * len(held)
    assert grew > 10 << 20 and kept < grew // 10, (kept, grew)


def _reachable_strings(roots: list[object], limit: int = 2_000_000) -> set[str]:
    """Every str reachable from `roots` through containers and instances' attributes
    (modules, classes and functions are not entered: their own globals are roots)."""
    seen: set[int] = set()
    out: set[str] = set()
    todo = list(roots)
    while todo and len(seen) < limit:
        o = todo.pop()
        if id(o) in seen:
            continue
        seen.add(id(o))
        if isinstance(o, str):
            out.add(o)
        elif isinstance(o, dict):
            todo += o.keys()
            todo += o.values()
        elif isinstance(o, (list, tuple, set, frozenset)):
            todo += o
        elif isinstance(o, (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType,
                            types.MethodType, weakref.ref)):
            continue
        else:
            d = getattr(o, "__dict__", None)
            if isinstance(d, dict):
                todo.append(d)
            for name in getattr(type(o), "__slots__", ()):
                todo.append(getattr(o, name, None))
    return out


def test_no_module_global_keeps_a_closed_documents_names():
    """Module-global caches are keyed by what they read, never by a document (tl_core/host.py):
    after a document is opened, completed in and closed, no module of tl_core or tl_lsp
    reaches a name of it. (Completion's details of bindings by type were a module global:
    the names and types of every document ever completed in stayed after the close, up
    to 200,000 entries, and their small objects kept Python's allocator from returning
    the closed document's memory; issue 18.)"""
    name = "zq_only_in_this_document"
    text = f"let {name} = tensor<float16>([[1.0, 2.0]], device: cpu)\nfn g() -> int {{\n" \
           f"    return 1\n}}\nlet w = {name}\n"

    async def go() -> None:
        ls = S.create_server()
        ls.protocol.set_writer(Sink())
        ls.protocol.client_capabilities = lsp.ClientCapabilities()
        doc = lsp.TextDocumentIdentifier(uri=URI)
        await S.did_open(ls, lsp.DidOpenTextDocumentParams(
            lsp.TextDocumentItem(uri=URI, language_id="tensorlogic", version=1, text=text)))
        await ls.docs.get(URI).diag_task
        found = await S.completion(ls, lsp.CompletionParams(text_document=doc,
                                                            position=lsp.Position(4, 9)))
        assert name in str(vars(found))  # (the binding's details were computed)
        await S.did_close(ls, lsp.DidCloseTextDocumentParams(text_document=doc))
        await asyncio.sleep(0.2)
        ls.docs.shutdown()

    asyncio.run(go())
    gc.collect()
    modules = [m for n, m in list(sys.modules.items())
               if n.split(".")[0] in ("tl_core", "tl_lsp") and m is not None]
    kept = name in _reachable_strings([vars(m) for m in modules])
    assert not kept, "a module global keeps a name of the closed document"


def test_handled_notifications_leave_nothing_behind():
    """Every edit is a notification; once handled, the server keeps nothing of it. pygls
    kept each notification's future (two for our didOpen/didChange/didClose: the
    generator's and its handler's task) under a new id in `_request_futures` for good:
    ~3 KB per keystroke, for as long as the server ran (issue 18)."""
    import json

    from tl_lsp import rpc

    async def go() -> int:
        ls = S.create_server()
        ls.protocol.set_writer(Sink())
        ls.protocol.client_capabilities = lsp.ClientCapabilities()
        ls.protocol.state = rpc.RUNNING

        def send(method: str, params: dict) -> None:
            ls.protocol.receive(json.dumps({"jsonrpc": "2.0", "method": method,
                                            "params": params}).encode())

        send("textDocument/didOpen", {"textDocument": {
            "uri": URI, "languageId": "tensorlogic", "version": 1, "text": "let a = 1\n"}})
        for version in range(2, 42):
            send("textDocument/didChange", {
                "textDocument": {"uri": URI, "version": version},
                "contentChanges": [{"range": {"start": {"line": 0, "character": 9},
                                              "end": {"line": 0, "character": 9}},
                                    "text": "1"}]})
        for _ in range(100):
            await asyncio.sleep(0)
        assert ls.docs.get(URI).text == "let a = 1" + "1" * 40 + "\n"  # all were handled
        send("textDocument/didClose", {"textDocument": {"uri": URI}})
        for _ in range(100):
            await asyncio.sleep(0)
        kept = len(ls.protocol._request_futures)
        ls.docs.shutdown()
        return kept

    assert asyncio.run(go()) == 0
