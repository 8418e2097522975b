"""The early `initialize` answer (tl_lsp/fast_start.py, tl_lsp/capabilities.py).

pygls is the oracle: for every params the fast path accepts, its answer must equal the one
pygls computes for `create_server()` (in-process here, and in real processes below), and
the server state after pygls handled the replayed request must be the negotiated one.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pygls.exceptions import JsonRpcException
from pytest_lsp import client_capabilities

from tests.lsp.lsp_util import ENV
from tl_lsp import capabilities as fast
from tl_lsp.fast_start import (
    DropReplayedAnswer,
    ReplayReader,
    frame,
    read_first_message,
    serve_stdio,
)
from tl_lsp.server import create_server

MISSING = object()


class _Capture:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def write(self, data: bytes) -> None:
        self.messages.append(json.loads(data.partition(b"\r\n\r\n")[2]))

    def close(self) -> None:
        pass


def pygls_initialize(params: dict[str, Any]) -> tuple[list[dict[str, Any]], Any]:
    """What pygls writes for an `initialize` request with these params, read and handled
    the way its stdio loop does (`pygls.io_.run_async`), and the server afterwards."""
    ls = create_server()
    out = _Capture()
    ls.protocol.set_writer(out)
    body = json.dumps({"jsonrpc": "2.0", "id": 7, "method": "initialize", "params": params})

    async def go() -> None:
        try:
            msg = json.loads(body.encode(), object_hook=ls.protocol.structure_message)
            ls.protocol.handle_message(msg)
        except Exception as exc:  # as run_async does
            ls.report_server_error(exc, JsonRpcException)
        for _ in range(20):
            await asyncio.sleep(0)

    asyncio.run(go())
    return out.messages, ls


def assert_same_as_pygls(params: dict[str, Any]) -> dict[str, Any]:
    early = fast.initialize_result(params)
    assert early is not None, params
    messages, ls = pygls_initialize(params)
    assert messages == [{"id": 7, "jsonrpc": "2.0", "result": early}]
    # the server state pygls' handling left: the encoding the early answer announced
    assert ls.docs.encoding == early["capabilities"]["positionEncoding"]
    return early


def _caps_json(spec: str) -> dict[str, Any]:
    from pygls.protocol import default_converter

    return default_converter().unstructure(client_capabilities(spec))


CAPABILITY_SETS = {
    "empty": {},
    "utf-8": {"general": {"positionEncodings": ["utf-8"]}},
    "utf-16": {"general": {"positionEncodings": ["utf-16"]}},
    "utf-32": {"general": {"positionEncodings": ["utf-32"]}},
    "utf-8 then utf-16": {"general": {"positionEncodings": ["utf-8", "utf-16"]}},
    "unknown, then utf-32": {"general": {"positionEncodings": ["utf-7", "UTF-8", "utf-32"]}},
    "only unknown": {"general": {"positionEncodings": ["latin-1"]}},
    "empty list": {"general": {"positionEncodings": []}},
    "null general": {"general": None},
    "prepareSupport": {"textDocument": {"rename": {"prepareSupport": True}}},
    "no prepareSupport": {"textDocument": {"rename": {"prepareSupport": False}}},
    "willSave stated": {"textDocument": {"synchronization": {"willSave": True}}},
    "willSave false": {
        "textDocument": {"synchronization": {"willSave": False, "willSaveWaitUntil": True}}
    },
    "notebooks": {"notebookDocument": {"synchronization": {"dynamicRegistration": True}}},
    "unknown capability": {"experimental": {"x": 1}, "futureThing": [1, 2]},
    "VS Code 1.65": _caps_json("visual-studio-code"),
    "Neovim 0.7": _caps_json("neovim@v0.7.0"),
    "Neovim 0.11": _caps_json("neovim@v0.11.0"),
    "Emacs 29": _caps_json("emacs"),
}


@pytest.mark.parametrize("options", [MISSING, None, {"device": "cpu", "cellMarker": "# %%"}])
@pytest.mark.parametrize("name", list(CAPABILITY_SETS))
def test_early_answer_equals_pygls(name: str, options: Any):
    params: dict[str, Any] = {"processId": 1234, "capabilities": CAPABILITY_SETS[name]}
    if options is not MISSING:
        params["initializationOptions"] = options
    assert_same_as_pygls(params)
    _, ls = pygls_initialize(params)
    if isinstance(options, dict):
        assert ls.config.device == "cpu" and ls.config.cell_marker == "# %%"


def test_every_position_encoding_and_rename_option():
    for enc in ("utf-8", "utf-16", "utf-32"):
        caps = {"general": {"positionEncodings": [enc]}}
        got = assert_same_as_pygls({"processId": None, "capabilities": caps})
        assert got["capabilities"]["positionEncoding"] == enc
    default = assert_same_as_pygls({"capabilities": {}})["capabilities"]
    assert default["positionEncoding"] == "utf-16" and default["renameProvider"] is True
    caps = {"textDocument": {"rename": {"prepareSupport": True}}}
    got = assert_same_as_pygls({"capabilities": caps})["capabilities"]
    assert got["renameProvider"] == {"prepareProvider": True}


def test_top_level_fields_checked_and_accepted(tmp_path: Path):
    params = {
        "processId": None,
        "clientInfo": {"name": "test", "version": "1"},
        "locale": "ko",
        "rootPath": str(tmp_path),
        "rootUri": tmp_path.as_uri(),
        "capabilities": {},
        "trace": "verbose",
        "workspaceFolders": [{"uri": tmp_path.as_uri(), "name": "ws"}],
        "workDoneToken": "t",
    }
    assert_same_as_pygls(params)
    _, ls = pygls_initialize(params)
    assert ls.docs.roots == [str(tmp_path)]


@pytest.mark.parametrize(
    "params",
    [
        [],
        {},  # no capabilities
        {"capabilities": []},
        {"capabilities": {}, "processId": "12"},
        {"capabilities": {}, "processId": True},
        {"capabilities": {}, "rootUri": 5},
        {"capabilities": {}, "trace": "loud"},
        {"capabilities": {}, "workspaceFolders": "x"},
        {"capabilities": {}, "workspaceFolders": [{"uri": 1, "name": "a"}]},
        {"capabilities": {}, "clientInfo": {"version": "1"}},
        {"capabilities": {"general": {"positionEncodings": "utf-8"}}},
        {"capabilities": {"general": []}},
        {"capabilities": {"general": {"positionEncodings": ["utf-8", 3]}}},
        {"capabilities": {"textDocument": {"rename": {"prepareSupport": "yes"}}}},
        {"capabilities": {"textDocument": {"rename": []}}},
        {"capabilities": {"textDocument": {"synchronization": {"willSave": 1}}}},
    ],
)
def test_unchecked_params_are_left_to_pygls(params: Any):
    assert fast.initialize_result(params) is None


# params the fast path reads or checks, with junk among the values; the rest is valid LSP
_JUNK = st.sampled_from([5, "x", 1.5, True, [], {}, None])
_ENCODINGS = st.one_of(
    _JUNK,
    st.lists(st.one_of(st.sampled_from(["utf-8", "utf-16", "utf-32", "utf-7", "UTF-8"]), _JUNK)),
)
_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


def _maybe(key: str, values: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(st.just({}), values.map(lambda v: {key: v}))


def _merge(dicts: tuple[dict[str, Any], ...]) -> dict[str, Any]:
    return {k: v for d in dicts for k, v in d.items()}


@st.composite
def init_params(draw) -> dict[str, Any]:
    caps: dict[str, Any] = {}
    caps.update(draw(_maybe("general", st.one_of(_JUNK, _maybe("positionEncodings", _ENCODINGS)))))
    flag = st.one_of(st.booleans(), _JUNK)
    rename = _maybe("rename", st.one_of(_JUNK, _maybe("prepareSupport", flag)))
    sync = st.fixed_dictionaries({}, optional={"willSave": flag, "willSaveWaitUntil": flag})
    text_document = st.tuples(rename, _maybe("synchronization", st.one_of(_JUNK, sync)))
    caps.update(draw(_maybe("textDocument", st.one_of(_JUNK, text_document.map(_merge)))))
    params: dict[str, Any] = {"capabilities": caps}
    params.update(draw(_maybe("processId", st.one_of(st.integers(0, 1 << 30), _JUNK))))
    params.update(draw(_maybe("rootUri", st.one_of(st.just("file:///tmp/x"), _JUNK))))
    params.update(draw(_maybe("trace", st.one_of(st.sampled_from(["off", "messages"]), _JUNK))))
    folders = st.lists(st.fixed_dictionaries({"uri": st.just("file:///w"), "name": st.text()}))
    params.update(draw(_maybe("workspaceFolders", st.one_of(folders, _JUNK))))
    params.update(draw(_maybe("initializationOptions", _JSON)))
    return params


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(init_params())
def test_property_early_answer_is_pygls_answer_or_none(params: dict[str, Any]):
    """Whatever the fast path answers, pygls answers the same (and accepts the params)."""
    early = fast.initialize_result(params)
    if early is not None:
        messages, _ = pygls_initialize(params)
        assert messages == [{"id": 7, "jsonrpc": "2.0", "result": early}]


# ---------------------------------------------------------------------------
# Framing: the first message read with the standard library, and the replay


def _request(params: Any = None, method: str = "initialize", **extra: Any) -> dict[str, Any]:
    msg = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params or {"capabilities": {}}}
    return {**msg, **extra}


def test_first_message_read_exactly_and_the_rest_left():
    first = frame(_request())
    rest = frame({"jsonrpc": "2.0", "method": "initialized", "params": {}})
    stream = io.BytesIO(first + rest)
    raw, msg = read_first_message(stream)
    assert raw == first and msg == _request()
    assert stream.read() == rest


@pytest.mark.parametrize(
    "data",
    [
        b"",
        frame(_request(method="shutdown")),
        frame({"jsonrpc": "2.0", "method": "initialize", "params": {}}),  # a notification
        frame(_request(id=True)),
        frame(_request(params=[1])),
        frame(_request(jsonrpc="1.0")),
        b"Content-Length: 3\r\n\r\n{x}",
        b"Content-Length: 30\r\n\r\n{}",  # EOF inside the body
        b"\r\n" + frame(_request()),  # an empty line first
        frame(_request()).replace(b"\r\n", b"\n"),  # bare LF
        b"Content-Type: x\r\n\r\n" + frame(_request()),  # no length in the first header
        b"Content-Length: 2\r\n" + frame(_request()),  # two lengths
        b"Content-Length: 99999999\r\n\r\n{}",
        b"X: " + b"a" * 10000 + b"\r\n" + frame(_request()),
    ],
)
def test_anything_else_is_not_answered_and_replayed_unchanged(data: bytes):
    stream = io.BytesIO(data)
    raw, msg = read_first_message(stream)
    assert msg is None
    reader = ReplayReader(raw, stream)
    got = b""
    while chunk := reader.readline():
        got += chunk
    assert got == data


def test_other_headers_are_fine():
    data = b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n" + frame(_request())
    assert read_first_message(io.BytesIO(data))[1] == _request()


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200), st.integers(0, 200), st.lists(st.integers(-1, 40), max_size=30))
def test_property_replay_reader_reads_like_the_whole_stream(data, split, calls):
    """`ReplayReader(prefix, rest)` answers readline/read like one stream of prefix+rest."""
    split = min(split, len(data))
    whole = io.BytesIO(data)
    replay = ReplayReader(data[:split], io.BytesIO(data[split:]))
    for n in calls:
        if n == -1:
            assert replay.readline() == whole.readline()
        else:
            assert replay.read(n) == whole.read(n)
    assert replay.read() == whole.read()


def _frames(data: bytes) -> list[dict[str, Any]]:
    out = []
    while data:
        head, _, rest = data.partition(b"\r\n\r\n")
        length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
        out.append(json.loads(rest[:length]))
        data = rest[length:]
    return out


def test_pygls_duplicate_answer_is_dropped_and_compared():
    early = fast.initialize_result({"capabilities": {}})
    note = {"jsonrpc": "2.0", "method": "window/logMessage", "params": {"type": 4, "message": "x"}}
    server_request = {"jsonrpc": "2.0", "id": "s1", "method": "client/registerCapability"}
    later = {"jsonrpc": "2.0", "id": 1, "result": None}
    for pygls_answer, matched in (
        ({"jsonrpc": "2.0", "id": "a", "result": early}, True),
        ({"jsonrpc": "2.0", "id": "a", "result": {**early, "serverInfo": None}}, False),
        ({"jsonrpc": "2.0", "id": "a", "error": {"code": -32603, "message": "boom"}}, False),
    ):
        out = io.BytesIO()
        writer = DropReplayedAnswer(out, "a", early)
        for msg in (note, {**server_request, "id": "a"}, pygls_answer, later, pygls_answer):
            writer.write(frame(msg))
        assert writer.matched is matched and not writer.pending
        written = _frames(out.getvalue())
        expected = [note, {**server_request, "id": "a"}, later, pygls_answer]
        if not matched:  # the difference is reported to the client's log, in place
            report = written.pop(2)
            assert report["method"] == "window/logMessage" and report["params"]["type"] == 1
            assert report["params"]["message"].startswith(
                "tl-lsp: the early initialize answer differs from pygls' own: sent {"
            )
        assert written == expected


def test_client_gone_before_the_early_answer(caplog):
    class Closed(io.BytesIO):
        def write(self, data: bytes) -> int:
            raise BrokenPipeError

    assert serve_stdio(io.BytesIO(frame(_request())), Closed()) == 0
    assert "Connection to the client is lost! Shutting down the server." in caplog.text


# ---------------------------------------------------------------------------
# Real processes


def _exchange(payload: bytes, env: dict[str, str], log: Path | None = None) -> tuple:
    cmd = [sys.executable, "-m", "tl_lsp", "--stdio"]
    if log is not None:
        cmd += ["--log-file", str(log), "--log-level", "INFO"]
    proc = subprocess.run(cmd, input=payload, capture_output=True, env=env, timeout=120)
    return proc.returncode, _frames(proc.stdout)


def _session(params: dict[str, Any], before: bytes = b"") -> bytes:
    return (
        before
        + frame(_request(params))
        + frame({"jsonrpc": "2.0", "method": "initialized", "params": {}})
        + frame({"jsonrpc": "2.0", "id": 2, "method": "shutdown"})
        + frame({"jsonrpc": "2.0", "method": "exit"})
    )


def _responses(messages: list[dict[str, Any]]) -> dict[Any, dict[str, Any]]:
    return {m["id"]: m for m in messages if "method" not in m}


PARAMS = {
    "processId": os.getpid(),
    "capabilities": {
        "general": {"positionEncodings": ["utf-32", "utf-16"]},
        "textDocument": {"rename": {"prepareSupport": True}},
    },
    "initializationOptions": {"device": "cpu"},
}


def test_initialize_answered_before_lsprotocol_is_imported(tmp_path: Path):
    log = tmp_path / "server.log"
    rc, messages = _exchange(_session(PARAMS), ENV, log)
    assert rc == 0
    responses = _responses(messages)
    assert [m.get("id") for m in messages if "method" not in m] == [1, 2]  # no duplicate
    early = responses[1]["result"]
    assert early == fast.initialize_result(PARAMS)
    text = log.read_text()
    line = "initialize answered before importing pygls (lsprotocol loaded: False)"
    assert line in text
    # written before pygls was imported: before pygls' first log line
    assert text.index(line) < text.index("pygls.")
    assert "initialize: pygls' own answer equals the early one (dropped)" in text
    # the same process with the fast path off: pygls' answer, byte for byte the same JSON
    rc, slow = _exchange(_session(PARAMS), {**ENV, "TL_LSP_FAST_INIT": "0"})
    assert rc == 0 and _responses(slow)[1]["result"] == early


@pytest.mark.parametrize(
    "before",
    [
        frame({"jsonrpc": "2.0", "method": "$/setTrace", "params": {"value": "off"}}),
        b"\r\n",  # an empty line where a header was expected: pygls skips it
    ],
)
def test_other_first_messages_take_the_normal_path(tmp_path: Path, before: bytes):
    log = tmp_path / "server.log"
    rc, messages = _exchange(_session(PARAMS, before), ENV, log)
    assert rc == 0
    assert _responses(messages)[1]["result"] == fast.initialize_result(PARAMS)
    assert "initialize answered before importing pygls" not in log.read_text()


def test_params_pygls_rejects_after_an_early_answer_stop_the_server():
    caps = {"textDocument": {"hover": {"contentFormat": 7}}}  # not checked by the fast path
    params = {"processId": None, "capabilities": caps}
    assert fast.initialize_result(params) is not None
    assert pygls_initialize(params)[0][0]["method"] == "window/showMessage"  # pygls: no answer
    rc, messages = _exchange(_session(params), ENV)
    assert rc == 1
    assert messages[0]["id"] == 1
    assert messages[1]["method"] == "window/showMessage"
    assert messages[1]["params"]["message"] == (
        "tl-lsp: the client's initialize params are not valid LSP: invalid value for type, "
        "expected Optional @ $.params.capabilities.text_document.hover.content_format. They "
        "were answered before this check, so the server stops; the client must send "
        "capabilities of the types the LSP specification gives."
    )
    assert len(messages) == 2


def test_every_registered_feature_is_advertised_and_every_capability_is_registered():
    """One table (tl_lsp.capabilities.FEATURES) registers the features and gives the early
    answer: what pygls registered is the table, everything the table says is advertised is
    in pygls' answer, and nothing in that answer lacks a registered feature."""
    from tl_lsp.capabilities import COMMANDS, FEATURES

    params = {"capabilities": {"textDocument": {"rename": {"prepareSupport": True}}}}
    caps = assert_same_as_pygls(params)["capabilities"]
    ls = create_server()
    methods = {f.method for f in FEATURES if not f.command}
    assert set(ls.protocol.fm.features) == methods
    assert set(ls.protocol.fm.commands) == set(COMMANDS)
    assert sorted(caps["executeCommandProvider"]["commands"]) == sorted(COMMANDS)

    def at(path: str) -> Any:
        value: Any = caps
        for key in path.split("."):
            value = value.get(key) if isinstance(value, dict) else None
        return value

    for f in FEATURES:
        if f.advertised is not None:
            assert at(f.advertised), f"{f.method} is registered but {f.advertised} is not set"
    providers = {f.advertised.split(".")[0] for f in FEATURES if f.advertised}
    unregistered = set(caps) - providers - {"positionEncoding", "workspace"}
    assert not unregistered, f"advertised without a registered feature: {unregistered}"
    assert caps["workspace"] == {"workspaceFolders": {"supported": True,
                                                      "changeNotifications": True},
                                 "fileOperations": {}}  # folders: pygls' own handlers
