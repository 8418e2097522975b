"""Sizes nothing can hold are clear errors before MLX allocates (never an "internal error",
a bad_cast or a crash of the process), and integer literals past Python's digit limit are
syntax errors in `tl run` as in `tl check`."""

from __future__ import annotations

import difflib

import pytest

from tests.runtime.test_runtime_cli import tl
from tests.runtime.test_runtime_interpreter import errors, run
from tl_core.limits import format_bytes, host_memory
from tl_core.runtime.memory import device_memory

DIM_ERROR = "dimension {} is too large: a dimension can be at most 2147483647 (2^31 - 1)"


def too_large(what: str, dims: list[int], dtype: str = "float16", itemsize: int = 2) -> str:
    n = 1
    for d in dims:
        n *= d
    return (f"{what}: {dtype}{dims} needs {format_bytes(n * itemsize)} ({n} elements of "
            f"{itemsize} bytes), more than the {format_bytes(device_memory('cpu'))} of memory "
            f"of the cpu")


def test_cpu_memory_is_this_machines():
    assert device_memory("cpu") == host_memory() > 0


@pytest.mark.parametrize(("src", "col", "dim"), [
    ("let b = zeros([2147483648, 2])", 14, "2147483648"),
    ("let c = ones([100000000000000000000000, 2])", 13, "100000000000000000000000"),
    ("let c = full([10 ** 200], 1.0)", 13, "100000...000 (201 digits)"),
    ("let q = arange(3000000000)", 15, "3000000000"),
    ("let q = arange(30000000000000000000000)", 15, "30000000000000000000000"),
    ("let m = causal_mask(2 ** 40)", 20, str(2**40)),
])
def test_dimensions_past_int32_name_the_limit(src, col, dim):
    assert errors(run(src)) == [(0, col, DIM_ERROR.format(dim))]


def test_tensors_larger_than_memory_are_refused_before_allocation():
    big = 10**7  # 200 TB of float16
    assert errors(run(f"let n = {big}\nlet z = zeros([n, n])")) == [
        (1, 8, too_large("zeros", [big, big]))]
    assert errors(run(f"let n = {big}\nlet z = ones([n, 1]) @ ones([1, n])")) == [
        (1, 8, too_large("the result of @", [big, big]))]
    assert errors(run(f"let n = {big}\nlet z = ones([n, 1]) * ones([1, n])")) == [
        (1, 8, too_large("the result of *", [big, big]))]
    assert errors(run("let z = randn([100000, 100000, 100000])")) == [
        (0, 8, too_large("randn", [100000] * 3))]


def test_float_infinity_cast_to_int():
    assert errors(run("let y = 1e400 as int")) == [(0, 8, "cannot convert inf to int")]


def test_long_literal_is_a_syntax_error_when_run():
    r = run("let x = " + "9" * 5000)
    assert errors(r) == [(0, 8, "this integer literal has 5000 digits; the limit is 4300 "
                                "digits (write a float such as 1e400, or compute the value)")]


def test_tl_run_reports_sizes_and_literals_without_a_crash(tmp_path):
    f = tmp_path / "big.tl"
    f.write_text("let z = zeros([10000000, 10000000])\nprint(z)\n")
    r = tl("run", "big.tl", "--device", "cpu", cwd=tmp_path)
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr == f"big.tl:1:9: error: {too_large('zeros', [10**7, 10**7])}\n"
    f.write_text("let x = " + "1" * 4301 + "\n")
    r = tl("run", "big.tl", "--device", "cpu", cwd=tmp_path)
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr == ("big.tl:1:9: error: this integer literal has 4301 digits; the limit "
                        "is 4300 digits (write a float such as 1e400, or compute the value)\n")


def test_get_tensor_looks_a_name_up_without_listing_the_model(ctx):
    """A loop over every tensor of a model is linear: get_tensor never copies or scans the
    name list (32k tensors took 60 s when it did)."""
    import mlx.core as mx

    from tl_core.models import model_from
    from tl_core.runtime import ops

    model = model_from({f"t{i}": mx.full((2,), float(i)) for i in range(300)})
    listed = []
    all_names = model.names

    def names() -> list[str]:
        listed.append(1)
        return all_names()

    model.names = names
    for i in range(300):
        assert ops.op_get_tensor(ctx, model, f"t{i}").tolist() == [i, i]
    assert listed == []
    with pytest.raises(ops.OpError) as err:
        ops.op_get_tensor(ctx, model, "t3000")
    close = difflib.get_close_matches("t3000", [f"t{i}" for i in range(300)], n=1)
    assert err.value.message == (f'no tensor named "t3000" in the model (300 tensors); did you '
                                 f'mean "{close[0]}"?')


def test_tensor_declaration_without_a_value_is_checked_before_allocation():
    big = 10**7
    assert errors(run(f"tensor w: float16[{big}, {big}]")) == [
        (0, 10, too_large("tensor w", [big, big]))]
    assert errors(run("tensor w: float16[3000000000, 2]")) == [
        (0, 18, DIM_ERROR.format(3000000000))]


def test_a_gather_far_larger_than_its_inputs_is_refused():
    src = "let t = ones([1, 10000000])\nlet ids = zeros([1000000]) as int\nlet g = t[ids]"
    assert errors(run(src)) == [(2, 8, too_large("indexing", [10**6, 10**7]))]


def test_a_cast_that_outgrows_memory_is_refused():
    # one statement, so nothing is evaluated: float16 fits, float64 (4x the bytes) does not
    rows = -(-(device_memory("cpu") // 3 + 1) // 2**20)
    assert errors(run(f"let y = zeros([{rows}, {2**20}]) as float64")) == [
        (0, 8, too_large("as float64", [rows, 2**20], "float64", 8))]


def test_an_allocation_failing_inside_mlx_is_a_clear_error_not_an_internal_one(monkeypatch):
    """Each tensor alone fits, all of them together do not: MLX's allocator fails while the
    statement is evaluated. The H100's own text (issue 17's [200000, 200000] matmul) is
    planted where the interpreter checks a new tensor; the run reports the statement's
    line, how much memory is in use and a fix, never "internal error"."""
    import mlx.core as mx

    from tl_core.runtime import memory

    real = memory.check

    def failing(value, device, what, span=None):
        if tuple(value.shape) == (3, 5):
            raise RuntimeError("cudaMallocAsync(&data, size, stream) failed: out of memory")
        return real(value, device, what, span)

    monkeypatch.setattr(memory, "check", failing)
    monkeypatch.setattr(mx, "get_active_memory", lambda: 80 * 2**30)
    r = run("let a = ones([2, 2])\nlet b = ones([3, 5])\nprint(a)\n")  # at `ones` of line 2 (0-based spans)
    assert errors(r) == [(1, 8, "out of memory on the cpu: this statement's tensors do not "
                                f"fit (80.0 GiB in use by this run's tensors, of the "
                                f"{format_bytes(device_memory('cpu'))} of the cpu); free "
                                "tensors you no longer need (assign something small to their "
                                "names) or use smaller shapes")]
    # any other failure keeps its own message (not called a memory problem)
    monkeypatch.setattr(memory, "check", lambda *a, **k: (_ for _ in ()).throw(
        RuntimeError("[reshape] cannot reshape")))
    assert errors(run("ones([2])")) == [(0, 0, "ones: [reshape] cannot reshape")]
