"""`tl-lsp` command line: --tcp and --log-file (stdio and --version: test_lsp_features.py)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.lsp.lsp_util import ENV


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rpc(sock: socket.socket, msg: dict) -> dict:
    body = json.dumps({"jsonrpc": "2.0", **msg}).encode()
    sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    if "id" not in msg:
        return {}
    data = b""
    while True:
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        head, rest = data.split(b"\r\n\r\n", 1)
        length = int(head.split(b"Content-Length:")[1].split(b"\r\n")[0])
        while len(rest) < length:
            rest += sock.recv(65536)
        reply, data = json.loads(rest[:length]), rest[length:]
        if reply.get("id") == msg["id"]:
            return reply


def test_tcp_mode_and_log_file(tmp_path: Path):
    port = free_port()
    log = tmp_path / "server.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tl_lsp", "--tcp", str(port), "--log-file", str(log)],
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=30)
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
                time.sleep(0.1)
        with sock:
            reply = rpc(sock, {"id": 1, "method": "initialize", "params": {"capabilities": {}}})
            assert reply["result"]["serverInfo"] == {"name": "tl-lsp", "version": "0.1.0"}
            assert reply["result"]["capabilities"]["positionEncoding"] == "utf-16"
            rpc(sock, {"method": "initialized", "params": {}})
            assert rpc(sock, {"id": 2, "method": "shutdown"})["result"] is None
            rpc(sock, {"method": "exit"})
    finally:
        proc.kill()
        proc.wait(10)
    assert "Language server initialized" in log.read_text()
