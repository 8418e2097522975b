"""Run commands over LSP against the real server and the real kernel process."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pytest_lsp import LanguageClient

from tests.lsp.lsp_util import (
    CONFIG,
    child_cmdlines,
    diagnostics_for,
    init_params,
    open_doc,
    pos_of,
    server_pid,
    wait_for,
)

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]

CELLS = """\
// %%
let a = tensor<float16>([[1.0, 2.0], [3.0, 4.0]], device: cpu)
print("hello from cell", a.shape)
// %%
let b = a @ a
b
// %%
/* 커널 😀 */ print("selected")
"""


@pytest_lsp.fixture(config=CONFIG, scope="module")
async def client(lsp_client: LanguageClient, tmp_path_factory):
    root = tmp_path_factory.mktemp("run")
    lsp_client.root = root
    params = init_params(root, options={"device": "cpu"})
    params.capabilities.workspace.inlay_hint = lsp.InlayHintWorkspaceClientCapabilities(
        refresh_support=True
    )
    await lsp_client.initialize_session(params)
    yield
    await lsp_client.shutdown_session()


def doc(client: LanguageClient, name: str, text: str) -> str:
    path = client.root / name
    path.write_text(text, encoding="utf-8")
    return open_doc(client, path, text)


async def command(client: LanguageClient, name: str, arg) -> dict:
    return await client.workspace_execute_command_async(
        lsp.ExecuteCommandParams(command=name, arguments=[arg])
    )


def kernels(client: LanguageClient) -> list[str]:
    return [c for c in child_cmdlines(server_pid(client)) if "tl_core.kernel" in c]


async def test_no_kernel_before_the_first_run(client: LanguageClient):
    uri = doc(client, "idle.tl", CELLS)
    await diagnostics_for(client, uri)
    await client.text_document_hover_async(
        lsp.HoverParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(1, 4)
        )
    )
    assert kernels(client) == []


async def test_run_cells_keep_variables_and_show_results(client: LanguageClient):
    uri = doc(client, "cells.tl", CELLS)
    await diagnostics_for(client, uri)
    first = await command(client, "tensorlogic.runCell", {"uri": uri, "line": 1})
    assert "hello from cell" in first["stdout"]
    assert first["errors"] == [] and first["device"] == "cpu"
    assert kernels(client), "the first run starts the kernel"
    assert any("hello from cell" in m.message for m in client.log_messages)
    begins = [r for rs in client.progress_reports.values() for r in rs]
    assert any(
        isinstance(r, lsp.WorkDoneProgressBegin) and r.message == "Running cells.tl:1-3"
        for r in begins
    )
    # the lines that ran (the cell's marker line through the line before the next marker),
    # and its labels: the inline text goes after the cell's last code line
    assert first["lines"] == {"first": 0, "last": 2}
    labels = first["labels"]
    assert labels["line"] == 2 and labels["error"] is False
    assert labels["inline"].startswith("⇒ hello from cell [2, 2] · ")
    assert labels["head"] == "[run cells.tl:1-3]"
    assert labels["log"] == labels["head"] + "\n" + first["stdout"] + labels["tail"]
    assert labels["tail"].startswith("(done in ") and labels["tail"].endswith(" on cpu)\n")
    # the log was streamed as the run went: head, printed text, tail, in order
    streamed = "".join(p.text if hasattr(p, "text") else p["text"] for p in client.run_output
                       if (p.uri if hasattr(p, "uri") else p["uri"]) == uri)
    assert streamed == labels["log"]

    second = await command(client, "tensorlogic.runCell", {"uri": uri, "line": 4})
    assert second["value"]["kind"] == "tensor" and second["value"]["shape"] == [2, 2]
    assert second["elapsed_ms"] >= 0
    assert second["lines"] == {"first": 3, "last": 5}
    assert second["labels"]["line"] == 5
    assert second["labels"]["inline"].startswith("⇒ float16[2, 2] on cpu · ")
    assert "  (float16[2, 2] on cpu)\n" in second["labels"]["tail"]

    # the selection starts after Korean text and an emoji on its line (UTF-16 columns)
    start = pos_of(CELLS, 'print("selected")')
    end = pos_of(CELLS, 'print("selected")', len('print("selected")'))
    sel = await command(
        client,
        "tensorlogic.runSelection",
        {
            "uri": uri,
            "range": {
                "start": {"line": start.line, "character": start.character},
                "end": {"line": end.line, "character": end.character},
            },
        },
    )
    assert sel["stdout"] == "selected\n"


async def test_runtime_error_becomes_a_diagnostic(client: LanguageClient):
    text = CELLS + "// %%\nlet c = a @ tensor<float16>([[1.0, 2.0, 3.0]], device: cpu)\n"
    uri = doc(client, "err.tl", text)
    await diagnostics_for(client, uri)
    await command(client, "tensorlogic.runCell", {"uri": uri, "line": 1})
    result = await command(client, "tensorlogic.runCell", {"uri": uri, "line": 9})
    assert result["errors"], result
    message = result["errors"][0]["message"]
    assert "float16[2, 2]" in message
    published = await wait_for(
        lambda: [
            p
            for p in client.published
            if p.uri == uri and any(d.source == "tensorlogic run" for d in p.diagnostics)
        ],
        what="run diagnostics",
    )
    run_diags = [d for d in published[-1].diagnostics if d.source == "tensorlogic run"]
    assert [d.message for d in run_diags] == [message]
    assert run_diags[0].range.start.line == 9


async def test_interrupt_runaway_cell_while_hover_answers(client: LanguageClient):
    text = "// %%\nlet i = 0\nloop {\n    i = i + 1\n}\n"
    uri = doc(client, "loop.tl", text)
    await diagnostics_for(client, uri)
    warm = {"start": {"line": 1, "character": 0}, "end": {"line": 2, "character": 0}}
    await command(client, "tensorlogic.runSelection", {"uri": uri, "range": warm})  # kernel up
    run = asyncio.ensure_future(command(client, "tensorlogic.runFile", {"uri": uri}))
    await asyncio.sleep(0.5)
    assert not run.done()
    hover = await client.text_document_hover_async(
        lsp.HoverParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(1, 4)
        )
    )
    assert hover is not None and "i" in hover.contents.value
    items = await client.text_document_completion_async(
        lsp.CompletionParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(3, 8)
        )
    )
    labels = [i.label for i in (items.items if isinstance(items, lsp.CompletionList) else items)]
    assert "i" in labels
    assert not run.done()  # both answered while the cell was still running
    answer = await command(client, "tensorlogic.interrupt", {"uri": uri})
    assert answer == {"interrupted": True}
    result = await asyncio.wait_for(run, 30)
    assert result["interrupted"] is True
    # the kernel still works afterwards
    again = await command(
        client,
        "tensorlogic.runSelection",
        {
            "uri": uri,
            "range": {"start": {"line": 1, "character": 0}, "end": {"line": 2, "character": 0}},
        },
    )
    assert again["errors"] == []


async def test_dead_kernel_is_reported_and_restarted(client: LanguageClient):
    uri = doc(client, "dead.tl", CELLS)
    await command(client, "tensorlogic.runCell", {"uri": uri, "line": 1})
    restarted = await command(client, "tensorlogic.restartKernel", {})
    pid = restarted["pid"]
    assert restarted["restarted"] is True and pid
    os.kill(pid, signal.SIGKILL)
    msg = await wait_for(
        lambda: [m for m in client.messages if "kernel exited" in m.message], what="showMessage"
    )
    assert msg[0].type == lsp.MessageType.Error
    assert "starts again on the next run" in msg[0].message
    result = await command(client, "tensorlogic.runCell", {"uri": uri, "line": 1})
    assert "hello from cell" in result["stdout"]
    assert len(kernels(client)) == 1


@pytest.mark.parametrize("bad", [{"uri": "file:///x.tl", "line": 0}, {"uri": 3}])
async def test_bad_run_arguments_are_errors(client: LanguageClient, bad):
    with pytest.raises(Exception) as err:
        await command(client, "tensorlogic.runCell", bad)
    assert "not open" in str(err.value) or "expected" in str(err.value)


SHAPE = """\
// %%
fn forward(input: float16[N, D_in], weights: float16[D_in, D_out], bias: float16[D_out]) -> float16[N, D_out] {
    return input @ weights + bias
}
let X = tensor<float16>([[1.0, 2.0, 3.0]], device: cpu)
let W = tensor<float16>([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]], device: cpu)
/* 😀 */ let out = forward(X, W, tensor<float16>([0.1, 0.2, 0.3], device: cpu))
"""


async def test_run_errors_carry_related_locations(client: LanguageClient):
    uri = doc(client, "shape.tl", SHAPE)
    result = await command(client, "tensorlogic.runFile", {"uri": uri})
    err = result["errors"][0]
    assert err["message"] == (
        "forward(): shape variable D_out is 2 from argument 'weights' (float16[3, 2]) "
        "but 3 from argument 'bias' (float16[3])"
    )
    w = pos_of(SHAPE, "W, tensor")
    assert err["related"] == [
        {
            "range": {
                "start": {"line": w.line, "character": w.character},
                "end": {"line": w.line, "character": w.character + 1},
            },
            "message": "D_out = 2 bound here",
        }
    ]
    published = await wait_for(
        lambda: [
            p
            for p in client.published
            if p.uri == uri and any(d.source == "tensorlogic run" for d in p.diagnostics)
        ],
        what="run diagnostics",
    )
    diag = next(d for d in published[-1].diagnostics if d.source == "tensorlogic run")
    assert diag.related_information[0].message == "D_out = 2 bound here"
    assert diag.related_information[0].location.range.start == w


async def test_run_results_are_not_inlay_hints(client: LanguageClient):
    """One mechanism for run results: the command's labels, which the clients show; the
    inlay hints stay the static ones."""
    uri = doc(client, "hints.tl", CELLS)
    params = lsp.InlayHintParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri),
        range=lsp.Range(start=lsp.Position(0, 0), end=lsp.Position(8, 0)),
    )
    before = await client.text_document_inlay_hint_async(params)
    result = await command(client, "tensorlogic.runFile", {"uri": uri})
    assert result["errors"] == [] and result["value"] is None
    assert await client.text_document_inlay_hint_async(params) == before


async def test_worker_crash_is_reported_and_the_kernel_keeps_serving(client: LanguageClient):
    uri = doc(client, "worker.tl", CELLS)
    await command(client, "tensorlogic.runCell", {"uri": uri, "line": 1})
    kernel_pid = int(
        next(
            e.name
            for e in Path("/proc").iterdir()
            if e.name.isdigit()
            and "tl_core.kernel" in _cmdline(e)
            and "--worker" not in _cmdline(e)
            and _ppid(e) == server_pid(client)
        )
    )
    worker = next(
        int(e.name) for e in Path("/proc").iterdir() if e.name.isdigit() and _ppid(e) == kernel_pid
    )
    os.kill(worker, signal.SIGKILL)
    # the kernel notices at the next run: that run fails, the worker restarts, we warn
    with pytest.raises(Exception) as err:
        await command(client, "tensorlogic.runCell", {"uri": uri, "line": 1})
    assert "the worker process died (status " in str(err.value)  # -9, or None (kernel race)
    assert "every document's variables are lost" in str(err.value)
    msg = await wait_for(
        lambda: [m for m in client.messages if "restarted its worker" in m.message],
        what="worker restart message",
    )
    assert msg[0].type == lsp.MessageType.Warning
    assert msg[0].message == (
        "the TensorLogic kernel restarted its worker process: the variables of every "
        "document are gone; run the cells they come from again"
    )
    result = await command(client, "tensorlogic.runCell", {"uri": uri, "line": 1})
    assert "hello from cell" in result["stdout"]


def _cmdline(entry: Path) -> str:
    try:
        return (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _ppid(entry: Path) -> int:
    try:
        return int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return -1


async def test_hover_on_a_relation_shows_its_facts_after_a_run(client: LanguageClient):
    text = ("relation Parent(x: entity, y: entity)\nParent(alice, bob)\nParent(bob, carol)\n"
            "Ancestor(X, Y) <- Parent(X, Y)\nAncestor(X, Z) <- Parent(X, Y), Ancestor(Y, Z)\n"
            "Ancestor(alice, Z)?\n")
    uri = doc(client, "logic.tl", text)
    await diagnostics_for(client, uri)

    async def hover(marker: str) -> str:
        h = await client.text_document_hover_async(
            lsp.HoverParams(text_document=lsp.TextDocumentIdentifier(uri=uri),
                            position=pos_of(text, marker, 1)))
        return h.contents.value

    assert "after the last run" not in await hover("Ancestor(alice")
    result = await command(client, "tensorlogic.runFile", {"uri": uri})
    assert result["errors"] == [] and "Found 2 solution(s)" in result["stdout"]
    assert result["relations"] == {"Parent": 2, "Ancestor": 3}
    assert "3 facts after the last run" in await hover("Ancestor(alice")
    assert "2 facts after the last run" in await hover("Parent(bob")


async def test_learn_epochs_show_as_progress_reports(client: LanguageClient):
    text = ("tensor V: float32[2] learnable = [1.0, 2.0]\n"
            "learn { objective: sum(V * V), optimizer: sgd(lr: 0.25), epochs: 3 }\n")
    uri = doc(client, "learn.tl", text)
    await diagnostics_for(client, uri)
    result = await command(client, "tensorlogic.runFile", {"uri": uri})
    assert result["errors"] == []
    reports = [r for rs in client.progress_reports.values() for r in rs
               if isinstance(r, lsp.WorkDoneProgressReport)]
    assert any(r.message == "learn epoch 3/3: loss 0.312500" and r.percentage == 100
               for r in reports)


async def test_run_cell_uses_the_cell_rule_of_the_lenses(client: LanguageClient):
    """`//%%` opens a cell for the lenses and folding, so it does for runCell too."""
    text = '//%% one\nprint("one")\n  //  %% two\nprint("two")\n'
    uri = doc(client, "tight.tl", text)
    lenses = await client.text_document_code_lens_async(
        lsp.CodeLensParams(text_document=lsp.TextDocumentIdentifier(uri=uri))
    )
    cells = [lens.command.arguments[0]["line"] for lens in lenses
             if lens.command.command == "tensorlogic.runCell"]
    assert cells == [0, 2]
    result = await command(client, "tensorlogic.runCell", {"uri": uri, "line": 1})
    assert result["stdout"] == "one\n" and result["lines"] == {"first": 0, "last": 1}
    result = await command(client, "tensorlogic.runCell", {"uri": uri, "line": 3})
    assert result["stdout"] == "two\n" and result["lines"] == {"first": 2, "last": 3}


async def test_a_configured_cell_marker_serves_lenses_folding_and_run_cell(
    client: LanguageClient,
):
    """`cellMarker` changes the one rule everywhere: lenses, folding and runCell alike."""
    text = '// ## one\nprint("one")\n// %% not a cell now\n//## two\nprint("two")\n'
    uri = doc(client, "marker.tl", text)
    td = lsp.TextDocumentIdentifier(uri=uri)
    client.workspace_did_change_configuration(
        lsp.DidChangeConfigurationParams(settings={"tensorlogic": {"cellMarker": "// ##"}})
    )
    try:
        async def lens_lines() -> list[int]:
            lenses = await client.text_document_code_lens_async(lsp.CodeLensParams(text_document=td))
            return [lens.command.arguments[0]["line"] for lens in lenses
                    if lens.command.command == "tensorlogic.runCell"]

        for _ in range(100):  # the notification is handled in order, but let it land
            if await lens_lines() == [0, 3]:
                break
            await asyncio.sleep(0.05)
        assert await lens_lines() == [0, 3]
        folds = await client.text_document_folding_range_async(
            lsp.FoldingRangeParams(text_document=td)
        )
        assert [(f.start_line, f.end_line) for f in folds if f.kind == "region"] == [(0, 2), (3, 4)]
        result = await command(client, "tensorlogic.runCell", {"uri": uri, "line": 2})
        assert result["stdout"] == "one\n" and result["lines"] == {"first": 0, "last": 2}
    finally:
        client.workspace_did_change_configuration(
            lsp.DidChangeConfigurationParams(settings={"tensorlogic": {"cellMarker": "// %%"}})
        )


async def test_printed_text_streams_while_the_cell_runs_and_interrupt_keeps_it(
    client: LanguageClient,
):
    text = 'let i = 0\nloop {\n    i = i + 1\n    if i % 2000 == 0 { print("tick", i) }\n}\n'
    uri = doc(client, "stream.tl", text)

    def streamed() -> str:
        return "".join(p.text if hasattr(p, "text") else p["text"] for p in client.run_output
                       if (p.uri if hasattr(p, "uri") else p["uri"]) == uri)

    run = asyncio.ensure_future(command(client, "tensorlogic.runFile", {"uri": uri}))
    await wait_for(lambda: "tick" in streamed() or run.done(), what="the first print")
    first = streamed()
    await wait_for(lambda: streamed() != first or run.done(), what="the next print")
    assert not run.done()  # the loop never ends by itself: both came while it ran
    assert streamed().startswith("[run stream.tl:1-5]\ntick 2000\n")
    await command(client, "tensorlogic.interrupt", {"uri": uri})
    result = await asyncio.wait_for(run, 30)
    assert result["interrupted"] is True
    assert result["stdout"].startswith("tick 2000\ntick 4000\n")
    await wait_for(lambda: streamed().endswith(result["labels"]["tail"]), what="the log's tail")
    assert streamed() == result["labels"]["log"]
