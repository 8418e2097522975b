"""The interpreter's speed caches keep the language's meaning (issue 13): call-site binding
plans of built-ins, tensors of statements inside functions started in batches."""

from __future__ import annotations

import textwrap

import mlx.core as mx
import numpy as np

from tl_core.runtime import Session
from tl_core.runtime import interpreter as I


def run(src: str, session: Session | None = None):
    s = session or Session(device="cpu")
    r = s.run(textwrap.dedent(src))
    assert [d.message for d in r.errors if d.severity.value == "error"] == []
    return r


# -- built-in call plans ------------------------------------------------------------------


def test_one_call_site_calling_different_builtins_through_a_name():
    r = run("""\
        let x = tensor<float32>([-1.0, 2.0])
        for f in [relu, sigmoid, exp] { print(f(x)) }
        """)
    x = np.array([-1.0, 2.0], np.float32)
    lines = r.stdout.splitlines()
    for line, want in zip(lines, [np.maximum(x, 0), 1 / (1 + np.exp(-x)), np.exp(x)],
                          strict=True):
        got = [float(v) for v in line[line.index("[") + 1:line.index("]")].split(",")]
        np.testing.assert_allclose(got, want, rtol=1e-3)


def test_repeated_call_sites_with_keywords_variadics_and_receivers():
    r = run("""\
        let x = tensor<float32>([[1.0, 2.0], [3.0, 4.0]])
        for i in range(3) {
            print("step", i, sum(x, dim: i % 2), x.sum(dim: 0), end: ";")
        }
        """)
    assert r.stdout == (
        "step 0 tensor([4., 6.], float32[2], cpu) tensor([4., 6.], float32[2], cpu);"
        "step 1 tensor([3., 7.], float32[2], cpu) tensor([4., 6.], float32[2], cpu);"
        "step 2 tensor([4., 6.], float32[2], cpu) tensor([4., 6.], float32[2], cpu);")


def test_a_binding_error_is_reported_at_each_run_of_the_site():
    s = Session(device="cpu")
    for _ in range(2):
        r = s.run("let y = softmax(tensor<float32>([1.0]), nope: 1)")
        assert [d.message for d in r.errors][-1].startswith(
            "softmax() has no parameter named 'nope'")


def test_an_op_error_points_at_its_argument_through_the_plan():
    s = Session(device="cpu")
    r = s.run('let m = load_model("no/such/file.safetensors")')
    (d,) = [d for d in r.errors if d.severity.value == "error"]
    assert (d.span.line, d.span.col) == (0, 19)  # the path argument


def test_plans_table_starts_over_when_full(monkeypatch):
    monkeypatch.setattr(I, "_MAX_PLANS", 3)
    s = Session(device="cpu")
    r = run("""\
        let x = tensor<float32>([1.0, 4.0])
        print(sqrt(x), exp(x * 0.0), relu(x), abs(x), floor(x))
        """, s)
    assert r.stdout.startswith("tensor([1., 2.], float32[2], cpu)")
    assert len(s._interp._plans) <= 3


# -- statements inside functions start their tensors in batches -----------------------------


def test_function_statements_are_started_in_batches_and_flushed_by_the_top_level(monkeypatch):
    batches: list[int] = []
    real = mx.async_eval

    def counting(*arrays):
        batches.append(len(arrays[0]) if len(arrays) == 1 and isinstance(arrays[0], list)
                       else len(arrays))
        return real(*arrays)

    monkeypatch.setattr(I.mx, "async_eval", counting)
    s = Session(device="cpu")
    r = run("""\
        fn grow(x: float32[N], n: int) -> float32[N] {
            let acc = x
            for i in range(n) {
                acc = acc + x
            }
            return acc
        }
        let y = grow(tensor<float32>([1.0, 2.0]), 300)
        print(y)
        """, s)
    assert r.stdout == "tensor([301., 602.], float32[2], cpu)\n"
    # 300 loop statements inside the function: batches of SETTLE_STATEMENTS, then the
    # top-level `let` starts the rest with its own value (graphs stay bounded in the loop)
    assert batches[:2] == [I.SETTLE_STATEMENTS, I.SETTLE_STATEMENTS]
    assert batches[2] == 301 - 2 * I.SETTLE_STATEMENTS + 1
    assert s._interp._pending == []


def test_large_tensors_inside_functions_are_started_by_bytes(monkeypatch):
    batches: list[int] = []
    real = mx.async_eval

    def counting(arrays):
        batches.append(len(arrays))
        return real(arrays)

    monkeypatch.setattr(I.mx, "async_eval", counting)
    monkeypatch.setattr(I, "SETTLE_BYTES", 3 * 4096 * 4)
    run("""\
        fn f(x: float32[N], tag: string) -> float32[N] {
            let a = x + 1.0
            let b = a + 1.0
            let c = b + 1.0
            let d = c + 1.0
            return d
        }
        let y = f(zeros([4096]) as float32, "not compiled: a string parameter")
        """)
    assert batches[0] == 3  # a, b, c reach the byte limit together
