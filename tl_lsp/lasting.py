"""What the server keeps for its whole life is made before the first document opens.

Why: closing a document frees its objects, but Python's allocator returns one of its 1 MB
arenas to the operating system only once every object in it is freed. The converters of
pygls/cattrs build a hook for each message type the first time one is read or written
(generated functions, their code, the ABC caches of the type checks they make), and the
server imported a few modules on first use: ~450-2,900 small lasting objects, made while
the document's ~100 MB of objects were being made, landed in ~40-70 of the document's
arenas and kept them mapped after the close (bench/lsp.py, typing: 119 MB after the open,
115-135 MB after the close, against 66 MB idle; docs/benchmarks.md, issue 18). Made here,
in the background thread after `initialized`, they take ~2 MB among the server's own.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Iterable
from typing import Any

import attrs
from lsprotocol import types as lsp
from pygls.protocol import JsonRPCNotification, JsonRPCRequestMessage, JsonRPCResponseMessage
from pygls.protocol.json_rpc import ResponseErrorMessage

# what the server reads besides its features' requests (tl_lsp/capabilities.py), and what it
# writes: (method, which of lsprotocol's METHOD_TO_TYPES entries: 0 the message, 1 the result)
READS = (
    (lsp.SHUTDOWN, 0), (lsp.INITIALIZED, 0), (lsp.EXIT, 0), (lsp.CANCEL_REQUEST, 0),
    (lsp.SET_TRACE, 0), (lsp.TEXT_DOCUMENT_DID_OPEN, 0), (lsp.TEXT_DOCUMENT_DID_CHANGE, 0),
    (lsp.TEXT_DOCUMENT_DID_CLOSE, 0), (lsp.TEXT_DOCUMENT_DID_SAVE, 0),
    (lsp.WORKSPACE_DID_CHANGE_CONFIGURATION, 0), (lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES, 0),
    (lsp.WORKSPACE_EXECUTE_COMMAND, 0), (lsp.WORKSPACE_CONFIGURATION, 1),
    (lsp.CLIENT_REGISTER_CAPABILITY, 1), (lsp.WINDOW_WORK_DONE_PROGRESS_CREATE, 1),
)
WRITES = (
    (lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS, 0), (lsp.WINDOW_LOG_MESSAGE, 0),
    (lsp.WINDOW_SHOW_MESSAGE, 0), (lsp.PROGRESS, 0), (lsp.WORKSPACE_CONFIGURATION, 0),
    (lsp.CLIENT_REGISTER_CAPABILITY, 0), (lsp.WINDOW_WORK_DONE_PROGRESS_CREATE, 0),
    (lsp.WORKSPACE_EXECUTE_COMMAND, 1), (lsp.SHUTDOWN, 1),
)


def reachable(types: Iterable[Any]) -> list[type]:
    """These attrs classes and every attrs class their fields can hold."""
    todo = [t for t in types if t is not None]
    seen: set[type] = set()
    out: list[type] = []
    while todo:
        t = todo.pop()
        args = typing.get_args(t)
        if args:
            todo.extend(args)
            continue
        if not isinstance(t, type) or t in seen or not attrs.has(t):
            continue
        seen.add(t)
        out.append(t)
        todo.extend(f.type for f in attrs.fields(attrs.resolve_types(t)))
    return out


def _types(pairs: Iterable[tuple[str, int]]) -> list[Any]:
    return [lsp.METHOD_TO_TYPES.get(method, (None, None))[i] for method, i in pairs]


def make_converters(converter: Any, requests: Iterable[str], answers: Iterable[type] = (),
                    pause: Callable[[], None] = lambda: None) -> int:
    """Build now the converter's hooks (cattrs caches them) to read the requests of
    `requests` (the server's features) and `READS`, and to write their answers, `WRITES`
    and the classes of `answers` (answers that are not lsprotocol's: the hook of a class
    first met as a result leaves the ABC caches of cattrs' type checks behind), `pause`
    between two; returns how many hooks. One cattrs cannot build is left for its first
    use, as before."""
    requests = list(requests)
    # pygls' own envelopes: messages of methods lsprotocol does not know (the server's own
    # requests), answers without a result type, error answers
    reads = reachable(_types([(m, 0) for m in requests] + list(READS))
                      + [JsonRPCRequestMessage, JsonRPCNotification])
    writes = reachable(_types([(m, 1) for m in requests] + list(WRITES))
                       + [JsonRPCResponseMessage, ResponseErrorMessage]) + list(answers)
    made = 0
    # twice: making the hook of a new list type (`Sequence[Diagnostic]`) registers it, and
    # that empties the converter's cache of the hooks made before it (cattrs), which the
    # first message would then make again, among the document's objects
    for _ in range(2):
        made = 0
        for hook, classes in ((converter.get_structure_hook, reads),
                              (converter.get_unstructure_hook, writes)):
            for cls in classes:
                pause()
                try:
                    hook(cls)
                except Exception:  # noqa: BLE001, S112 - made on first use instead
                    continue
                made += 1
    return made
