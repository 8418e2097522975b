"""A small synchronous LSP client over a subprocess' stdio (for the fuzz test and bench/lsp.py).

pytest-lsp drives the feature tests; this one exists so hypothesis (synchronous) and the
benchmark can talk to one long-lived real server with no event loop in between.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


class LspError(Exception):
    def __init__(self, error: dict[str, Any]):
        super().__init__(f"{error.get('code')}: {error.get('message')}")
        self.error = error


class StdioClient:
    def __init__(
        self,
        cmd: list[str] | None = None,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
    ):
        env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
        self.proc = subprocess.Popen(
            cmd or [sys.executable, "-m", "tl_lsp", "--stdio"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
        )
        self._id = 0
        self.notifications: list[dict[str, Any]] = []
        self.responses: dict[Any, dict[str, Any]] = {}
        # answers to the server's requests by method (params -> result); others get null
        self.on_request: dict[str, Any] = {}

    # ---- wire
    def send(self, msg: dict[str, Any]) -> None:
        self.send_body(json.dumps({"jsonrpc": "2.0", **msg}).encode("utf-8"))

    def send_body(self, body: bytes) -> None:
        """One framed message with exactly these bytes as its body."""
        self.send_raw(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def send_raw(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def kill_after(self, seconds: float) -> threading.Timer:
        """Kill the server after `seconds` (a read waiting for a missing answer then ends
        in EOFError instead of hanging the test); `.cancel()` the timer when done."""
        timer = threading.Timer(seconds, self.proc.kill)
        timer.daemon = True
        timer.start()
        return timer

    def read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        length = None
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise EOFError(f"server exited with {self.proc.poll()}")
            line = line.strip()
            if not line:
                break
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        assert length is not None
        return json.loads(self.proc.stdout.read(length))

    # ---- messages
    def notify(self, method: str, params: Any) -> None:
        self.send({"method": method, "params": params})

    def send_request(self, method: str, params: Any) -> int:
        """Send a request without waiting; `response(id)` collects its answer later."""
        self._id += 1
        self.send({"id": self._id, "method": method, "params": params})
        return self._id

    def answer(self, request: dict[str, Any]) -> None:
        handler = self.on_request.get(request["method"])
        result = handler(request.get("params")) if handler is not None else None
        self.send({"id": request["id"], "result": result})

    def response(self, my_id: int) -> Any:
        while my_id not in self.responses:
            msg = self.read()
            if "method" in msg and "id" in msg:  # a request from the server
                self.answer(msg)
            elif "method" in msg:
                self.notifications.append(msg)
            else:
                self.responses[msg.get("id")] = msg
        msg = self.responses.pop(my_id)
        if "error" in msg and msg["error"] is not None:
            raise LspError(msg["error"])
        return msg.get("result")

    def request(self, method: str, params: Any) -> Any:
        return self.response(self.send_request(method, params))

    def wait_notification(self, method: str, predicate=lambda p: True, timeout: float = 60.0):
        """Read until a notification `method` whose params satisfy `predicate`."""
        for i, n in enumerate(self.notifications):
            if n["method"] == method and predicate(n["params"]):
                return self.notifications.pop(i)["params"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = self.read()
            if "method" in msg and "id" in msg:
                self.answer(msg)
            elif msg.get("method") == method and predicate(msg.get("params")):
                return msg["params"]
            elif "method" in msg:
                self.notifications.append(msg)
        raise TimeoutError(method)

    def initialize(
        self, root: Path | None = None, options: Any = None, capabilities: Any = None
    ) -> dict[str, Any]:
        result = self.request(
            "initialize",
            {
                "processId": os.getpid(),
                "rootUri": root.as_uri() if root else None,
                "capabilities": capabilities
                or {"textDocument": {"hover": {"contentFormat": ["markdown"]}}},
                "initializationOptions": options,
            },
        )
        self.notify("initialized", {})
        return result

    def open(self, uri: str, text: str, version: int = 1) -> None:
        self.notify(
            "textDocument/didOpen",
            {
                "textDocument": {
                    "uri": uri,
                    "languageId": "tensorlogic",
                    "version": version,
                    "text": text,
                }
            },
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        try:
            if self.alive():
                self.request("shutdown", None)
                self.notify("exit", None)
                self.proc.wait(10)
        except Exception:
            self.proc.kill()
            self.proc.wait(10)
