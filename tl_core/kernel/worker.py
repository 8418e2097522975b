"""The worker process (`python -m tl_core.kernel --worker`): runs code for the kernel process.

It holds one `Session` per document URI, runs one request at a time, and streams what a
running cell prints (`output`) and its progress (`progress`) while it runs. SIGINT asks the
running session to stop at its next statement or loop iteration (docs/kernel.md).
"""

from __future__ import annotations

import json
import os
import queue
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from tl_core import __version__
from tl_core.kernel.protocol import RunError, RunRequest, RunResult, dumps
from tl_core.runtime.session import Session


class Worker:
    def __init__(self, out: Any) -> None:
        self.out = out
        self.sessions: dict[str, Any] = {}
        self.current: Any = None
        self.send_lock = threading.Lock()

    def send(self, msg: dict[str, Any]) -> None:
        # the output stream's timer thread sends too
        with self.send_lock:
            self.out.write(dumps(msg) + "\n")
            self.out.flush()

    def on_sigint(self, signum: int, frame: Any) -> None:
        if self.current is not None:
            self.current.interrupt()

    def session(self, uri: str, base: Path | None, device: str | None) -> Any:
        s = self.sessions.get(uri)
        if s is None or s.device_request != device or (base is not None
                                                         and s.base_dir != base):
            if s is not None and s.base_dir != base and s.device_request == device:
                s.base_dir = base  # a renamed file keeps its variables
                if s._interp is not None:
                    s._interp.base_dir = base
            else:
                s = Session(base, device)
                self.sessions[uri] = s
        return s

    def run(self, params: dict[str, Any], req_id: Any = None) -> dict[str, Any]:
        request = RunRequest.from_json(params)
        path = request.file_path()
        base = path.parent if path is not None else Path.cwd()
        session = self.session(request.uri, base, request.device)
        session.path = path.resolve() if path is not None else None
        self.current = session
        out = OutputStream(self, req_id, request.uri)
        progress = ProgressStream(self, req_id, request.uri, out)
        try:
            r = session.run(request.text, request.selection(), on_output=out.write,
                            on_progress=progress.report)
        finally:
            self.current = None
            out.flush()
        return RunResult.make(request, r.stdout, r.value, r.elapsed_ms, r.device,
                              tuple(RunError.from_diagnostic(d) for d in r.errors),
                              r.interrupted, dict(r.relations)).to_json()

    def read_requests(self, stdin: Any, lines: queue.Queue[str | None]) -> None:
        """The only reader of stdin, in its own thread, so the worker notices the end of its
        input (the kernel exited or was killed) even while user code runs: then nobody
        will read its answer, and it exits at once instead of running on."""
        for line in stdin:
            lines.put(line)
        lines.put(None)
        while True:
            if self.current is not None:
                os._exit(0)
            time.sleep(0.1)

    def serve(self, stdin: Any) -> int:
        signal.signal(signal.SIGINT, self.on_sigint)
        # lazy: MLX loads in the worker only (the kernel process imports this module)
        from tl_core.runtime.interpreter import gpu_available

        self.send({"method": "ready", "params": {
            "device": "gpu" if gpu_available() else "cpu", "worker_pid": os.getpid(),
            "version": _version()}})
        lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self.read_requests, args=(stdin, lines), daemon=True).start()
        while True:
            line = lines.get()
            if line is None:
                break
            if not line.strip():
                continue
            req = json.loads(line)
            method = req.get("method")
            params = req.get("params") or {}
            try:
                if method == "run":
                    result: Any = self.run(params, req.get("id"))
                elif method == "reset":
                    uri = params.get("uri")
                    if uri is None:
                        self.sessions.clear()
                    else:
                        self.sessions.pop(uri, None)
                    result = {"reset": True}
                else:
                    result = {}
                self.send({"id": req.get("id"), "result": result})
            except Exception as exc:  # noqa: BLE001 - a bug must not end the worker
                traceback.print_exc(file=sys.stderr)
                self.send({"id": req.get("id"), "error": {
                    "code": "internal", "message": f"internal error: {type(exc).__name__}: "
                                                   f"{exc}"}})
        return 0


class OutputStream:
    """Printed text of a running cell as `output` notifications: the first print at once,
    later ones batched at most every `INTERVAL` seconds. A batch goes out when its interval
    is over even if nothing more is printed (a timer), so a token printed just after another
    never waits for the next print or the end of the run."""

    INTERVAL = 0.1

    def __init__(self, worker: Worker, req_id: Any, uri: str) -> None:
        self.worker = worker
        self.req_id = req_id
        self.uri = uri
        self.buffer: list[str] = []
        self.last = 0.0
        self.lock = threading.Lock()
        self.timer: threading.Timer | None = None

    def write(self, text: str) -> None:
        with self.lock:
            self.buffer.append(text)
            wait = self.INTERVAL - (time.monotonic() - self.last)
            if wait <= 0:
                self._send()
            elif self.timer is None:
                self.timer = threading.Timer(wait, self.flush)
                self.timer.daemon = True
                self.timer.start()

    def flush(self) -> None:
        with self.lock:
            self._send()

    def _send(self) -> None:  # with the lock held
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.buffer:
            text = "".join(self.buffer)
            self.buffer.clear()
            self.worker.send({"method": "output",
                              "params": {"id": self.req_id, "uri": self.uri, "text": text}})
        self.last = time.monotonic()


class ProgressStream:
    """Progress of long work in a running cell (a learn block's epochs) as `progress`
    notifications, at most every `INTERVAL` seconds plus the last step; printed text
    waiting in `out` goes first."""

    INTERVAL = 0.1

    def __init__(self, worker: Worker, req_id: Any, uri: str, out: OutputStream) -> None:
        self.worker, self.req_id, self.uri, self.out = worker, req_id, uri, out
        self.last = 0.0

    def report(self, title: str, done: int, total: int, message: str) -> None:
        now = time.monotonic()
        if now - self.last < self.INTERVAL and done < total:
            return
        self.last = now
        self.out.flush()
        self.worker.send({"method": "progress",
                          "params": {"id": self.req_id, "uri": self.uri, "title": title,
                                     "done": done, "total": total, "message": message}})


def _version() -> str:
    return __version__


def _die_with_the_kernel() -> None:
    """On Linux, have the system kill this worker when the kernel process ends, even while
    a native operation holds it (the stdin watcher covers the other systems). The signal
    follows the kernel thread that started the worker; the kernel starts workers only from
    threads that live as long as it does."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes  # lazy: Linux only

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    parent = os.environ.get("TL_KERNEL_PID")
    if parent and parent.isdigit() and os.getppid() != int(parent):  # the kernel ended first
        os._exit(0)


WORKER_OOM_SCORE_ADJ = 1000  # the most: the OOM killer's first choice


def _first_to_go_when_memory_runs_out() -> None:
    """Ask Linux's OOM killer to pick this worker before anything else (the largest
    `oom_score_adj`): a cell that fills memory with tensors each small enough for the size
    check must kill the worker (reported; the next run starts a new one), not the editor,
    the language server or the kernel. Raising one's own score needs no privilege."""
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write(str(WORKER_OOM_SCORE_ADJ))
    except OSError:  # not Linux, or no /proc
        return


def worker_main() -> int:
    _die_with_the_kernel()
    _first_to_go_when_memory_runs_out()
    # Keep the protocol stream to ourselves: anything else written to fd 1 (MLX warnings,
    # a stray print) goes to stderr.
    proto = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    stdin = open(sys.stdin.fileno(), encoding="utf-8", closefd=False)  # noqa: SIM115
    return Worker(proto).serve(stdin)


