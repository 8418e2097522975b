"""The kernel under hostile cells, through a real tl-lsp over raw JSON-RPC (issue 17).

A SIGKILL of the worker or of the kernel in the middle of a run is answered (the run's
request gets an error saying what happened), reported to the user, and the next run starts
again; a cell that asks for far more memory than the machine has is refused with a clear
error before anything is allocated, and the kernel keeps serving; when memory runs out
anyway, the OOM killer takes the worker first.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.hostile.bounded import children_of
from tests.lsp.stdio_client import LspError, StdioClient

pytestmark = pytest.mark.slow

CELLS = ('// %%\nprint("cell ran")\n// %%\nlet i = 0\nloop {\n    i = i + 1\n}\n'
         '// %%\nlet z = zeros([1000000, 1000000])\n'
         '// %%\nlet n = 1000\nlet big = ones([n * n, n * 1000]) + 1.0\n')


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("kernel")
    path = root / "cells.tl"
    path.write_text(CELLS)
    client = StdioClient()
    timer = client.kill_after(600)
    client.initialize(root, options={"device": "cpu"})
    client.open(path.as_uri(), CELLS)
    yield client, path.as_uri()
    timer.cancel()
    client.close()


def run_cell(client: StdioClient, uri: str, line: int) -> dict:
    return client.request("workspace/executeCommand",
                          {"command": "tensorlogic.runCell", "arguments": [{"uri": uri,
                                                                             "line": line}]})


def processes(client: StdioClient) -> tuple[int, int]:
    """(kernel pid, worker pid)."""
    kernel = next(p for p in children_of(client.proc.pid)
                  if b"tl_core.kernel" in Path(f"/proc/{p}/cmdline").read_bytes())
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        workers = children_of(kernel)
        if workers:
            return kernel, workers[0]
        time.sleep(0.1)
    raise AssertionError("no worker")


def killed_mid_run(client: StdioClient, uri: str, which: int) -> LspError:
    assert "cell ran" in run_cell(client, uri, 1)["stdout"]  # kernel and worker up
    victim = processes(client)[which]
    run_id = client.send_request("workspace/executeCommand", {
        "command": "tensorlogic.runCell", "arguments": [{"uri": uri, "line": 4}]})
    time.sleep(2)  # the loop is running
    assert run_id not in client.responses
    os.kill(victim, signal.SIGKILL)
    with pytest.raises(LspError) as err:
        client.response(run_id)
    return err.value


def test_worker_killed_mid_run_is_reported_and_restarted(server) -> None:
    client, uri = server
    err = killed_mid_run(client, uri, 1)
    assert "the worker process died" in err.error["message"]
    client.wait_notification("window/showMessage",
                             lambda p: "restarted its worker" in p["message"], timeout=120)
    assert "cell ran" in run_cell(client, uri, 1)["stdout"]


def test_the_worker_is_the_first_the_oom_killer_takes(server) -> None:
    """A cell that fills memory with tensors each under the size check ends in the OOM
    killer: it must take the worker (reported, restarted: above), not the server, the
    kernel or the editor."""
    client, uri = server
    run_cell(client, uri, 1)
    kernel, worker = processes(client)
    score = {p: int(Path(f"/proc/{p}/oom_score_adj").read_text())
             for p in (client.proc.pid, kernel, worker)}
    assert score[worker] == 1000
    own = int(Path("/proc/self/oom_score_adj").read_text())
    assert score[client.proc.pid] == score[kernel] == own  # inherited from us, unchanged


def test_kernel_killed_mid_run_is_reported_and_restarted(server) -> None:
    client, uri = server
    err = killed_mid_run(client, uri, 0)
    assert "kernel" in err.error["message"]
    shown = client.wait_notification("window/showMessage",
                                     lambda p: "kernel exited" in p["message"], timeout=120)
    assert "starts again on the next run" in shown["message"]
    assert "cell ran" in run_cell(client, uri, 1)["stdout"]


@pytest.mark.parametrize("line,shape", [(8, "[1000000, 1000000]"), (11, "[1000000, 1000000]")])
def test_a_cell_far_beyond_memory_is_refused_and_the_kernel_serves(server, line, shape) -> None:
    client, uri = server
    result = run_cell(client, uri, line)
    [error] = result["errors"]
    assert f"float16{shape} needs 1.8 TiB" in error["message"], error
    assert "more than the" in error["message"]
    assert "cell ran" in run_cell(client, uri, 1)["stdout"]
