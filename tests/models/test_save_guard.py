"""save_model never replaces what it must not (a link, a FIFO, a device, a read-only file),
cleans up after SIGTERM, and removes the temporary files of killed saves at the next save
to the same target (issue 18)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import mlx.core as mx
import pytest
import safetensors.numpy

from tl_core.models import ModelFileError, model_from, save_model

ROOT = Path(__file__).resolve().parent.parent.parent


def small_model():
    return model_from({"a": mx.ones((4,), mx.float16)})


def refused(path) -> str:
    with pytest.raises(ModelFileError) as e:
        save_model(small_model(), path)
    assert e.value.path == str(path)
    return e.value.message


def test_symlink_is_not_replaced(tmp_path):
    target = tmp_path / "real.safetensors"
    target.write_bytes(b"old")
    link = tmp_path / "link.safetensors"
    link.symlink_to(target)
    assert refused(link) == ("is a symbolic link; save_model does not replace links (save to "
                             "the path it points to, or remove the link first)")
    assert link.is_symlink() and target.read_bytes() == b"old"
    dangling = tmp_path / "dangling.safetensors"
    dangling.symlink_to(tmp_path / "nowhere")
    assert refused(dangling).startswith("is a symbolic link")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dangling.safetensors",
                                                          "link.safetensors", "real.safetensors"]


def test_fifo_is_not_replaced_nor_opened(tmp_path):
    fifo = tmp_path / "p.safetensors"
    os.mkfifo(fifo)
    assert refused(fifo) == ("is a FIFO (named pipe), not a regular file; save_model replaces "
                             "regular files only")
    assert fifo.is_fifo()


def test_device_is_not_replaced():
    assert refused(Path("/dev/null")) == ("is a character device, not a regular file; "
                                          "save_model replaces regular files only")


def test_read_only_file_is_not_replaced(tmp_path):
    out = tmp_path / "ro.safetensors"
    out.write_bytes(b"keep me")
    out.chmod(0o444)
    assert refused(out) == ("is read-only; save_model does not replace a read-only file (make "
                            "it writable, or save to another path)")
    assert out.read_bytes() == b"keep me"
    assert [p.name for p in tmp_path.iterdir()] == ["ro.safetensors"]


def test_writable_file_is_replaced(tmp_path):
    out = tmp_path / "rw.safetensors"
    out.write_bytes(b"old")
    out.chmod(0o600)
    save_model(small_model(), out)
    assert safetensors.numpy.load_file(str(out))["a"].tolist() == [1, 1, 1, 1]
    assert oct(out.stat().st_mode & 0o777) == oct(0o600)


# A child that saves a model and stops inside the write (after the header), so the test can
# signal it there.
CHILD = """
import sys, time
import mlx.core as mx
from tl_core.models import loader, model_from, save_model
real = loader._write
def slow(f, data):
    real(f, data)
    f.flush()
    print("writing", flush=True)
    time.sleep(60)
loader._write = slow
save_model(model_from({"a": mx.ones((1024,), mx.float16)}), sys.argv[1])
"""


def start_saving(out: Path) -> subprocess.Popen:
    p = subprocess.Popen([sys.executable, "-c", CHILD, str(out)], cwd=ROOT, text=True,
                         stdout=subprocess.PIPE, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert p.stdout.readline() == "writing\n"
    return p


def temps(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def test_sigterm_during_a_save_removes_the_temporary_file(tmp_path):
    out = tmp_path / "m.safetensors"
    out.write_bytes(b"old contents")
    p = start_saving(out)
    assert len(temps(tmp_path)) == 1
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=30) == -signal.SIGTERM  # still ends as SIGTERM ends a process
    assert temps(tmp_path) == []
    assert out.read_bytes() == b"old contents"


def test_temporary_files_of_killed_saves_go_at_the_next_save(tmp_path):
    out = tmp_path / "m.safetensors"
    out.write_bytes(b"old contents")
    p = start_saving(out)
    (left,) = temps(tmp_path)
    assert left.startswith(f".m.safetensors.{p.pid}.")
    p.kill()
    p.wait()
    assert temps(tmp_path) == [left]  # SIGKILL: nothing could clean up
    assert out.read_bytes() == b"old contents"
    # a save in progress in another (live) process keeps its temporary file
    busy = start_saving(out)
    try:
        (live,) = [t for t in temps(tmp_path) if t != left]
        save_model(small_model(), out)
        assert temps(tmp_path) == [live]
    finally:
        busy.kill()
        busy.wait()
    assert safetensors.numpy.load_file(str(out))["a"].tolist() == [1, 1, 1, 1]
    # other targets' files are not touched
    other = tmp_path / ".n.safetensors.1.abc.tmp"
    other.write_bytes(b"x")
    save_model(small_model(), out)
    assert temps(tmp_path) == [".n.safetensors.1.abc.tmp"]


def test_sigterm_handled_by_the_program_is_left_to_it(tmp_path):
    code = ("import signal, sys\nfrom tl_core.models import save_guard\n"
            "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
            "with save_guard.sigterm_cleans_up():\n"
            "    print(signal.getsignal(signal.SIGTERM) is signal.SIG_IGN)\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=60)
    assert r.stdout == "True\n"
