"""An import read under a `ReadWait` (the language server's analysis thread, issue 17): a
file that is slow to read (a network disk, tens of megabytes to parse) makes the import
pending, an information diagnostic and no errors for the names it would declare, the read
going on in the background once; when it ends, the next check finds the parse."""

from __future__ import annotations

import threading
from pathlib import Path

from tl_core import read_wait
from tl_core.check import analyze
from tl_core.check import imports as I
from tl_core.read_wait import READ_WAIT, ReadWait

MAIN = 'import "lib.tl"\nlet v = lib_fn(3)\n'


def test_a_slow_import_is_pending_then_parsed(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "lib.tl").write_text("fn lib_fn(a: int) -> int {\n    return a\n}\n")
    I._PARSED.clear()
    read_wait.clear()
    release, done, reads = threading.Event(), threading.Event(), []
    real = I.read_source

    def slow(path, *args):
        reads.append(path)
        assert release.wait(60)
        return real(path, *args)

    monkeypatch.setattr(I, "read_source", slow)
    token = READ_WAIT.set(ReadWait(0.01, lambda p: done.set()))
    try:
        a = analyze(MAIN, str(tmp_path / "main.tl"))
        assert [(d.severity.value, d.code, d.message) for d in a.diagnostics] == [
            ("info", "import", "still reading 'lib.tl' (a slow disk?): what it holds is "
                                      "checked when the read ends")]
        assert str(tmp_path / "lib.tl") in a.dependencies
        release.set()
        assert done.wait(60)
        a = analyze(MAIN, str(tmp_path / "main.tl"))
        assert list(a.diagnostics) == []
        assert reads == [str(tmp_path / "lib.tl")]  # one read
    finally:
        READ_WAIT.reset(token)
        I._PARSED.clear()
