"""Arithmetic on scalars as the language defines it (UPSTREAM.md 6.1), shared by the checker
(constant folding) and the runtime so both compute the same values.

- `int / int` truncates toward zero (`-7 / 2` is `-3`); `%` takes the sign of the left side
  (`-7 % 3` is `-1`), on ints and floats alike (C `fmod`).
- `string * int` (either order) repeats the string (`"=" * 70`); a count below 1 gives "".
- Integers are exact, but no integer may have more than `MAX_INT_DIGITS` digits (the
  longest literal, and Python's int-string limit, so every integer can be printed): an
  operation whose result would be longer is a `ScalarError` error, and `**` says so before
  computing anything (`2 ** 10 ** 12` would take hours and a terabit of memory).
- A float `**` that overflows is infinity (Rust's `powf`), a negative base with a fractional
  exponent is NaN (never a complex number); a string longer than `MAX_STRING_CHARS` is an
  error before it is made.
"""

from __future__ import annotations

import math

from tl_core.limits import MAX_INT_DIGITS

MAX_FOLDED_STRING = 10_000  # the checker folds repeated strings up to this length
MAX_STRING_CHARS = 1 << 28  # the longest string `repeat` makes (256 Mi characters)
_INT_LIMIT = 10**MAX_INT_DIGITS


class ScalarError(ValueError):
    """A scalar result too large to make (its message says which limit)."""


def checked_int(v: int) -> int:
    """`v`, or ScalarError when it has more than `MAX_INT_DIGITS` digits."""
    if -_INT_LIMIT < v < _INT_LIMIT:
        return v
    raise ScalarError(_too_many_digits(f"{int(v.bit_length() * math.log10(2)) + 1}"))


def _too_many_digits(digits: str) -> str:
    return (f"the result would have about {digits} digits; integers can have at most "
            f"{MAX_INT_DIGITS} digits (use floats, such as 1e400, for huge values)")


def power(a: int | float, b: int | float) -> int | float:
    """`a ** b` as the language defines it (see the module doc)."""
    if isinstance(a, int) and isinstance(b, int):
        if b > 0 and abs(a) > 1:
            digits = b * math.log10(abs(a))
            if digits >= MAX_INT_DIGITS:
                raise ScalarError(_too_many_digits(f"{digits:.0f}" if digits < 1e15
                                                   else f"{digits:.3g}"))
        return a**b  # (a negative exponent is the runtime's error before this)
    try:
        result = a**b
    except OverflowError:
        odd = float(b).is_integer() and int(b) % 2 == 1
        return -math.inf if a < 0 and odd else math.inf
    except ZeroDivisionError:  # 0.0 ** -1: powf's infinity
        return math.inf
    if isinstance(result, complex):  # a negative base, a fractional exponent
        return math.nan
    return result


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
    if n > 0 and len(s) * n > MAX_STRING_CHARS:
        raise ScalarError(f"the string would be {len(s) * n} characters long; strings can "
                          f"have at most {MAX_STRING_CHARS} characters")
    return s * max(n, 0)
