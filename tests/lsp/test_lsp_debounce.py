"""Diagnostics debouncing (`diagnosticsDelayMs`): a burst of changes is analysed once, but
a change that comes after the previous diagnostics went out is never held back (a bug
fixed: every change within the delay of the previous one waited, even when nothing was
pending, which made every other back-to-back edit of a small file ~20 ms slower)."""

from __future__ import annotations

import threading
from pathlib import Path

from .stdio_client import StdioClient


def watched_client(cwd: Path, seconds: float = 60) -> StdioClient:
    """A client whose server is killed after `seconds`: a wait for a notification that
    never comes fails (EOFError) instead of blocking."""
    client = StdioClient(cwd=str(cwd))
    timer = threading.Timer(seconds, client.proc.kill)
    timer.daemon = True
    timer.start()
    return client


def change(client: StdioClient, uri: str, version: int, text: str) -> None:
    client.notify("textDocument/didChange", {
        "textDocument": {"uri": uri, "version": version},
        "contentChanges": [{"text": text}],
    })


def published(client: StdioClient, uri: str, version: int, timeout: float) -> dict:
    return client.wait_notification(
        "textDocument/publishDiagnostics",
        lambda p: p["uri"] == uri and p.get("version") == version, timeout=timeout)


def test_a_change_after_published_diagnostics_is_not_held_back(tmp_path: Path) -> None:
    doc = tmp_path / "a.tl"
    doc.write_text("let a = 1\n", encoding="utf-8")
    uri = doc.as_uri()
    client = watched_client(tmp_path)
    try:
        # a delay far longer than the waits below: any debounce of a lone change times out
        client.initialize(tmp_path, {"diagnosticsDelayMs": 120_000})
        client.open(uri, "let a = 1\n")
        published(client, uri, 1, 30)
        for version in range(2, 6):
            change(client, uri, version, f"let a = {version}\nlet b = nope{version}\n")
            diags = published(client, uri, version, 30)["diagnostics"]
            assert any(f"nope{version}" in d["message"] for d in diags)
    finally:
        client.proc.kill()
        client.proc.wait(10)


def test_only_a_change_in_a_burst_waits() -> None:
    from tl_lsp.server import START_DELAY_MS, debounce_ms

    assert 0 < START_DELAY_MS < 20
    assert debounce_ms(20, busy=True, since_previous_ms=5) == 20  # a burst: wait
    # the last diagnostics are out: only the delay that lets requests sent with it go first
    assert debounce_ms(20, busy=False, since_previous_ms=5) == START_DELAY_MS
    assert debounce_ms(0, busy=False, since_previous_ms=None) == START_DELAY_MS
    assert debounce_ms(20, busy=True, since_previous_ms=25) == 0  # not that soon
    assert debounce_ms(20, busy=True, since_previous_ms=None) == 0  # the first change
    assert debounce_ms(0, busy=True, since_previous_ms=0) == 0


async def test_only_the_last_version_of_a_burst_is_published(monkeypatch) -> None:
    # in-process, so that the burst is exact: three changes handled in one tick of the
    # event loop, as when they are read from the pipe together
    import dataclasses

    from lsprotocol import types as lsp

    from tl_lsp import server as srv

    ls = srv.create_server()
    ls.config = dataclasses.replace(ls.config, diagnostics_delay_ms=200)
    versions: list[int | None] = []
    monkeypatch.setattr(ls, "text_document_publish_diagnostics",
                        lambda params: versions.append(params.version))
    monkeypatch.setattr(ls, "capability", lambda dotted: None)  # no client in-process
    uri = "file:///tmp/debounce_burst.tl"
    ls.docs.open(uri, "let a = 1\n", 1)
    for version in (2, 3, 4):
        ls.docs.change(uri, [lsp.TextDocumentContentChangeWholeDocument(
            text=f"let a = {version}\n")], version)
        ls.schedule_diagnostics(uri)
    await ls.docs.get(uri).diag_task
    assert versions == [4]
    ls.docs.shutdown()
