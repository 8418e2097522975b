"""tl_lsp.kernel_client against the real kernel process (`python -m tl_core.kernel`)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import pytest

from tl_lsp.kernel_client import KernelClient, KernelDied, KernelError

pytestmark = pytest.mark.slow


async def test_requests_errors_death_and_shutdown():
    exits: list[tuple[int | None, str]] = []
    client = KernelClient(sys.executable, on_exit=lambda c, rc, msg: exits.append((rc, msg)))
    await client.start()
    try:
        await asyncio.wait_for(client.ready.wait(), 180)  # cold MLX import on a busy CI box
        assert client.alive and client.ready_params.get("pid")
        with pytest.raises(KernelError) as err:
            await asyncio.wait_for(client.request("no_such_method"), 30)
        assert err.value.code == "bad_request"
        assert await asyncio.wait_for(client.interrupt(), 30) is False  # nothing running

        # the process dies: pending requests fail, the owner hears about it once
        pending = asyncio.ensure_future(client.request("reset", {"uri": None}))
        await asyncio.sleep(0)
        os.kill(client.pid, signal.SIGKILL)
        try:
            await asyncio.wait_for(pending, 30)  # it may have been answered before the kill
        except KernelDied as died:
            assert "the TensorLogic kernel exited (status -9)" in died.message
        await asyncio.wait_for(client.exited.wait(), 30)
        assert not client.alive
        assert len(exits) == 1 and exits[0][0] == -9
        with pytest.raises(KernelDied):
            await client.request("reset", {})
    finally:
        await client.shutdown()


async def test_polite_shutdown_is_not_reported_as_a_death():
    exits: list[object] = []
    client = KernelClient(sys.executable, on_exit=lambda *a: exits.append(a))
    await client.start()
    await client.shutdown()
    assert client.exited.is_set() and exits == []


async def test_missing_python_gives_a_clear_error():
    client = KernelClient("/nonexistent/python3")
    with pytest.raises(KernelDied) as err:
        await client.start()
    assert err.value.message == (
        "cannot start the kernel with '/nonexistent/python3': No such file or directory; "
        "set `tensorlogic.python` to a Python that has tensorlogic-tools installed"
    )
