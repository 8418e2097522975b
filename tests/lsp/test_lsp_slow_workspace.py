"""Cross-file work in the language server is bounded and never holds up a document (issue 17:
"workspace-wide scans (symbols, file watching) must skip devices, FIFOs and sockets and bound
their work"): workspace symbols read and analyse the files that are not open on a thread of
their own, at most `_MAX_WORKSPACE_FILE_BYTES` each, a read waited for at most `READ_WAIT_S`;
an imported file is read like a model file (`tl_core.read_wait`).

The slowed server's source reads (`read_source`, as the imports and the workspace files
use it) block on files named `slow*.tl` until the test releases them.
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.lsp.stdio_client import StdioClient
from tests.lsp.test_lsp_slow_model_read import (
    OTHER,
    _hover,
    _symbols,
    _wait_for,
    analysed_after_release,
    slowed_server,
    still_reading,
)

SLOW_SERVER = """
import os, sys, time
import tl_core.check.imports as I
import tl_lsp.documents as D

_real = I.read_source

def _slow(path, *args):
    if os.path.basename(path).startswith("slow"):
        open(os.environ["TL_TEST_STARTED"] + "." + os.path.basename(path), "w").close()
        end = time.monotonic() + 120
        while not os.path.exists(os.environ["TL_TEST_RELEASE"]) and time.monotonic() < end:
            time.sleep(0.02)
    return _real(path, *args)

I.read_source = D.read_source = _slow
from tl_lsp.__main__ import main
sys.exit(main(["--stdio"]))
"""

IMPORTING = """import "slowlib.tl"
fn scale(x: float) -> float {
    return x * 2.0
}
let v = lib_fn(3)
"""


def _change(client: StdioClient, uri: str, version: int, text: str) -> None:
    client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version},
                                             "contentChanges": [{"text": text}]})


def test_server_answers_while_an_import_and_a_workspace_file_are_slow(tmp_path: Path) -> None:
    (tmp_path / "slowlib.tl").write_text("fn lib_fn(a: int) -> int {\n    return a\n}\n")
    (tmp_path / "slowfile.tl").write_text("fn in_slow_file() -> int {\n    return 1\n}\n")
    (tmp_path / "good.tl").write_text("fn helper_in_good() -> int {\n    return 1\n}\n")
    with slowed_server(tmp_path, SLOW_SERVER) as (client, started, release):
        other_uri = (tmp_path / "other.tl").as_uri()
        client.open(other_uri, OTHER)
        # an import being read: the document is answered, typed once the read ends
        slow_uri = (tmp_path / "importing.tl").as_uri()
        client.open(slow_uri, IMPORTING)
        _wait_for(Path(f"{started}.slowlib.tl"), client)
        assert _symbols(client, slow_uri)[:3] == ["slowlib.tl", "scale", "v"]
        assert "scale" in _hover(client, slow_uri, 1, 4)
        assert still_reading(client, slow_uri) == [
            ({"line": 0, "character": 7}, 3, "still reading 'slowlib.tl' (a slow disk?): what "
                                             "it holds is checked when the read ends")]
        # workspace symbols: a slow file's read holds up neither the answer nor a document
        asked = client.send_request("workspace/symbol", {"query": ""})
        _wait_for(Path(f"{started}.slowfile.tl"), client)
        _change(client, other_uri, 2, OTHER + "fn added() -> int {\n    return 2\n}\n")
        assert _symbols(client, other_uri) == ["helper", "k", "added"]
        names = {s["name"] for s in client.response(asked)}
        assert {"helper_in_good", "helper", "scale"} <= names
        assert not names & {"in_slow_file", "lib_fn"}  # being read: left out this time
        assert not release.exists(), "the answers waited for a slow read to end"
        analysed_after_release(client, release, slow_uri)
        assert "lib_fn" in _hover(client, slow_uri, 4, 9)
        names = {s["name"] for s in client.request("workspace/symbol", {"query": ""})}
        assert {"in_slow_file", "lib_fn", "added"} <= names  # read since: found now


def test_workspace_symbols_skip_fifos_and_files_over_the_limit(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.tl")
    big = "".join(f"fn big_{i}(a: int) -> int {{\n    return a + {i}\n}}\n"
                  for i in range(20_000))  # ~0.8 MB: minutes of checking before
    (tmp_path / "big.tl").write_text("fn hidden_in_big() -> int {\n    return 1\n}\n" + big)
    (tmp_path / "good.tl").write_text("fn helper_in_good() -> int {\n    return 1\n}\n")
    client = StdioClient(cwd=str(tmp_path))
    killer = client.kill_after(240)
    try:
        client.initialize(tmp_path)
        uri = (tmp_path / "other.tl").as_uri()
        client.open(uri, OTHER)
        asked = client.send_request("workspace/symbol", {"query": "hi"})
        _change(client, uri, 2, OTHER + "fn added() -> int {\n    return 2\n}\n")
        assert _symbols(client, uri) == ["helper", "k", "added"]
        assert [s["name"] for s in client.response(asked)] == ["helper_in_good"]
    finally:
        killer.cancel()
        client.close()
    assert client.proc.returncode == 0
