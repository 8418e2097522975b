"""Unchanged runs of items replayed as one block (tl_core/check/memo.py, `BlockRecord`):
the analysis equals a fresh check of the same text, and an edit replays the blocks away
from it without looking at their items one by one."""

from __future__ import annotations

import os
import random
from contextlib import contextmanager

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.check.test_check_cache import summary
from tl_core.check import memo as M
from tl_core.check.analyzer import analyze
from tl_core.host import DocumentHost

# statements whose checks depend on each other in every way a record notes: names declared
# and redeclared, outer types changed by an assignment, fns called, errors, names not found
POOL = [
    "let a = ones([2])",
    "let b = zeros([3, 2])",
    "let a = zeros([4])",
    "a = a + 1.0",
    "a = zeros([5])",
    "let n = 4",
    "n = n + 1",
    "let t = zeros([n, 2])",
    "let c = b @ ones([2, 6])",
    "let d = a @ b",
    "print(a.shape)",
    "let r = f(a)",
    "let s = g(b)",
    "let u = nowhere + 1",
    "fn f(x: float16[N]) -> float16[N] {\n    let unused = x\n    return x * 2.0\n}",
    "fn g(x: float16[N, M]) -> float16[M, N] {\n    return transpose(x)\n}",
    "fn f(y: float16[K]) -> float16[K] {\n    return y\n}",
    "struct P {\n    x: float\n}",
    "impl P {\n    fn norm(self) -> float {\n        return self.x\n    }\n}",
    "let p = P { x: 1.0 }",
    "// a comment",
    "",
]


@contextmanager
def small_blocks(mask: int = 3):
    """Blocks of ~mask + 1 items, so that small texts have many."""
    real = M.BLOCK_MASK
    M.BLOCK_MASK = mask
    try:
        yield
    finally:
        M.BLOCK_MASK = real


def edit(text: str, rnd: random.Random) -> str:
    lines = text.split("\n")
    kind = rnd.randrange(4)
    i = rnd.randrange(len(lines) + 1)
    if kind == 0:
        return "\n".join(lines[:i] + [rnd.choice(POOL)] + lines[i:])
    if kind == 1 and lines:
        j = rnd.randrange(len(lines))
        return "\n".join(lines[:j] + lines[j + 1:])
    if kind == 2 and lines:
        j = rnd.randrange(len(lines))
        return "\n".join(lines[:j] + [rnd.choice(POOL)] + lines[j + 1:])
    k = rnd.randrange(len(text) + 1)
    return text[:k] + rnd.choice([" ", "1", "x", "(", "\n", "}", ""]) + text[k:]


@settings(max_examples=int(os.environ.get("TL_BLOCK_EXAMPLES", "40")), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(POOL), min_size=5, max_size=60), st.integers(0, 2**32),
       st.sampled_from([1, 3, 31]))
def test_block_replay_equals_a_fresh_check(lines, seed, mask):
    rnd = random.Random(seed)
    text = "\n".join(lines) + "\n"
    host = DocumentHost("/tmp/blocks.tl")
    with small_blocks(mask):
        host.analyze(text)
        for _ in range(5):
            text = edit(text, rnd)
            cached = host.analyze(text)
            fresh = analyze(text, "/tmp/blocks.tl", use_cache=False)
            assert cached.diagnostics == fresh.diagnostics
            assert summary(cached) == summary(fresh)


def test_an_edit_replays_the_blocks_around_it_whole():
    """Only the items of the edited block are looked at one by one (`memo.reuse`); the
    others are replayed as blocks, whose boundaries are the items whose text's hash has
    the `BLOCK_MASK` bits clear."""
    lines = [f"let v{i} = zeros([{i % 7 + 1}, 2])" for i in range(300)]
    text = "\n".join(lines) + "\n"
    host = DocumentHost("/tmp/blocks-count.tl")
    calls = []
    real = M.reuse

    def spy(*args):
        calls.append(args)
        return real(*args)

    with small_blocks(7):
        host.analyze(text)
        host.analyze(text)  # unchanged: every block replayed
        M.reuse = spy
        try:
            again = host.analyze(text)
            assert calls == []
            j = 150
            lines[j] = "let v150 = zeros([9, 2])"
            new = "\n".join(lines) + "\n"
            a = host.analyze(new)
        finally:
            M.reuse = real
    assert summary(again) == summary(analyze(text, "/tmp/blocks-count.tl", use_cache=False))
    assert summary(a) == summary(analyze(new, "/tmp/blocks-count.tl", use_cache=False))
    old_items = [f"let v{i} = zeros([{i % 7 + 1}, 2])" for i in range(300)]

    def boundary(item: str) -> bool:
        return not hash(item) & 7

    first = j  # the edited block starts after the last boundary before the edited item
    while first > 0 and not boundary(old_items[first - 1]):
        first -= 1
    last = j  # and ends at the first boundary at or after it (in the new text)
    while last < len(lines) - 1 and not boundary(lines[last]):
        last += 1
    assert len(calls) == last - first  # each of its items but the edited one
    assert len(calls) < 299  # (not every unchanged item, as before blocks)
