"""The kernel process: runs TensorLogic code for an editor over JSON lines (docs/kernel.md).

Two processes. The kernel process (this module's `main`, `python -m tl_core.kernel`) reads requests on stdin, answers on
stdout and never imports MLX. It starts a worker process (`python -m tl_core.kernel
--worker`) that holds one `Session` per document URI and runs code. An interrupt first asks
the worker to stop cooperatively (SIGINT sets the session's interrupt flag, checked between
statements and loop iterations); when the worker does not answer within `GRACE` seconds
(a long native MLX operation), the kernel kills it and starts a fresh one. Either way the
kernel keeps serving.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from tl_core.kernel.protocol import (
    BadRequest,
    Range,
    RunError,
    RunRequest,
    RunResult,
    dumps,
    parse_request,
)
from tl_core.kernel.worker import worker_main

# Seconds the worker gets to stop cooperatively before it is killed (TL_KERNEL_GRACE
# overrides it; tests use a short grace to exercise the kill path).
GRACE = float(os.environ.get("TL_KERNEL_GRACE", "0.8"))
METHODS = ("run", "interrupt", "reset", "shutdown")


# ---------------------------------------------------------------------------
# the kernel process


class Kernel:
    def __init__(self, out: Any = None, worker_cmd: list[str] | None = None) -> None:
        self.out = out or sys.stdout
        self.out_lock = threading.Lock()
        self.worker_cmd = worker_cmd or [sys.executable, "-m", "tl_core.kernel", "--worker"]
        self.jobs: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.worker: subprocess.Popen[str] | None = None
        self.worker_lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.running: dict[str, Any] | None = None  # the request the worker is running
        self.interrupt_at: float | None = None
        self.state_lock = threading.Lock()
        self.let_go: set[int] = set()  # pids of workers the kernel itself stopped
        # what the running request printed so far, and when it started: a run stopped by
        # killing its worker still answers with them
        self.printed: list[str] = []
        self.started = 0.0
        self.device: str | None = None  # the worker's default device (from `ready`)

    # -- output -------------------------------------------------------------------------

    def send(self, msg: dict[str, Any]) -> None:
        line = dumps(msg) + "\n"
        with self.out_lock:
            try:
                self.out.write(line)
                self.out.flush()
            except (BrokenPipeError, ValueError):
                pass

    def respond(self, req_id: Any, result: Any = None, error: dict[str, str] | None = None
                ) -> None:
        if error is not None:
            self.send({"id": req_id, "error": error})
        else:
            self.send({"id": req_id, "result": result})

    # -- worker ---------------------------------------------------------------------------

    def start_worker(self, restarted: bool = False) -> None:
        env = dict(os.environ)
        env["PYTHONUNBUFFERED"] = "1"
        env["TL_KERNEL_PID"] = str(os.getpid())
        root = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
        if restarted:
            env["TL_KERNEL_RESTARTED"] = "1"
        self.worker = subprocess.Popen(
            self.worker_cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None,
            text=True, encoding="utf-8", bufsize=1, env=env,
        )
        lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.worker_lines = lines
        proc = self.worker

        def pump() -> None:
            # The only reader of this worker's stdout: forwards `ready` and the
            # notifications of a running cell, queues the rest.
            assert proc.stdout is not None
            ready = False
            for line in proc.stdout:
                try:
                    msg = json.loads(line)
                except json.JSONDecodeError:
                    print(f"kernel: worker wrote a non-JSON line: {line[:200]!r}",
                          file=sys.stderr)
                    continue
                if isinstance(msg, dict) and msg.get("method") == "ready":
                    ready = True
                    params = dict(msg.get("params") or {})
                    params["restarted"] = restarted
                    params["pid"] = os.getpid()
                    self.device = params.get("device")
                    self.send({"method": "ready", "params": params})
                elif isinstance(msg, dict) and msg.get("method") in ("output", "progress"):
                    if msg["method"] == "output":
                        self.keep_printed(msg.get("params"))
                    self.send(msg)
                else:
                    lines.put(msg)
            if not ready and proc.pid not in self.let_go:
                # A worker that dies before it is ready (MLX missing, a broken install) would
                # die again on every restart: end the kernel so the parent sees it.
                code = proc.wait()
                print(f"kernel: the worker process exited with status {code} before it was "
                      f"ready; see the messages above", file=sys.stderr)
                self.die(3)
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()

    def keep_printed(self, params: Any) -> None:
        with self.state_lock:
            running = self.running
            if (isinstance(params, dict) and running is not None
                    and params.get("id") == running.get("id")):
                self.printed.append(str(params.get("text", "")))

    def die(self, status: int) -> None:
        """End the kernel process at once (from any thread)."""
        sys.stderr.flush()
        os._exit(status)

    def kill_worker(self) -> None:
        proc = self.worker
        if proc is not None and proc.poll() is None:
            self.let_go.add(proc.pid)
            proc.kill()
            proc.wait()

    # -- the job loop (one run at a time) ----------------------------------------------------

    def job_loop(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                return
            try:
                self.do_job(job)
            except Exception as exc:  # noqa: BLE001 - one request must not end the loop
                traceback.print_exc(file=sys.stderr)
                with self.state_lock:
                    self.running = None
                    self.interrupt_at = None
                self.respond(job.get("id"), error={
                    "code": "internal", "message": f"internal error: {type(exc).__name__}"})

    def do_job(self, req: dict[str, Any]) -> None:
        proc = self.worker
        assert proc is not None and proc.stdin is not None
        code = proc.poll()
        if code is not None and proc.pid not in self.let_go:
            # The worker died while idle (killed, out of memory): say so, start a new one.
            self.respond(req.get("id"), error={
                "code": "kernel_restarted",
                "message": f"the worker process died (status {code}) after the last run; it "
                           f"was restarted and every document's variables are lost"})
            self.after_restart()
            return
        with self.state_lock:
            self.running = req
            self.interrupt_at = None
            self.printed = []
            self.started = time.monotonic()
        try:
            proc.stdin.write(dumps(req) + "\n")
            proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # the worker is gone: the read below sees its end
        while True:
            try:
                msg = self.worker_lines.get(timeout=0.05)
            except queue.Empty:
                with self.state_lock:
                    late = (self.interrupt_at is not None
                            and time.monotonic() - self.interrupt_at > GRACE)
                if late:
                    self.kill_worker()
                    self.finish_killed(req)
                    return
                continue
            if msg is None:  # the worker died
                with self.state_lock:
                    interrupted = self.interrupt_at is not None
                if interrupted:
                    self.finish_killed(req)
                    return
                try:  # its stdout closed: it is exiting; wait for the status
                    code: int | None = proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    code = None
                self.respond(req.get("id"), error={
                    "code": "kernel_restarted",
                    "message": f"the worker process died (status {code}) while running this "
                               f"request; it was restarted and every document's variables "
                               f"are lost"})
                self.after_restart()
                return
            if msg.get("id") == req.get("id"):
                with self.state_lock:
                    self.running = None
                    self.interrupt_at = None
                self.send(msg)
                return

    def finish_killed(self, req: dict[str, Any]) -> None:
        with self.state_lock:
            self.running = None
            self.interrupt_at = None
            printed, elapsed = "".join(self.printed), time.monotonic() - self.started
        if req.get("method") == "run":
            run = RunRequest.from_json(req.get("params"))
            error = RunError(
                run.range or Range(0, 0, 0, 0),
                "interrupted: the run did not stop within "
                f"{GRACE:.1f} s, so the kernel restarted its worker; the variables of every "
                "document were lost", "error", "interrupted")
            result = RunResult.make(run, printed, None, elapsed * 1000,
                                    run.device or self.device, (error,), interrupted=True)
            self.respond(req.get("id"), result.to_json())
        else:
            self.respond(req.get("id"), {"reset": True})
        self.after_restart()

    def after_restart(self) -> None:
        self.kill_worker()
        self.start_worker(restarted=True)

    # -- requests -----------------------------------------------------------------------

    def handle(self, line: str | bytes) -> bool:
        """One request line; False when the kernel should stop."""
        try:
            req = parse_request(line)
        except BadRequest as exc:
            self.respond(None, error={"code": "bad_request", "message": str(exc)})
            return True
        if not isinstance(req, dict):
            self.respond(None, error={"code": "bad_request", "message": "a request must be a "
                                                                         "JSON object"})
            return True
        req_id = req.get("id")
        method = req.get("method")
        params = req.get("params") or {}
        if method not in METHODS:
            self.respond(req_id, error={
                "code": "bad_request",
                "message": f"unknown method {method!r}; methods: {', '.join(METHODS)}"})
            return True
        if not isinstance(params, dict):
            self.respond(req_id, error={"code": "bad_request",
                                        "message": "params must be a JSON object"})
            return True
        if method == "interrupt":
            with self.state_lock:
                running = self.running is not None and self.running.get("method") == "run"
                if running and self.interrupt_at is None:
                    self.interrupt_at = time.monotonic()
                    if self.worker is not None and self.worker.poll() is None:
                        self.worker.send_signal(signal.SIGINT)
            self.respond(req_id, {"interrupted": running})
            return True
        if method == "shutdown":
            self.respond(req_id, {})
            return False
        if method == "run":
            try:
                params = RunRequest.from_json(params).to_json()
            except BadRequest as exc:
                self.respond(req_id, error={"code": "bad_request", "message": str(exc)})
                return True
        self.jobs.put({"id": req_id, "method": method, "params": params})
        return True

    def serve(self, stdin: Any = None) -> int:
        stdin = stdin or sys.stdin
        self.start_worker()
        worker_thread = threading.Thread(target=self.job_loop, daemon=True)
        worker_thread.start()
        try:
            for line in stdin:  # bytes: a line that is not UTF-8 is answered, not fatal
                if line.strip() and not self.handle(line):
                    break
        except KeyboardInterrupt:
            pass
        self.jobs.put(None)
        with self.state_lock:
            busy = self.running is not None
        if busy and self.worker is not None and self.worker.poll() is None:
            self.worker.send_signal(signal.SIGINT)
        worker_thread.join(timeout=GRACE + 0.5)
        self.stop_worker()
        return 0

    def stop_worker(self) -> None:
        proc = self.worker
        if proc is None:
            return
        self.let_go.add(proc.pid)
        try:
            if proc.stdin is not None:
                proc.stdin.close()
            proc.wait(timeout=2)
        except (subprocess.TimeoutExpired, OSError):
            self.kill_worker()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--worker"]:
        return worker_main()
    proto = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    stdin = open(sys.stdin.fileno(), "rb", closefd=False)  # noqa: SIM115
    return Kernel(proto).serve(stdin)
