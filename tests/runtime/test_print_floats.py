"""Floats print as the original TensorLogic prints them: Rust's `{}` (Display) for values,
`{:?}` (Debug) inside lists, the original's element rule inside tensors (UPSTREAM.md 15.3,
15.4). The tables are Rust's outputs, written from Rust's formatting rules (shortest
round-trip digits; Display never uses an exponent; Debug keeps `.0` and uses `e` below
1e-4 and from 1e16); the property tests compare with NumPy's Dragon4 shortest digits."""

from __future__ import annotations

import math
import struct
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tl_core.lang.rustfloat import debug, display, tensor_element
from tl_core.runtime import Session

# value -> `format!("{}", value)` for f64
F64_DISPLAY = [
    (1.0, "1"), (2.0, "2"), (0.5, "0.5"), (0.1, "0.1"), (1e-7, "0.0000001"),
    (1e21, "1000000000000000000000"), (0.1 + 0.2, "0.30000000000000004"), (-0.0, "-0"),
    (0.0, "0"), (float("nan"), "NaN"), (float("inf"), "inf"), (float("-inf"), "-inf"),
    (-2.5, "-2.5"), (123456789.0, "123456789"), (1234.5678, "1234.5678"),
    (2.5e-5, "0.000025"), (1e16, "10000000000000000"), (1.5e300, "15" + "0" * 299),
    (sys.float_info.max, "17976931348623157" + "0" * 292),
    (5e-324, "0." + "0" * 323 + "5"), (1 / 3, "0.3333333333333333"),
    (100.0, "100"), (1e-4, "0.0001"),
]
# value (an f32) -> `format!("{}", value as f32)`
F32_DISPLAY = [
    (0.1, "0.1"), (1 / 3, "0.33333334"), (16777216.0, "16777216"), (1e-7, "0.0000001"),
    (3.4028234663852886e38, "340282350000000000000000000000000000000"),
    (1.401298464324817e-45, "0." + "0" * 44 + "1"), (2.0 / 3, "0.6666667"),
    (1e10, "10000000000"), (-1.5, "-1.5"), (0.2, "0.2"), (1.1, "1.1"),
]
# value -> `format!("{:?}", value)` for f64
F64_DEBUG = [
    (1.0, "1.0"), (0.1, "0.1"), (1e-5, "1e-5"), (1e16, "1e16"), (1.5e16, "1.5e16"),
    (1e15, "1000000000000000.0"), (-0.0, "-0.0"), (0.0, "0.0"), (1.5e-7, "1.5e-7"),
    (1e-4, "0.0001"), (float("nan"), "NaN"), (float("-inf"), "-inf"), (2.5, "2.5"),
    (1e300, "1e300"), (-1.25e-10, "-1.25e-10"),
]


@pytest.mark.parametrize("value,text", F64_DISPLAY)
def test_f64_display_matches_rust(value: float, text: str) -> None:
    assert display(value) == text


@pytest.mark.parametrize("value,text", F32_DISPLAY)
def test_f32_display_matches_rust(value: float, text: str) -> None:
    assert display(float(np.float32(value)), 32) == text


@pytest.mark.parametrize("value,text", F64_DEBUG)
def test_f64_debug_matches_rust(value: float, text: str) -> None:
    assert debug(value) == text


def test_tensor_elements_whole_below_1e9_print_as_integers() -> None:
    assert [tensor_element(v, 32) for v in (1.0, -0.0, 2.5, 1e9, 1e10, float("nan"))] == \
        ["1", "0", "2.5", "1000000000", "10000000000", "NaN"]


def _f32(bits: int) -> float:
    return struct.unpack("f", struct.pack("I", bits))[0]


@settings(max_examples=400, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_f32_display_reads_back_and_is_numpys_shortest(bits: int) -> None:
    x = _f32(bits)
    if math.isnan(x):
        return
    text = display(x, 32)
    assert np.float32(text.replace("inf", "Infinity")) == np.float32(x)
    if math.isfinite(x):
        assert text == np.format_float_positional(np.float32(x), unique=True, trim="-")


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**16 - 1))
def test_f16_display_is_numpys_shortest(bits: int) -> None:
    x = float(np.frombuffer(struct.pack("H", bits), np.float16)[0])
    if not math.isfinite(x):
        return
    text = display(x, 16)
    assert np.float16(text) == np.float16(x)
    assert text == np.format_float_positional(np.float16(x), unique=True, trim="-")


@settings(max_examples=300, deadline=None)
@given(st.floats(allow_nan=False))
def test_f64_display_and_debug_read_back(x: float) -> None:
    assert float(display(x)) == x
    assert float(debug(x)) == x
    if x != 0 and math.isfinite(x):
        assert "e" not in display(x)
        assert display(x) == np.format_float_positional(x, unique=True, trim="-")


def run(src: str) -> str:
    r = Session(device="cpu").run(src)
    assert [d.message for d in r.errors] == []
    return r.stdout


def test_print_writes_rust_display_and_debug() -> None:
    out = run('print(2.0, 0.1 + 0.2, 1e-7, 1e21, -0.0, 7 / 2, 7 / 2.0)\n'
              'print([1.0, 2.5, 0.00001], str(2.0))\nprint("x = {}", 0.5)\n')
    assert out == ("2 0.30000000000000004 0.0000001 1000000000000000000000 -0 3 3.5\n"
                   "[1.0, 2.5, 1e-5] 2\nx = 0.5\n")


def test_tensor_elements_print_in_their_own_dtype() -> None:
    out = run("print(f32::ones([2]) / 3.0)\nprint(tensor([0.1, 1.0, -2.0]))\n"
              "print(tensor<float32>([-0.0, 1e10, 1.5e-8]))\nprint(log(tensor([0.0, -1.0])))\n")
    assert out.splitlines() == [
        "tensor([0.33333334, 0.33333334], float32[2], cpu)",
        "tensor([0.1,   1,  -2], float16[3], cpu)",
        "tensor([          0, 10000000000, 0.000000015], float32[3], cpu)",
        "tensor([-inf,  NaN], float16[2], cpu)",
    ]
