"""What the server advertises, as plain data: no pygls, no lsprotocol, nothing of tl_core
but its version (the package's `__init__`, which imports nothing).

`FEATURES` is the one table of the server's features: each LSP method or command with
the name of its handler in `tl_lsp.server`, its options as JSON and the server capability
that advertises it. `server.create_server` registers exactly these (pygls then computes
the `initialize` answer from that registration), and `server_capabilities` below builds
the same answer from the same table, so that `tl_lsp.fast_start` can answer `initialize`
before pygls and lsprotocol are imported (see there for why).
tests/lsp/test_lsp_fast_start.py asserts that both answers are equal for many client
capability sets, and tests/lsp/test_lsp_features.py that every registered feature is
advertised and every advertised capability is registered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tl_core import __version__ as VERSION

NAME = "tl-lsp"

COMPLETION_TRIGGERS = [".", '"', "/"]
SIGNATURE_TRIGGERS = ["(", ","]
SIGNATURE_RETRIGGERS = [","]
CMD_RUN_SELECTION = "tensorlogic.runSelection"
CMD_RUN_CELL = "tensorlogic.runCell"
CMD_RUN_FILE = "tensorlogic.runFile"
CMD_INTERRUPT = "tensorlogic.interrupt"
CMD_RESTART = "tensorlogic.restartKernel"
# server -> client notification: a piece of a run's log, as it comes ({uri, text})
RUN_OUTPUT = "tensorlogic/output"

# A copy of tl_core.ide.SEMANTIC_TOKEN_TYPES / _MODIFIERS, for speed: the legend must be in
# the `initialize` answer, and importing tl_core.ide (the checker, the AST) would more than
# double the time to that answer. tests/lsp/test_lsp_features.py asserts they are equal.
TOKEN_TYPES = (
    "namespace", "type", "struct", "typeParameter", "parameter", "variable", "property",
    "function", "method", "keyword", "comment", "string", "number", "operator", "enumMember",
)  # fmt: skip
TOKEN_MODIFIERS = ("declaration", "readonly", "defaultLibrary", "modification")

UTF8 = "utf-8"
UTF16 = "utf-16"
UTF32 = "utf-32"
SUPPORTED_ENCODINGS = (UTF16, UTF8, UTF32)

TEXT_DOCUMENT_SYNC_INCREMENTAL = 2

# a request of ours: the document text the server holds
DOCUMENT_TEXT = "tensorlogic/documentText"

_LEGEND = {"tokenTypes": list(TOKEN_TYPES), "tokenModifiers": list(TOKEN_MODIFIERS)}


@dataclass(frozen=True)
class Feature:
    """One method (or `workspace/executeCommand` command) the server handles.

    `advertised`: where the `initialize` answer says so, as a dotted path into
    `ServerCapabilities` (None: a lifecycle message, a notification the client sends
    anyway, or our own request). `options`: what pygls is given at registration, as JSON
    (structured into the method's lsprotocol options type); the provider's value in the
    answer is `options`, or True without them."""

    method: str
    handler: str  # a function of tl_lsp.server
    advertised: str | None = None
    options: dict[str, Any] | None = None
    command: bool = False


FEATURES: tuple[Feature, ...] = (
    Feature("initialize", "initialize"),
    Feature("initialized", "initialized"),
    Feature("workspace/didChangeConfiguration", "did_change_configuration"),
    Feature("shutdown", "shutdown"),
    Feature("textDocument/didOpen", "did_open", "textDocumentSync.openClose"),
    Feature("textDocument/didChange", "did_change", "textDocumentSync.change"),
    Feature("textDocument/didClose", "did_close", "textDocumentSync.openClose"),
    Feature("textDocument/didSave", "did_save", "textDocumentSync.save"),
    Feature(DOCUMENT_TEXT, "document_text"),
    Feature("workspace/didChangeWatchedFiles", "did_change_watched_files"),  # registered
    #                                                   dynamically, in `initialized`
    Feature("textDocument/completion", "completion", "completionProvider",
            {"triggerCharacters": COMPLETION_TRIGGERS, "resolveProvider": True}),
    Feature("completionItem/resolve", "completion_resolve", "completionProvider.resolveProvider"),
    Feature("textDocument/hover", "hover", "hoverProvider"),
    Feature("textDocument/signatureHelp", "signature_help", "signatureHelpProvider",
            {"triggerCharacters": SIGNATURE_TRIGGERS,
             "retriggerCharacters": SIGNATURE_RETRIGGERS}),
    Feature("textDocument/definition", "definition", "definitionProvider"),
    Feature("textDocument/references", "references", "referencesProvider"),
    Feature("textDocument/documentSymbol", "document_symbol", "documentSymbolProvider"),
    Feature("textDocument/codeLens", "code_lens", "codeLensProvider", {"resolveProvider": False}),
    Feature("workspace/symbol", "workspace_symbol", "workspaceSymbolProvider"),
    Feature("textDocument/formatting", "formatting", "documentFormattingProvider"),
    Feature("textDocument/rangeFormatting", "range_formatting",
            "documentRangeFormattingProvider"),
    Feature("textDocument/rename", "rename", "renameProvider"),
    Feature("textDocument/prepareRename", "prepare_rename", "renameProvider"),
    Feature("textDocument/foldingRange", "folding_range", "foldingRangeProvider"),
    Feature("textDocument/semanticTokens/full", "semantic_tokens_full",
            "semanticTokensProvider.full", _LEGEND),
    Feature("textDocument/semanticTokens/full/delta", "semantic_tokens_delta",
            "semanticTokensProvider.full.delta", _LEGEND),
    Feature("textDocument/inlayHint", "inlay_hint", "inlayHintProvider",
            {"resolveProvider": False}),
    Feature(CMD_RUN_SELECTION, "run_selection", "executeCommandProvider", command=True),
    Feature(CMD_RUN_CELL, "run_cell", "executeCommandProvider", command=True),
    Feature(CMD_RUN_FILE, "run_file", "executeCommandProvider", command=True),
    Feature(CMD_INTERRUPT, "interrupt", "executeCommandProvider", command=True),
    Feature(CMD_RESTART, "restart_kernel", "executeCommandProvider", command=True),
)
COMMANDS = tuple(f.method for f in FEATURES if f.command)


class NotChecked(Exception):
    """The params hold something the fast path does not check: let pygls answer."""


def _field(obj: Any, *path: str) -> Any:
    """`obj[path[0]][path[1]]...`; None when a key is missing or null; NotChecked when a
    step is not a JSON object."""
    for key in path:
        if obj is None:
            return None
        if not isinstance(obj, dict):
            raise NotChecked(key)
        obj = obj.get(key)
    return obj


def negotiate_encoding(capabilities: dict[str, Any]) -> str:
    """`general.positionEncodings`: the first one we support, else UTF-16 (the rule of the
    LSP specification, of pygls' `choose_position_encoding` and of
    `tl_lsp.protocol.negotiate_encoding`). A list with anything but strings is NotChecked
    (pygls accepts some such entries and rejects others)."""
    offered = _field(capabilities, "general", "positionEncodings")
    if offered is None:
        return UTF16
    if not isinstance(offered, list) or not all(isinstance(enc, str) for enc in offered):
        raise NotChecked("positionEncodings")
    for enc in offered:
        if enc in SUPPORTED_ENCODINGS:
            return enc
    return UTF16


def server_capabilities(
    encoding: str, prepare_rename: bool, will_save: tuple[bool, bool] = (False, False)
) -> dict[str, Any]:
    """`ServerCapabilities` as JSON, built from `FEATURES` as pygls builds them from their
    registration. `will_save`: whether the client stated `willSave` / `willSaveWaitUntil`
    at all (pygls then answers `false` for each, as the server registers neither)."""
    sync: dict[str, Any] = {"openClose": True, "change": TEXT_DOCUMENT_SYNC_INCREMENTAL}
    if will_save[0]:
        sync["willSave"] = False
    if will_save[1]:
        sync["willSaveWaitUntil"] = False
    sync["save"] = True
    caps: dict[str, Any] = {"positionEncoding": encoding, "textDocumentSync": sync}
    for f in FEATURES:
        if f.advertised is None or f.command or "." in f.advertised:
            continue  # text sync above; commands, and parts of another's provider, below
        caps[f.advertised] = dict(f.options) if f.options is not None else True
    # the spec: RenameOptions only for a client that announced prepareSupport
    caps["renameProvider"] = {"prepareProvider": True} if prepare_rename else True
    caps["executeCommandProvider"] = {"commands": list(COMMANDS)}
    caps["semanticTokensProvider"] = {"legend": _LEGEND, "full": {"delta": True}}
    caps["workspaceSymbolProvider"] = {"resolveProvider": False}
    caps["workspace"] = {
        "workspaceFolders": {"supported": True, "changeNotifications": True},
        "fileOperations": {},
    }
    return caps


def _check_top_level(params: dict[str, Any]) -> None:
    """Raise NotChecked unless the top-level fields have the types LSP gives them (a
    stricter test than pygls' own, which accepts e.g. `"rootUri": 5`: a stricter one only
    sends more clients down the normal path)."""

    def optional(key: str, *types: type) -> Any:
        value = params.get(key)
        if value is not None and (not isinstance(value, types) or isinstance(value, bool)):
            raise NotChecked(key)
        return value

    if not isinstance(params.get("capabilities"), dict):
        raise NotChecked("capabilities")
    optional("processId", int)
    optional("rootUri", str)
    optional("rootPath", str)
    optional("locale", str)
    optional("workDoneToken", int, str)
    trace = params.get("trace")
    if trace is not None and trace not in ("off", "messages", "verbose"):
        raise NotChecked("trace")
    info = optional("clientInfo", dict)
    if info is not None and (
        not isinstance(info.get("name"), str)
        or not isinstance(info.get("version", ""), (str, type(None)))
    ):
        raise NotChecked("clientInfo")
    for folder in optional("workspaceFolders", list) or ():
        if not (
            isinstance(folder, dict)
            and isinstance(folder.get("uri"), str)
            and isinstance(folder.get("name"), str)
        ):
            raise NotChecked("workspaceFolders")


def initialize_result(params: Any) -> dict[str, Any] | None:
    """The `InitializeResult` (JSON) pygls answers for `create_server()` and these params,
    or None where the params hold something this function does not check (then pygls must
    answer). Only these client capabilities change the answer: the position encodings,
    `textDocument.rename.prepareSupport`, and whether `textDocument.synchronization` states
    `willSave` / `willSaveWaitUntil`."""
    if not isinstance(params, dict):
        return None
    try:
        _check_top_level(params)
        caps = params["capabilities"]
        encoding = negotiate_encoding(caps)
        flags = [
            _field(caps, "textDocument", "rename", "prepareSupport"),
            _field(caps, "textDocument", "synchronization", "willSave"),
            _field(caps, "textDocument", "synchronization", "willSaveWaitUntil"),
        ]
        if any(flag is not None and not isinstance(flag, bool) for flag in flags):
            raise NotChecked("a flag that is not a boolean")
    except NotChecked:
        return None
    prepare, will_save, will_save_wait = flags
    return {
        "capabilities": server_capabilities(
            encoding, bool(prepare), (will_save is not None, will_save_wait is not None)
        ),
        "serverInfo": {"name": NAME, "version": VERSION},
    }
