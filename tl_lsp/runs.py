"""The run commands' bookkeeping: one kernel, the last run of each document.

The run contract (request and result shapes, position conversions, labels) is
`tl_core.kernel.protocol`; this module keeps each document's last run errors (published as
diagnostics, placed by line and column on the current text) and facts per relation.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tl_lsp.kernel_client import KernelClient

if TYPE_CHECKING:  # tl_core loads lazily: `tl-lsp` answers `initialize` before importing it
    from tl_core.kernel.protocol import RunError, RunRequest, RunResult


@dataclass(frozen=True)
class LastRun:
    text: str  # the text that ran
    errors: tuple[RunError, ...]
    relations: dict[str, int]  # facts per relation after the run


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
        request: RunRequest,
        on_progress: Callable[[dict[str, Any]], None] | None = None,
        on_output: Callable[[str], None] | None = None,
    ) -> RunResult:
        """`on_progress` sees the run's `progress` notifications, `on_output` its printed
        text as it comes (docs/kernel.md)."""
        from tl_core.kernel.protocol import RunResult  # lazy: loads with the first run

        kernel = await self.ensure_kernel()
        uri = request.uri
        self.running[uri] = self.running.get(uri, 0) + 1
        try:
            raw = await kernel.run(request.to_json(), on_progress, on_output)
        finally:
            self.running[uri] -= 1
        result = RunResult.read(raw)
        self.last[uri] = LastRun(request.text, result.errors, result.relations)
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
