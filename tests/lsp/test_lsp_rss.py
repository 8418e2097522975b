"""Closing a document gives its memory back to the operating system (issue 18): the real
server's resident set size (RSS) after a 10,000-line document is opened, edited and closed
drops by much of what the document took.

Freeing the document's objects (tests/lsp/test_lsp_close_frees.py) returns them to Python's
and the C library's allocators, which kept the pages: RSS stayed at its peak. The server
now collects and trims the heap in the pause after a close (`IdleCollector.give_back`,
tl_lsp/gc_policy.py). Memory sizes, not times: the bound holds on a loaded machine.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from tests.lsp.stdio_client import StdioClient

pytestmark = [pytest.mark.slow,  # ~30 s: two 10,000-line documents in a real server
              pytest.mark.skipif(not sys.platform.startswith("linux"),
                                 reason="reads /proc; trims glibc's heap")]

TEXT = "".join(
    f"let x{i} = tensor<float16>([[1.0, 2.0], [3.0, 4.0]], device: cpu)\n"
    f"fn f{i}(a: float16[N, D]) -> float16[N, D] {{\n    let b{i} = a + a\n    return b{i}\n}}\n"
    f"let z{i} = f{i}(x{i})\n// block {i}\n"
    for i in range(1400)
)  # ~10,000 lines


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def cycle(client: StdioClient, uri: str) -> float:
    """Open, edit and close `uri`; the RSS at its peak (before the close)."""
    client.open(uri, TEXT)
    client.wait_notification("textDocument/publishDiagnostics", lambda p: p["uri"] == uri)
    for version in range(2, 12):
        client.notify("textDocument/didChange", {
            "textDocument": {"uri": uri, "version": version},
            "contentChanges": [{"range": {"start": {"line": 7 * version, "character": 0},
                                          "end": {"line": 7 * version, "character": 0}},
                                "text": "let q = 1\n"}]})
        client.request("textDocument/hover", {"textDocument": {"uri": uri},
                                              "position": {"line": 700, "character": 5}})
    client.wait_notification("textDocument/publishDiagnostics",
                             lambda p: p["uri"] == uri and p.get("version") == 11)
    peak = rss_mb(client.proc.pid)
    client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    client.request("tensorlogic/documentText", {"uri": uri})  # the close was handled
    return peak


def settled(pid: int, seconds: float = 4.0) -> float:
    """The RSS once the server had a pause (it frees and trims in pauses)."""
    time.sleep(seconds)
    return rss_mb(pid)


def test_closing_a_document_returns_its_memory_to_the_os(tmp_path: Path):
    client = StdioClient()
    try:
        client.initialize(tmp_path, {"device": "cpu"})
        pid = client.proc.pid
        cycle(client, (tmp_path / "warm.tl").as_uri())  # imports, lasting caches
        base = settled(pid)
        peak = cycle(client, (tmp_path / "a.tl").as_uri())
        after = settled(pid)
        print(f"RSS before open {base:.0f} MB, peak {peak:.0f} MB, after close {after:.0f} MB")
        # the first close gave its memory back (before, RSS stayed at the first peak and
        # the second document reused it: 137 -> 139 -> 139 MB), so the second one grows it
        # (by 14.8-27 MB in runs at load 1-8; 2 MB when the first close gave nothing back)
        assert peak - base > 8, (base, peak)
        # and gives much of it back: 25-27 MB taken, 15-18 MB returned in runs at load 1-8
        # (what lasting caches pin in Python's allocator arenas stays: docs/benchmarks.md)
        assert peak - after > (peak - base) / 3, (base, peak, after)
    finally:
        client.close()


def test_the_first_close_comes_back_near_the_idle_server(tmp_path: Path):
    """What the server keeps for its life is made before the first document opens
    (tl_lsp/lasting.py), so the first close gives back most of what the document took:
    the converters and modules made on first use, among the document's objects, kept
    Python's arenas mapped (27-29 MB above the idle server after the close, half of what
    the document took, at 60acf18; 10-13 MB after)."""
    client = StdioClient()
    try:
        client.initialize(tmp_path, {"device": "cpu"})
        pid = client.proc.pid
        base = settled(pid)  # once `initialized`'s warm-up is done
        peak = cycle(client, (tmp_path / "a.tl").as_uri())
        after = settled(pid)
        print(f"RSS idle {base:.0f} MB, peak {peak:.0f} MB, after the close {after:.0f} MB")
        assert peak - base > 30, (base, peak)
        assert after - base < (peak - base) * 0.4, (base, peak, after)
    finally:
        client.close()
