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
        env = dict(os.environ, PYTHONPATH=str(ROOT), **extra_env)
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
    assert res["stdout"] == "tensor([1., 1.], float16[2], cpu)\n"
    assert res["value"] == {"kind": "tensor", "text": "[2., 2.]", "shape": [2],
                            "dtype": "float16", "device": "cpu", "line": 2}
    assert res["errors"] == [] and res["interrupted"] is False and res["device"] == "cpu"
    r = kernel.response(kernel.send("run", run_params("a + 1.0")))
    assert r["result"]["value"]["text"] == "[2., 2.]"


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
        # one statement whose MLX evaluation takes far longer than the grace period
        src = "let a = randn([1500, 1500])\nlet c = a @ a @ a @ a @ a @ a @ a @ a @ a @ a"
        run_id = kernel.send("run", run_params(src))
        time.sleep(0.5)
        kernel.send("interrupt")
        r = kernel.response(run_id, 10)
        assert r["result"]["interrupted"] is True
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
    assert r["result"]["errors"] == [] and r["result"]["value"]["text"] == "[1., 1.]"
    r = kernel.response(kernel.send("run", {"uri": "untitled:1", "text": text,
                                            "path": str(tmp_path / "sub" / "x.tl")}))
    assert r["result"]["value"]["text"] == "[1., 1.]"


def test_a_worker_that_cannot_start_ends_the_kernel():
    from tl_core.kernel import Kernel

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


def test_output_streams_before_the_result(kernel):
    src = 'print("first")\nlet n = 0\nfor i in range(30000) { n = n + 1 }\nprint("last", n)'
    run_id = kernel.send("run", run_params(src))
    msgs = []
    while True:
        m = kernel.get(60)
        msgs.append(m)
        if m.get("id") == run_id:
            break
    outputs = [m["params"] for m in msgs if m.get("method") == "output"]
    assert outputs[0] == {"id": run_id, "uri": "file:///tmp/doc.tl", "text": "first\n"}
    assert "".join(o["text"] for o in outputs) == "first\nlast 30000\n"
    assert msgs[-1]["result"]["stdout"] == "first\nlast 30000\n"
