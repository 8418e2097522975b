"""`load_tokenizer` reads bounded (issue 17: the checker loads the tokenizers that programs
name, on the language server's analysis thread): a FIFO, a device or a socket is refused
without being opened blocking, a directory is looked into for its tokenizer.json only, a file
over `JSON_LIMIT` is refused before it is read, the error of a file's bytes is kept (not parsed
again), and under a `ReadWait` a slow load raises `ReadPending` and goes on in the background,
once, then is cached (`tl_core.read_wait`, as model headers)."""

from __future__ import annotations

import json
import os
import socket
import threading
from pathlib import Path

import pytest

from tests.tokenizer.builders import write_tokenizer_json
from tl_core import read_wait
from tl_core.read_wait import READ_WAIT, ReadPending, ReadWait
from tl_core.tokenizer import TokenizerError, load_tokenizer
from tl_core.tokenizer import tokenizer as T


@pytest.fixture(autouse=True)
def _fresh():
    T._CACHE.clear()
    read_wait.clear()
    yield
    T._CACHE.clear()
    read_wait.clear()


def _error(path: str | Path) -> str:
    with pytest.raises(TokenizerError) as err:
        load_tokenizer(path)
    return str(err.value)


def test_special_files_are_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "tokenizer.json"
    os.mkfifo(fifo)  # no writer: opening it blocking would never return
    assert _error(fifo) == f"{fifo}: is a FIFO (named pipe), not a regular file"
    assert _error(tmp_path) == f"{fifo}: is a FIFO (named pipe), not a regular file"
    assert _error("/dev/zero") == "/dev/zero: is a character device, not a regular file"
    sock = tmp_path / "sock.json"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(sock))
    s.close()
    assert _error(sock) == f"{sock}: is a socket, not a regular file"


def test_a_directory_is_looked_into_for_its_tokenizer_json(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _error(empty) == f"{empty / 'tokenizer.json'}: no such file"
    write_tokenizer_json(tmp_path / "tokenizer.json")
    assert load_tokenizer(tmp_path).tokenize("hello world", False) == [1, 2]


def test_a_huge_file_is_refused_before_it_is_read(tmp_path: Path, monkeypatch) -> None:
    huge = tmp_path / "tokenizer.json"
    with open(huge, "wb") as f:
        f.truncate(100 * 1024**3)  # sparse: no disk
    reads = []
    real = os.read
    monkeypatch.setattr(os, "read", lambda fd, n: (reads.append(n), real(fd, n))[1])
    want = (f"{huge}: cannot read it (the file is 100.0 GiB, over the 128.0 MiB limit for "
            f"tokenizer files)")
    assert _error(huge) == want
    assert _error(tmp_path) == want
    assert reads == []


def test_the_error_of_a_files_bytes_is_kept(tmp_path: Path, monkeypatch) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"model": {"type": "nothing"}}))
    reads = []
    real = T._read_json_file
    monkeypatch.setattr(T, "_read_json_file", lambda p: (reads.append(p), real(p))[1])
    first = _error(bad)
    assert first.startswith(f"{bad}: not a tokenizer.json or a GGUF file (")
    assert _error(bad) == first
    assert reads == [str(bad)]  # parsed once
    bad.write_text("{}")  # changed: read again
    os.utime(bad, ns=(1, 1))
    assert _error(bad).startswith(f"{bad}: not a tokenizer.json or a GGUF file (")
    assert reads == [str(bad)] * 2


def _slow_loads(monkeypatch, release: threading.Event) -> list[str]:
    """`_load_json` made to wait for `release`; returns the list of paths it loaded."""
    loads: list[str] = []
    real = T._load_json

    def slow(p: str):
        loads.append(p)
        assert release.wait(60)
        return real(p)

    monkeypatch.setattr(T, "_load_json", slow)
    return loads


def test_a_slow_load_is_pending_then_cached(tmp_path: Path, monkeypatch) -> None:
    write_tokenizer_json(tmp_path / "tokenizer.json")
    release, done, ended = threading.Event(), threading.Event(), []
    loads = _slow_loads(monkeypatch, release)
    token = READ_WAIT.set(ReadWait(0.01, lambda p: (ended.append(p), done.set())))
    try:
        for _ in range(3):
            with pytest.raises(ReadPending) as err:
                load_tokenizer(str(tmp_path))
            assert err.value.path == str(tmp_path)  # the path the program named
        release.set()
        assert done.wait(60)
        assert loads == [str(tmp_path / "tokenizer.json")]  # one load, joined by the others
        assert set(ended) == {str(tmp_path)}
        assert load_tokenizer(str(tmp_path)).info.vocab_size == 3  # cached: no second load
        assert len(loads) == 1
    finally:
        READ_WAIT.reset(token)


def test_a_slow_load_that_fails_is_not_read_again(tmp_path: Path, monkeypatch) -> None:
    """An error not cached by the reader (here: the file went away meanwhile) is the outcome
    of the slow read, kept for the analysis made when it ends: no second slow read."""
    path = write_tokenizer_json(tmp_path / "tokenizer.json")
    release, done = threading.Event(), threading.Event()
    loads = _slow_loads(monkeypatch, release)
    monkeypatch.setattr(T, "read_regular",
                        lambda *a: (_ for _ in ()).throw(PermissionError(13, "Permission denied")))
    token = READ_WAIT.set(ReadWait(0.01, lambda p: done.set()))
    try:
        with pytest.raises(ReadPending):
            load_tokenizer(path)
        release.set()
        assert done.wait(60)
        for _ in range(2):
            assert _error(path) == f"{path}: cannot read it (Permission denied)"
        assert len(loads) == 1
    finally:
        READ_WAIT.reset(token)


def test_errors_and_fast_loads_come_back_within_the_wait(tmp_path: Path) -> None:
    token = READ_WAIT.set(ReadWait(60, lambda p: None))
    try:
        path = write_tokenizer_json(tmp_path / "tokenizer.json")
        assert load_tokenizer(path).tokenize("hello", False) == [1]
        assert _error("/dev/zero") == "/dev/zero: is a character device, not a regular file"
    finally:
        READ_WAIT.reset(token)
