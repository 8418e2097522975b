"""The converters of every message the server reads and writes are made at start
(tl_lsp/lasting.py): the first hover, diagnostics or completion of a document makes no
new hook, so nothing lasting lands among the document's objects (issue 18: those kept
Python's arenas, and the document's memory, mapped after the close)."""

from __future__ import annotations

import json

import cattrs.gen
from lsprotocol import types as lsp
from pygls.protocol import JsonRPCResponseMessage

from tl_lsp import protocol as proto
from tl_lsp import server as S


def made_hooks(monkeypatch) -> list[type]:  # noqa: ANN001
    made: list[type] = []
    for name in ("make_dict_structure_fn", "make_dict_unstructure_fn"):
        original = getattr(cattrs.gen, name)

        def spy(cl, *args, _original=original, **kwargs):  # noqa: ANN001, ANN202
            made.append(cl)
            return _original(cl, *args, **kwargs)

        monkeypatch.setattr(cattrs.gen, name, spy)
    return made


def first_messages(ls: S.TensorLogicServer) -> None:
    """Read a change and a hover, write a hover's answer, diagnostics and a completion."""
    protocol = ls.protocol
    uri = "file:///lasting/a.tl"
    here = {"line": 0, "character": 1}
    protocol._structure({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
        "textDocument": {"uri": uri, "version": 2},
        "contentChanges": [{"range": {"start": here, "end": here}, "text": "x"}]}}, object)
    protocol._structure({"jsonrpc": "2.0", "id": 1, "method": "textDocument/hover",
                         "params": {"textDocument": {"uri": uri}, "position": here}}, object)
    span = lsp.Range(start=lsp.Position(0, 0), end=lsp.Position(0, 1))
    hover = lsp.Hover(contents=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value="x"),
                      range=span)
    diagnostics = lsp.PublishDiagnosticsNotification(params=lsp.PublishDiagnosticsParams(
        uri=uri, version=2, diagnostics=[lsp.Diagnostic(range=span, message="m")]))
    for message in (lsp.HoverResponse(id=1, result=hover), diagnostics,
                    JsonRPCResponseMessage(id=3, result=hover, jsonrpc="2.0"),
                    lsp.CompletionResponse(id=2, result=proto.RawJSON({"items": []}))):
        json.dumps(message, default=protocol._serialize_message)


def test_the_first_messages_of_a_document_make_no_converter(monkeypatch):
    ls = S.create_server()
    S.make_lasting(ls)
    made = made_hooks(monkeypatch)
    first_messages(ls)
    assert made == []
    ls.docs.shutdown()


def test_without_them_the_first_messages_make_converters(monkeypatch):
    """(The test above can fail: a server that did not make them makes them here.)"""
    ls = S.create_server()
    made = made_hooks(monkeypatch)
    first_messages(ls)
    assert lsp.Hover in made and lsp.PublishDiagnosticsParams in made
    ls.docs.shutdown()
