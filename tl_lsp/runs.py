"""The run commands' bookkeeping: one kernel, the last run of each document.

Converts between the server's code-point offsets and the kernel's code-point line/character
ranges (docs/kernel.md), keeps each document's last runtime errors (published as
diagnostics) and run results (shown as inlay hints), and formats the log line.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from tl_lsp.kernel_client import KernelClient

if TYPE_CHECKING:  # tl_core loads lazily: `tl-lsp` answers `initialize` before importing it
    from tl_core.diagnostics import Diagnostic, Severity
    from tl_core.syntax.span import LineIndex


@dataclass(frozen=True)
class RunHint:
    line: int  # the hint goes at the end of this line
    label: str


@dataclass(frozen=True)
class LastRun:
    text: str  # the text that ran (offsets below point into it)
    errors: tuple[Diagnostic, ...]
    hints: tuple[RunHint, ...]
    relations: dict[str, int] | None = None  # facts per relation after the run


def _severity(value: Any) -> Severity:
    from tl_core.diagnostics import Severity

    try:
        return Severity(str(value))
    except ValueError:
        return Severity.ERROR


def kernel_range(index: LineIndex, start: int, end: int) -> dict[str, Any]:
    l0, c0 = index.position(start)
    l1, c1 = index.position(end)
    return {"start": {"line": l0, "character": c0}, "end": {"line": l1, "character": c1}}


def _kernel_span(index: LineIndex, rng: dict[str, Any] | None):
    rng = rng or {}
    s, e = rng.get("start") or {}, rng.get("end") or {}
    start = index.offset(int(s.get("line", 0)), int(s.get("character", 0)))
    end = max(start, index.offset(int(e.get("line", 0)), int(e.get("character", 0))))
    return index.span(start, end)


def relations_from_result(result: dict[str, Any]) -> dict[str, int]:
    """The run's `relations` (name -> facts after the run), dropping ill-typed entries."""
    rel = result.get("relations")
    if not isinstance(rel, dict):
        return {}
    return {str(k): v for k, v in rel.items() if isinstance(v, int) and not isinstance(v, bool)}


def errors_from_result(result: dict[str, Any], index: LineIndex) -> tuple[Diagnostic, ...]:
    """The run's `errors` (code-point ranges, docs/kernel.md) as tl_core Diagnostics."""
    from tl_core.diagnostics import Diagnostic, Related

    out = []
    for err in result.get("errors") or ():
        related = tuple(
            Related(_kernel_span(index, r.get("range")), str(r.get("message", "")))
            for r in err.get("related") or ()
            if isinstance(r, dict)
        )
        out.append(
            Diagnostic(
                span=_kernel_span(index, err.get("range")),
                message=str(err.get("message", "")),
                severity=_severity(err.get("severity", "error")),
                code=str(err.get("code", "runtime")),
                related=related,
                source="tensorlogic run",
            )
        )
    return tuple(out)


def _short(text: str, limit: int = 60) -> str:
    one = " ".join(text.split())
    return one if len(one) <= limit else one[: limit - 1] + "…"


def value_label(value: dict[str, Any] | None) -> str | None:
    if not value:
        return None
    if value.get("kind") == "tensor" and value.get("shape") is not None:
        shape = ", ".join(str(d) for d in value["shape"])
        return (
            f"= {value.get('dtype') or 'float16'}[{shape}] {_short(str(value.get('text', '')), 40)}"
        )
    if value.get("kind") == "none":
        return None
    return f"= {_short(str(value.get('text', '')))}"


def hints_from_result(result: dict[str, Any], run_end_line: int) -> tuple[RunHint, ...]:
    status = "✗" if result.get("errors") else "✓"
    if result.get("interrupted"):
        status = "⏹ interrupted"
    timing = f"{status} {float(result.get('elapsed_ms') or 0):.1f} ms {result.get('device') or ''}"
    value = result.get("value") or None
    label = value_label(value)
    hints = []
    if label is not None and value is not None and value.get("line") is not None:
        line = int(value["line"])
        hints.append(RunHint(line, label))
    end_line = max(0, run_end_line)
    hints.append(RunHint(end_line, timing.strip()))
    return tuple(hints)


def log_text(name: str, first_line: int, last_line: int, result: dict[str, Any]) -> str:
    head = (
        f"[run {name}:{first_line + 1}-{last_line + 1}] "
        f"{float(result.get('elapsed_ms') or 0):.1f} ms on {result.get('device')}"
    )
    parts = [head]
    stdout = result.get("stdout") or ""
    if stdout:
        parts.append(stdout.rstrip("\n"))
    value = result.get("value")
    if value and value.get("kind") != "none":
        parts.append(f"= {value.get('text')}")
    for err in result.get("errors") or ():
        start = (err.get("range") or {}).get("start") or {}
        parts.append(
            f"{name}:{int(start.get('line', 0)) + 1}:{int(start.get('character', 0)) + 1}: "
            f"{err.get('severity', 'error')}: {err.get('message')}"
        )
    if result.get("interrupted"):
        parts.append("(interrupted)")
    return "\n".join(parts)


def doc_name(uri: str, path: str | None) -> str:
    return PurePosixPath(path).name if path else uri.rsplit("/", 1)[-1]


class Runner:
    """Owns the kernel process: started on the first run, restarted after it died."""

    def __init__(
        self,
        python: Callable[[], str],
        on_dead: Callable[[str], None],
        on_stderr: Callable[[str], None] | None = None,
        on_restart: Callable[[str], None] | None = None,
    ):
        self._python = python
        self._on_dead = on_dead
        self._on_stderr = on_stderr
        self._on_restart = on_restart
        self.kernel: KernelClient | None = None
        self.last: dict[str, LastRun] = {}
        self._lock = asyncio.Lock()
        self.running: dict[str, int] = {}  # uri -> number of runs in flight

    async def ensure_kernel(self) -> KernelClient:
        async with self._lock:
            if self.kernel is None or not self.kernel.alive:
                self.kernel = KernelClient(
                    self._python(),
                    on_exit=self._exited,
                    on_stderr=self._on_stderr,
                    on_restart=self._worker_restarted,
                )
                await self.kernel.start()
            return self.kernel

    def _worker_restarted(self, params: dict[str, Any]) -> None:
        if self._on_restart is not None:
            self._on_restart(
                "the TensorLogic kernel restarted its worker process: the variables of every "
                "document are gone; run the cells they come from again"
            )

    def _exited(self, client: KernelClient, returncode: int | None, message: str) -> None:
        if client is self.kernel:
            self._on_dead(message + ". It starts again on the next run.")

    async def run(
        self,
        uri: str,
        text: str,
        path: str | None,
        start: int | None,
        end: int | None,
        device: str | None,
        on_progress: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """`on_progress` sees the run's `progress` notifications (docs/kernel.md)."""
        from tl_core.syntax.span import LineIndex

        kernel = await self.ensure_kernel()
        index = LineIndex(text)
        params: dict[str, Any] = {"uri": uri, "text": text}
        if start is not None and end is not None:
            params["range"] = kernel_range(index, start, end)
        if path:
            params["path"] = path
        if device:
            params["device"] = device
        self.running[uri] = self.running.get(uri, 0) + 1
        try:
            result = await kernel.run(params, on_progress)
        finally:
            self.running[uri] -= 1
        result = dict(result or {})
        last_line = index.position(end if end is not None else len(text))[0]
        if end is not None and end > 0 and index.position(end)[1] == 0 and last_line > 0:
            last_line -= 1  # a range ending at column 0 ends on the line before
        self.last[uri] = LastRun(
            text, errors_from_result(result, index), hints_from_result(result, last_line),
            relations_from_result(result),
        )
        return result

    async def interrupt(self) -> bool:
        if self.kernel is None or not self.kernel.alive:
            return False
        return await self.kernel.interrupt()

    async def restart(self) -> None:
        old, self.kernel = self.kernel, None
        self.last.clear()
        if old is not None:
            await old.shutdown()
        await self.ensure_kernel()

    async def shutdown(self) -> None:
        if self.kernel is not None:
            kernel, self.kernel = self.kernel, None
            await kernel.shutdown()
