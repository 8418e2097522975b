"""The server's garbage-collection policy (tl_lsp/gc_policy.py): cycles are collected in
pauses, never during activity (unless far too many objects pile up)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from tl_lsp.gc_policy import IdleCollector


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Node:
    def __init__(self) -> None:
        self.other: object = self


def garbage_cycle() -> weakref.ref:
    """A cycle nothing refers to (only the cyclic GC can free it); a weak reference to it."""
    n = Node()
    return weakref.ref(n)


@pytest.fixture
def collector(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[IdleCollector, Clock]]:
    monkeypatch.delenv("TL_LSP_GC", raising=False)
    was_enabled = gc.isenabled()
    clock = Clock()
    c = IdleCollector(idle_s=1.0, full_every_s=60.0, max_young=1_000_000, min_young=0,
                      clock=clock)
    c.last_full = clock.now
    try:
        assert c.install()
        yield c, clock
    finally:
        gc.unfreeze()
        gc.collect()
        if was_enabled:
            gc.enable()


def test_a_cycle_waits_for_a_pause(collector) -> None:  # noqa: ANN001
    c, clock = collector
    assert not gc.isenabled()
    c.touch()
    ref = garbage_cycle()
    clock.now += 0.5
    assert c.tick() is None
    assert ref() is not None  # still busy: nothing collected
    clock.now += 0.6
    assert c.tick() == "young"
    assert ref() is None


def test_activity_postpones_the_collection(collector) -> None:  # noqa: ANN001
    c, clock = collector
    ref = garbage_cycle()
    for _ in range(5):
        clock.now += 0.9
        c.touch()
        assert c.tick() is None
    assert ref() is not None
    clock.now += 1.0
    assert c.tick() == "young"
    assert ref() is None


def test_too_many_new_objects_are_collected_without_a_pause(collector) -> None:  # noqa: ANN001
    c, clock = collector
    c.max_young = 500
    c.touch()
    ref = garbage_cycle()
    keep = [[i] for i in range(2000)]  # net new tracked objects
    assert c.tick() == "forced"
    assert ref() is None
    assert len(keep) == 2000


def test_a_cycle_among_frozen_objects_waits_for_the_full_pass(collector) -> None:  # noqa: ANN001
    c, clock = collector
    n = Node()
    ref = weakref.ref(n)
    clock.now += 2
    assert c.tick() == "young"  # `n` survives (still referenced) and is frozen
    del n
    clock.now += 2
    garbage_cycle()
    assert c.tick() == "young"
    assert ref() is not None  # frozen: young passes do not walk it
    clock.now += 60
    assert c.tick() == "full"
    assert ref() is None


def test_inactive_by_default_and_with_tl_lsp_gc_python(monkeypatch: pytest.MonkeyPatch) -> None:
    was_enabled = gc.isenabled()
    c = IdleCollector(idle_s=0.0, min_young=0)
    assert c.tick() is None
    monkeypatch.setenv("TL_LSP_GC", "python")
    assert c.install() is False
    assert gc.isenabled() == was_enabled
    assert c.tick() is None


def test_later_runs_at_the_next_short_pause(collector) -> None:  # noqa: ANN001
    c, clock = collector
    c.quiet_s = 0.1
    ran: list[str] = []
    c.touch()
    c.later(lambda: ran.append("free"))
    clock.now += 0.05
    c.tick()
    assert ran == []  # busy
    clock.now += 0.06
    c.tick()
    assert ran == ["free"]
    c.tick()
    assert ran == ["free"]  # once


def test_later_runs_at_once_when_the_policy_is_off() -> None:
    c = IdleCollector()
    ran: list[int] = []
    c.later(lambda: ran.append(1))
    assert ran == [1]
