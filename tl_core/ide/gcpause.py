"""Cyclic GC paused around a query.

A completion list can hold thousands of items and a whole-document answer tens of thousands
of objects: cyclic GC passes triggered by those allocations would walk the whole analysis
(millions of objects) and double the time. The queries allocate no cycles of their own.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


@contextmanager
def gc_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def without_gc(f: Callable[P, R]) -> Callable[P, R]:
    """`f` run with cyclic GC paused."""

    @functools.wraps(f)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        with gc_paused():
            return f(*args, **kwargs)

    return run
