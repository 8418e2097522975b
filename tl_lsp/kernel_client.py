"""Starts, talks to, interrupts and restarts the kernel process (`python -m tl_core.kernel`).

The protocol is JSON lines (docs/kernel.md). The language server never runs user code
itself: a hang or crash in the kernel never takes it down. This module knows nothing of
LSP; the server passes callbacks for logging and for the kernel dying.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import sys
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# The directory holding tl_core, so a kernel Python other than ours still finds it.
_PROJECT_ROOT = str(Path(__file__).resolve().parent.parent)
_LINE_LIMIT = 256 * 1024 * 1024  # one JSON line may hold a big stdout


class KernelError(Exception):
    """The kernel answered a request with an error (`code` as in docs/kernel.md)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class KernelDied(KernelError):
    """The kernel process exited while requests were pending (or before answering)."""

    def __init__(self, message: str, returncode: int | None):
        super().__init__("kernel_died", message)
        self.returncode = returncode


class KernelClient:
    """One kernel process. `start()` is explicit; a dead client is replaced, not reused."""

    def __init__(
        self,
        python: str | None = None,
        on_exit: Callable[[KernelClient, int | None, str], None] | None = None,
        on_stderr: Callable[[str], None] | None = None,
        cwd: str | None = None,
        on_restart: Callable[[dict[str, Any]], None] | None = None,
    ):
        self.python = python or sys.executable
        self.cwd = cwd
        self._on_exit = on_exit
        self._on_stderr = on_stderr
        self._on_restart = on_restart
        self._proc: asyncio.subprocess.Process | None = None
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._progress: dict[int, Callable[[dict[str, Any]], None]] = {}  # by request id
        self._output: dict[int, Callable[[str], None]] = {}  # by request id
        self._ids = itertools.count(1)
        self._stderr_tail: deque[str] = deque(maxlen=20)
        self._tasks: list[asyncio.Task[Any]] = []
        self._closing = False
        self.ready: asyncio.Event = asyncio.Event()
        self.ready_params: dict[str, Any] = {}
        self.exited: asyncio.Event = asyncio.Event()
        self.returncode: int | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def alive(self) -> bool:
        return self._proc is not None and not self.exited.is_set()

    async def start(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (_PROJECT_ROOT, env.get("PYTHONPATH", "")) if p
        )
        env.setdefault("PYTHONUNBUFFERED", "1")
        try:
            self._proc = await asyncio.create_subprocess_exec(
                self.python,
                "-m",
                "tl_core.kernel",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                cwd=self.cwd,
                env=env,
                limit=_LINE_LIMIT,
            )
        except OSError as exc:
            self.exited.set()
            raise KernelDied(
                f"cannot start the kernel with {self.python!r}: {exc.strerror or exc}; "
                "set `tensorlogic.python` to a Python that has tensorlogic-tools installed",
                None,
            ) from exc
        self._tasks = [
            asyncio.ensure_future(self._read_stdout()),
            asyncio.ensure_future(self._read_stderr()),
        ]

    async def _read_stdout(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        stdout = self._proc.stdout
        while True:
            try:
                line = await stdout.readline()
            except (ValueError, asyncio.LimitOverrunError) as exc:
                log.error("kernel sent an over-long line: %s", exc)
                continue
            if not line:
                break
            try:
                msg = json.loads(line)
            except json.JSONDecodeError:
                log.warning("kernel wrote a non-JSON line: %r", line[:200])
                continue
            self._dispatch(msg)
        await self._finish()

    def _dispatch(self, msg: dict[str, Any]) -> None:
        if "id" not in msg or msg.get("id") is None:
            params = msg.get("params")
            if msg.get("method") == "progress" and isinstance(params, dict):
                handler = self._progress.get(params.get("id"))
                if handler is not None:
                    handler(params)
                return
            if msg.get("method") == "output" and isinstance(params, dict):
                printed = self._output.get(params.get("id"))
                if printed is not None and isinstance(params.get("text"), str):
                    printed(params["text"])
                return
            if msg.get("method") == "ready":
                self.ready_params = msg.get("params") or {}
                self.ready.set()
                if self.ready_params.get("restarted") and self._on_restart is not None:
                    self._on_restart(self.ready_params)  # the worker died: variables lost
            return
        fut = self._pending.pop(msg["id"], None)
        if fut is None or fut.done():
            return
        if "error" in msg and msg["error"] is not None:
            err = msg["error"]
            fut.set_exception(KernelError(str(err.get("code", "error")), str(err.get("message"))))
        else:
            fut.set_result(msg.get("result"))

    async def _read_stderr(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        while True:
            line = await self._proc.stderr.readline()
            if not line:
                return
            text = line.decode("utf-8", "replace").rstrip("\n")
            self._stderr_tail.append(text)
            if self._on_stderr is not None:
                self._on_stderr(text)

    async def _finish(self) -> None:
        assert self._proc is not None
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._proc.wait(), 5)
        self.returncode = self._proc.returncode
        # Let the stderr reader drain what the dying process wrote.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(self._tasks[1]), 1)
        tail = self.stderr_tail()
        message = f"the TensorLogic kernel exited (status {self.returncode})"
        if tail:
            message += f": {tail}"
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(KernelDied(message, self.returncode))
        self._pending.clear()
        self.exited.set()
        if not self._closing and self._on_exit is not None:
            self._on_exit(self, self.returncode, message)

    def stderr_tail(self, lines: int = 5) -> str:
        return "\n".join(list(self._stderr_tail)[-lines:]).strip()

    async def request(self, method: str, params: dict[str, Any] | None = None,
                      on_progress: Callable[[dict[str, Any]], None] | None = None,
                      on_output: Callable[[str], None] | None = None) -> Any:
        """`on_progress` sees the request's `progress` notifications, `on_output` the text
        of its `output` notifications (docs/kernel.md)."""
        if not self.alive or self._proc is None or self._proc.stdin is None:
            raise KernelDied("the TensorLogic kernel is not running", self.returncode)
        msg_id = next(self._ids)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = fut
        if on_progress is not None:
            self._progress[msg_id] = on_progress
        if on_output is not None:
            self._output[msg_id] = on_output
        data = json.dumps({"id": msg_id, "method": method, "params": params or {}})
        try:
            self._proc.stdin.write(data.encode("utf-8") + b"\n")
            await self._proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError) as exc:
            self._forget(msg_id)
            await self.exited.wait()
            raise KernelDied(f"the TensorLogic kernel exited: {exc}", self.returncode) from exc
        try:
            return await fut
        finally:
            self._forget(msg_id)

    def _forget(self, msg_id: int) -> None:
        self._pending.pop(msg_id, None)
        self._progress.pop(msg_id, None)
        self._output.pop(msg_id, None)

    async def run(self, params: dict[str, Any],
                  on_progress: Callable[[dict[str, Any]], None] | None = None,
                  on_output: Callable[[str], None] | None = None) -> dict[str, Any]:
        return await self.request("run", params, on_progress, on_output)

    async def interrupt(self, timeout: float = 3.0) -> bool:
        """Ask the kernel to stop the running cell (it promises to within 1 s, killing its
        own worker if needed). A kernel process that does not even answer within `timeout`
        seconds is wedged: it is killed, and the pending run fails with KernelDied."""
        if not self.alive:
            return False
        try:
            result = await asyncio.wait_for(self.request("interrupt"), timeout)
            return bool((result or {}).get("interrupted"))
        except asyncio.TimeoutError:
            log.warning("kernel did not answer interrupt within %.1f s; killing it", timeout)
            self.kill()
            return True

    def kill(self) -> None:
        if self._proc is not None and self._proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._proc.kill()

    async def shutdown(self, timeout: float = 2.0) -> None:
        """Stop the kernel: a polite `shutdown`, then a kill."""
        self._closing = True
        if self._proc is None:
            return
        if self.alive:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.request("shutdown"), timeout)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.exited.wait(), timeout)
        self.kill()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.exited.wait(), timeout)
