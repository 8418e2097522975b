"""The kernel: runs TensorLogic code for an editor over JSON lines (docs/kernel.md).

Two processes. The kernel process (this module's `main`) reads requests on stdin, answers on
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
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

# Seconds the worker gets to stop cooperatively before it is killed (TL_KERNEL_GRACE
# overrides it; tests use a short grace to exercise the kill path).
GRACE = float(os.environ.get("TL_KERNEL_GRACE", "0.8"))
METHODS = ("run", "interrupt", "reset", "shutdown")


def _dumps(msg: dict[str, Any]) -> str:
    # ASCII only: a lone surrogate in a document (valid in a JSON string escape, not in
    # UTF-8) travels as its \u escape instead of failing the write.
    return json.dumps(msg, ensure_ascii=True, separators=(",", ":"))


class BadRequest(Exception):
    """A request line that is not a JSON object of finite numbers in UTF-8."""


def _reject_constant(name: str) -> Any:
    raise BadRequest(f"numbers must be finite, found {name}")


def _finite_float(text: str) -> float:
    v = float(text)
    if v in (float("inf"), float("-inf")):
        raise BadRequest(f"numbers must be finite, found {text[:40]} (out of range)")
    return v


def parse_request(line: str | bytes) -> Any:
    """One request line as JSON; BadRequest says why it is not one (never another
    exception, whatever the bytes)."""
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadRequest(f"a request must be UTF-8: byte {line[exc.start]:#04x} at "
                             f"{exc.start} is not valid UTF-8") from None
    try:
        return json.loads(line, parse_constant=_reject_constant, parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        raise BadRequest(f"not JSON: {exc}") from None
    except RecursionError:
        raise BadRequest("not JSON: nested too deeply") from None
    except ValueError as exc:  # an integer of more than 4300 digits
        raise BadRequest(f"not JSON: {exc}") from None


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
        self.restarts = 0
        self.let_go: set[int] = set()  # pids of workers the kernel itself stopped

    # -- output -------------------------------------------------------------------------

    def send(self, msg: dict[str, Any]) -> None:
        line = _dumps(msg) + "\n"
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
                    self.send({"method": "ready", "params": params})
                elif isinstance(msg, dict) and msg.get("method") in ("output", "progress"):
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
                import traceback

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
        try:
            proc.stdin.write(_dumps(req) + "\n")
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
        if req.get("method") == "run":
            self.respond(req.get("id"), {
                "stdout": "", "value": None, "elapsed_ms": 0.0, "device": None,
                "errors": [{
                    "range": _range_of(req),
                    "message": "interrupted: the run did not stop within "
                               f"{GRACE:.1f} s, so the kernel restarted its worker; the "
                               "variables of every document were lost",
                    "severity": "error", "code": "interrupted"}],
                "interrupted": True})
        else:
            self.respond(req.get("id"), {"reset": True})
        self.after_restart()

    def after_restart(self) -> None:
        self.restarts += 1
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
            problem = _check_run_params(params)
            if problem:
                self.respond(req_id, error={"code": "bad_request", "message": problem})
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


def _check_run_params(params: dict[str, Any]) -> str | None:
    if not isinstance(params.get("uri"), str):
        return "run needs params.uri (a string)"
    if not isinstance(params.get("text"), str):
        return "run needs params.text (the document text)"
    rng = params.get("range")
    if rng is not None:
        try:
            ok = all(_is_int(rng[end][key]) for end in ("start", "end")
                     for key in ("line", "character"))
        except (KeyError, TypeError):
            ok = False
        if not ok:
            return ("params.range must be {\"start\": {\"line\", \"character\"}, \"end\": "
                    "{\"line\", \"character\"}} of integers, or null")
    dev = params.get("device")
    if dev not in (None, "gpu", "cpu"):
        return f"params.device must be \"gpu\", \"cpu\" or null, found {dev!r}"
    return None


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _range_of(req: dict[str, Any]) -> dict[str, Any]:
    rng = (req.get("params") or {}).get("range")
    if isinstance(rng, dict):
        return rng
    return {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}


# ---------------------------------------------------------------------------
# the worker process


def path_of(params: dict[str, Any]) -> Path | None:
    path = params.get("path")
    if isinstance(path, str) and path:
        return Path(path)
    uri = params.get("uri", "")
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    return None


def diag_json(d: Any) -> dict[str, Any]:
    return {"range": _range_json(d.span),
            "message": d.message, "severity": d.severity.value, "code": d.code,
            "related": [{"range": _range_json(r.span), "message": r.message}
                        for r in d.related]}


def _range_json(s: Any) -> dict[str, Any]:
    return {"start": {"line": s.line, "character": s.col},
            "end": {"line": s.end_line, "character": s.end_col}}


class Worker:
    def __init__(self, out: Any) -> None:
        self.out = out
        self.sessions: dict[str, Any] = {}
        self.current: Any = None

    def send(self, msg: dict[str, Any]) -> None:
        self.out.write(_dumps(msg) + "\n")
        self.out.flush()

    def on_sigint(self, signum: int, frame: Any) -> None:
        if self.current is not None:
            self.current.interrupt()

    def session(self, uri: str, base: Path | None, device: str | None) -> Any:
        from tl_core.runtime.session import Session

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
        from tl_core.syntax.span import LineIndex

        text = params["text"]
        path = path_of(params)
        base = path.parent if path is not None else Path.cwd()
        session = self.session(params["uri"], base, params.get("device"))
        session.path = path.resolve() if path is not None else None
        rng = params.get("range")
        sel = None
        if rng:
            index = LineIndex(text)
            sel = (index.offset(int(rng["start"]["line"]), int(rng["start"]["character"])),
                   index.offset(int(rng["end"]["line"]), int(rng["end"]["character"])))
        self.current = session
        out = OutputStream(self, req_id, params["uri"])
        progress = ProgressStream(self, req_id, params["uri"], out)
        try:
            r = session.run(text, sel, on_output=out.write, on_progress=progress.report)
        finally:
            self.current = None
            out.flush()
        return {"stdout": r.stdout, "value": r.value.to_json() if r.value else None,
                "elapsed_ms": round(r.elapsed_ms, 3), "device": r.device,
                "errors": [diag_json(d) for d in r.errors], "interrupted": r.interrupted,
                "relations": dict(r.relations)}

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
                import traceback

                traceback.print_exc(file=sys.stderr)
                self.send({"id": req.get("id"), "error": {
                    "code": "internal", "message": f"internal error: {type(exc).__name__}: "
                                                   f"{exc}"}})
        return 0


class OutputStream:
    """Printed text of a running cell as `output` notifications, at most every
    `INTERVAL` seconds (the first print goes out at once)."""

    INTERVAL = 0.1

    def __init__(self, worker: Worker, req_id: Any, uri: str) -> None:
        self.worker = worker
        self.req_id = req_id
        self.uri = uri
        self.buffer: list[str] = []
        self.last = 0.0

    def write(self, text: str) -> None:
        self.buffer.append(text)
        if time.monotonic() - self.last >= self.INTERVAL:
            self.flush()

    def flush(self) -> None:
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
    from tl_core import __version__

    return __version__


def _die_with_the_kernel() -> None:
    """On Linux, have the system kill this worker when the kernel process ends, even while
    a native operation holds it (the stdin watcher covers the other systems). The signal
    follows the kernel thread that started the worker; the kernel starts workers only from
    threads that live as long as it does."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    parent = os.environ.get("TL_KERNEL_PID")
    if parent and parent.isdigit() and os.getppid() != int(parent):  # the kernel ended first
        os._exit(0)


def worker_main() -> int:
    _die_with_the_kernel()
    # Keep the protocol stream to ourselves: anything else written to fd 1 (MLX warnings,
    # a stray print) goes to stderr.
    proto = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    stdin = open(sys.stdin.fileno(), encoding="utf-8", closefd=False)  # noqa: SIM115
    return Worker(proto).serve(stdin)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--worker"]:
        return worker_main()
    proto = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    stdin = open(sys.stdin.fileno(), "rb", closefd=False)  # noqa: SIM115
    return Kernel(proto).serve(stdin)


if __name__ == "__main__":
    sys.exit(main())
