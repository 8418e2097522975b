"""Interrupt during long GPU work (issue 17), through the kernel process. A loop that queues
GPU work stops cooperatively between statements (its variables kept); a run waiting inside
MLX for one long evaluation, where no Python signal handler runs, is killed after the grace
period, answered as interrupted, and a fresh worker runs on the GPU again. Skipped without a
GPU. No wall-clock assertions: the grace period bounds the wait by construction."""

from __future__ import annotations

import time

import pytest

pytest.importorskip("mlx.core")

from tests.runtime.test_runtime_kernel import run_params, start  # noqa: E402
from tl_core.runtime.interpreter import gpu_available  # noqa: E402

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not gpu_available(), reason="MLX has no GPU here")]

# 600 float16 matmuls of 16384² (about 5 PFLOP: many seconds on any GPU)
LOOP = ("let a = randn([16384, 16384]) * 0.0001\n"
        "let c = a\nfor i in range(600) {\n    c = c @ a\n}\n"
        "c[0, 0]")
# 120 of them in one expression: one evaluation, where the run waits inside MLX
CHAIN = ("let a = randn([16384, 16384]) * 0.0001\n"
         "let c = " + " @ ".join(["a"] * 121) + "\n"
         "c[0, 0]")


def interrupted_run(kernel, src: str) -> dict:
    r = kernel.response(kernel.send("run", run_params("let keep = 1", device="gpu")))
    assert r["result"]["device"] == "gpu"
    run_id = kernel.send("run", run_params(src, device="gpu"))
    time.sleep(0.5)
    sent = time.monotonic()
    kernel.send("interrupt")
    r = kernel.response(run_id, 60)
    print(f"interrupt answered after {time.monotonic() - sent:.2f} s: {r['result']['errors']}")
    assert r["result"]["interrupted"] is True, r
    return r["result"]


def runs_on_the_gpu(kernel) -> None:
    r = kernel.response(kernel.send("run", run_params("(ones([4]) * 2.0)[1] + 0.5", device="gpu")), 60)
    # 2.5 as Rust's `{}` prints it (the label of a float16 scalar)
    assert r["result"]["value"]["text"] == "2.5" and r["result"]["device"] == "gpu"


def test_interrupt_of_a_loop_queueing_gpu_work_keeps_the_variables():
    kernel = start()
    try:
        assert kernel.ready["device"] == "gpu"
        result = interrupted_run(kernel, LOOP)
        assert result["errors"][0]["message"] == "interrupted"
        r = kernel.response(kernel.send("run", run_params("keep + 1", device="gpu")), 60)
        assert r["result"]["value"]["text"] == "2"
        runs_on_the_gpu(kernel)
    finally:
        kernel.close()


def test_interrupt_while_waiting_on_a_long_gpu_evaluation():
    kernel = start(TL_KERNEL_GRACE="0.2")
    try:
        result = interrupted_run(kernel, CHAIN)
        message = result["errors"][0]["message"]
        if message != "interrupted":  # the worker was inside MLX: killed and restarted
            assert message == ("interrupted: the run did not stop within 0.2 s, so the kernel "
                               "restarted its worker; the variables of every document were lost")
            ready = kernel.wait_for(lambda m: m.get("method") == "ready", 60)
            assert ready["params"]["restarted"] is True and ready["params"]["device"] == "gpu"
        runs_on_the_gpu(kernel)
    finally:
        kernel.close()
