"""Floats as the original TensorLogic prints them: Rust's `{}` (Display) and `{:?}` (Debug).

Display (UPSTREAM.md 15.4) writes the shortest decimal that reads back as the same value,
never in exponent form and without a trailing `.0`: `2.0 -> 2`, `1e-7 -> 0.0000001`,
`1e21 -> 1000000000000000000000`, `-0.0 -> -0`, NaN -> `NaN`, infinities `inf`/`-inf`.
The shortest digits are those of the value's own type: an f32 0.1 prints `0.1` (f32
Display), not the f64 widening `0.10000000149011612`.

Debug (floats inside lists, 15.3) always shows a fraction (`1.0`) and switches to exponent
form below 1e-4 and from 1e16 on (`1e-5`, `1.5e16`).
"""

from __future__ import annotations

import math
import struct
from decimal import Decimal

# struct codes of the binary formats: the value must read back through them unchanged
_FORMATS = {16: "e", 32: "f", 64: "d"}
_MAX_DIGITS = {16: 5, 32: 9, 64: 17}


def _round_trips(text: str, x: float, code: str) -> bool:
    try:
        return struct.unpack(code, struct.pack(code, float(text)))[0] == x
    except OverflowError:
        return False


def shortest_digits(x: float, bits: int = 64) -> tuple[str, int]:
    """The shortest decimal digits `d` and exponent `e` with `int(d) * 10**e` reading back
    as `x` (finite, positive) in the `bits`-wide float format; the closest such decimal
    when several have that length."""
    if bits == 64:
        t = Decimal(repr(x)).as_tuple()  # Python's repr is the shortest round trip
        digits, exp = "".join(map(str, t.digits)), int(t.exponent)
    else:
        code = _FORMATS[bits]
        exact = Decimal(x)
        digits, exp = "", 0
        for p in range(1, _MAX_DIGITS[bits] + 1):
            t = Decimal(f"{x:.{p - 1}e}").as_tuple()
            unit = int(t.exponent)
            mid = int("".join(map(str, t.digits)))
            # the correctly rounded candidate (half to even), and its neighbours: next to a
            # power of two the interval that reads back is lopsided, so a neighbour may fit
            # where it does not; on a tie of distance the rounded one stays (min is stable)
            fits = [c for c in (mid, mid - 1, mid + 1)
                    if c > 0 and _round_trips(f"{c}e{unit}", x, code)]
            if fits:
                best = min(fits, key=lambda c: abs(Decimal(f"{c}e{unit}") - exact))
                digits, exp = str(best), unit
                break
        if not digits:  # cannot happen for a finite value of the format
            return shortest_digits(x, 64)
    stripped = digits.rstrip("0") or "0"
    return stripped, exp + len(digits) - len(stripped)


def _positional(digits: str, exp: int) -> str:
    if exp >= 0:
        return digits + "0" * exp
    k = len(digits) + exp  # digits before the point
    if k > 0:
        return f"{digits[:k]}.{digits[k:]}"
    return f"0.{'0' * -k}{digits}"


def display(x: float, bits: int = 64) -> str:
    """Rust's `{}` of an f64 (bits=64), f32 (32) or f16 (16) value."""
    if math.isnan(x):
        return "NaN"
    sign = "-" if math.copysign(1.0, x) < 0 else ""
    if math.isinf(x):
        return f"{sign}inf"
    if x == 0:
        return f"{sign}0"
    return sign + _positional(*shortest_digits(abs(x), bits))


def debug(x: float) -> str:
    """Rust's `{:?}` of an f64: `1.0`, `0.5`, `1e-5`, `1.5e16`."""
    if math.isnan(x) or math.isinf(x):
        return display(x)
    sign = "-" if math.copysign(1.0, x) < 0 else ""
    if x == 0:
        return f"{sign}0.0"
    a = abs(x)
    digits, exp = shortest_digits(a)
    if 1e-4 <= a < 1e16:
        text = _positional(digits, exp)
        return sign + (text if "." in text else text + ".0")
    point = len(digits) - 1 + exp  # the exponent of the first digit
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{sign}{mantissa}e{point}"


def tensor_element(x: float, bits: int) -> str:
    """One element of a printed tensor (UPSTREAM.md 15.3): a whole value below 1e9 in
    magnitude as an integer (`1`, and `-0` as `0`), any other with `display`."""
    if math.isfinite(x) and x == int(x) and abs(x) < 1e9:
        return str(int(x))
    return display(x, bits)
