"""What every program in examples/*.tl prints, computed here with NumPy and plain Python
(never from our own runtime's output), compared number by number within float16's
precision (tests/compat/reference.compare). Random programs are checked against a formula
applied to the values they drew. The SmolLM2 examples are checked against NumPy in
test_runtime_examples.py and test_chat_example.py."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest

from tests.compat.reference import T, compare, lines
from tl_core.runtime import Session

ROOT = Path(__file__).resolve().parent.parent.parent
EXAMPLES = ROOT / "examples"
F16 = np.float16


def f16(x: object) -> np.ndarray:
    return np.asarray(x, dtype=np.float32).astype(F16).astype(np.float32)


def run(name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[str, Session]:
    monkeypatch.chdir(tmp_path)
    path = EXAMPLES / f"{name}.tl"
    s = Session(base_dir=path.parent, device="cpu")
    r = s.run(path.read_text(encoding="utf-8"))
    assert [d.message for d in r.errors if d.severity.value == "error"] == []
    return r.stdout, s


def arithmetic() -> str:
    a, b = f16([[1.0, 2.0], [3.0, 4.0]]), f16([[0.5, 0.5], [0.5, 0.5]])
    mm = a @ b
    return lines(" ".join([T(a + b), T(a - b), T(a * b), T(a / b), T(np.fmod(a, b))]),
                 " ".join([T(mm), T(a * b), T(a ** 2), str([2, 2, 2, 2]), T(-a),
                           T(a + b * 2 - mm / 4)]))


def control_flow() -> str:
    def classify(v: float) -> str:
        return "negative" if v < 0 else "zero" if v == 0 else "positive"

    odd = sum(i for i in range(10) if i % 2)
    return lines(f"odd sum: {odd}",
                 f"{classify(-1.0)} {classify(0.0)} {classify(2.0)} {3} {4}")


def functions() -> str:
    h = f16([[1.0, -2.0, 3.0]])
    hidden = np.maximum(h @ np.ones((3, 4)), 0)
    return lines(T(hidden @ np.ones((4, 2))))


def gather() -> str:
    table = f16([[r + c / 10 for c in range(3)] for r in range(5)])
    return lines(f"row: {T(table[2])}", f"rows: {list(table[[1, 2, 3, 4]].shape)}")


def imports() -> str:
    return lines("[4, 2]")  # relu_layer(ones([4, 3]), randn([3, 2])).shape


def indexing() -> str:
    t = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    shapes = [t[0].shape, t[1, :, 1:3].shape, t[:, -1, :].shape, t[0, 1:, :2].shape,
              t[:, :, 1:].shape]
    return lines(" ".join(str(list(s)) for s in shapes) + f" {T(t[0, 0, -1], 'float32')} "
                 f"{list(t[1, ::2].shape)}")


def keyword_args() -> str:
    x = f16([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])

    def softmax(v: np.ndarray, axis: int) -> np.ndarray:
        e = np.exp(v - v.max(axis, keepdims=True))
        return e / e.sum(axis, keepdims=True)

    return lines(" ".join([T(softmax(x, -1)), T(softmax(x, 0)), T(x.sum(1, keepdims=True)),
                           T(np.zeros((2, 3))), T(np.full((2, 2), 0.5))]))


def logic_ops() -> str:
    n = 7
    words = [0 <= n < 10, n in (0, 10), n % 2 != 0, not (0 <= n < 10)]
    return lines(" ".join(str(w).lower() for w in words) + f" {float(n):g} {int(3.5)}")


def main_block() -> str:
    x = np.ones((2, 2)) * 2.0
    return lines(T(x + 1.0), f"x: {T(x)}")


def shapes() -> str:
    x = np.ones((2, 3))
    out = [x.shape, x.T.shape, x.T.shape, x.reshape(3, -1).shape, x[None].shape,
           x[None][0].shape, np.concatenate([x, x], 0).shape, x.ravel().shape]
    return lines(" ".join(str(list(s)) for s in out) + f" {len(x)}")


def strings_numbers() -> str:
    s = "tab\there, quote \" and backslash \\ and newline\n"
    # floats as the original's Rust Display: 1e-5 -> 0.00001, 2.5E+3 -> 2500
    return lines(f"3 -2 3.14 {np.format_float_positional(1e-5, trim='-')} "
                 f"{np.format_float_positional(2.5e3, trim='-')} {s} true false "
                 f"{os.environ['HOME']} 3")


def panic_and_asserts() -> str:
    return lines(f"{1.0 / 4.0}")


def seed_linear() -> str:
    x = f16([[1, 2, 3], [4, 5, 6], [7, 8, 9], [10, 11, 12]])
    w = f16([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]])
    b = f16([0.01, 0.02])
    return lines("Output shape: [4, 2]", f"Output: {T(x @ w + b)}")


EXPECTED = {f.__name__: f for f in (
    arithmetic, control_flow, functions, gather, imports, indexing, keyword_args, logic_ops,
    main_block, shapes, strings_numbers, panic_and_asserts, seed_linear)}
# checked below against a formula on the values they drew (randn), or elsewhere
OTHERS = {"attention", "mlp_block", "tensor_decls", "tests_and_benches", "smollm2_embed",
          "chat_smollm2"}


def test_every_example_has_its_expected_output():
    assert {p.stem for p in EXAMPLES.glob("*.tl")} == set(EXPECTED) | OTHERS


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_prints_what_numpy_computes(name, monkeypatch, tmp_path):
    got, _ = run(name, monkeypatch, tmp_path)
    problem = compare(got, EXPECTED[name](), 2e-3, 2e-3)
    assert problem is None, problem


def test_random_examples_match_their_formula(monkeypatch, tmp_path):
    got, s = run("attention", monkeypatch, tmp_path)
    assert got == "attention: [4, 8]\n"
    g = s.interpreter.globals.vars
    q, k, v = (np.array(g[n]).astype(np.float32) for n in "qkv")
    scores = q @ k.T / math.sqrt(8.0)
    scores = np.where(np.tril(np.ones((4, 4))) > 0, scores, -1e4)
    w = np.exp(scores - scores.max(-1, keepdims=True))
    w /= w.sum(-1, keepdims=True)
    np.testing.assert_allclose(np.array(g["out"]).astype(np.float32), w @ v, rtol=2e-2,
                               atol=2e-2)

    got, s = run("tensor_decls", monkeypatch, tmp_path)
    g = s.interpreter.globals.vars
    w = np.array(g["w"]).astype(np.float32)
    want = np.ones((4, 3), np.float32) @ w
    assert compare(got, lines(T(want)), 2e-3, 4e-3) is None, got

    got, s = run("mlp_block", monkeypatch, tmp_path)
    assert got == "[3, 8]\n"


def test_tests_and_benches_example_passes_its_test():
    from tests.runtime.test_runtime_cli import tl

    r = tl("test", str(EXAMPLES / "tests_and_benches.tl"), "--device", "cpu")
    assert (r.returncode, r.stdout) == (0, "test doubles_values ... passed\n1 passed, 0 failed\n")
