"""Helpers for the language-server tests: a real `tl-lsp --stdio` process driven by pytest-lsp."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities
from pytest_lsp.client import make_test_lsp_client

ROOT = Path(__file__).resolve().parents[2]
SERVER_CMD = [sys.executable, "-m", "tl_lsp", "--stdio"]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def make_client() -> LanguageClient:
    """pytest-lsp's client, also keeping every publishDiagnostics (with its version)."""
    client = make_test_lsp_client()
    published: list[lsp.PublishDiagnosticsParams] = []
    features = client.protocol.fm.features
    original = features[lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS]

    def capture(params: lsp.PublishDiagnosticsParams) -> Any:
        published.append(params)
        return original(params)

    features[lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS] = capture
    client.published = published  # type: ignore[attr-defined]
    registrations: list[lsp.Registration] = []

    @client.feature(lsp.CLIENT_REGISTER_CAPABILITY)
    def register(params: lsp.RegistrationParams) -> None:
        registrations.extend(params.registrations)

    @client.feature(lsp.WORKSPACE_INLAY_HINT_REFRESH)
    def inlay_refresh(params: None) -> None:
        client.inlay_refreshes += 1  # type: ignore[attr-defined]

    run_output: list[Any] = []

    @client.feature("tensorlogic/output")
    def output(params: Any) -> None:  # a piece of a run's log (docs/kernel.md)
        run_output.append(params)

    client.registrations = registrations  # type: ignore[attr-defined]
    client.inlay_refreshes = 0  # type: ignore[attr-defined]
    client.run_output = run_output  # type: ignore[attr-defined]
    return client


CONFIG = ClientServerConfig(server_command=SERVER_CMD, server_env=ENV, client_factory=make_client)


def init_params(
    root: Path | None = None,
    encodings: list[str] | None = None,
    options: dict[str, Any] | None = None,
    spec: str = "visual-studio-code",
) -> lsp.InitializeParams:
    caps = client_capabilities(spec)
    if encodings is not None:
        caps.general = lsp.GeneralClientCapabilities(position_encodings=encodings)
    folders = None
    if root is not None:
        folders = [lsp.WorkspaceFolder(uri=root.as_uri(), name=root.name)]
    return lsp.InitializeParams(
        capabilities=caps,
        workspace_folders=folders,
        root_uri=root.as_uri() if root is not None else None,
        initialization_options=options,
    )


def write_model(path: Path, tensors: dict[str, tuple[int, ...]]) -> Path:
    from safetensors.numpy import save_file

    rng = np.random.default_rng(0)
    save_file(
        {k: rng.standard_normal(shape).astype(np.float16) for k, shape in tensors.items()},
        str(path),
    )
    return path


def utf16_col(line: str, col: int) -> int:
    """Independent of tl_lsp.protocol: UTF-16 code units before code point `col`."""
    return len(line[:col].encode("utf-16-le")) // 2


def pos_of(text: str, needle: str, delta: int = 0, nth: int = 0) -> lsp.Position:
    """The UTF-16 LSP position of the `nth` occurrence of `needle` (plus `delta` code points)."""
    i = -1
    for _ in range(nth + 1):
        i = text.index(needle, i + 1)
    i += delta
    line = text.count("\n", 0, i)
    line_start = text.rfind("\n", 0, i) + 1
    line_text = text[line_start:].split("\n", 1)[0]
    return lsp.Position(line=line, character=utf16_col(line_text, i - line_start))


def offset_of(text: str, needle: str, delta: int = 0, nth: int = 0) -> int:
    i = -1
    for _ in range(nth + 1):
        i = text.index(needle, i + 1)
    return i + delta


def span_to_range16(text: str, start: int, end: int) -> lsp.Range:
    def p(off: int) -> lsp.Position:
        line = text.count("\n", 0, off)
        ls = text.rfind("\n", 0, off) + 1
        return lsp.Position(line=line, character=utf16_col(text[ls:off], off - ls))

    return lsp.Range(start=p(start), end=p(end))


def open_doc(client: LanguageClient, path: Path, text: str, version: int = 1) -> str:
    uri = path.as_uri()
    client.text_document_did_open(
        lsp.DidOpenTextDocumentParams(
            text_document=lsp.TextDocumentItem(
                uri=uri, language_id="tensorlogic", version=version, text=text
            )
        )
    )
    return uri


async def wait_for(predicate, timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll `predicate` until it returns something truthy (generous timeouts: slow CI)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def diagnostics_for(
    client: LanguageClient, uri: str, version: int | None = None, timeout: float = 30.0
) -> list[lsp.Diagnostic]:
    """The first publishDiagnostics for `uri` (at `version`, when given) not yet consumed."""

    def find():
        for p in client.published:  # type: ignore[attr-defined]
            if p.uri == uri and (version is None or p.version == version):
                return p
        return None

    params = await wait_for(find, timeout, f"diagnostics of {uri} v{version}")
    client.published.remove(params)  # type: ignore[attr-defined]
    return list(params.diagnostics)


def server_pid(client: LanguageClient) -> int:
    return client._server.pid  # type: ignore[attr-defined]


def child_cmdlines(pid: int) -> list[str]:
    """Command lines of the live child processes of `pid` (Linux /proc)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            state = stat.rsplit(")", 1)[1].split()[0]
            if ppid == pid and state != "Z":
                out.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except (OSError, ValueError, IndexError):
            continue
    return out
