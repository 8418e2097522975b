"""`tl-lsp --stdio` start-up: answer `initialize` before importing pygls and lsprotocol.

Why: importing `lsprotocol.types` (one module of ~560 attrs classes) and `pygls.lsp.server`
takes 250-600 ms on a loaded machine, longer than the 300 ms budget from start to
`initialize` answered (ARCHITECTURE.md), and nothing in the answer needs them: the
capabilities are fixed data (`tl_lsp.capabilities`) plus a few choices made from the
client's capabilities (position encoding, rename options). So this module, with the standard library only, reads the first framed
message from stdin; if it is an `initialize` request whose params it can check, it writes
the answer at once, then imports pygls and starts the real server on a reader that replays
the same bytes first. pygls thus handles that very `initialize` itself (client capabilities,
position encoding, workspace folders, `initializationOptions` all land in the server state
exactly as before); only its duplicate response is dropped, after comparing it with the
early answer (a difference is logged as an error). Anything else (another first message, an
odd header, params with unexpected types) is replayed the same way with no early answer, so
the server's reader (tl_lsp/rpc.py) sees the byte stream the client sent. Before the replay the request is also read with
pygls' converter: params pygls would refuse (it then never answers) after an early answer
stop the server with a message naming the bad field. pygls stays the oracle:
tests/lsp/test_lsp_fast_start.py compares both answers for many capability sets.

Requests that follow `initialize` wait for the import as before; only the first answer
comes early. `TL_LSP_FAST_INIT=0` turns this off.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from typing import Any, BinaryIO

from tl_lsp.capabilities import initialize_result

log = logging.getLogger("tl_lsp")

_CONTENT_LENGTH = re.compile(rb"^Content-Length: (\d+)\r\n$")  # pygls' own pattern
_MAX_LINE = 8192
_MAX_HEADER_LINES = 32
_MAX_BODY = 1 << 20  # an initialize request is a few KB; larger ones take the normal path
CONTENT_TYPE = b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n"


def read_first_message(stream: BinaryIO) -> tuple[bytes, dict[str, Any] | None]:
    """The bytes read from `stream` and, when they frame one JSON-RPC request to
    `initialize` in the conventional way (header lines ending in CRLF, one Content-Length,
    an empty line, a JSON body), that request."""
    raw = b""
    length = 0
    for _ in range(_MAX_HEADER_LINES):
        line = stream.readline(_MAX_LINE)
        raw += line
        if not line.endswith(b"\r\n"):
            return raw, None  # EOF, a bare LF, or an overlong line
        if line == b"\r\n":
            break
        if not line.strip():
            return raw, None
        match = _CONTENT_LENGTH.fullmatch(line)
        if match:
            if length:
                return raw, None  # two lengths: pygls would take the first; not ours to guess
            digits = match.group(1)  # int() refuses more than 4300 digits
            length = int(digits) if len(digits) <= 18 else -1
    else:
        return raw, None
    if not 0 < length <= _MAX_BODY:
        return raw, None
    body = stream.read(length)
    raw += body
    if len(body) != length:
        return raw, None
    try:
        msg = json.loads(body)
    except ValueError:
        return raw, None
    if (
        isinstance(msg, dict)
        and msg.get("jsonrpc") == "2.0"
        and msg.get("method") == "initialize"
        and isinstance(msg.get("id"), (int, str))
        and not isinstance(msg.get("id"), bool)
        and isinstance(msg.get("params"), dict)
    ):
        return raw, msg
    return raw, None


def frame(msg: dict[str, Any]) -> bytes:
    """One message with the headers pygls writes."""
    body = json.dumps(msg).encode("utf-8")
    return b"Content-Length: %d\r\n" % len(body) + CONTENT_TYPE + b"\r\n" + body


def notify(stream: BinaryIO, method: str, params: dict[str, Any]) -> None:
    stream.write(frame({"jsonrpc": "2.0", "method": method, "params": params}))
    stream.flush()


class ReplayReader:
    """`stream` with `prefix` in front of it (the bytes read before pygls started). pygls
    reads with `readline(limit)` and `read(n)` only (tl_lsp/framing.py)."""

    def __init__(self, prefix: bytes, stream: BinaryIO):
        self._prefix = prefix
        self._stream = stream

    def readline(self, limit: int = -1) -> bytes:
        if not self._prefix:
            return self._stream.readline(limit)
        end = self._prefix.find(b"\n") + 1  # 0: the prefix ends inside a line
        if not (end and (limit < 0 or end <= limit)):
            end = limit if 0 <= limit <= len(self._prefix) else 0
        if end:
            line, self._prefix = self._prefix[:end], self._prefix[end:]
            return line
        line, self._prefix = self._prefix, b""
        return line + self._stream.readline(limit - len(line) if limit >= 0 else -1)

    def read(self, n: int = -1) -> bytes:
        if not self._prefix:
            return self._stream.read(n)
        if n < 0:
            data, self._prefix = self._prefix, b""
            return data + self._stream.read()
        data, self._prefix = self._prefix[:n], self._prefix[n:]
        if len(data) < n:
            data += self._stream.read(n - len(data))
        return data


class DropReplayedAnswer:
    """stdout for pygls: drops pygls' own response to the `initialize` answered early and
    compares it with the early answer; everything else passes through unchanged."""

    def __init__(self, stream: BinaryIO, request_id: int | str, result: dict[str, Any]):
        self._stream = stream
        self._id = request_id
        self._result = result
        self.pending = True
        self.matched: bool | None = None

    def write(self, data: bytes) -> None:
        if self.pending:
            try:
                msg = json.loads(data.partition(b"\r\n\r\n")[2])
            except ValueError:
                msg = None
            if isinstance(msg, dict) and "method" not in msg and msg.get("id") == self._id:
                self.pending = False
                self.matched = msg.get("result") == self._result and "error" not in msg
                if self.matched:
                    log.info("initialize: pygls' own answer equals the early one (dropped)")
                else:
                    text = (
                        "tl-lsp: the early initialize answer differs from pygls' own: "
                        f"sent {json.dumps(self._result)}, pygls {json.dumps(msg)}"
                    )
                    log.error(text)
                    notify(self._stream, "window/logMessage", {"type": 1, "message": text})
                return
        self._stream.write(data)

    def flush(self) -> None:
        self._stream.flush()

    def close(self) -> None:
        self._stream.close()


def serve_stdio(stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> int:
    """Run the server on stdin/stdout, answering `initialize` early when it comes first."""
    stdin = stdin or sys.stdin.buffer
    stdout = stdout or sys.stdout.buffer
    raw, request = read_first_message(stdin)
    result = initialize_result(request["params"]) if request is not None else None
    if request is not None and result is not None:
        try:
            stdout.write(frame({"id": request["id"], "jsonrpc": "2.0", "result": result}))
            stdout.flush()
        except BrokenPipeError:  # as pygls reports it
            log.error("Connection to the client is lost! Shutting down the server.")
            return 0
        log.info(
            "initialize answered before importing pygls (lsprotocol loaded: %s)",
            "lsprotocol" in sys.modules,
        )

    # lazy: pygls and the server load after the early answer
    from tl_lsp.server import create_server

    server = create_server()
    server.gc.install()  # cyclic GC in pauses only (why: tl_lsp/gc_policy.py)
    writer: Any = stdout
    if request is not None and result is not None:
        problem = _rejected_by_pygls(server, raw)
        if problem is not None:
            # pygls would not have answered at all (it only shows a message); the client
            # now believes the server is initialized, so stop instead of limping on
            text = (
                f"tl-lsp: the client's initialize params are not valid LSP: {problem}. "
                "They were answered before this check, so the server stops; the client "
                "must send capabilities of the types the LSP specification gives."
            )
            log.error(text)
            notify(stdout, "window/showMessage", {"type": 1, "message": text})
            return 1
        writer = DropReplayedAnswer(stdout, request["id"], result)
    return server.start_io(ReplayReader(raw, stdin), writer)


def _rejected_by_pygls(server: Any, raw: bytes) -> str | None:
    """Read the initialize request the way pygls' reader loop will (same converter);
    a description of the error, or None when pygls accepts it."""
    body = raw.partition(b"\r\n\r\n")[2]
    try:
        json.loads(body, object_hook=server.protocol.structure_message)
    except Exception as exc:  # noqa: BLE001 - any failure here is pygls refusing the message
        cause = exc.__cause__ or exc
        try:
            from cattrs import transform_error  # pygls' converter is a cattrs one

            return "; ".join(transform_error(cause))  # e.g. "invalid value ... @ $.params.x"
        except Exception:  # noqa: BLE001 - not a cattrs error
            return f"{type(cause).__name__}: {cause}"
    return None
