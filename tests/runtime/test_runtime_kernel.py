"""The kernel process over JSON lines (docs/kernel.md)."""

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

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent


class KernelProc:
    def __init__(self, **extra_env: str) -> None:
        # the checkout first, then whatever the caller had (the GPU machine finds MLX there)
        path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
        env = dict(os.environ, PYTHONPATH=path, **extra_env)
        self.p = subprocess.Popen([sys.executable, "-m", "tl_core.kernel"], cwd=ROOT,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, env=env)
        self.q: queue.Queue = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        self.next_id = 0

    def _pump(self) -> None:
        for line in self.p.stdout:
            self.q.put(json.loads(line))
        self.q.put(None)

    def send(self, method: str, params: dict | None = None, raw: str | None = None) -> int:
        self.next_id += 1
        line = raw if raw is not None else json.dumps(
            {"id": self.next_id, "method": method, "params": params or {}})
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        return self.next_id

    def get(self, timeout: float = 30.0):
        return self.q.get(timeout=timeout)

    def wait_for(self, pred, timeout: float = 30.0):
        deadline = time.monotonic() + timeout
        while True:
            msg = self.get(max(0.01, deadline - time.monotonic()))
            if pred(msg):
                return msg

    def response(self, req_id: int, timeout: float = 30.0):
        return self.wait_for(lambda m: m is not None and m.get("id") == req_id, timeout)

    def close(self) -> None:
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()


def start(**env: str) -> KernelProc:
    k = KernelProc(**env)
    ready = k.wait_for(lambda m: m.get("method") == "ready")
    k.ready = ready["params"]
    return k


@pytest.fixture
def kernel():
    k = start()
    yield k
    k.close()


def run_params(text: str, **extra) -> dict:
    return {"uri": "file:///tmp/doc.tl", "text": text, **extra}


def test_ready_run_value_and_persistence(kernel):
    assert kernel.ready["device"] in ("cpu", "gpu")
    assert kernel.ready["restarted"] is False
    assert kernel.ready["pid"] == kernel.p.pid
    r = kernel.response(kernel.send("run", run_params("let a = ones([2])\nprint(a)\na * 2.0")))
    res = r["result"]
    assert res["stdout"] == "tensor([1, 1], float16[2], cpu)\n"
    assert res["value"] == {"kind": "tensor", "text": "[2, 2]", "shape": [2],
                            "dtype": "float16", "device": "cpu", "line": 2}
    assert res["errors"] == [] and res["interrupted"] is False and res["device"] == "cpu"
    r = kernel.response(kernel.send("run", run_params("a + 1.0")))
    assert r["result"]["value"]["text"] == "[2, 2]"


def test_range_and_errors_use_code_points(kernel):
    text = "let s = \"한국어\"; let z = ones([2]) @ ones([3])\n"
    r = kernel.response(kernel.send("run", run_params(text)))
    (err,) = r["result"]["errors"]
    assert err["range"]["start"] == {"line": 0, "character": 23}
    assert err["severity"] == "error" and err["code"] == "runtime"
    assert err["related"] == []
    text = "let x = 1\nlet y = x + 1\ny * 10\n"
    r = kernel.response(kernel.send("run", run_params(
        text, range={"start": {"line": 2, "character": 0}, "end": {"line": 2, "character": 6}})))
    assert r["result"]["errors"][0]["message"] == "undefined name 'y'"
    r = kernel.response(kernel.send("run", run_params(
        text, range={"start": {"line": 0, "character": 0}, "end": {"line": 3, "character": 0}})))
    assert r["result"]["value"]["text"] == "20"


def test_interrupt_loop_and_kernel_stays_usable(kernel):
    # The 1-second bound is by construction (cooperative check, else a kill after
    # GRACE = 0.8 s); tests assert no wall-clock times, only that it stops.
    kernel.response(kernel.send("run", run_params("let keep = 7")))
    run_id = kernel.send("run", run_params("loop { }"))
    time.sleep(0.5)
    int_id = kernel.send("interrupt")
    assert kernel.response(int_id, 10)["result"] == {"interrupted": True}
    r = kernel.response(run_id, 10)
    assert r["result"]["interrupted"] is True
    assert r["result"]["errors"][0]["message"] == "interrupted"
    r = kernel.response(kernel.send("run", run_params("keep + 1")))
    assert r["result"]["value"]["text"] == "8"  # the cooperative stop kept the variables


def test_interrupt_when_idle(kernel):
    assert kernel.response(kernel.send("interrupt"))["result"] == {"interrupted": False}


def test_interrupt_of_a_long_native_operation_restarts_the_worker():
    kernel = start(TL_KERNEL_GRACE="0.05")
    try:
        kernel.response(kernel.send("run", run_params("let keep = 1")))
        # one evaluation that takes far longer than the grace period (statements start their
        # tensors without waiting: the result's value is where the run waits)
        src = ('print("before the long one")\nlet a = randn([1500, 1500])\n'
               "let c = a @ a @ a @ a @ a @ a @ a @ a @ a @ a\nc[0, 0]")
        run_id = kernel.send("run", run_params(src))
        kernel.wait_for(lambda m: m.get("method") == "output", 30)
        time.sleep(0.3)
        kernel.send("interrupt")
        r = kernel.response(run_id, 10)
        assert r["result"]["interrupted"] is True
        # what it printed before the kill is kept, in the result and its log
        assert r["result"]["stdout"] == "before the long one\n"
        log = r["result"]["labels"]["log"]
        assert log.startswith("[run doc.tl:1-4]\nbefore the long one\ndoc.tl:1:1: error: "
                              "interrupted: the run did not stop")
        assert log.endswith(f" on {kernel.ready['device']})\n") and "\n(interrupted after " in log
        assert r["result"]["errors"][0]["message"] == (
            "interrupted: the run did not stop within 0.1 s, so the kernel restarted its "
            "worker; the variables of every document were lost")
        ready = kernel.wait_for(lambda m: m.get("method") == "ready", 30)
        assert ready["params"]["restarted"] is True
        assert ready["params"]["worker_pid"] != kernel.ready["worker_pid"]
        r = kernel.response(kernel.send("run", run_params("keep")))
        assert r["result"]["errors"][0]["message"] == "undefined name 'keep'"
        r = kernel.response(kernel.send("run", run_params("2 + 2")))
        assert r["result"]["value"]["text"] == "4"
    finally:
        kernel.close()


def test_worker_crash_is_reported_and_recovered(kernel):
    run_id = kernel.send("run", run_params("loop { }"))
    time.sleep(0.5)
    os.kill(kernel.ready["worker_pid"], signal.SIGKILL)
    r = kernel.response(run_id, 5)
    assert r["error"]["code"] == "kernel_restarted"
    assert r["error"]["message"].startswith("the worker process died (status -9) while running")
    kernel.wait_for(lambda m: m.get("method") == "ready", 30)
    assert kernel.response(kernel.send("run", run_params("2 * 3")))["result"]["value"]["text"] \
        == "6"


def test_reset_bad_requests_and_shutdown(kernel):
    kernel.response(kernel.send("run", run_params("let a = 1")))
    assert kernel.response(kernel.send("reset", {"uri": "file:///tmp/doc.tl"}))["result"] == \
        {"reset": True}
    r = kernel.response(kernel.send("run", run_params("a")))
    assert r["result"]["errors"][0]["message"] == "undefined name 'a'"
    r = kernel.response(kernel.send("frobnicate"))
    assert r["error"] == {"code": "bad_request", "message": "unknown method 'frobnicate'; "
                                                            "methods: run, interrupt, reset, "
                                                            "shutdown"}
    r = kernel.response(kernel.send("run", {"uri": "x"}))
    assert r["error"]["message"] == "run needs params.text (the document text)"
    kernel.send("", raw="this is not json")
    r = kernel.wait_for(lambda m: m.get("id") is None and "error" in m)
    assert r["error"]["code"] == "bad_request"
    assert kernel.response(kernel.send("shutdown"))["result"] == {}
    assert kernel.p.wait(timeout=10) == 0


def test_kernel_death_is_visible_to_the_parent(kernel):
    kernel.p.kill()
    assert kernel.wait_for(lambda m: m is None, 5) is None  # end of stdout
    assert kernel.p.wait(timeout=5) != 0


def test_importing_the_kernel_does_not_import_mlx():
    code = ("import sys, tl_core.kernel, tl_core.runtime, tl_core.runtime.session, "
            "tl_core.commands.run, tl_core.commands.test, tl_core.commands.bench; "
            "print('mlx' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "False"


def test_relative_paths_resolve_against_the_document(kernel, tmp_path):
    import numpy as np
    from safetensors.numpy import save_file

    (tmp_path / "sub").mkdir()
    save_file({"w": np.ones((2,), np.float32)}, str(tmp_path / "sub" / "m.safetensors"))
    text = 'let m = load_model("m.safetensors")\nm.get_tensor("w")'
    uri = (tmp_path / "sub" / "doc.tl").as_uri()
    r = kernel.response(kernel.send("run", {"uri": uri, "text": text}))
    assert r["result"]["errors"] == [] and r["result"]["value"]["text"] == "[1, 1]"
    r = kernel.response(kernel.send("run", {"uri": "untitled:1", "text": text,
                                            "path": str(tmp_path / "sub" / "x.tl")}))
    assert r["result"]["value"]["text"] == "[1, 1]"


def test_a_worker_that_cannot_start_ends_the_kernel():
    from tl_core.kernel.process import Kernel

    class Probe(Kernel):
        def die(self, status: int) -> None:
            self.died = status  # the real kernel calls os._exit here

    import io

    k = Probe(out=io.StringIO(), worker_cmd=[sys.executable, "-c", "raise SystemExit(5)"])
    k.died = None
    k.start_worker()
    deadline = time.monotonic() + 20
    while k.died is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert k.died == 3
    assert k.out.getvalue() == ""  # no ready was sent


def messages_of_run(kernel, src: str) -> tuple[object, list[dict]]:
    """(the run's id, every message up to and including its result)."""
    run_id = kernel.send("run", run_params(src))
    msgs = []
    while True:
        m = kernel.get(60)
        msgs.append(m)
        if m.get("id") == run_id:
            return run_id, msgs


def test_output_streams_before_the_result(kernel):
    src = 'print("first")\nlet n = 0\nfor i in range(30000) { n = n + 1 }\nprint("last", n)'
    run_id, msgs = messages_of_run(kernel, src)
    outputs = [m["params"] for m in msgs if m.get("method") == "output"]
    assert outputs[0] == {"id": run_id, "uri": "file:///tmp/doc.tl", "text": "first\n"}
    assert "".join(o["text"] for o in outputs) == "first\nlast 30000\n"
    assert msgs[-1]["result"]["stdout"] == "first\nlast 30000\n"


# --- hostile requests and documents (issue 18) -----------------------------------------


def send_bytes(kernel: KernelProc, data: bytes) -> None:
    kernel.p.stdin.flush()
    kernel.p.stdin.buffer.write(data + b"\n")
    kernel.p.stdin.buffer.flush()


def test_lone_surrogate_in_a_document_runs_and_the_kernel_keeps_serving(kernel):
    text = 'let s = "a\ud800b"\nprint(s)\nlen(s)'
    r = kernel.response(kernel.send("run", run_params(text)))
    assert r["result"]["errors"] == []
    assert r["result"]["stdout"] == "a\ud800b\n"
    # len counts UTF-8 bytes (as the original); a lone surrogate counts its 3 (WTF-8) bytes
    assert r["result"]["value"]["text"] == str(len("a\ud800b".encode("utf-8", "surrogatepass")))
    # a surrogate in a comment, in an error message's source, in a selection
    r = kernel.response(kernel.send("run", run_params("// \udfff\nlet x = 1 +")))
    assert r["result"]["errors"][0]["code"] == "syntax"
    r = kernel.response(kernel.send("run", run_params("2 * 21")))
    assert r["result"]["value"]["text"] == "42"


@pytest.mark.parametrize(("raw", "message"), [
    (b'{"id": 1, "method": "run", "params": {"uri": "x", "text": "\xff"}}',
     "a request must be UTF-8: byte 0xff at 59 is not valid UTF-8"),
    (b'{"id": 1, "method": "run", "params": {"uri": "x", "text": "\xc3"}}',
     "a request must be UTF-8: byte 0xc3 at 59 is not valid UTF-8"),
    (b'{"id": 1e400, "method": "interrupt"}',
     "numbers must be finite, found 1e400 (out of range)"),
    (b'{"id": 1, "method": "run", "params": {"uri": "x", "text": "1", "range": {"start": '
     b'{"line": -1e400, "character": 0}, "end": {"line": 0, "character": 0}}}}',
     "numbers must be finite, found -1e400 (out of range)"),
    (b'{"id": Infinity, "method": "interrupt"}', "numbers must be finite, found Infinity"),
    (b'{"id": NaN, "method": "interrupt"}', "numbers must be finite, found NaN"),
    (b'{"id": ' + b"9" * 5000 + b', "method": "interrupt"}',
     "not JSON: Exceeds the limit (4300 digits) for integer string conversion: value has "
     "5000 digits; use sys.set_int_max_str_digits() to increase the limit"),
    (b"[" * 100000 + b"]" * 100000, "not JSON: nested too deeply"),
])
def test_undecodable_requests_answer_bad_request(kernel, raw, message):
    send_bytes(kernel, raw)
    r = kernel.wait_for(lambda m: m.get("id") is None and "error" in m)
    assert r["error"] == {"code": "bad_request", "message": message}
    assert kernel.response(kernel.send("run", run_params("1 + 1")))["result"]["value"][
        "text"] == "2"


@pytest.mark.parametrize("position", [1.5, "3", True, None, 2**70 * 1.0])
def test_range_positions_must_be_integers(kernel, position):
    rng = {"start": {"line": position, "character": 0}, "end": {"line": 0, "character": 0}}
    r = kernel.response(kernel.send("run", run_params("1", range=rng)))
    assert r["error"] == {"code": "bad_request", "message": (
        'params.range must be {"start": {"line", "character"}, "end": {"line", "character"}} '
        "of integers, or null")}


def test_huge_range_positions_clamp(kernel):
    rng = {"start": {"line": 0, "character": 0}, "end": {"line": 2**70, "character": 2**70}}
    r = kernel.response(kernel.send("run", run_params("6 * 7", range=rng)))
    assert r["result"]["value"]["text"] == "42"


def _state(pid: int) -> str | None:
    """The /proc state letter of a process (Z: exited, not yet reaped), None when gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_killing_the_kernel_ends_its_busy_worker():
    kernel = start()
    try:
        worker = kernel.ready["worker_pid"]
        kernel.send("run", run_params("loop { }"))
        time.sleep(0.5)
        assert _state(worker) in ("R", "S")
        kernel.p.kill()
        kernel.p.wait()
        for _ in range(200):
            if _state(worker) in (None, "Z", "X"):
                break
            time.sleep(0.05)
        assert _state(worker) in (None, "Z", "X"), "the worker outlived its kernel"
    finally:
        kernel.close()


def test_worker_that_died_while_idle_is_reported_and_restarted(kernel):
    kernel.response(kernel.send("run", run_params("let keep = 1")))
    os.kill(kernel.ready["worker_pid"], signal.SIGKILL)
    time.sleep(0.3)
    r = kernel.response(kernel.send("run", run_params("keep")))
    assert r["error"] == {"code": "kernel_restarted", "message": (
        "the worker process died (status -9) after the last run; it was restarted and every "
        "document's variables are lost")}
    ready = kernel.wait_for(lambda m: m.get("method") == "ready", 30)
    assert ready["params"]["restarted"] is True
    r = kernel.response(kernel.send("run", run_params("keep")))
    assert r["result"]["errors"][0]["message"] == "undefined name 'keep'"


def test_a_cell_that_allocates_beyond_memory_is_an_error_not_a_dead_worker(kernel):
    r = kernel.response(kernel.send("run", run_params("let z = zeros([10000000, 10000000])")))
    (err,) = r["result"]["errors"]
    assert err["message"].startswith("zeros: float16[10000000, 10000000] needs 181.9 TiB ")
    assert err["range"]["start"] == {"line": 0, "character": 8}
    r = kernel.response(kernel.send("run", run_params("1 + 2")))
    assert r["result"]["value"]["text"] == "3"


def test_learn_progress_notifications_before_the_result(kernel):
    src = ("tensor V: float32[2] learnable = [1.0, 2.0]\n"
           "learn { objective: sum(V * V), optimizer: sgd(lr: 0.25), epochs: 3 }\n")
    run_id, msgs = messages_of_run(kernel, src)
    progress = [m["params"] for m in msgs if m.get("method") == "progress"]
    assert progress[0]["id"] == run_id and progress[0]["title"] == "learn"
    assert progress[-1] == {"id": run_id, "uri": "file:///tmp/doc.tl", "title": "learn",
                            "done": 3, "total": 3, "message": "epoch 3/3: loss 0.312500"}
    assert msgs[-1]["result"]["errors"] == []


def test_structs_run_in_the_kernel(kernel):
    text = ("struct Counter { n: int }\nimpl Counter { fn inc(self) { self.n = self.n + 1 } }\n"
            "let c = Counter { n: 1 }\nc.inc()\nprint(c)\nc")
    res = kernel.response(kernel.send("run", run_params(text)))["result"]
    assert res["errors"] == [] and res["stdout"] == "Counter { n: 2 }\n"
    assert res["value"]["text"] == "Counter { n: 2 }"
    res = kernel.response(kernel.send("run", run_params("c.inc()\nprint(c.n)")))["result"]
    assert res["stdout"] == "3\n"
    res = kernel.response(kernel.send("run", run_params("c.nn")))["result"]
    assert [e["message"] for e in res["errors"]] == [
        "Counter has no field 'nn'; fields: n; did you mean 'n'?"]


def test_input_in_the_kernel_is_a_clear_error_never_a_wait(kernel):
    """Issue 12: `input` in the kernel (whose stdin carries the protocol) is an error at
    once, and the kernel keeps serving."""
    res = kernel.response(kernel.send("run", run_params('let name = input("name? ")')),
                          timeout=30)["result"]
    assert [e["message"] for e in res["errors"]] == [
        'input() needs a terminal, and this run has none (an editor or kernel run); give the '
        'value in the program, or read it with env("NAME")']
    res = kernel.response(kernel.send("run", run_params("print(1 + 1)")))["result"]
    assert res["errors"] == [] and res["stdout"] == "2\n"
