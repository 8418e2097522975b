"""The language server keeps answering while a model file named by a program is slow to read
(issue 17: reading model files "must finish in bounded time ... on the language server's
thread pool"): a network disk, a file being written, a FIFO-like device behind a regular name.

The real server runs with its header reader made slow for one file (`slow.safetensors`):
the read signals that it started, then blocks until the test releases it. Meanwhile hover
and documentSymbol on another document, and documentSymbol and hover on the document whose
read is under way, must be answered; once the read ends, the document's diagnostics and
hover show the model's tensors.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from tests.lsp.stdio_client import StdioClient
from tests.models.builders import write_safetensors

# The server, with tl_core.models.header._read_file (the file read under read_header's
# cache) blocking on `slow.safetensors` until the release file exists (at most 120 s).
SLOW_SERVER = """
import os, sys, time
import tl_core.models.header as H

_real = H._read_file

def _slow(path, st):
    if path.endswith("slow.safetensors"):
        open(os.environ["TL_TEST_STARTED"], "w").close()
        end = time.monotonic() + 120
        while not os.path.exists(os.environ["TL_TEST_RELEASE"]) and time.monotonic() < end:
            time.sleep(0.02)
    return _real(path, st)

H._read_file = _slow
from tl_lsp.__main__ import main
sys.exit(main(["--stdio"]))
"""

SLOW = """fn scale(x: float) -> float {
    return x * 2.0
}
let m = load_model("slow.safetensors")
let w = get_tensor(m, "w")
let y = w + 1.0
"""

OTHER = """fn helper(a: int) -> int {
    return a + 1
}
let k = helper(2)
"""


def _wait_for(path: Path, client: StdioClient, seconds: float = 120.0) -> None:
    done = threading.Event()
    timer = threading.Timer(seconds, done.set)
    timer.start()
    try:
        while not path.exists():
            assert client.alive() and not done.wait(0.02), f"{path.name} never appeared"
    finally:
        timer.cancel()


def _hover(client: StdioClient, uri: str, line: int, character: int) -> str:
    h = client.request("textDocument/hover", {"textDocument": {"uri": uri},
                                              "position": {"line": line,
                                                           "character": character}})
    assert h is not None
    return h["contents"]["value"]


def _symbols(client: StdioClient, uri: str) -> list[str]:
    found = client.request("textDocument/documentSymbol", {"textDocument": {"uri": uri}})
    return [s["name"] for s in found]


@contextmanager
def slowed_server(tmp_path: Path, script: str) -> Iterator[tuple[StdioClient, Path, Path]]:
    """(client, started, release): a real server running `script` in `tmp_path`, whose slowed
    read creates `started` and then waits for `release` (made after 90 s at the latest, so
    that an answer that never comes fails the asserts instead of hanging)."""
    started, release = tmp_path / "started", tmp_path / "release"
    client = StdioClient([sys.executable, "-c", script], cwd=str(tmp_path),
                         env={"TL_TEST_STARTED": str(started), "TL_TEST_RELEASE": str(release)})
    releaser = threading.Timer(90, release.touch)
    releaser.daemon = True
    releaser.start()
    killer = client.kill_after(240)
    try:
        client.initialize(tmp_path)
        yield client, started, release
    finally:
        releaser.cancel()
        killer.cancel()
        client.close()
    assert client.proc.returncode == 0


def open_while_slow(client: StdioClient, started: Path, slow: tuple[str, str]) -> str:
    """Opens the document `slow` ((file name, text)) whose analysis starts the slow read,
    waits for the read to start, then opens OTHER; checks hover and documentSymbol on OTHER
    and hover on the slow document; returns the slow document's uri."""
    root = started.parent
    slow_uri, other_uri = (root / slow[0]).as_uri(), (root / "other.tl").as_uri()
    client.open(slow_uri, slow[1])
    _wait_for(started, client)
    client.open(other_uri, OTHER)
    assert "helper" in _hover(client, other_uri, 3, 9)
    assert _symbols(client, other_uri) == ["helper", "k"]
    assert "scale" in _hover(client, slow_uri, 0, 4)
    return slow_uri


def still_reading(client: StdioClient, uri: str) -> list[tuple[dict, int, str]]:
    """(start, severity, message) of the document's first diagnostics."""
    first = client.wait_notification("textDocument/publishDiagnostics",
                                     lambda p: p["uri"] == uri, timeout=120)
    return [(d["range"]["start"], d["severity"], d["message"]) for d in first["diagnostics"]]


def analysed_after_release(client: StdioClient, release: Path, uri: str) -> None:
    """Ends the slowed read; the document is then analysed again, without diagnostics (what
    it names is read now)."""
    release.touch()
    again = client.wait_notification("textDocument/publishDiagnostics",
                                     lambda p: p["uri"] == uri, timeout=120)
    assert again["diagnostics"] == []


def test_server_answers_while_a_model_read_is_slow(tmp_path: Path) -> None:
    write_safetensors(tmp_path / "slow.safetensors", {"w": np.ones((2, 3), np.float32)})
    with slowed_server(tmp_path, SLOW_SERVER) as (client, started, release):
        slow_uri = open_while_slow(client, started, ("slow.tl", SLOW))
        # the document itself: its text is answered from before its model is read
        assert _symbols(client, slow_uri)[:2] == ["scale", "m"]
        assert not release.exists(), "the answers waited for the model read to end"
        assert still_reading(client, slow_uri) == [
            ({"line": 3, "character": 19}, 3, "still reading 'slow.safetensors' (a slow disk?): "
                                             "what it holds is checked when the read ends")]
        analysed_after_release(client, release, slow_uri)
        assert "[2, 3]" in _hover(client, slow_uri, 5, 4)
