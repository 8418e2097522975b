"""The server's JSON-RPC/LSP protocol: pygls' own, made strict where pygls is lenient.

- Documents: pygls keeps a second copy of every open document (its `Workspace`) and
  updates it before our `didChange` handler runs, on the same params object; its position
  conversion clamps a column past the line's end to `len - 1` *in place* and splits lines
  with `str.splitlines` (U+2028, U+0085, `\\f`... end lines there, not in LSP). So the edit
  our handler saw was already moved. Here the document notifications reach our handlers
  untouched; `tl_lsp.documents.Documents` is the only document store.
- Every request gets one answer, and no frame stops the server: frames are read by
  `tl_lsp.framing` (no size overflows, a bad frame is answered and skipped); a body that
  is not UTF-8 or not JSON is answered with -32700, a message that is not a JSON-RPC
  object with -32600, params that do not have the method's LSP types (also strings for
  numbers, as cattrs would convert them) with -32602, all before any handler runs (pygls
  itself logs such messages and never answers).
- The lifecycle as LSP gives it: requests before `initialize` get -32002, a second
  `initialize` and requests after `shutdown` get -32600, `exit` ends the server with 0
  after `shutdown` and 1 without. Error answers never carry `data` (pygls puts Python
  tracebacks there).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import re
import threading
from collections.abc import Generator
from typing import Any

import cattrs
from cattrs import transform_error
from lsprotocol import types as lsp
from pygls.protocol import (
    JsonRPCNotification,
    JsonRPCRequestMessage,
    LanguageServerProtocol,
    default_converter,
    lsp_method,
)

from tl_lsp import framing

log = logging.getLogger("tl_lsp")

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
INVALID_PARAMS = -32602
SERVER_NOT_INITIALIZED = -32002

NEW, RUNNING, SHUT_DOWN = "new", "running", "shut down"


class StrictTypeError(TypeError):
    """A JSON value of the wrong type where LSP gives a number, string or boolean."""


_JSON_NAMES = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return _JSON_NAMES.get(type(value), type(value).__name__)


def _strict(kind: type) -> Any:
    def structure(value: Any, _type: Any) -> Any:
        if type(value) is kind or (kind is float and type(value) is int):
            return value
        raise StrictTypeError(f"expected {_JSON_NAMES[kind]}, found {_json_type(value)}")

    return structure


def strict_converter() -> cattrs.Converter:
    """pygls' converter, except that a string is never read as a number (`"3"` -> 3), a
    number never as a string, nor anything as a boolean."""
    converter = default_converter()
    for kind in (bool, int, float, str):
        converter.register_structure_hook(kind, _strict(kind))
    return converter


def _camel(path: str) -> str:
    return re.sub(r"_([a-z])", lambda m: m.group(1).upper(), path)


def _describe(exc: BaseException, _type: Any) -> str:
    if isinstance(exc, KeyError):
        return "required field missing"
    if isinstance(exc, (StrictTypeError, ValueError)):
        return str(exc)  # ours, or an lsprotocol range check ("should be in range ...")
    return cattrs.v.format_exception(exc, _type)


_STEP = re.compile(r"\.(\w+)|\[(\d+)\]")


def _walk(data: Any, where: str) -> tuple[str, Any] | None:
    """Along the JSON path `where` ("params.position.line") in `data`: the first step that
    is not an object or array where the path goes on, as (its path, its value)."""
    value, done = data, ""
    for m in _STEP.finditer("." + where):
        key, index = m.group(1), m.group(2)
        if key is not None and not isinstance(value, dict):
            return done, value
        if index is not None and not isinstance(value, list):
            return done, value
        if key is not None:
            value, done = value.get(key), f"{done}.{key}" if done else key
        else:
            i = int(index)
            value, done = (value[i] if i < len(value) else None), f"{done}[{i}]"
    return None


def params_problem(exc: BaseException, data: dict[str, Any]) -> str:
    """What is wrong with a message's params, from cattrs' error: `where: what` items, the
    paths as in the JSON message, relative to `params`."""
    try:
        found = transform_error(exc, path="$", format_exception=_describe)
    except Exception:  # noqa: BLE001 - not a cattrs error: name it only
        return type(exc).__name__
    out: list[str] = []
    for item in found:
        what, _, where = item.rpartition(" @ ")
        where = _camel(where.removeprefix("$."))
        not_object = _walk(data, where)
        if not_object is not None:
            where, value = not_object
            what = f"expected an object, found {_json_type(value)}"
        elif where == "params" and "params" not in data:
            what = "required field missing"
        elif where == "params" and not isinstance(data["params"], dict):
            what = f"expected an object, found {_json_type(data['params'])}"
        line = f"{where.removeprefix('params.')}: {what}"
        if line not in out:
            out.append(line)
    return "; ".join(out)


def _valid_id(value: Any) -> bool:
    return isinstance(value, (int, str)) and not isinstance(value, bool)


# the requests the editor waits on as the user types or points (their handlers hold the
# server's `requests` gate: tl_lsp/server.py, INTERACTIVE), found in a frame's bytes
_INTERACTIVE = re.compile(
    rb'"method"\s*:\s*"(?:textDocument/(?:hover|completion|signatureHelp)|completionItem/resolve)"')
_MAX_INTERACTIVE = 16384  # bytes: such a request is ~200 (a resolved item a few thousand)
# a frame that may be the `exit` notification (the reader reads on only once it is handled)
_EXIT = re.compile(rb'"method"\s*:\s*"exit"')
READ_AHEAD = 64  # frames read that the event loop has not handled yet, at most


def _may_exit(frame: bytes) -> bool:
    return len(frame) <= _MAX_INTERACTIVE and _EXIT.search(frame) is not None


class TensorLogicProtocol(LanguageServerProtocol):
    state = NEW
    exit_code: int | None = None
    requests: Any = None  # the server's YieldGate of interactive requests, once set

    # ---- documents: same names as pygls' built-in features, so these replace them
    def _user_handler(self, method: str, params: Any) -> Generator[Any, Any, None]:
        handler = self.fm.features.get(method)
        if handler is not None:
            yield handler, (params,), None

    @lsp_method(lsp.TEXT_DOCUMENT_DID_OPEN)
    def lsp_text_document__did_open(self, params: lsp.DidOpenTextDocumentParams):
        yield from self._user_handler(lsp.TEXT_DOCUMENT_DID_OPEN, params)

    @lsp_method(lsp.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: lsp.DidChangeTextDocumentParams):
        yield from self._user_handler(lsp.TEXT_DOCUMENT_DID_CHANGE, params)

    @lsp_method(lsp.TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(self, params: lsp.DidCloseTextDocumentParams):
        yield from self._user_handler(lsp.TEXT_DOCUMENT_DID_CLOSE, params)

    # ---- handlers under way
    def _execute_handler(self, msg_id: Any, handler: Any, callback: Any,
                         args: Any = None, kwargs: Any = None) -> None:
        """pygls' own, and the handler's future leaves `_request_futures` when it is done.

        Why: pygls keeps a future there by a new id for each notification and for each
        step of a generator handler (our didOpen, didChange and didClose), and only a
        request's answer takes its own out: every keystroke left two futures, a task and
        its coroutine's frame, ~3 KB (bench/lsp.py, typing: 380 edits, 764 futures kept
        after the document closed; an hour of typing at 10/s, ~100 MB; issue 18)."""
        super()._execute_handler(msg_id, handler, callback, args, kwargs)
        future = self._request_futures.get(msg_id)
        if future is not None:
            future.add_done_callback(functools.partial(self._forget_handler, msg_id))

    def _forget_handler(self, msg_id: Any, future: Any) -> None:
        if self._request_futures.get(msg_id) is future:
            del self._request_futures[msg_id]

    # ---- answers
    def _send_response(self, msg_id: Any, result: Any = None, error: Any = None) -> None:
        if error is not None and getattr(error, "data", None) is not None:
            error = lsp.ResponseError(code=error.code, message=error.message)  # no tracebacks
        super()._send_response(msg_id, result, error)

    def reply_error(self, msg_id: Any, code: int, message: str) -> None:
        log.warning("answered error %d to %r: %s", code, msg_id, message)
        self._send_data(
            {"jsonrpc": "2.0", "id": msg_id, "error": {"code": code, "message": message}}
        )

    def _warn(self, message: str) -> None:
        log.warning("%s", message)
        self.notify(
            lsp.WINDOW_LOG_MESSAGE,
            lsp.LogMessageParams(type=lsp.MessageType.Warning, message=message),
        )

    # ---- reading
    async def serve(self, stream: framing.Stream) -> int:
        """Read and handle messages until `exit` (its exit code) or the end of the stream.

        The reader thread reads ahead (at most `READ_AHEAD` frames the event loop has not
        handled yet): it reads the next frame while the loop handles the one before.
        Why: a hover an editor sends right after an edit was read only once the loop had
        handled that edit (the loop asked for each frame after the previous one), while
        the analysis of the previous text ran, and only then did the analysis step aside
        for it (`_read_frame`): in bursts at 100 edits/s the hover's bytes were read p50
        2.1 / p95 12.7 ms after the edit's (bench/lsp.py, typing, through a probe; issue 18)."""
        loop = asyncio.get_running_loop()
        frames: asyncio.Queue[Any] = asyncio.Queue()
        room = threading.Semaphore(READ_AHEAD)
        handled = threading.Event()  # set by the loop once a frame that may be `exit` is
        reader = threading.Thread(target=self._read_ahead, name="tl-read", daemon=True,
                                  args=(stream, loop, frames, room, handled))
        reader.start()
        while self.exit_code is None:
            frame, held = await frames.get()
            room.release()
            if isinstance(frame, BaseException):
                raise frame
            if frame is None:
                break
            if isinstance(frame, framing.BadFrame):
                self.reply_error(None, INVALID_REQUEST, frame.message)
                continue
            try:
                self.receive(frame)
            finally:
                if held is not None:
                    # after the handler's first step (scheduled by `receive`), which
                    # holds the gate itself while it answers
                    loop.call_soon(held.release)
                elif _may_exit(frame):
                    handled.set()
        return self.exit_code if self.exit_code is not None else 0

    def _read_ahead(self, stream: framing.Stream, loop: asyncio.AbstractEventLoop,
                    frames: asyncio.Queue[Any], room: threading.Semaphore,
                    handled: threading.Event) -> None:
        """(The reader thread.) Frames into `frames`, until the end of the stream or
        `exit`: after a frame that may be `exit` it reads on only once the loop handled it
        and the server goes on (no read is left waiting on the client's pipe as the
        server ends)."""

        def put(item: tuple[Any, Any]) -> bool:
            try:
                loop.call_soon_threadsafe(frames.put_nowait, item)
            except RuntimeError:  # the loop closed: the server is gone
                return False
            return True

        while True:
            room.acquire()
            try:
                frame, held = self._read_frame(stream)
                if isinstance(frame, framing.BadFrame) and frame.skip:
                    # answered first: the rest of the stream may be what is skipped
                    if not put((frame, None)):
                        return
                    if framing.skip(stream, frame.skip):
                        continue
                    room.acquire()
                    frame = None
            except BaseException as exc:  # noqa: BLE001 - raised in `serve`, as before
                put((exc, None))
                return
            if not put((frame, held)) or frame is None:
                return
            if held is None and isinstance(frame, bytes) and _may_exit(frame):
                handled.wait()
                handled.clear()
                if self.exit_code is not None:
                    return

    def _read_frame(self, stream: framing.Stream) -> tuple[Any, Any]:
        """(On the reader thread.) The next frame, and the `requests` gate when this
        thread took hold of it for the frame (a request the editor waits on: hover,
        completion, signature help), else None.

        Why here: a request reaches its handler through this thread and the event loop,
        each waiting for the interpreter while the analysis thread runs (a hover sent right
        after an edit waited ~1-6 ms for these hops, p50-p90, bench/lsp.py at 10 edits/s;
        issue 18). Held from the moment its bytes are read, the gate makes the analysis
        wait at its next checkpoint, so the hop to the event loop and the handler find
        the interpreter free."""
        frame = framing.read_frame(stream)
        gate = self.requests
        if gate is not None and isinstance(frame, bytes) and len(frame) <= _MAX_INTERACTIVE \
                and _INTERACTIVE.search(frame) is not None:
            gate.hold()
            return frame, gate
        return frame, None

    def receive(self, body: bytes) -> None:
        """Handle one message body."""
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            # answered to the request's id when the rest of it can be read
            msg_id = self._id_in(body.decode("utf-8", "replace"))
            self.reply_error(
                msg_id, PARSE_ERROR, f"the message is not valid UTF-8 (byte {exc.start})"
            )
            return
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            self.reply_error(None, PARSE_ERROR, f"the message is not JSON: {exc}")
            return
        problem = self._envelope_problem(data)
        if problem is not None:
            msg_id = data.get("id") if isinstance(data, dict) else None
            self.reply_error(msg_id if _valid_id(msg_id) else None, INVALID_REQUEST, problem)
            return
        if "method" not in data:
            self._receive_response(data)
        elif "id" in data:
            self._receive_request(data)
        else:
            self._receive_notification(data)

    @staticmethod
    def _id_in(text: str) -> Any:
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            return None
        msg_id = data.get("id") if isinstance(data, dict) else None
        return msg_id if _valid_id(msg_id) else None

    @staticmethod
    def _envelope_problem(data: Any) -> str | None:
        if not isinstance(data, dict):
            return f"a message must be a JSON object, not {_json_type(data)}"
        if data.get("jsonrpc") != "2.0":
            return 'a message must have "jsonrpc": "2.0"'
        if "id" in data and not _valid_id(data["id"]):
            return f'"id" must be an integer or a string, not {_json_type(data["id"])}'
        if "method" in data:
            if not isinstance(data["method"], str):
                return f'"method" must be a string, not {_json_type(data["method"])}'
        elif "id" not in data or ("result" not in data and "error" not in data):
            return 'a message needs a "method" (request, notification) or an "id" and a result'
        return None

    def _structure(self, data: dict[str, Any], fallback: type) -> Any:
        kind = self.get_message_type(data["method"]) or fallback
        return self._converter.structure(data, kind)

    def _receive_request(self, data: dict[str, Any]) -> None:
        msg_id, method = data["id"], data["method"]
        if self.state == NEW and method != lsp.INITIALIZE:
            self.reply_error(
                msg_id,
                SERVER_NOT_INITIALIZED,
                f"the server is not initialized: the first request must be `initialize` "
                f"(received `{method}`)",
            )
            return
        if self.state != NEW and method == lsp.INITIALIZE:
            self.reply_error(msg_id, INVALID_REQUEST, "`initialize` was already received")
            return
        if self.state == SHUT_DOWN:
            self.reply_error(
                msg_id,
                INVALID_REQUEST,
                f"the server is shutting down (`shutdown` was received): `{method}` is not "
                "answered; only the `exit` notification is",
            )
            return
        try:
            message = self._structure(data, JsonRPCRequestMessage)
        except Exception as exc:  # noqa: BLE001 - any structuring failure is the params'
            problem = params_problem(exc, data)
            self.reply_error(msg_id, INVALID_PARAMS, f"invalid params for `{method}`: {problem}")
            return
        if method == lsp.INITIALIZE:
            self.state = RUNNING
        elif method == lsp.SHUTDOWN:
            self.state = SHUT_DOWN
        self.handle_message(message)

    def _receive_notification(self, data: dict[str, Any]) -> None:
        method = data["method"]
        if method == lsp.EXIT:
            self.exit_code = 0 if self.state == SHUT_DOWN else 1
            return
        if self.state != RUNNING:
            log.warning("notification `%s` dropped: the server is %s", method, self.state)
            return
        try:
            message = self._structure(data, JsonRPCNotification)
        except Exception as exc:  # noqa: BLE001 - any structuring failure is the params'
            problem = params_problem(exc, data)
            self._warn(f"tl-lsp: `{method}` ignored, invalid params: {problem}")
            return
        self.handle_message(message)

    def _receive_response(self, data: dict[str, Any]) -> None:
        try:
            message = self.structure_message(data)
        except Exception as exc:  # noqa: BLE001 - a response we cannot read: log it
            log.warning("unreadable response to %r: %s", data.get("id"), exc)
            return
        self.handle_message(message)
