"""The server finishes a lazily reused analysis in the background once typing pauses."""

from __future__ import annotations

import asyncio
import dataclasses

from tl_core.check.model import Analysis
from tl_lsp import server as srv

TEXT = "let x = ones([2, 3])\nprint(x)\n"


def _server(monkeypatch, calls: list[object]) -> srv.TensorLogicServer:
    ls = srv.create_server()
    ls.config = dataclasses.replace(ls.config, warm_delay_ms=10, progress_delay_ms=60_000)
    monkeypatch.setattr(ls, "text_document_publish_diagnostics", lambda params: None)
    monkeypatch.setattr(ls, "capability", lambda dotted: None)  # no client in-process
    original = Analysis.materialize

    def spy(self: Analysis, step=None) -> None:  # noqa: ANN001
        assert step is not None  # the warm-up yields as it goes (tl_lsp/yield_gate.py)
        calls.append(self)
        original(self, step)

    monkeypatch.setattr(Analysis, "materialize", spy)
    return ls


async def test_analysis_is_materialized_after_a_pause(monkeypatch):
    calls: list[object] = []
    ls = _server(monkeypatch, calls)
    uri = "file:///tmp/warm_pause.tl"
    doc = ls.docs.open(uri, TEXT, 1)
    await ls._publish_diagnostics(uri, 0)
    await ls.docs.get(uri).warm_task
    assert calls == [doc.analysis]


async def test_an_edit_during_the_pause_drops_the_warm_up(monkeypatch):
    calls: list[object] = []
    ls = _server(monkeypatch, calls)
    uri = "file:///tmp/warm_edit.tl"
    ls.docs.open(uri, TEXT, 1)
    await ls._publish_diagnostics(uri, 0)
    warm = ls.docs.get(uri).warm_task
    ls.schedule_diagnostics(uri, delay_ms=60_000)  # the next keystroke
    await asyncio.sleep(0.05)
    assert warm.cancelled()
    assert calls == []
    ls.docs.get(uri).diag_task.cancel()
