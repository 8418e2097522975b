"""`tl-lsp` command line: --log-file, and no --tcp (stdio and --version: test_lsp_features.py).

A TCP port (pygls' `start_tcp`) let any local user connect and run code as the server's
user through the kernel (issue 18); no client used it, so `tl-lsp` speaks stdio only.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from tests.lsp.lsp_util import ENV
from tests.lsp.stdio_client import StdioClient
from tl_core import __version__


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_tcp_is_refused_and_listens_nowhere():
    port = free_port()
    out = subprocess.run(
        [sys.executable, "-m", "tl_lsp", "--tcp", str(port)],
        env=ENV, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert out.returncode == 2
    assert out.stderr.splitlines()[-1] == f"tl-lsp: error: unrecognized arguments: --tcp {port}"
    with socket.socket() as s:  # nothing was listening: the port is still free
        s.bind(("127.0.0.1", port))


def test_log_file(tmp_path: Path):
    log = tmp_path / "server.log"
    client = StdioClient([sys.executable, "-m", "tl_lsp", "--stdio", "--log-file", str(log)])
    try:
        result = client.initialize()
        assert result["serverInfo"] == {"name": "tl-lsp", "version": __version__}
        assert client.request("shutdown", None) is None
        client.notify("exit", None)
        assert client.proc.wait(30) == 0
    finally:
        client.close()
    assert "Language server initialized" in log.read_text()
