"""Every request gets an answer; no frame stops the server (issue 18).

Raw JSON-RPC over a real `tl-lsp --stdio`: ill-typed params, broken frames and bodies, and
the lifecycle (requests before `initialize`, a second `initialize`, after `shutdown`, `exit`
with and without `shutdown`). Each bad message must be answered with the JSON-RPC error
the specifications give, with no `data` (pygls put tracebacks there), and the server must
answer the next good request.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.lsp.stdio_client import ROOT, LspError, StdioClient
from tl_lsp import framing

URI = "file:///robust/a.tl"
TEXT = "let a = 1\nprint(a)\n"


def error_of(client: StdioClient, msg_id: Any) -> dict[str, Any]:
    """The error answered to `msg_id` (None: an error about a message without an id)."""
    try:
        result = client.response(msg_id)
    except LspError as exc:
        error = exc.error
        assert set(error) <= {"code", "message"}, error  # no `data`: no tracebacks
        assert "Traceback" not in error["message"] and str(ROOT) not in error["message"]
        return error
    raise AssertionError(f"answered {result!r}, not an error")


def still_answers(client: StdioClient) -> None:
    got = client.request("tensorlogic/documentText", {"uri": URI})
    assert got is not None and got["text"] == TEXT


@pytest.fixture(scope="module")
def server():
    client = StdioClient()
    timer = client.kill_after(300)
    client.initialize()
    client.open(URI, TEXT)
    yield client
    timer.cancel()
    client.close()


@contextlib.contextmanager
def fresh_server() -> Iterator[StdioClient]:
    client = StdioClient()
    timer = client.kill_after(120)
    try:
        yield client
    finally:
        timer.cancel()
        client.close()


_ids = iter(range(1000, 10**6))


def ask(client: StdioClient, method: Any, **fields: Any) -> int:
    msg_id = next(_ids)
    client.send({"id": msg_id, "method": method, **fields})
    return msg_id


HERE = {"textDocument": {"uri": URI}, "position": {"line": 0, "character": 4}}

# (params, the error message) for textDocument/hover
BAD_PARAMS = [
    (
        {**HERE, "position": {"line": -1, "character": 0}},
        "position: Position.line should be in range [0:2147483647], but was -1.",
    ),
    (
        {**HERE, "position": {"line": 2**63, "character": 0}},
        "position: Position.line should be in range [0:2147483647], but was 9223372036854775808.",
    ),
    (
        {**HERE, "position": {"line": 0, "character": -3}},
        "position: Position.character should be in range [0:2147483647], but was -3.",
    ),
    (
        {**HERE, "position": {"line": 0, "character": "3"}},
        "position.character: expected an integer, found a string",
    ),
    ({**HERE, "position": {"line": 0.5, "character": 0}}, "position.line: expected an integer, found a number"),
    ({**HERE, "position": {"line": True, "character": 0}}, "position.line: expected an integer, found a boolean"),
    ({**HERE, "position": "0:4"}, "position: expected an object, found a string"),
    ({"textDocument": {"uri": URI}}, "position: required field missing"),
    ({**HERE, "textDocument": {"uri": 7}}, "textDocument.uri: expected a string, found an integer"),
    ({**HERE, "textDocument": {}}, "textDocument.uri: required field missing"),
    (None, "params: expected an object, found null"),
    ([URI, 0, 4], "params: expected an object, found an array"),
    ("hover", "params: expected an object, found a string"),
]  # fmt: skip


@pytest.mark.parametrize("params, problem", BAD_PARAMS)
def test_ill_typed_params_are_answered_invalid_params(server, params, problem):
    error = error_of(server, ask(server, "textDocument/hover", params=params))
    assert error == {
        "code": -32602,
        "message": f"invalid params for `textDocument/hover`: {problem}",
    }
    still_answers(server)


def test_missing_params_are_invalid_params(server):
    assert error_of(server, ask(server, "textDocument/hover")) == {
        "code": -32602,
        "message": "invalid params for `textDocument/hover`: params: required field missing",
    }
    still_answers(server)


@pytest.mark.parametrize(
    "method, params",
    [
        ("textDocument/completion", {**HERE, "position": {"line": 0, "character": -1}}),
        ("textDocument/definition", {**HERE, "position": {"line": "0", "character": 0}}),
        ("textDocument/references", HERE),  # no context
        ("textDocument/documentSymbol", {"textDocument": URI}),
        ("textDocument/inlayHint", {"textDocument": {"uri": URI}, "range": [0, 0, 1, 0]}),
        ("textDocument/rename", {**HERE, "newName": 5}),
        ("workspace/executeCommand", {"command": 3}),
        ("tensorlogic/documentText", {"url": URI}),
        ("tensorlogic/documentText", [URI]),
    ],
)
def test_other_requests_with_ill_typed_params(server, method, params):
    assert error_of(server, ask(server, method, params=params))["code"] == -32602
    still_answers(server)


@pytest.mark.parametrize(
    "body, code, message",
    [
        (b"{not json", -32700, "the message is not JSON: Expecting property name enclosed in "
         "double quotes: line 1 column 2 (char 1)"),
        (b"", -32700, "the message is not JSON: Expecting value: line 1 column 1 (char 0)"),
        (b"[" * 100000, -32700, "the message is not JSON: maximum recursion depth exceeded "
         "while decoding a JSON array from a unicode string"),
        (b'[{"jsonrpc": "2.0", "id": 1, "method": "shutdown"}]', -32600,
         "a message must be a JSON object, not an array"),
        (b'"hello"', -32600, "a message must be a JSON object, not a string"),
        (b'{"jsonrpc": "2.0", "id": true, "method": "shutdown"}', -32600,
         '"id" must be an integer or a string, not a boolean'),
        (b'{"jsonrpc": "2.0", "id": 1.5, "method": "shutdown"}', -32600,
         '"id" must be an integer or a string, not a number'),
        (b'{"jsonrpc": "2.0", "id": null, "method": "shutdown"}', -32600,
         '"id" must be an integer or a string, not null'),
        (b'{"jsonrpc": "2.0"}', -32600,
         'a message needs a "method" (request, notification) or an "id" and a result'),
    ],
)  # fmt: skip
def test_bodies_that_are_not_requests_are_answered_with_a_null_id(server, body, code, message):
    server.send_body(body)
    assert error_of(server, None) == {"code": code, "message": message}
    still_answers(server)


def test_a_message_without_jsonrpc_is_answered_to_its_id(server):
    server.send_body(b'{"id": 5, "method": "shutdown"}')
    assert error_of(server, 5) == {"code": -32600, "message": 'a message must have "jsonrpc": "2.0"'}
    still_answers(server)


def test_a_body_that_is_not_utf8_is_a_parse_error_for_its_request(server):
    msg_id = next(_ids)
    body = json.dumps(
        {"jsonrpc": "2.0", "id": msg_id, "method": "textDocument/hover", "params": HERE}
    ).encode()
    server.send_body(body.replace(b"robust", b"rob\xffst"))
    assert error_of(server, msg_id) == {
        "code": -32700,
        "message": f"the message is not valid UTF-8 (byte {body.index(b'robust') + 3})",
    }
    server.send_body(b"\xc3(")  # nothing to read an id from
    assert error_of(server, None)["code"] == -32700
    still_answers(server)


def test_a_method_that_is_not_a_string_and_unknown_methods(server):
    assert error_of(server, ask(server, 42))["code"] == -32600
    assert error_of(server, ask(server, "tensorlogic/noSuchThing", params={})) == {
        "code": -32601,
        "message": "Method Not Found: tensorlogic/noSuchThing",
    }
    still_answers(server)


def test_a_failing_handler_answers_without_traceback(server):
    other = {**HERE, "textDocument": {"uri": "file:///robust/not-open.tl"}}
    error = error_of(server, ask(server, "textDocument/hover", params=other))
    assert error == {
        "code": -32603,
        "message": "hover failed: KeyError: 'document not open: file:///robust/not-open.tl'",
    }


def test_an_ill_typed_change_is_ignored_with_a_warning(server):
    server.notify(
        "textDocument/didChange",
        {
            "textDocument": {"uri": URI, "version": 9},
            "contentChanges": [
                {"range": {"start": {"line": -1, "character": 0},
                           "end": {"line": 0, "character": 0}}, "text": "X"},
            ],
        },
    )  # fmt: skip
    warning = server.wait_notification("window/logMessage", lambda p: "ignored" in p["message"])
    assert warning["message"] == (
        "tl-lsp: `textDocument/didChange` ignored, invalid params: contentChanges[0].range.start:"
        " Position.line should be in range [0:2147483647], but was -1."
    )
    still_answers(server)


def test_broken_headers_are_answered_and_skipped(server):
    server.send_raw(b"Content-Length: twelve\r\n\r\n")
    assert error_of(server, None) == {
        "code": -32600,
        "message": "the Content-Length header is not a number of bytes",
    }
    server.send_raw(b"Content-Type: application/json\r\n\r\n")
    assert error_of(server, None) == {
        "code": -32600,
        "message": "a message without a Content-Length header",
    }
    server.send_raw(b"X-Long: " + b"a" * 20000 + b"\r\n\r\n")
    assert error_of(server, None)["message"] == "a header line is longer than 8192 bytes"
    still_answers(server)


@pytest.mark.parametrize("digits", ["100000000000000000000", "9" * 5000])
def test_a_huge_content_length_is_answered_and_the_server_lives(digits):
    with fresh_server() as client:
        client.initialize()
        client.send_raw(b"Content-Length: %s\r\n\r\n" % digits.encode())
        shown = digits if len(digits) <= 40 else digits[:20] + "..."
        assert error_of(client, None) == {
            "code": -32600,
            "message": f"a message of {shown} bytes (Content-Length) is over the limit of "
            f"{framing.MAX_BODY} bytes; its bytes are skipped",
        }
        client.send_raw(b"x" * 100000)  # part of that body: dropped
        assert client.alive()
        client.proc.stdin.close()  # the end of the stream ends the server
        assert client.proc.wait(60) == 0


# ---------------------------------------------------------------------------
# lifecycle


def test_requests_before_initialize_and_a_second_initialize():
    with fresh_server() as client:
        for method in ("textDocument/hover", "shutdown"):
            assert error_of(client, ask(client, method, params=HERE)) == {
                "code": -32002,
                "message": "the server is not initialized: the first request must be "
                f"`initialize` (received `{method}`)",
            }
        client.open(URI, TEXT)  # notifications before initialize are dropped
        client.initialize()  # `shutdown` before it changed nothing
        assert client.request("tensorlogic/documentText", {"uri": URI}) is None
        assert error_of(client, ask(client, "initialize", params={"capabilities": {}})) == {
            "code": -32600,
            "message": "`initialize` was already received",
        }
        client.open(URI, TEXT)
        still_answers(client)
        assert client.request("shutdown", None) is None
        assert error_of(client, ask(client, "textDocument/hover", params=HERE)) == {
            "code": -32600,
            "message": "the server is shutting down (`shutdown` was received): "
            "`textDocument/hover` is not answered; only the `exit` notification is",
        }
        client.notify("exit", None)
        assert client.proc.wait(60) == 0


@pytest.mark.parametrize("initialized", [True, False])
def test_exit_without_shutdown_exits_1(initialized):
    with fresh_server() as client:
        if initialized:
            client.initialize()
            client.open(URI, TEXT)
        client.notify("exit", None)
        assert client.proc.wait(60) == 1


def test_invalid_initialize_params_are_answered():
    with fresh_server() as client:
        msg_id = ask(client, "initialize", params={"capabilities": [], "processId": "me"})
        error = error_of(client, msg_id)
        assert error["code"] == -32602, error
        assert error["message"].startswith("invalid params for `initialize`: ")
        client.initialize()  # still uninitialized: a valid one is accepted
        still_answers_after_open(client)


def still_answers_after_open(client: StdioClient) -> None:
    client.open(URI, TEXT)
    still_answers(client)


# ---------------------------------------------------------------------------
# the frame reader itself


def frames(data: bytes) -> list[Any]:
    stream = io.BufferedReader(io.BytesIO(data))  # type: ignore[arg-type]
    out = []
    while (frame := framing.read_frame(stream)) is not None:
        out.append(frame)
        if isinstance(frame, framing.BadFrame) and frame.skip:
            if not framing.skip(stream, frame.skip):
                break
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=8))
def test_framed_bodies_read_back_exactly(bodies):
    data = b"".join(
        b"Content-Length: %d\r\nContent-Type: application/vscode-jsonrpc\r\n\r\n" % len(b) + b
        for b in bodies
    )
    assert frames(data) == bodies


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from([
    b"Content-Length: ", b"content-length:3", b"99999999999999999999", b"\r\n", b"\n", b"\r",
    b"{}", b"x" * 9000, b"0", b"5", b" ", b"Content-Type: a", b"\xff",
]), max_size=30).map(b"".join))  # fmt: skip
def test_any_bytes_give_frames_or_errors_never_an_exception(data):
    for frame in frames(data):
        assert isinstance(frame, (bytes, framing.BadFrame))


def test_an_oversized_frame_is_skipped_to_the_next(monkeypatch):
    monkeypatch.setattr(framing, "MAX_BODY", 10)
    data = b"Content-Length: 11\r\n\r\n" + b"x" * 11 + b"Content-Length: 2\r\n\r\n{}"
    got = frames(data)
    assert got[1:] == [b"{}"] and got[0].skip == 11
