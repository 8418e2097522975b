"""Nothing lost (issue 17): `save_model` under a kill at every phase of its write, onto
targets it must not replace, and on a full disk.

A child process saves a model over an old file and is SIGKILLed at each phase (temporary
file made, header written, part of the data written, before fsync, after fsync before the
rename, after the rename) and at seeded random moments of a larger save: the target is
always either the old file byte for byte or the complete new file, never a mix, and the
next save removes what the killed one left. A read-only file, a directory, a FIFO or a
symlink as target give a clean error and stay untouched. A full disk (a 256 KiB tmpfs in
a user namespace, and RLIMIT_FSIZE) gives a clean error, keeps the old file and leaves no
partial file.
"""

from __future__ import annotations

import os
import random
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import safetensors.numpy

from tests.hostile.bounded import ROOT

OLD = b"old model bytes \x00\x01\x02" * 100

CHILD = r"""
import os, sys, time, tempfile
import numpy as np
from tl_core.models import loader, model_from, save_model

out, phase, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
arrays = {f"t{i}": np.full((size,), i + 1, np.float16) for i in range(3)}
model = model_from(arrays)

def pause(name):
    if name == phase:
        print(name, flush=True)
        time.sleep(120)

real_mkstemp, real_write = tempfile.mkstemp, loader._write
real_fsync, real_replace = os.fsync, os.replace
writes = []
def mkstemp(*a, **k):
    got = real_mkstemp(*a, **k)
    pause("temp made")
    return got
def write(f, data):
    real_write(f, data)
    f.flush()
    writes.append(len(data))
    pause({1: "length written", 2: "header written", 4: "data partly written"}.get(len(writes)))
def fsync(fd):
    pause("before fsync")
    real_fsync(fd)
    pause("after fsync")
def replace(a, b):
    pause("before rename")
    real_replace(a, b)
    pause("after rename")
tempfile.mkstemp, loader._write, os.fsync, os.replace = mkstemp, write, fsync, replace
save_model(model, out)
print("saved", flush=True)
"""

PHASES = ["temp made", "length written", "header written", "data partly written",
          "before fsync", "after fsync", "before rename", "after rename"]


def saver(out: Path, phase: str, size: int = 1024, code: str = CHILD,
          preexec=None) -> subprocess.Popen:  # noqa: ANN001
    return subprocess.Popen([sys.executable, "-c", code, str(out), phase, str(size)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            preexec_fn=preexec)


def is_new(out: Path, size: int) -> bool:
    got = safetensors.numpy.load_file(str(out))
    return sorted(got) == ["t0", "t1", "t2"] and all(
        np.array_equal(got[f"t{i}"], np.full((size,), i + 1, np.float16)) for i in range(3))


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


@pytest.mark.slow
@pytest.mark.parametrize("phase", PHASES)
def test_a_kill_at_every_phase_loses_nothing(tmp_path: Path, phase: str) -> None:
    out = tmp_path / "m.safetensors"
    out.write_bytes(OLD)
    p = saver(out, phase)
    assert p.stdout.readline().strip() == phase, p.stderr.read()
    p.kill()
    p.wait()
    if phase == "after rename":
        assert is_new(out, 1024)
    else:
        assert out.read_bytes() == OLD  # byte for byte
    # the next save (another process) removes what the killed one left, and succeeds
    done = saver(out, "none")
    assert done.communicate(timeout=120)[0].strip() == "saved"
    assert is_new(out, 1024) and leftovers(tmp_path) == []


@pytest.mark.slow
def test_kills_at_random_moments_leave_old_or_new(tmp_path: Path) -> None:
    out = tmp_path / "m.safetensors"
    rng = random.Random(17)
    for _ in range(5):
        out.write_bytes(OLD)
        p = saver(out, "none", size=1 << 21)  # 12 MB of float16
        time.sleep(rng.uniform(0.3, 2.5))
        p.kill()
        p.wait()
        assert out.read_bytes() == OLD or is_new(out, 1 << 21)  # whole, never a mix


def test_targets_that_must_not_be_replaced_stay_untouched(tmp_path: Path) -> None:
    from tl_core.models import ModelFileError, model_from, save_model

    model = model_from({"a": np.ones(4, np.float16)})
    ro = tmp_path / "ro.safetensors"
    ro.write_bytes(OLD)
    ro.chmod(0o444)
    folder = tmp_path / "dir.safetensors"
    folder.mkdir()
    (folder / "inside").write_bytes(b"keep")
    link = tmp_path / "link.safetensors"
    link.symlink_to(ro)
    fifo = tmp_path / "fifo.safetensors"
    os.mkfifo(fifo)
    for target in (ro, folder, link, fifo):
        before = os.lstat(target)
        with pytest.raises(ModelFileError) as err:
            save_model(model, target)
        assert str(err.value).startswith(f"{target}: is ")
        after = os.lstat(target)
        assert (after.st_mode, after.st_mtime_ns, after.st_size, after.st_ino) == \
            (before.st_mode, before.st_mtime_ns, before.st_size, before.st_ino)
    assert ro.read_bytes() == OLD and (folder / "inside").read_bytes() == b"keep"
    assert sorted(p.name for p in folder.iterdir()) == ["inside"]
    assert leftovers(tmp_path) == []


def _fsize_limit() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))


def test_a_file_size_limit_keeps_the_old_file_and_leaves_no_partial_file(tmp_path) -> None:
    out = tmp_path / "m.safetensors"
    out.write_bytes(OLD)
    p = saver(out, "none", size=1 << 16, preexec=_fsize_limit)  # 384 KiB > 64 KiB
    _, err = p.communicate(timeout=120)
    assert p.returncode == 1, err  # a Python error, not SIGXFSZ
    assert err.strip().splitlines()[-1] == (
        f"tl_core.models.errors.ModelFileError: {out}: cannot save the model: File too large")
    assert out.read_bytes() == OLD and leftovers(tmp_path) == []


FULL_DISK = r"""
set -e
mount -t tmpfs -o size=256k tmpfs "$1"
printf 'old model bytes' > "$1/m.safetensors"
set +e
"$2" -c "$3" "$1/m.safetensors" none 65536
echo "exit=$?"
cat "$1/m.safetensors"; echo
ls -a "$1"
df -k "$1" | tail -1
"""


def test_a_full_disk_keeps_the_old_file_and_leaves_no_partial_file(tmp_path) -> None:
    """A 256 KiB tmpfs, mounted in a user and mount namespace of our own (no root needed)."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    proc = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
                           FULL_DISK, "sh", str(mnt), sys.executable, CHILD],
                          capture_output=True, text=True, timeout=180, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    out = proc.stdout.splitlines()
    assert "exit=1" in out, proc.stdout + proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        f"tl_core.models.errors.ModelFileError: {mnt}/m.safetensors: cannot save the model: "
        f"No space left on device")
    assert out[out.index("exit=1") + 1] == "old model bytes"
    listing = out[out.index("exit=1") + 2:-1]
    assert sorted(listing) == [".", "..", "m.safetensors"]  # no temporary file left
    used_kib = int(out[-1].split()[2])
    assert used_kib <= 8  # the space of the failed write was given back


def test_save_syncs_the_directory_after_the_rename(tmp_path, monkeypatch) -> None:
    """The rename itself reaches the disk (a power cut right after a save keeps it)."""
    from tl_core.models import model_from, save_model

    synced = []
    real = os.fsync

    def fsync(fd: int) -> None:
        synced.append(stat.S_ISDIR(os.fstat(fd).st_mode))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    save_model(model_from({"a": np.ones(4, np.float16)}), tmp_path / "m.safetensors")
    assert synced == [False, True]  # the file's data, then its directory
