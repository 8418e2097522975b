"""`tl_core.read_wait.bounded` stays bounded however many slow files an analysis names
(issue 17): the wait is one budget per analysis (`ReadWait.deadline`), and with every reader
thread busy on hung files a new read is pending at once, its caller told when a reader is
free. Each case runs on a thread joined with a generous limit: before, the calling thread
waited for the read itself (here: until the test released it), so the join failed."""

from __future__ import annotations

import threading
import time

import pytest

from tl_core import read_wait as R
from tl_core.read_wait import READ_WAIT, ReadPending, ReadWait


def outcome(fn) -> list:
    """fn()'s outcome ('pending' / its value), or [] when it did not come back in 20 s."""
    out: list = []

    def run() -> None:
        try:
            out.append(fn())
        except ReadPending:
            out.append("pending")

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(20)
    return out


@pytest.fixture
def release():
    gate = threading.Event()
    yield gate
    gate.set()  # the readers left behind end
    R.clear()


def slow(gate: threading.Event, value: str):
    def read() -> str:
        gate.wait(120)
        return value
    return read


def test_a_passed_deadline_waits_for_no_read(release) -> None:
    """The first slow file took the analysis' budget: the next one is not waited for."""
    wait = ReadWait(120, lambda p: None, time.monotonic() - 1)

    def ask() -> str:
        token = READ_WAIT.set(wait)
        try:
            return R.bounded(("t", "deadline"), "/slow/b", slow(release, "b"))
        finally:
            READ_WAIT.reset(token)

    assert outcome(ask) == ["pending"]


def test_with_every_reader_busy_a_new_read_is_pending_and_told_later(release) -> None:
    ended: list[str] = []
    told = threading.Event()
    wait = ReadWait(0.01, lambda p: (ended.append(p), told.set()))

    def ask(i: int):
        def go() -> str:
            token = READ_WAIT.set(wait)
            try:
                return R.bounded(("t", "busy", i), f"/slow/{i}", slow(release, str(i)))
            finally:
                READ_WAIT.reset(token)
        return go

    for i in range(R._MAX_READING):  # every reader thread on a hung file
        assert outcome(ask(i)) == ["pending"]
    extra = R._MAX_READING
    assert outcome(ask(extra)) == ["pending"]  # before: waited for on the calling thread
    release.set()
    assert told.wait(20)
    assert f"/slow/{extra}" in ended  # told to ask again
    relaxed = ReadWait(20, lambda p: None)
    token = READ_WAIT.set(relaxed)
    try:
        assert R.bounded(("t", "busy", extra), f"/slow/{extra}", lambda: "read") == "read"
    finally:
        READ_WAIT.reset(token)


@pytest.mark.parametrize("reader", ["header", "tokenizer", "import"])
def test_a_hung_stat_of_a_named_path_holds_no_analysis(reader, release, tmp_path,
                                                       monkeypatch) -> None:
    """A `stat` that hangs (a network mount) of a model, tokenizer or imported file that a
    program names: under a ReadWait it is pending within the wait, and the caller is told
    when it ends (before, the stat ran on the analysis thread, which waited for it)."""
    import os

    from tl_core.check import imports
    from tl_core.models import header
    from tl_core.tokenizer import tokenizer

    hung = str(tmp_path / "on-a-hung-mount")
    real = os.stat

    def stat(path, *args, **kwargs):
        if os.fspath(path) == hung:
            release.wait(120)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", stat)
    ask = {"header": lambda: header.read_header(hung),
           "tokenizer": lambda: tokenizer.load_tokenizer(hung),
           "import": lambda: imports._parse_file(hung)}[reader]
    told = threading.Event()
    wait = ReadWait(0.05, lambda p: told.set())

    def under_wait():
        token = READ_WAIT.set(wait)
        try:
            return ask()
        finally:
            READ_WAIT.reset(token)

    assert outcome(under_wait) == ["pending"]
    release.set()
    assert told.wait(20)
