"""Every language feature over LSP, against the real `tl-lsp --stdio` process (pytest-lsp).

The expected answers come from `tl_core.ide` called in-process on the same text (the server
must only translate), with ranges converted to UTF-16 by the independent helpers in
lsp_util; lines hold Korean text and emoji before the positions asked about.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pytest_lsp import LanguageClient

from tests.lsp.lsp_util import (
    CONFIG,
    ENV,
    SERVER_CMD,
    diagnostics_for,
    init_params,
    offset_of,
    open_doc,
    pos_of,
    span_to_range16,
    wait_for,
    write_model,
)
from tl_core import __version__, ide
from tl_core.check import analyze

pytestmark = pytest.mark.asyncio(loop_scope="module")

PROGRAM = """\
// 모델 테스트 😀 (a Korean comment)
model = load_model("model.safetensors")
w = model.get_tensor("layer.0.weight")
/* 가중치 😀 */ b = model.get_tensor("layer.0.bias")
let x = tensor<float16>([[1.0, 2.0, 3.0]], device: gpu)
let y = x @ w + b
print("y shape:", y.shape)

fn double(t: float16[N, D]) -> float16[N, D] {
    return t + t
}

// %%
let z = double(y)
let s = softmax(z, -1)
print(z)
"""

TENSORS = {"layer.0.weight": (3, 2), "layer.0.bias": (2,), "layer.1.weight": (2, 2)}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ws")
    write_model(root / "model.safetensors", TENSORS)
    (root / "lib.tl").write_text(
        "fn helper_in_lib(a: float16[N]) -> float16[N] {\n    return a\n}\n"
    )
    return root


@pytest_lsp.fixture(config=CONFIG, scope="module")
async def client(lsp_client: LanguageClient, workdir: Path):
    lsp_client.init_result = await lsp_client.initialize_session(init_params(workdir))
    yield
    await lsp_client.shutdown_session()


_counter = iter(range(1000))


def new_doc(client: LanguageClient, workdir: Path, text: str = PROGRAM) -> tuple[str, Path]:
    path = workdir / f"doc{next(_counter)}.tl"
    path.write_text(text, encoding="utf-8")
    return open_doc(client, path, text), path


def oracle(path: Path, text: str = PROGRAM):
    return analyze(text, str(path))


# ---------------------------------------------------------------------------


async def test_initialize_advertises_every_feature(client: LanguageClient, workdir: Path):
    caps = client.init_result.capabilities
    assert client.init_result.server_info.name == "tl-lsp"
    assert caps.position_encoding == lsp.PositionEncodingKind.Utf16
    assert caps.text_document_sync.change == lsp.TextDocumentSyncKind.Incremental
    assert list(caps.completion_provider.trigger_characters) == [".", '"', "/"]
    assert caps.completion_provider.resolve_provider is True
    assert list(caps.signature_help_provider.trigger_characters) == ["(", ","]
    assert caps.hover_provider and caps.definition_provider and caps.references_provider
    assert caps.rename_provider.prepare_provider is True
    assert caps.document_symbol_provider and caps.workspace_symbol_provider
    legend = caps.semantic_tokens_provider.legend
    assert list(legend.token_types) == list(ide.SEMANTIC_TOKEN_TYPES)  # the server's copy
    assert list(legend.token_modifiers) == list(ide.SEMANTIC_TOKEN_MODIFIERS)
    assert caps.semantic_tokens_provider.full.delta is True
    assert caps.folding_range_provider and caps.inlay_hint_provider and caps.code_lens_provider
    assert caps.document_formatting_provider and caps.document_range_formatting_provider
    assert set(caps.execute_command_provider.commands) == {
        "tensorlogic.runSelection",
        "tensorlogic.runCell",
        "tensorlogic.runFile",
        "tensorlogic.interrupt",
        "tensorlogic.restartKernel",
    }


async def test_diagnostics_on_open_match_the_checker(client: LanguageClient, workdir: Path):
    text = PROGRAM + "let bad = undefined_name_xyz + 1\n"
    uri, path = new_doc(client, workdir, text)
    got = await diagnostics_for(client, uri, version=1)
    expected = oracle(path, text).diagnostics
    assert len(got) == len(expected) > 0
    for g, e in zip(got, expected, strict=True):
        assert g.message == e.message
        assert g.range == span_to_range16(text, e.span.start, e.span.end)
        assert g.code == e.code
    assert any("undefined_name_xyz" in g.message for g in got)


async def test_incremental_and_full_sync_and_stale_versions_dropped(
    client: LanguageClient, workdir: Path
):
    uri, path = new_doc(client, workdir, "let a = 1\n")
    await diagnostics_for(client, uri, version=1)
    text = "let a = 1\n"
    # quick incremental edits typing `let q = zzz_undefined` after an emoji comment
    typed = "/* 😀 */ let q = zzz_undefined"
    for i, ch in enumerate(typed):
        col16 = len(text.split("\n")[1].encode("utf-16-le")) // 2  # end of line 1
        rng = lsp.Range(start=lsp.Position(1, col16), end=lsp.Position(1, col16))
        text = text + ch
        client.text_document_did_change(
            lsp.DidChangeTextDocumentParams(
                text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=2 + i),
                content_changes=[lsp.TextDocumentContentChangePartial(range=rng, text=ch)],
            )
        )
    last = 1 + len(typed)
    got = await diagnostics_for(client, uri, version=last)
    assert [d.message for d in got] == [d.message for d in oracle(path, text).diagnostics]
    assert any("zzz_undefined" in d.message for d in got)
    start = text.index("zzz")
    assert any(d.range == span_to_range16(text, start, start + 13) for d in got)
    # versions are published in order (older ones only before `last` arrived)
    versions = [p.version for p in client.published if p.uri == uri]
    assert versions == sorted(versions) and all(v < last for v in versions)
    # a whole-document change
    client.text_document_did_change(
        lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=100),
            content_changes=[lsp.TextDocumentContentChangeWholeDocument(text="let a = 2\n")],
        )
    )
    assert await diagnostics_for(client, uri, version=100) == []


async def test_stale_analysis_is_not_published(client: LanguageClient, workdir: Path):
    """A change arriving while version 1 of a large file is being analysed: version 1's
    diagnostics are dropped, only version 2's are published."""
    big = PROGRAM + "".join(f"let v{i} = x @ w + b\n" for i in range(3000))
    uri, _ = new_doc(client, workdir, big)
    await asyncio.sleep(0.05)  # version 1's analysis is running now
    client.text_document_did_change(
        lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[
                lsp.TextDocumentContentChangePartial(
                    range=lsp.Range(start=lsp.Position(0, 0), end=lsp.Position(0, 0)),
                    text="let stale_check = nope_undefined\n",
                )
            ],
        )
    )
    got = await diagnostics_for(client, uri, version=2, timeout=120)
    assert any("nope_undefined" in d.message for d in got)
    assert [p.version for p in client.published if p.uri == uri] == []


async def test_hover_after_korean_and_emoji_on_the_same_line(client: LanguageClient, workdir: Path):
    uri, path = new_doc(client, workdir)
    a = oracle(path)
    off = offset_of(PROGRAM, "b = model", 0)
    expected = ide.hover_at(a, off)
    assert expected is not None and "float16[2]" in expected.markdown
    got = await client.text_document_hover_async(
        lsp.HoverParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri), position=pos_of(PROGRAM, "b = model")
        )
    )
    assert got.contents.kind == lsp.MarkupKind.Markdown
    assert got.contents.value == expected.markdown
    assert got.range == span_to_range16(PROGRAM, expected.span.start, expected.span.end)
    # on the Korean comment itself: whatever the core says (usually nothing)
    none = await client.text_document_hover_async(
        lsp.HoverParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri), position=pos_of(PROGRAM, "테스트")
        )
    )
    assert (
        none is None
        or none.contents.value == ide.hover_at(a, offset_of(PROGRAM, "테스트")).markdown
    )


async def test_completion_of_tensor_names_with_resolve(client: LanguageClient, workdir: Path):
    text = PROGRAM + '/* 한국어 😀 */ v = model.get_tensor("")\n'
    uri, path = new_doc(client, workdir, text)
    needle = 'get_tensor("")'
    pos = pos_of(text, needle, len('get_tensor("'))
    got = await client.text_document_completion_async(
        lsp.CompletionParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri),
            position=pos,
            context=lsp.CompletionContext(
                trigger_kind=lsp.CompletionTriggerKind.TriggerCharacter, trigger_character='"'
            ),
        )
    )
    items = got.items if isinstance(got, lsp.CompletionList) else got
    labels = [i.label for i in items]
    assert set(TENSORS) <= set(labels)
    expected = ide.complete_at(oracle(path, text), offset_of(text, needle, len('get_tensor("')))
    assert labels == [c.label for c in expected]
    item = next(i for i in items if i.label == "layer.0.weight")
    exp = next(c for c in expected if c.label == "layer.0.weight")
    assert item.kind == lsp.CompletionItemKind.__members__.get(
        {"field": "Field", "variable": "Variable"}.get(exp.kind, "Field"), item.kind
    )
    assert exp.replace_span is not None and exp.replace_span.start == exp.replace_span.end
    # nothing typed yet: a plain insertion at the cursor (no textEdit, the label inserted)
    assert item.text_edit is None and (item.insert_text or item.label) == "layer.0.weight"
    typed = text.replace('get_tensor("")', 'get_tensor("lay")')
    uri2, path2 = new_doc(client, workdir, typed)
    got2 = await client.text_document_completion_async(
        lsp.CompletionParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri2),
            position=pos_of(typed, 'get_tensor("lay")', len('get_tensor("lay')),
        )
    )
    item2 = next(i for i in got2.items if i.label == "layer.0.weight")
    start = offset_of(typed, 'get_tensor("lay")', len('get_tensor("'))
    assert item2.text_edit.range == span_to_range16(typed, start, start + 3)
    assert item2.text_edit.new_text == "layer.0.weight"
    resolved = await client.completion_item_resolve_async(item)
    if exp.doc:
        assert resolved.documentation.value == exp.doc


async def test_signature_help(client: LanguageClient, workdir: Path):
    text = PROGRAM + "let t = softmax(z, )\n"
    uri, path = new_doc(client, workdir, text)
    off = offset_of(text, "softmax(z, ", len("softmax(z, "), nth=1)
    expected = ide.signature_at(oracle(path, text), off)
    assert expected is not None
    got = await client.text_document_signature_help_async(
        lsp.SignatureHelpParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri),
            position=pos_of(text, "softmax(z, ", len("softmax(z, "), nth=1),
        )
    )
    assert got.signatures[0].label == expected.signatures[0].label
    assert "softmax" in got.signatures[0].label
    assert got.active_parameter == expected.active_param == 1
    assert [p.label for p in got.signatures[0].parameters] == [
        p[0] for p in expected.signatures[0].params
    ]


async def test_definition_references_rename(client: LanguageClient, workdir: Path):
    uri, path = new_doc(client, workdir)
    a = oracle(path)
    use = offset_of(PROGRAM, "double(y)", len("double("))
    td = lsp.TextDocumentIdentifier(uri=uri)
    pos = pos_of(PROGRAM, "double(y)", len("double("))

    defs = await client.text_document_definition_async(
        lsp.DefinitionParams(text_document=td, position=pos)
    )
    exp_defs = ide.definition_at(a, use)
    assert [d.range for d in defs] == [
        span_to_range16(PROGRAM, d.span.start, d.span.end) for d in exp_defs
    ]
    assert defs[0].range.start.line == 5  # `let y = ...`

    refs = await client.text_document_references_async(
        lsp.ReferenceParams(
            text_document=td, position=pos, context=lsp.ReferenceContext(include_declaration=True)
        )
    )
    exp_refs = ide.references(a, use, include_declaration=True)
    assert sorted((r.range.start.line, r.range.start.character) for r in refs) == sorted(
        (
            span_to_range16(PROGRAM, r.span.start, r.span.end).start.line,
            span_to_range16(PROGRAM, r.span.start, r.span.end).start.character,
        )
        for r in exp_refs
    )
    assert len(refs) >= 3

    prep = await client.text_document_prepare_rename_async(
        lsp.PrepareRenameParams(text_document=td, position=pos)
    )
    exp_span = ide.prepare_rename(a, use)
    assert prep == span_to_range16(PROGRAM, exp_span.start, exp_span.end)

    edit = await client.text_document_rename_async(
        lsp.RenameParams(text_document=td, position=pos, new_name="out")
    )
    edits = edit.changes[uri]
    assert len(edits) == len(ide.rename(a, use, "out").edits) == len(exp_refs)
    assert all(e.new_text == "out" for e in edits)

    with pytest.raises(Exception) as err:
        await client.text_document_rename_async(
            lsp.RenameParams(text_document=td, position=pos, new_name="let")
        )
    assert ide.rename(a, use, "let").error in str(err.value)


async def test_document_and_workspace_symbols(client: LanguageClient, workdir: Path):
    uri, path = new_doc(client, workdir)
    a = oracle(path)
    got = await client.text_document_document_symbol_async(
        lsp.DocumentSymbolParams(text_document=lsp.TextDocumentIdentifier(uri=uri))
    )
    exp = ide.document_symbols(a)
    assert [s.name for s in got] == [s.name for s in exp]
    assert [s.range for s in got] == [
        span_to_range16(PROGRAM, s.span.start, s.span.end) for s in exp
    ]
    model = next(s for s in got if s.name == "model")
    assert {c.name for c in model.children or []} >= set(TENSORS)  # hierarchical

    found = await client.workspace_symbol_async(lsp.WorkspaceSymbolParams(query="helperinlib"))
    assert [s.name for s in found] == ["helper_in_lib"]
    assert found[0].location.uri == (workdir / "lib.tl").as_uri()
    assert found[0].location.range.start.line == 0
    doubles = await client.workspace_symbol_async(lsp.WorkspaceSymbolParams(query="double"))
    assert uri in {s.location.uri for s in doubles}


def decode_tokens(data: list[int]) -> list[tuple[int, int, int, int, int]]:
    out, line, char = [], 0, 0
    for i in range(0, len(data), 5):
        dl, dc, length, t, m = data[i : i + 5]
        line += dl
        char = char + dc if dl == 0 else dc
        out.append((line, char, length, t, m))
    return out


async def test_semantic_tokens_full_and_delta(client: LanguageClient, workdir: Path):
    uri, path = new_doc(client, workdir)
    td = lsp.TextDocumentIdentifier(uri=uri)
    full = await client.text_document_semantic_tokens_full_async(
        lsp.SemanticTokensParams(text_document=td)
    )
    toks = decode_tokens(full.data)
    exp = [
        t
        for t in ide.semantic_tokens(oracle(path))
        if t.span.end > t.span.start and t.span.line == t.span.end_line
    ]
    types = list(ide.SEMANTIC_TOKEN_TYPES)
    exp_set = {
        (r.start.line, r.start.character, r.end.character - r.start.character, types.index(t.type))
        for t in exp
        for r in [span_to_range16(PROGRAM, t.span.start, t.span.end)]
    }
    assert len(toks) > 10
    assert exp_set <= {(a, b, c, d) for a, b, c, d, _ in toks}
    # `b` after the Korean block comment: UTF-16 columns
    b_pos = pos_of(PROGRAM, "b = model")
    assert any(t[0] == b_pos.line and t[1] == b_pos.character and t[2] == 1 for t in toks)

    client.text_document_did_change(
        lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[
                lsp.TextDocumentContentChangePartial(
                    range=lsp.Range(start=lsp.Position(13, 0), end=lsp.Position(13, 0)),
                    text="let extra = 1\n",
                )
            ],
        )
    )
    delta = await client.text_document_semantic_tokens_full_delta_async(
        lsp.SemanticTokensDeltaParams(text_document=td, previous_result_id=full.result_id)
    )
    assert isinstance(delta, lsp.SemanticTokensDelta) and delta.edits
    from tests.lsp.oracles import apply_semantic_edits

    patched = apply_semantic_edits(full.data, delta.edits)
    again = await client.text_document_semantic_tokens_full_async(
        lsp.SemanticTokensParams(text_document=td)
    )
    assert patched == list(again.data)
    # an unknown previous id gets full tokens
    unknown = await client.text_document_semantic_tokens_full_delta_async(
        lsp.SemanticTokensDeltaParams(text_document=td, previous_result_id="nope")
    )
    assert isinstance(unknown, lsp.SemanticTokens) and list(unknown.data) == list(again.data)


async def test_folding_inlay_hints_code_lenses(client: LanguageClient, workdir: Path):
    uri, path = new_doc(client, workdir)
    a = oracle(path)
    td = lsp.TextDocumentIdentifier(uri=uri)
    folds = await client.text_document_folding_range_async(lsp.FoldingRangeParams(text_document=td))
    exp = [(f.start_line, f.end_line) for f in ide.folding_ranges(a) if f.end_line > f.start_line]
    assert [(f.start_line, f.end_line) for f in folds] == exp
    assert (8, 10) in exp or any(s == 8 for s, _ in exp)  # the fn body

    end = span_to_range16(PROGRAM, 0, len(PROGRAM)).end
    hints = await client.text_document_inlay_hint_async(
        lsp.InlayHintParams(text_document=td, range=lsp.Range(start=lsp.Position(0, 0), end=end))
    )
    exp_h = ide.inlay_hints(a, 0, len(PROGRAM))
    assert [h.label for h in hints] == [h.label for h in exp_h]
    assert [h.position for h in hints] == [
        span_to_range16(PROGRAM, h.offset, h.offset).start for h in exp_h
    ]

    lenses = await client.text_document_code_lens_async(lsp.CodeLensParams(text_document=td))
    exp_l = ide.code_lenses(a)
    assert [lens.command.command for lens in lenses] == [x.command for x in exp_l]
    assert {"tensorlogic.runCell", "tensorlogic.runFile"} <= {
        lens.command.command for lens in lenses
    }
    for lens in lenses:
        assert lens.command.arguments[0]["uri"] == uri


def apply_edits(text: str, edits: list[lsp.TextEdit]) -> str:
    from tl_lsp.protocol import Positions

    pos = Positions(text, "utf-16")
    spans = sorted(((*pos.offsets(e.range), e.new_text) for e in edits), reverse=True)
    for s, e, t in spans:
        text = text[:s] + t + text[e:]
    return text


async def test_formatting_and_range_formatting(client: LanguageClient, workdir: Path):
    text = "let a   =   1\nlet  b=2\n/* 😀 */ let c =   3\n"
    uri, path = new_doc(client, workdir, text)
    td = lsp.TextDocumentIdentifier(uri=uri)
    opts = lsp.FormattingOptions(tab_size=4, insert_spaces=True)
    a = oracle(path, text)
    expected = text
    for e in sorted(ide.format_document(a), key=lambda e: e.span.start, reverse=True):
        expected = expected[: e.span.start] + e.new_text + expected[e.span.end :]
    assert expected != text
    edits = await client.text_document_formatting_async(
        lsp.DocumentFormattingParams(text_document=td, options=opts)
    )
    assert apply_edits(text, edits) == expected
    ranged = await client.text_document_range_formatting_async(
        lsp.DocumentRangeFormattingParams(
            text_document=td,
            options=opts,
            range=lsp.Range(start=lsp.Position(1, 0), end=lsp.Position(1, 3)),
        )
    )
    out = apply_edits(text, ranged)
    assert out.split("\n")[0] == "let a   =   1" and out.split("\n")[2] == "/* 😀 */ let c =   3"
    assert out.split("\n")[1] == expected.split("\n")[1]


async def test_model_file_change_refreshes_dependent_diagnostics(
    client: LanguageClient, workdir: Path
):
    model = write_model(workdir / "watched.safetensors", {"a": (3, 2)})
    text = 'm = load_model("watched.safetensors")\nw = m.get_tensor("a")\nlet y = w @ w\n'
    uri, path = new_doc(client, workdir, text)
    before = await diagnostics_for(client, uri, version=1)
    assert any("float16[3, 2]" in d.message for d in before), before
    write_model(model, {"a": (3, 3)})
    client.workspace_did_change_watched_files(
        lsp.DidChangeWatchedFilesParams(
            changes=[lsp.FileEvent(uri=model.as_uri(), type=lsp.FileChangeType.Changed)]
        )
    )
    # the next publish for the document is clean (wait past any repeat of the old one)
    await wait_for(
        lambda: any(p.uri == uri and not p.diagnostics for p in client.published),
        what=f"clean diagnostics; got {[p.diagnostics for p in client.published if p.uri == uri]}",
    )


async def test_errors_become_responses_and_the_server_lives(client: LanguageClient, workdir: Path):
    with pytest.raises(Exception) as err:
        await client.text_document_hover_async(
            lsp.HoverParams(
                text_document=lsp.TextDocumentIdentifier(uri="file:///never/opened.tl"),
                position=lsp.Position(0, 0),
            )
        )
    assert "not open" in str(err.value)
    assert any("not open" in m.message for m in client.log_messages)
    with pytest.raises(Exception) as err:
        await client.workspace_execute_command_async(
            lsp.ExecuteCommandParams(command="tensorlogic.runCell", arguments=[{"line": 0}])
        )
    assert 'expected an argument {"uri": ...}' in str(err.value)
    uri, _ = new_doc(client, workdir, "let a = 1\n")
    hover = await client.text_document_hover_async(
        lsp.HoverParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(0, 4)
        )
    )
    assert hover is None or hover.contents.value


async def test_cancel_request_stops_the_work(client: LanguageClient, workdir: Path):
    big = PROGRAM + "".join(f"let v{i} = x @ w + b\n" for i in range(4000))
    uri, _ = new_doc(client, workdir, big)
    fut = asyncio.ensure_future(
        client.protocol.send_request_async(
            lsp.TEXT_DOCUMENT_HOVER,
            lsp.HoverParams(
                text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(5000, 5)
            ),
            msg_id="cancel-me",
        )
    )
    await asyncio.sleep(0.05)  # let the request reach the server first
    client.protocol.notify(lsp.CANCEL_REQUEST, lsp.CancelParams(id="cancel-me"))
    with pytest.raises(Exception) as err:
        await fut
    assert "cancel" in str(err.value).lower()
    # and the server still answers
    hover = await client.text_document_hover_async(
        lsp.HoverParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri), position=pos_of(big, "b = model")
        )
    )
    assert hover is not None


# ---------------------------------------------------------------------------
# Separate server processes: encodings, configuration, progress, start-up


@pytest.mark.parametrize(
    "encodings, expected", [(["utf-8", "utf-16"], "utf-8"), (["utf-32"], "utf-32")]
)
async def test_negotiated_encoding_is_used(tmp_path: Path, encodings, expected):
    write_model(tmp_path / "model.safetensors", TENSORS)
    client = await CONFIG.start()
    try:
        result = await client.initialize_session(init_params(tmp_path, encodings=encodings))
        assert result.capabilities.position_encoding == expected
        path = tmp_path / "t.tl"
        path.write_text(PROGRAM, encoding="utf-8")
        uri = open_doc(client, path, PROGRAM)
        i = PROGRAM.index("b = model")
        line_start = PROGRAM.rfind("\n", 0, i) + 1
        head = PROGRAM[line_start:i]
        col = len(head.encode("utf-8")) if expected == "utf-8" else len(head)
        line = PROGRAM.count("\n", 0, i)
        hover = await client.text_document_hover_async(
            lsp.HoverParams(
                text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(line, col)
            )
        )
        assert "float16[2]" in hover.contents.value
        assert hover.range.start == lsp.Position(line, col)
        # an incremental edit in the same encoding: replace `b` (after the emoji) by a typo
        client.text_document_did_change(
            lsp.DidChangeTextDocumentParams(
                text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=2),
                content_changes=[
                    lsp.TextDocumentContentChangePartial(
                        range=lsp.Range(lsp.Position(line, col), lsp.Position(line, col + 1)),
                        text="bb",
                    )
                ],
            )
        )
        text = PROGRAM[:i] + "bb" + PROGRAM[i + 1 :]
        got = await diagnostics_for(client, uri, version=2)
        use = text.index("+ b") + 2  # `let y = x @ w + b` now names an undefined `b`
        use_line = text.count("\n", 0, use)
        assert any(
            d.range.start == lsp.Position(use_line, use - text.rfind("\n", 0, use) - 1)
            and "'b'" in d.message
            for d in got
        ), got
        symbols = await client.text_document_document_symbol_async(
            lsp.DocumentSymbolParams(text_document=lsp.TextDocumentIdentifier(uri=uri))
        )
        bb = next(sym for sym in symbols if sym.name == "bb")  # the edit landed exactly
        assert bb.selection_range.start == lsp.Position(line, col)
        await client.shutdown_session()
    finally:
        await client.stop()


async def test_progress_and_configuration(tmp_path: Path):
    write_model(tmp_path / "model.safetensors", TENSORS)
    client = await CONFIG.start()
    try:
        client.set_configuration({"python": "/from/workspace/python3"}, section="tensorlogic")
        options = {"progressDelayMs": 0, "python": "/nonexistent/python3"}
        await client.initialize_session(init_params(tmp_path, options=options))
        path = tmp_path / "t.tl"
        path.write_text(PROGRAM, encoding="utf-8")
        uri = open_doc(client, path, PROGRAM)
        await diagnostics_for(client, uri)
        reports = [r for rs in client.progress_reports.values() for r in rs]
        assert any(
            isinstance(r, lsp.WorkDoneProgressBegin) and "Analysing t.tl" in r.message
            for r in reports
        )
        assert any(isinstance(r, lsp.WorkDoneProgressEnd) for r in reports)
        # the kernel's Python comes from initializationOptions, never from the workspace's
        # settings (workspace/configuration)
        with pytest.raises(Exception) as err:
            await client.workspace_execute_command_async(
                lsp.ExecuteCommandParams(command="tensorlogic.runFile", arguments=[{"uri": uri}])
            )
        assert "cannot start the kernel with '/nonexistent/python3'" in str(err.value)
        await client.shutdown_session()
    finally:
        await client.stop()


async def test_version_and_startup_imports():
    out = subprocess.run(
        [*SERVER_CMD[:-1], "--version"], capture_output=True, text=True, env=ENV, check=True
    )
    assert out.stdout.strip() == f"tl-lsp {__version__}"
    code = (
        "import sys, tl_lsp.__main__, tl_lsp.server as s; s.create_server();"
        "bad = [m for m in ('mlx', 'gguf', 'coremltools', 'tl_core.check', 'tl_core.ide.hover',"
        " 'tl_core.ide.completion') if m in sys.modules];"
        "print(bad)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=ENV, check=True
    )
    assert out.stdout.strip() == "[]"
    # the early `initialize` answer (tl_lsp/fast_start.py) is built without the LSP libraries
    # and without tl_core's modules (its package `__init__`, the version, imports nothing)
    code = (
        "import sys, tl_lsp.__main__, tl_lsp.fast_start, tl_lsp.capabilities;"
        "print([m for m in sys.modules if m in ('pygls', 'lsprotocol', 'cattrs') or "
        "m.startswith('tl_core.')])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=ENV, check=True
    )
    assert out.stdout.strip() == "[]"


async def test_server_process_never_loads_native_ml_libraries(
    client: LanguageClient, workdir: Path
):
    """After answering about a document that loads a model, the server process has not
    mapped MLX or CoreML native code (static analysis reads headers only)."""
    uri, _ = new_doc(client, workdir)
    await client.text_document_hover_async(
        lsp.HoverParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri), position=pos_of(PROGRAM, "w = model")
        )
    )
    from tests.lsp.lsp_util import server_pid

    maps = Path(f"/proc/{server_pid(client)}/maps").read_text()
    assert "/mlx/" not in maps and "coremltools" not in maps


async def test_long_completion_lists_are_cut_and_incomplete(client: LanguageClient, workdir: Path):
    """The best 200 (by sort text, then label) of every completion, in that order; the
    kept built-ins' docs come through completionItem/resolve."""
    text = "".join(f"let v{i} = 1\n" for i in range(190)) + "let q = \n"
    uri, path = new_doc(client, workdir, text)
    end = lsp.Position(line=190, character=8)
    got = await client.text_document_completion_async(
        lsp.CompletionParams(text_document=lsp.TextDocumentIdentifier(uri=uri), position=end)
    )
    every = ide.complete_at(oracle(path, text), len(text) - 1)
    expected = sorted(every, key=lambda c: (c.sort_text or c.label, c.label))[:200]
    assert len(every) > 200
    assert got.is_incomplete is True
    assert [(i.label, i.sort_text) for i in got.items] == [
        (c.label, c.sort_text) for c in expected
    ]
    item, exp = next((i, c) for i, c in zip(got.items, expected, strict=True) if c.doc)
    assert item.documentation is None  # lazy: the client resolves it
    resolved = await client.completion_item_resolve_async(item)
    assert resolved.documentation.value == exp.doc


async def test_untitled_documents_work_without_a_path(client: LanguageClient):
    uri = "untitled:Untitled-1"
    text = "let a = tensor<float16>([1.0, 2.0], device: cpu)\nlet b = a + nope\n"
    client.text_document_did_open(
        lsp.DidOpenTextDocumentParams(
            text_document=lsp.TextDocumentItem(
                uri=uri, language_id="tensorlogic", version=1, text=text
            )
        )
    )
    got = await diagnostics_for(client, uri, version=1)
    assert [d.message for d in got] == [d.message for d in analyze(text, None).diagnostics]
    hover = await client.text_document_hover_async(
        lsp.HoverParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(0, 4)
        )
    )
    assert "float16[2]" in hover.contents.value
