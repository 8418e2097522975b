"""Whole-document work runs in the background and steps aside for the requests the editor
waits on (tl_lsp/yield_gate.py): a hover or completion sent while the semantic tokens of a
large document are being computed is answered first, and the tokens are still right."""

from __future__ import annotations

import threading
import time

import pytest

from tests.lsp.stdio_client import StdioClient
from tl_lsp.yield_gate import YieldGate

BLOCK = """\
// block {i}: 가중치 😀
let x{i} = tensor<float16>([[1.0, 2.0], [3.0, 4.0]], device: cpu)
fn f{i}(a: float16[N, D]) -> float16[N, D] {{
    return a + a
}}
let z{i} = f{i}(x{i})
"""


def test_a_request_sent_during_semantic_tokens_is_answered_first(tmp_path):
    text = "".join(BLOCK.format(i=i) for i in range(1500))  # 9,000 lines
    path = tmp_path / "big.tl"
    path.write_text(text, encoding="utf-8")
    uri = path.as_uri()
    doc = {"textDocument": {"uri": uri}}
    line = text.count("\n", 0, text.index("let z700 = "))
    client = StdioClient()
    try:
        client.initialize(tmp_path, {"device": "cpu"})
        client.open(uri, text)
        client.wait_notification("textDocument/publishDiagnostics", lambda p: p["uri"] == uri)
        # the first tokens of a document fill the caches: ~0.5 s here
        sid = client.send_request("textDocument/semanticTokens/full", doc)
        cid = client.send_request("textDocument/completion",
                                  {**doc, "position": {"line": line, "character": 11}})
        hid = client.send_request("textDocument/hover",
                                  {**doc, "position": {"line": line, "character": 5}})
        labels = [c["label"] for c in client.response(cid)["items"]]
        hover = client.response(hid)
        assert sid not in client.responses  # the tokens are still being computed
        assert len(labels) == 200 and "x0" in labels and "z700" in hover["contents"]["value"]
        first = client.response(sid)["data"]
        assert len(first) > 5 * 10_000
        assert client.request("textDocument/semanticTokens/full", doc)["data"] == first
    finally:
        client.close()


def test_pause_waits_while_the_gate_is_held_and_not_longer():
    gate = YieldGate(max_wait_s=5.0)
    passed = threading.Event()

    def work() -> None:
        gate.pause()
        passed.set()

    with gate.busy():
        with gate.busy():  # nested holders: free only when both left
            worker = threading.Thread(target=work)
            worker.start()
            assert not passed.wait(0.2)
        assert not passed.wait(0.1)
    assert passed.wait(5.0)
    worker.join()
    gate.pause()  # free: returns at once
    gate.step()


def test_pause_gives_up_after_max_wait():
    gate = YieldGate(max_wait_s=0.05)
    with gate.busy():
        t = time.monotonic()
        gate.pause()
        assert time.monotonic() - t >= 0.04


def test_a_failing_holder_frees_the_gate():
    gate = YieldGate(max_wait_s=5.0)
    with pytest.raises(RuntimeError), gate.busy():
        raise RuntimeError("boom")
    t = time.monotonic()
    gate.pause()
    assert time.monotonic() - t < 1.0


def test_an_analysis_holds_the_gate(monkeypatch):
    """Diagnostics go before background work: the analysis thread holds the gate."""
    from tl_lsp import documents

    docs = documents.Documents()
    docs.gate = YieldGate()
    seen = []
    monkeypatch.setattr(documents, "_analyze", lambda host, text, checkpoint, line_index, pause: (
        seen.append(docs.gate._free.is_set()) or text))
    job = documents.Job(0, "let x = 1\n", None)  # type: ignore[arg-type]
    assert docs._analyze_now(job, None) == "let x = 1\n"  # type: ignore[arg-type]
    assert seen == [False] and docs.gate._free.is_set()
    docs.shutdown()
