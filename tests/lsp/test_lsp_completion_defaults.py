"""Completion lists for clients that take LSP 3.17 `itemDefaults.editRange`: the shared
range is sent once, and each item means exactly what the full form says."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from tl_core.ide import Completion
from tl_lsp import protocol as proto
from tl_lsp.protocol import Positions

from .stdio_client import StdioClient
from .test_lsp_protocol import span_of


def expand(result: dict[str, Any]) -> dict[str, Any]:
    """What a client makes of `itemDefaults.editRange`: each item's own textEdit."""
    out = copy.deepcopy(result)
    defaults = out.pop("itemDefaults", None)
    if defaults is None:
        return out
    for item in out["items"]:
        text = item.pop("textEditText", item["label"])
        item["textEdit"] = {"range": defaults["editRange"], "newText": text}
    return out


TEXT = 'let x = m.get_tensor("blk.0.'
SPAN = span_of(TEXT, 22, 28)
ITEMS = [
    Completion("blk.0.attn_q.weight", "field", "float16[576, 576]", "Q4_1",
               "blk.0.attn_q.weight", False, SPAN, "0001"),
    Completion("zeros", "function", "zeros(shape)", "docs", "zeros", False, SPAN, "2zeros"),
    Completion("fn", "snippet", "fn", "", "fn ${1:name}() {\n}", True, SPAN, "4fn"),
]


def test_the_shared_range_is_sent_once_and_means_the_same() -> None:
    pos = Positions(TEXT)
    for lazy in (False, True):
        for snippets in (False, True):
            full = proto.completion_list_json(ITEMS, pos, lazy, snippets, 3, True)
            short = proto.completion_list_json(ITEMS, pos, lazy, snippets, 3, True, True)
            assert "itemDefaults" in short and "itemDefaults" not in full
            assert all("textEdit" not in i for i in short["items"])
            assert expand(short) == full


def test_items_with_different_ranges_keep_their_own() -> None:
    pos = Positions(TEXT)
    mixed = [*ITEMS, Completion("other", "variable", replace_span=span_of(TEXT, 0, 3))]
    full = proto.completion_list_json(mixed, pos, False, True, 1)
    assert proto.completion_list_json(mixed, pos, False, True, 1, edit_range_default=True) == full


def test_the_server_uses_item_defaults_only_for_clients_that_take_them(tmp_path: Path) -> None:
    text = "".join(f"let v{i} = 1\n" for i in range(30)) + "let q = v"
    doc = tmp_path / "d.tl"
    doc.write_text(text, encoding="utf-8")
    uri = doc.as_uri()
    params = {"textDocument": {"uri": uri}, "position": {"line": 30, "character": 9}}
    answers = []
    for defaults in ([], ["editRange", "data"]):
        caps = {"textDocument": {"completion": {"completionList": {"itemDefaults": defaults}}}}
        client = StdioClient(cwd=str(tmp_path))
        try:
            client.initialize(tmp_path, capabilities=caps)
            client.open(uri, text)
            answers.append(client.request("textDocument/completion", params))
            client.request("shutdown", None)
            client.notify("exit", None)
        finally:
            client.proc.kill()
            client.proc.wait(10)
    plain, short = answers
    assert "itemDefaults" not in plain
    assert short["itemDefaults"]["editRange"] == {
        "start": {"line": 30, "character": 8}, "end": {"line": 30, "character": 9}}
    assert expand(short) == plain
    assert {f"v{i}" for i in range(30)} <= {i["label"] for i in short["items"]}
