"""On a GPU, a tensor larger than the GPU's memory is refused before MLX allocates it, with
the GPU's own size in the message (issue 17); the kernel's worker survives it. Skipped
without a GPU."""

from __future__ import annotations

import pytest

mx = pytest.importorskip("mlx.core")

from tl_core.limits import format_bytes, host_memory  # noqa: E402
from tl_core.runtime import Session  # noqa: E402
from tl_core.runtime.interpreter import gpu_available  # noqa: E402
from tl_core.runtime.memory import device_memory  # noqa: E402

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not gpu_available(), reason="MLX has no GPU here")]


def test_gpu_memory_is_known_and_plausible():
    size = device_memory("gpu")
    assert 2**30 <= size <= max(host_memory(), 2**30) * 4  # 1 GiB .. a few times the host's
    print(f"gpu memory: {format_bytes(size)}; device_info: {mx.device_info()}")


@pytest.mark.parametrize(("src", "what", "dims"), [
    ("let z = zeros([1000000, 1000000])", "zeros", [10**6, 10**6]),
    ("let n = 300000\nlet z = ones([n, n]) @ ones([n, n])", "ones", [300000, 300000]),
])
def test_too_large_on_the_gpu_is_an_error_naming_the_gpu(src, what, dims):
    r = Session(device="gpu").run(src)
    (err,) = [d for d in r.errors if d.severity.value == "error"]
    n = dims[0] * dims[1]
    assert err.message == (f"{what}: float16{dims} needs {format_bytes(2 * n)} ({n} elements "
                           f"of 2 bytes), more than the {format_bytes(device_memory('gpu'))} "
                           f"of memory of the gpu")
    assert Session(device="gpu").run("1 + 1").value.text == "2"


def test_the_issues_matmul_of_two_200000_squares_is_an_error_not_a_crash(tmp_path):
    """Issue 17's own case: on an 80 GB card each [200000, 200000] float16 operand (74.5 GiB)
    passes the per-tensor size check alone, but the operands and the result together do not
    fit. `tl run` must end with one clear error line, never SIGSEGV (exit 139) or an internal
    error; run in a child process, since a crash would take pytest down."""
    from tests.runtime.test_runtime_cli import tl

    (tmp_path / "mm.tl").write_text("let a = ones([200000, 200000])\n"
                                    "let b = ones([200000, 200000])\n"
                                    "let c = a @ b\nprint(c.shape)\n")
    r = tl("run", "mm.tl", "--device", "gpu", cwd=tmp_path)
    assert r.returncode == 1, (r.returncode, r.stderr[-2000:])
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mm.tl:"), r.stderr[-2000:]
    assert "error:" in lines[0] and "memory" in lines[0], lines[0]
    assert "internal error" not in lines[0] and "Traceback" not in r.stderr
