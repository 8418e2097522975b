"""The language server over raw JSON-RPC under hostile traffic (issue 17).

A real `tl-lsp --stdio`: malformed frames and bodies, unknown methods, requests before
`initialize`, out-of-range positions in every positional request, a 20 MB document, and
1,000 rapid edits checked against an oracle of the text (the LSP rules, written in
tests/lsp/test_lsp_text_sync.py). The server never dies, answers every request exactly once,
and its memory after 1,000 edits stays within 1.5x of after the first.
"""

from __future__ import annotations

import random
import time
from typing import Any

import pytest

from tests.hostile.bounded import rss_of
from tests.lsp.stdio_client import LspError, StdioClient
from tests.lsp.test_lsp_text_sync import oracle_apply

URI = "file:///hostile/a.tl"
TEXT = "fn double(x: float16[N]) -> float16[N] {\n    return x * 2.0\n}\nlet a = ones([4])\n" \
       "let b = double(a)\nprint(b)\n"


def text_of(client: StdioClient, uri: str = URI) -> str:
    return client.request("tensorlogic/documentText", {"uri": uri})["text"]


def answered(client: StdioClient, method: str, params: Any) -> Any:
    """The result or the error of one request (an error must carry no traceback)."""
    try:
        return client.request(method, params)
    except LspError as exc:
        assert set(exc.error) <= {"code", "message"} and "Traceback" not in exc.error["message"]
        return exc.error


@pytest.fixture()
def server():
    client = StdioClient()
    timer = client.kill_after(600)
    yield client
    timer.cancel()
    client.close()


def test_requests_before_initialize_are_refused_and_answered(server) -> None:
    for method, params in (("textDocument/hover", {"textDocument": {"uri": URI},
                                                   "position": {"line": 0, "character": 0}}),
                           ("workspace/symbol", {"query": ""}), ("shutdown", None)):
        assert answered(server, method, params)["code"] == -32002
    server.initialize()
    server.open(URI, TEXT)
    assert text_of(server) == TEXT


def frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


MALFORMED = [
    frame(b"{oops"),  # not JSON
    frame(b"\xff\xfe\xfd\xfc"),  # not UTF-8
    frame(b"[]"),  # an empty batch
    frame(b"null"),
    frame(b'{"jsonrpc":"2.0","id":{}}'),  # an id that is an object
    frame(b'{"jsonrpc":"2.0","id":1e999,"method":"x/y"}'),
    frame(b'{"jsonrpc":"2.0","id":7,"method":"textDocument/hover","params":' + b"[" * 100_000
          + b"]" * 100_000 + b"}"),  # nested 100,000 deep
    frame(b'{"jsonrpc":"2.0","method":"textDocument/didChange","params":{"textDocument":'
          b'{"uri":"file:///hostile/a.tl","version":"x"},"contentChanges":7}}'),
    b"Content-Length: -7\r\n\r\n",
    b"Content-Type: text/plain\r\n\r\n",  # no length
    b"Content-Length: abc\r\n\r\n",
    b"\r\n\r\n\r\n",
]


def test_malformed_frames_unknown_methods_and_wild_positions(server) -> None:
    server.initialize()
    server.open(URI, TEXT)
    tally = {"requests": 0, "answered": 0}
    for frame in MALFORMED:
        server.send_raw(frame)
        assert text_of(server) == TEXT  # the next good request is answered
    for method in ("textDocument/unknownThing", "tensorlogic/nope", "$/whatever", "", "x" * 10_000):
        tally["requests"] += 1
        error = answered(server, method, {})
        tally["answered"] += 1
        assert error["code"] in (-32601, -32600), (method, error)
    server.notify("textDocument/unknownNotification", {"a": 1})
    server.notify("$/cancelRequest", {"id": 10**30})
    doc = {"textDocument": {"uri": URI}}
    wild = [{"line": 10**9, "character": 10**9}, {"line": 2**31 - 1, "character": 0},
            {"line": 0, "character": 2**31 - 1}, {"line": 3, "character": 10**6}]
    for pos in wild:
        for method, extra in (("textDocument/hover", {}), ("textDocument/completion", {}),
                              ("textDocument/signatureHelp", {}),
                              ("textDocument/definition", {}),
                              ("textDocument/references", {"context": {"includeDeclaration": True}}),
                              ("textDocument/prepareRename", {}),
                              ("textDocument/rename", {"newName": "zz"})):
            tally["requests"] += 1
            answered(server, method, {**doc, "position": pos, **extra})
            tally["answered"] += 1
        far = {"start": {"line": 0, "character": 0}, "end": pos}
        for method, extra in (("textDocument/inlayHint", {"range": far}),
                              ("textDocument/rangeFormatting",
                               {"range": far, "options": {"tabSize": 4, "insertSpaces": True}})):
            tally["requests"] += 1
            answered(server, method, {**doc, **extra})
            tally["answered"] += 1
        # an edit at a wild position lands at the end, as the oracle says
        change = {"range": {"start": pos, "end": pos}, "text": "//x\n"}
        before = text_of(server)
        server.notify("textDocument/didChange", {"textDocument": {"uri": URI, "version": 2},
                                                 "contentChanges": [change]})
        assert text_of(server) == oracle_apply(before, change, "utf-16")
    assert tally["answered"] == tally["requests"] and server.alive()
    for method in ("textDocument/hover", "textDocument/completion"):  # a closed document
        answered(server, method, {"textDocument": {"uri": "file:///never/opened.tl"},
                                  "position": {"line": 0, "character": 0}})
    assert text_of(server).startswith(TEXT[:20])
    # last: a length over the limit is answered, then that many bytes are skipped (all the
    # rest of this stream): the server lives on
    server.send_raw(b"Content-Length: 99999999999999999999999\r\n\r\n")
    with pytest.raises(LspError) as err:
        server.response(None)
    assert err.value.error["code"] == -32600
    server.send_raw(b"x" * 100_000)
    assert server.alive()
    server.proc.stdin.close()  # the end of the stream ends the server
    assert server.proc.wait(60) == 0


@pytest.mark.slow
def test_a_20_mb_document(server) -> None:
    """20 MB through the framing, the text sync, the line index, the scanner and the parser.
    The bytes are mostly comments: 20 MB of dense code is 870,000 lines for the checker, a
    linear ~70 s of parse and check (measured, docs/benchmarks.md), which says nothing more
    about the server surviving a large document than 11,000 functions do."""
    server.initialize()
    unit = "/* f_{i}: what it does\n" + (" * " + "lorem ipsum dolor sit amet, " * 3 + "\n") * 20 \
        + " */\nfn f_{i}(x: float16[N, D]) -> float16[N, D] {{\n    let y = x * 2.0\n    " \
        "return y + x\n}}\nlet v_{i} = f_{i}(ones([2, 3]))\n"
    parts, size, i = [], 0, 0
    while size < 20 * 1024 * 1024:
        part = unit.format(i=i)
        parts.append(part)
        size += len(part)
        i += 1
    big = "".join(parts)
    uri = "file:///hostile/big.tl"
    server.open(uri, big)
    server.wait_notification("textDocument/publishDiagnostics", lambda p: p["uri"] == uri,
                             timeout=540)
    fn_line = big[:big.index("fn f_1(")].count("\n")
    hover = answered(server, "textDocument/hover", {"textDocument": {"uri": uri},
                                                   "position": {"line": fn_line, "character": 5}})
    assert hover is not None and "f_1" in str(hover)
    assert len(text_of(server, uri)) == len(big)
    server.notify("textDocument/didChange", {
        "textDocument": {"uri": uri, "version": 2},
        "contentChanges": [{"range": {"start": {"line": 0, "character": 0},
                                      "end": {"line": 0, "character": 0}}, "text": "// top\n"}]})
    assert text_of(server, uri).startswith("// top\n/* f_0")
    assert server.alive()


def _random_change(rng: random.Random, text: str) -> dict:
    lines = text.count("\n") + 1
    def pos() -> dict:  # noqa: E306 - sometimes past the end of the line or document
        return {"line": rng.randrange(lines + 2), "character": rng.randrange(0, 60)}
    a, b = pos(), pos()
    if (a["line"], a["character"]) > (b["line"], b["character"]):
        a, b = b, a
    insert = rng.choice(["", "x", "let q = 1\n", "\r\n", "é", "😀", "}", "{", "\u2028",
                         "fn g() {\n", "// c\n", "z" * rng.randrange(1, 30)])
    return {"range": {"start": a, "end": b}, "text": insert}


@pytest.mark.slow
def test_1000_rapid_edits_match_the_oracle_and_memory_stays_flat(server) -> None:
    server.initialize()
    uri = "file:///hostile/edits.tl"
    base = TEXT * 40
    server.open(uri, base)
    rng = random.Random(1000)
    text = base

    def settle() -> None:
        """Wait until the diagnostics of the current text are out, then measure."""
        server.notifications.clear()
        answered(server, "textDocument/hover", {"textDocument": {"uri": uri},
                                                "position": {"line": 1, "character": 4}})
        time.sleep(1.5)  # the analysis, warm-up and the collector's idle pass

    change = _random_change(rng, text)
    text = oracle_apply(text, change, "utf-16")
    server.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 2},
                                             "contentChanges": [change]})
    assert text_of(server, uri) == text
    settle()
    after_first = rss_of(server.proc.pid, "VmRSS")
    for version in range(3, 1002):
        changes = [_random_change(rng, text)]
        for c in changes:
            text = oracle_apply(text, c, "utf-16")
        server.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version},
                                                 "contentChanges": changes})
        if version % 100 == 0:  # requests interleaved with the burst
            answered(server, "textDocument/completion", {"textDocument": {"uri": uri},
                                                         "position": {"line": 2, "character": 1}})
            assert text_of(server, uri) == text
    assert text_of(server, uri) == text
    settle()
    after_all = rss_of(server.proc.pid, "VmRSS")
    assert after_all <= 1.5 * after_first, (after_first, after_all)
    assert server.alive()
