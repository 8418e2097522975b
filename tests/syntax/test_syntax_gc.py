"""How a parse treats Python's garbage collector (tl_core.syntax.incremental.gc_paused)."""

from __future__ import annotations

import gc

from tl_core.syntax import IncrementalParser, parse
from tl_core.syntax.incremental import PROMOTE_MIN_CHARS

from .test_syntax_properties import EXAMPLES

BIG = "\n".join(EXAMPLES * (PROMOTE_MIN_CHARS // len("\n".join(EXAMPLES)) + 1))


def in_young_generations(obj: object) -> bool:
    return any(o is obj for o in gc.get_objects(0)) or any(o is obj for o in gc.get_objects(1))


def test_a_large_tree_goes_straight_to_the_oldest_generation() -> None:
    assert len(BIG) >= PROMOTE_MIN_CHARS
    gc.collect()
    assert gc.isenabled()
    result = parse(BIG)
    assert gc.isenabled()
    assert not in_young_generations(result.program)
    assert not in_young_generations(result.program.items[0])
    inc = IncrementalParser()
    first = inc.parse(BIG)
    assert not in_young_generations(first.program.items[-1])


def test_a_small_tree_is_left_to_the_collector() -> None:
    gc.collect()
    result = parse("let a = 1\n")
    assert in_young_generations(result.program)


def test_objects_frozen_by_the_process_stay_frozen() -> None:
    # Which objects are frozen, not how many: frozen objects that the parse frees (a cache
    # entry of an earlier test) leave the count, so comparing counts failed at random.
    # Frozen objects are in no generation (`gc.get_objects` lists those in one).
    sentinels = [[k] for k in range(8)]
    gc.collect()
    gc.freeze()
    try:
        parse(BIG)
        tracked = {id(o) for o in gc.get_objects()}
        assert not any(id(x) in tracked for x in sentinels)
    finally:
        gc.unfreeze()
    tracked = {id(o) for o in gc.get_objects()}
    assert all(id(x) in tracked for x in sentinels)  # the check can fail


def test_the_collector_stays_off_when_it_was_off() -> None:
    gc.disable()
    try:
        parse(BIG)
        assert not gc.isenabled()
    finally:
        gc.enable()
