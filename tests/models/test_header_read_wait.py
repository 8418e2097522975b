"""`read_header` under a `ReadWait` (the language server's analysis thread, issue 17): a read
that outlives the wait raises `ReadPending` and goes on in the background, one read per
file however often it is asked for, and `ended(path)` is called when it ends; the header is
then cached. Without a ReadWait the read is waited for, as in `tl check`."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from tests.models.builders import write_safetensors
from tl_core.models import header as H
from tl_core.models.errors import ModelFileError
from tl_core.read_wait import READ_WAIT, ReadPending, ReadWait


def test_a_slow_read_is_pending_then_cached(tmp_path: Path, monkeypatch) -> None:
    path = str(write_safetensors(tmp_path / "m.safetensors", {"w": np.ones((2, 3), np.float32)}))
    H.clear_cache()
    release, reads, ended = threading.Event(), [], []
    done = threading.Event()
    real = H._read_file

    def slow(p: str, st):
        reads.append(p)
        assert release.wait(60)
        return real(p, st)

    monkeypatch.setattr(H, "_read_file", slow)
    wait = ReadWait(0.01, lambda p: (ended.append(p), done.set()))
    token = READ_WAIT.set(wait)
    try:
        for _ in range(3):
            with pytest.raises(ReadPending) as err:
                H.read_header(path)
            assert err.value.path == path
        release.set()
        assert done.wait(60)
        assert reads == [path]  # one read, joined by the later asks
        assert ended[0] == path
        assert H.read_header(path).tensors["w"].shape == (2, 3)  # cached: no second read
        assert reads == [path]
    finally:
        READ_WAIT.reset(token)
        H.clear_cache()


def test_errors_and_fast_reads_come_back_within_the_wait(tmp_path: Path) -> None:
    H.clear_cache()
    token = READ_WAIT.set(ReadWait(60, lambda p: None))
    try:
        path = write_safetensors(tmp_path / "m.safetensors", {"w": np.ones(4, np.float32)})
        assert H.read_header(path).tensors["w"].shape == (4,)
        bad = tmp_path / "bad.safetensors"
        bad.write_bytes(b"\x01")
        with pytest.raises(ModelFileError) as err:
            H.read_header(str(bad))
        assert err.value.path == str(bad)
    finally:
        READ_WAIT.reset(token)
        H.clear_cache()
