"""`tl run`, `tl test`, `tl bench` as a user runs them (subprocesses), and `make run`'s
quick start."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.runtime.test_runtime_interpreter import SEED
from tests.signals import interruptible

ROOT = Path(__file__).resolve().parent.parent.parent


def tl(*args: str, cwd: Path = ROOT, env: dict | None = None) -> subprocess.CompletedProcess:
    # the repository first, then what the caller had (the GPU machine finds mlx on PYTHONPATH)
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    e = dict(os.environ, PYTHONPATH=path, **(env or {}))
    return subprocess.run([sys.executable, "-m", "tl_core", *args], cwd=cwd,
                          capture_output=True, text=True, env=e, timeout=120)


def test_tl_run_seed(tmp_path):
    f = tmp_path / "seed.tl"
    f.write_text(SEED)
    r = tl("run", str(f), "--device", "cpu")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("Output shape: [4, 2]\nOutput: tensor([[ 2.209,   2.82],")


def test_tl_run_runtime_error_format_and_debug(tmp_path):
    f = tmp_path / "bad.tl"
    f.write_text('print("start")\nlet a = ones([4, 3])\nlet c = a @ ones([2, 3])\n')
    r = tl("run", "bad.tl", "--device", "cpu", cwd=tmp_path)
    assert r.returncode == 1
    assert r.stdout == "start\n"
    assert r.stderr == ("bad.tl:3:9: error: float16[4, 3] @ float16[2, 3]: inner dimensions 3 "
                        "and 2 differ; did you mean transpose(ones([2, 3]))?\n")
    r = tl("run", "bad.tl", "--device", "cpu", "--debug", cwd=tmp_path)
    assert r.returncode == 1
    assert "Traceback (most recent call last)" in r.stderr
    assert r.stderr.endswith("bad.tl:3:9: error: float16[4, 3] @ float16[2, 3]: inner "
                             "dimensions 3 and 2 differ; did you mean transpose(ones([2, 3]))?"
                             "\n")


def test_tl_run_syntax_error_and_missing_file(tmp_path):
    f = tmp_path / "syn.tl"
    f.write_text("let x = (1 + \n")
    r = tl("run", "syn.tl", cwd=tmp_path)
    assert r.returncode == 1
    assert r.stderr.startswith("syn.tl:")
    assert ": error: " in r.stderr and "Traceback" not in r.stderr
    r = tl("run", "nope.tl", cwd=tmp_path)
    assert (r.returncode, r.stderr) == (1, "nope.tl: error: no such file\n")


def test_tl_run_gpu_without_gpu_warns_once(tmp_path):
    f = tmp_path / "g.tl"
    f.write_text("let a = tensor<float16>([1.0], device: gpu)\n"
                 "let b = tensor<float16>([2.0], device: gpu)\nprint(a + b)\n")
    r = tl("run", "g.tl", "--device", "gpu", cwd=tmp_path)
    import mlx.core as mx

    if mx.is_available(mx.gpu):
        return
    assert r.returncode == 0
    assert r.stdout == "tensor([3], float16[1], cpu)\n"
    assert r.stderr.count("warning: device gpu is not available") == 1


def test_tl_test_reports_each_block(tmp_path):
    f = tmp_path / "t.tl"
    f.write_text("""\
fn double(x: float16[N]) -> float16[N] { return x * 2.0 }
let base = ones([2])
test doubles { assert_eq(double(base), tensor<float16>([2.0, 2.0])) }
test fails { assert(sum(base) > 5.0, "too small") }
test shapes { assert_eq(double(base).shape, [2]) }
main { print("main does not run under tl test") }
""")
    r = tl("test", "t.tl", cwd=tmp_path)
    assert r.returncode == 1
    assert r.stdout == ("test doubles ... passed\ntest fails ... failed\n"
                        "test shapes ... passed\n2 passed, 1 failed\n")
    assert r.stderr == "t.tl:4:14: error: assertion failed: too small\n"


def test_tl_bench_reports_times(tmp_path):
    f = tmp_path / "b.tl"
    f.write_text("let a = ones([64, 64])\nbench mm { let c = a @ a }\n")
    r = tl("bench", "b.tl", "--seconds", "0.2", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("bench mm: median ")
    assert " runs, cpu)" in r.stdout


def test_a_bench_inside_main_is_run_by_tl_bench_and_skipped_by_tl_run(tmp_path):
    (tmp_path / "b.tl").write_text(
        "let a = ones([4, 4])\nmain {\n    print(\"main\")\n"
        "    bench inner { print(\"in bench\", sum(a)) }\n}\n")
    r = tl("run", "b.tl", "--device", "cpu", cwd=tmp_path)
    assert (r.returncode, r.stdout) == (0, "main\n"), r.stderr
    r = tl("bench", "b.tl", "--seconds", "0.05", "--device", "cpu", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    assert out[0].startswith("in bench tensor(16")
    assert out[1].startswith("bench inner: median ")
    r = tl("run", "b.tl", "--bench", "--device", "cpu", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[1].startswith("bench inner: median ")


def test_a_test_inside_main_is_run_by_tl_test_and_skipped_by_tl_run(tmp_path):
    (tmp_path / "t.tl").write_text(
        "let a = ones([2, 2])\nmain {\n    print(\"main\")\n"
        "    test inner { assert(sum(a) == 4.0, \"sum\") }\n"
        "    test wrong { assert(sum(a) == 5.0, \"not five\") }\n}\n"
        "test outer { assert(len(a) == 2) }\n")
    r = tl("run", "t.tl", "--device", "cpu", cwd=tmp_path)
    assert (r.returncode, r.stdout) == (0, "main\n"), r.stderr
    r = tl("test", "t.tl", "--device", "cpu", cwd=tmp_path)
    assert r.returncode == 1
    assert r.stdout == ("test outer ... passed\ntest inner ... passed\n"
                        "test wrong ... failed\n2 passed, 1 failed\n")
    assert r.stderr == "t.tl:5:18: error: assertion failed: not five\n"
    # a test inside main that uses main's variable: the checker's hint, at run time too
    (tmp_path / "u.tl").write_text("main {\n    let k = 2\n    test uses_k { print(k) }\n}\n")
    u = tl("test", "u.tl", "--device", "cpu", cwd=tmp_path)
    assert u.stderr == (
        "u.tl:3:25: error: undefined name 'k'; 'k' is a variable of main, and a test inside "
        "main sees only the top level, as a top-level test does (tl test runs it without "
        "running main); declare 'k' at the top level or inside the test\n")
    # the original's spelling: tl run FILE --test (UPSTREAM.md 17.4)
    again = tl("run", "t.tl", "--test", "--device", "cpu", cwd=tmp_path)
    assert (again.returncode, again.stdout, again.stderr) == (1, r.stdout, r.stderr)


def test_quickstart_make_run(tmp_path):
    """What `make run` does: build the model, then run linear.tl on it."""
    qs = ROOT / "examples" / "quickstart"
    r = subprocess.run([sys.executable, str(qs / "make_model.py")], cwd=ROOT,
                       capture_output=True, text=True, check=True)
    assert "model.safetensors" in r.stdout
    r = tl("run", "examples/quickstart/linear.tl")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[:3] == [
        'Loaded: ["layer.0.bias", "layer.0.weight"] from a safetensors file',
        "Output shape: [4, 2]",
        "Output: tensor([[ 2.209,   2.82],",
    ]


@pytest.mark.slow
def test_progress_bar_on_a_terminal_only(tmp_path):
    """Loading a whole model (a 20 MiB tensor, then 300 small ones) draws one bar for the
    model, up to its size; a pipe gets none."""
    import pty
    import re

    import numpy as np
    from safetensors.numpy import save_file

    tensors = {f"layers.{i}.weight": np.full((64, 256), i, np.float32) for i in range(300)}
    save_file({"big": np.zeros((5, 1024, 1024), np.float32), **tensors},
              str(tmp_path / "many.safetensors"))
    (tmp_path / "p.tl").write_text('let m = load_model("many.safetensors")\n'
                                   'print(m.get_tensor("big").shape)\n'
                                   'for name in names(m) {\n  let t = get_tensor(m, name)\n}\n')
    env = dict(os.environ, PYTHONPATH=str(ROOT), TL_PROGRESS_DELAY="0")
    cmd = [sys.executable, "-m", "tl_core", "run", "p.tl", "--device", "cpu"]
    master, slave = pty.openpty()
    p = subprocess.run(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=slave, env=env,
                       timeout=120)
    os.close(slave)
    seen = b""
    try:
        while True:
            chunk = os.read(master, 65536)
            if not chunk:
                break
            seen += chunk
    except OSError:
        pass  # EIO once the terminal's other end is closed
    os.close(master)
    assert p.returncode == 0 and p.stdout == b"[5, 1024, 1024]\n"
    assert set(re.findall(rb"loading ([^:]*):", seen)) == {b"many.safetensors"}
    # the print erased the first bar; the second covers the 300 small tensors left
    assert b"/38.8M " in seen and b"/18.8M " in seen
    piped = tl("run", "p.tl", "--device", "cpu", cwd=tmp_path)
    assert piped.returncode == 0 and "loading" not in piped.stderr


# --- Ctrl-C (issue 18) -------------------------------------------------------------------


def start_tl(path: Path, *args: str) -> subprocess.Popen:
    e = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "tl_core", "run", str(path), "--device",
                             "cpu", *args], cwd=path.parent, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=e, preexec_fn=interruptible)


# One statement, one MLX evaluation of twenty 3000x3000 matmuls: minutes on a CPU, so a
# run that ends within the test's timeout was stopped by the Ctrl-C.
# statements start their tensors without waiting (Interpreter._settle): the printed element
# is where the run waits for the 20 matmuls
LONG_NATIVE = ('let a = randn([3000, 3000])\nprint("start")\n'
               'let c = ' + " @ ".join(["a"] * 21) + '\nprint(c[0, 0])\nprint("end")\n')


def test_ctrl_c_during_one_long_native_operation_stops_the_run(tmp_path):
    f = tmp_path / "long.tl"
    f.write_text(LONG_NATIVE)
    p = start_tl(f)
    try:
        assert p.stdout.readline() == "start\n"
        time.sleep(0.5)  # inside the matmuls
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
    finally:
        p.kill()
    assert (p.returncode, out) == (130, "")
    assert err == ("\ninterrupted: the running operation did not stop within 1 s, so tl "
                   "stopped it\n")


def test_ctrl_c_between_statements_stops_cleanly(tmp_path):
    f = tmp_path / "loop.tl"
    f.write_text('print("start")\nlet n = 0\nloop { n = n + 1 }\n')
    p = start_tl(f)
    try:
        assert p.stdout.readline() == "start\n"
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
    finally:
        p.kill()
    assert (p.returncode, out, err) == (130, "", "interrupted\n")
