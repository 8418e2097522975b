"""Arithmetic on scalars as the language defines it (UPSTREAM.md 6.1), shared by the checker
(constant folding) and the runtime so both compute the same values.

- `int / int` truncates toward zero (`-7 / 2` is `-3`); `%` takes the sign of the left side
  (`-7 % 3` is `-1`), on ints and floats alike (C `fmod`).
- `string * int` (either order) repeats the string (`"=" * 70`); a count below 1 gives "".
"""

from __future__ import annotations

import math

MAX_FOLDED_STRING = 10_000  # the checker folds repeated strings up to this length


def int_div(a: int, b: int) -> int:
    """Integer division truncating toward zero; `b` must not be 0."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def rem(a: int | float, b: int | float) -> int | float:
    """The remainder with the sign of `a` (`b` not 0): ints stay ints."""
    if isinstance(a, int) and isinstance(b, int):
        return a - b * int_div(a, b)
    return math.fmod(a, b)


def repeat(s: str, n: int) -> str:
    return s * max(n, 0)
