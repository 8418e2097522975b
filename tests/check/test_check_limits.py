"""The checker types what it cannot afford to compute, and reports sizes nothing can hold:
bounded constant folding, integer literals past Python's digit limit, dimensions past
MLX's int32, tensors larger than this machine's memory."""

from __future__ import annotations

import threading

import pytest

from tl_core.check import analyze
from tl_core.check.checker import Checker
from tl_core.cli import main
from tl_core.diagnostics import Severity
from tl_core.limits import format_bytes, host_memory


def errors(text: str) -> list[tuple[int, int, str]]:
    a = analyze(text)
    return [(d.span.line, d.span.col, d.message) for d in a.diagnostics
            if d.severity == Severity.ERROR]


def analyze_within(text: str, seconds: float = 60.0):
    """analyze() in a thread; a hang is a failure, not a stuck test run."""
    out: list[object] = []
    t = threading.Thread(target=lambda: out.append(analyze(text)), daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), "analyze did not finish: the checker computed a huge value"
    return out[0]


def test_tower_of_powers_in_an_uncalled_function_is_typed_not_computed():
    a = analyze_within("fn f() -> int {\n    return 10 ** 10 ** 10\n}\nlet x = 10 ** 10 ** 10\n")
    assert [d for d in a.diagnostics if d.severity == Severity.ERROR] == []


@pytest.mark.parametrize(("op", "a", "b"), [
    ("**", 10, 10**10), ("**", 2, 64), ("**", -3, 1000), ("*", 2**62, 4), ("+", 2**63 - 1, 1),
    ("-", -(2**63), 1), ("**", 10**30, 1), ("*", 10**4000, 1), ("**", -8, 0.5),
])
def test_fold_leaves_values_beyond_int64_unknown(op, a, b):
    name = "int" if isinstance(a, int) and isinstance(b, int) else "float"
    assert Checker.fold(op, a, b, name) is None


@pytest.mark.parametrize(("op", "a", "b", "value"), [
    ("**", 2, 62, 2**62), ("**", 1, 10**12, 1), ("**", -1, 10**12 + 1, -1), ("**", 0, 10**12, 0),
    ("*", 2**31, 2**31, 2**62), ("+", 2**63 - 2, 1, 2**63 - 1), ("-", -(2**63) + 1, 1, -(2**63)),
    ("**", 2.0, 0.5, 2**0.5), ("%", -7, 3, -1), ("/", -7, 2, -3),  # UPSTREAM.md 6.1: truncation, left sign
])
def test_fold_still_computes_modest_values(op, a, b, value):
    name = "int" if isinstance(value, int) else "float"
    assert Checker.fold(op, a, b, name) == value


def test_float_cast_of_infinity_is_unknown_not_a_crash():
    a = analyze("let y = 1e400 as int\nlet z = 1e300 as int\n")
    assert [d.message for d in a.diagnostics] == []


LONG = "9" * 5000
LITERAL_ERROR = ("this integer literal has 5000 digits; the limit is 4300 digits (write a "
                 "float such as 1e400, or compute the value)")


def test_integer_literal_over_4300_digits_is_a_syntax_error():
    assert errors(f"let x = {LONG}\n") == [(0, 8, LITERAL_ERROR)]
    # in a pattern and in a type, too
    assert errors(f"let x = match 1 {{ -{LONG} => 1, _ => 2 }}\n") == [(0, 19, LITERAL_ERROR)]
    assert errors(f"let t: float16[{LONG}] = zeros([1])\n") == [(0, 15, LITERAL_ERROR)]
    # 4300 digits still read
    assert errors(f"let x = {'9' * 4300}\n") == []


def test_tl_check_reports_the_long_literal(tmp_path, capsys):
    f = tmp_path / "big.tl"
    f.write_text(f"let x = {LONG}\n")
    assert main(["check", str(f)]) == 1
    assert capsys.readouterr().out == f"{f}:1:9: error: {LITERAL_ERROR}\n"


DIM_ERROR = "dimension {} is too large: a dimension can be at most 2147483647 (2^31 - 1)"


def test_dimensions_past_int32_name_the_limit():
    assert errors("let b = zeros([2147483648, 2])\n") == [(0, 8, DIM_ERROR.format(2147483648))]
    assert errors("let c = ones([100000000000000000000000, 2])\n") == [
        (0, 8, DIM_ERROR.format(100000000000000000000000))]
    # a computed size past int64 is not folded: the runtime reports it
    assert errors("let c = ones([10 ** 200])\n") == []
    assert errors("let ok = zeros([2147483647, 0])\n") == []


def too_large(dims: list[int], dtype: str = "float16", itemsize: int = 2) -> str:
    n = 1
    for d in dims:
        n *= d
    return (f"{dtype}{dims} needs {format_bytes(n * itemsize)} ({n} elements of {itemsize} "
            f"bytes), more than the {format_bytes(host_memory())} of memory of this machine")


def test_tensor_larger_than_memory_is_reported_where_it_is_made():
    big = 10**7  # 200 TB of float16: more than any machine
    assert errors(f"let z = zeros([{big}, {big}])\nlet w = z + 1\n") == [
        (0, 8, too_large([big, big]))]
    assert errors("let a = ones([10000000, 1]) @ ones([1, 10000000])\n") == [
        (0, 8, too_large([big, big]))]
    assert errors("let a = ones([10000000, 1]) * ones([1, 10000000])\n") == [
        (0, 8, too_large([big, big]))]
    assert errors("let ok = zeros([1000, 1000])\n") == []


def test_unknown_sizes_are_not_reported():
    assert errors("fn f(n: int) -> float16[?, ?] {\n    return zeros([n, n])\n}\n") == []


def test_tensor_declaration_without_a_value_is_made_by_the_runtime():
    big = 10**7
    assert errors(f"tensor w: float16[{big}, {big}]\n") == [(0, 10, too_large([big, big]))]
    assert errors("tensor w: float16[3000000000, 2]\n") == [
        (0, 10, DIM_ERROR.format(3000000000))]
    assert errors("tensor w: float16[1000, 1000]\n") == []
