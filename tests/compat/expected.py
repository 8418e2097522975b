"""The expected output of every program in programs/, computed here from formulas, NumPy,
the `gguf` package (SmolLM2) and plain Python, never from our own runtime's output.

`CASES[name]` is a Case: the expected stdout (compared token by token, numbers within the
tolerances: tests/compat/reference.compare), whether the program runs next to the SmolLM2
file, and which stdout lines to compare (all by default)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tests.compat.reference import (
    T,
    W,
    lines,
    rms,
    rope_pairs,
    silu,
    smol_field,
    smol_reader,
)
from tests.compat.reference import (
    smol_block as block_ref,
)


@dataclass(frozen=True)
class Case:
    expected: Callable[[], str]
    rtol: float = 2e-3
    atol: float = 1e-3
    model: bool = False  # runs next to the SmolLM2 GGUF
    select: Callable[[str], bool] | None = None  # the stdout lines compared
    writes: bool = False  # writes files: runs in a temporary directory (a copy)


CASES: dict[str, Case] = {}


def case(**kw: object) -> Callable[[Callable[[], str]], Callable[[], str]]:
    def add(f: Callable[[], str]) -> Callable[[], str]:
        CASES[f.__name__] = Case(f, **kw)  # type: ignore[arg-type]
        return f
    return add


def trunc_div(a: int, b: int) -> int:
    return int(a / b)


def trunc_rem(a: int, b: int) -> int:
    return int(math.fmod(a, b))


F32 = np.float32


def erf_gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))


def tanh_gelu(x: np.ndarray) -> np.ndarray:
    """The original's gelu (UPSTREAM.md 8)."""
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    e = np.exp(x - x.max(axis, keepdims=True))
    return e / e.sum(axis, keepdims=True)


# -- tutorials -------------------------------------------------------------------------

@case()
def tut_hello() -> str:
    return lines("Hello, TensorLogic!", "x = 42", f"7 / 2 = {trunc_div(7, 2)}",
                 f"-7 / 2 = {trunc_div(-7, 2)}", f"-7 % 3 = {trunc_rem(-7, 3)}",
                 f"7 % -3 = {trunc_rem(7, -3)}", f"2 ** 10 = {2 ** 10}", f"1.5 * 4 = {1.5 * 4}",
                 "hello world true false")


@case()
def tut_tensors() -> str:
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    v = np.array([1.0, 2.0, 3.0, 4.0])
    return lines(f"a = {T(a)}", "shape: [2, 2]", f"a + a = {T(a + a)}", f"a * 2 = {T(a * 2)}",
                 f"a - 1 = {T(a - 1)}", f"a / 4 = {T(a / 4)}",
                 f"declared reshape: {T(v.reshape(2, 2))}", f"zeros: {T(np.zeros((2, 3)))}",
                 f"ones: {T(np.ones(3))}", f"full: {T(np.full(2, 7.0))}", f"v * v = {T(v * v)}")


@case()
def tut_matmul() -> str:
    a = np.array([[1, 2, 3], [4, 5, 6]], F32)
    b = np.array([[7, 8], [9, 10], [11, 12]], F32)
    x = np.array([[1.0], [0.5], [-1.0]], F32)
    return lines(f"A @ B = {T(a @ b, 'float32')}", f"B @ A = {T(b @ a, 'float32')}",
                 f"transpose(A) = {T(a.T, 'float32')}", f"A x = {T(a @ x, 'float32')}")


@case()
def tut_broadcast() -> str:
    x = np.arange(1, 13, dtype=F32).reshape(3, 4)
    bias = np.array([0.5, -0.5, 1.0, -1.0], F32)
    scale = np.array([[1.0], [2.0], [3.0]], F32)
    return lines(f"X + bias = {T(x + bias, 'float32')}", f"X * scale = {T(x * scale, 'float32')}",
                 f"mean over rows: {T(x.mean(0), 'float32')}")


@case()
def tut_reductions() -> str:
    x = np.array([[1, -2, 3], [4, 5, -6]], F32)
    return lines(f"sum: {T(x.sum(), 'float32')}", f"mean: {T(x.mean(), 'float32')}",
                 f"max: {T(x.max(), 'float32')}", f"min: {T(x.min(), 'float32')}",
                 f"sum dim 0: {T(x.sum(0), 'float32')}", f"sum dim 1: {T(x.sum(1), 'float32')}",
                 f"max dim 1: {T(x.max(1), 'float32')}", f"argmax: {T(x.argmax(), 'int64')}")


@case()
def tut_reshape() -> str:
    x = np.arange(24.0)
    y = x.reshape(2, 3, 4)
    t = x.reshape(4, 6).T
    return lines(f"y shape: {list(y.shape)}",
                 f"permute: {list(y.transpose(2, 0, 1).shape)}", "flatten: [24]",
                 f"unsqueeze: {list(x.reshape(1, 4, 6).shape)}", "squeeze: [4, 6]",
                 f"transpose: {list(t.shape)} {T(t[0, 1], 'float32')}",
                 f"element y[1, 2, 3]: {T(y[1, 2, 3], 'float32')}")


@case()
def tut_indexing() -> str:
    m = np.arange(12, dtype=F32).reshape(3, 4)
    return lines(f"row 1: {T(m[1], 'float32')}", f"column 2: {T(m[:, 2], 'float32')}",
                 f"block: {T(m[0:2, 1:3], 'float32')}", f"last row: {T(m[-1], 'float32')}",
                 f"every other: {T(m[:, 0:4:2], 'float32')}", f"element: {T(m[2, 3], 'float32')}")


@case()
def tut_functions() -> str:
    x = np.array([[1.0, -1.0], [2.0, 0.5]], F32)
    w = np.array([[1.0, 2.0, -1.0], [0.5, -1.0, 1.0]], F32)
    b = np.array([0.0, 1.0, -0.5], F32)
    return lines(f"dense: {T(np.maximum(x @ w + b, 0), 'float32')}", f"square(12) = {12 * 12}")


@case()
def tut_control_flow() -> str:
    steps, n = 0, 1
    while n < 1000:
        n, steps = n * 3, steps + 1
    k = next(k for k in range(2, 100) if k * k > 200)
    return lines("negative zero positive",
                 f"sum of even numbers up to 10: {sum(range(0, 11, 2))}",
                 f"3^steps >= 1000: {steps} {n}", f"first k with k*k > 200: {k}")


@case()
def tut_recursion() -> str:
    fib = [0, 1]
    while len(fib) <= 15:
        fib.append(fib[-1] + fib[-2])
    return lines(f"fib(15) = {fib[15]}", f"10! = {math.factorial(10)}",
                 f"gcd(1071, 462) = {math.gcd(1071, 462)}")


@case()
def tut_strings() -> str:
    s = "TensorLogic"
    n = len(s.encode())  # the original's string_length counts UTF-8 bytes
    return lines(f"length: {n} {n}", f"substring: {s[:6]}", f"joined: {s} 2 true",
                 f"repeat: {'ab' * 3}", f"{s} has {n} letters",
                 f"unicode: {len('日本'.encode())} {'日本語'[1:3]}")


@case()
def tut_structs() -> str:
    a, b = (1.0, 2.0), (3.0, -1.0)
    c = (a[0] + b[0], a[1] + b[1])
    w = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]], F32)
    bias = np.array([0.0, 0.5, -1.0], F32)
    x = np.array([[1.0, 2.0]], F32)
    return lines(f"a . b = {a[0] * b[0] + a[1] * b[1]}", f"a + b = {c[0]} {c[1]}",
                 f"scaled: {c[0] * 2} {c[1] * 2}", f"dense: {T(x @ w.T + bias, 'float32')}")


@case()
def tut_match() -> str:
    def describe(n: int) -> str:
        return "zero" if n == 0 else "small" if n in (1, 2, 3) else "large" if n > 100 \
            else "medium"
    return lines(" ".join(describe(n) for n in (0, 2, 50, 500)), "-1 0 1", "b -> 2")


@case()
def tut_vectors() -> str:
    v = [i * i for i in range(5)]
    last = v.pop()
    return lines(f"squares: Vec{[i * i for i in range(5)]} 5", f"popped: {last} left: {len(v)}",
                 f"third: {v[2]}", f"float sum: {0.5 + 1.5}")


def _closure(facts: set[tuple[str, str]]) -> set[tuple[str, str]]:
    out = set(facts)
    while True:
        new = {(a, d) for a, b in out for c, d in facts if b == c} - out
        if not new:
            return out
        out |= new


def _query(text: str, var: str, answers: list[str]) -> list[str]:
    out = [f"Query: {text}", f"  Found {len(answers)} solution(s)"]
    for i, a in enumerate(answers, 1):
        out += [f"  Solution {i}:", f"    {var} = {a}"]
    return out


@case()
def tut_logic() -> str:
    people = ["alice", "bob", "carol", "dave"]
    parent = {("alice", "bob"), ("bob", "carol"), ("carol", "dave")}
    anc = _closure(parent)
    return lines(_query("Ancestor(alice, X)", "X", [p for p in people if ("alice", p) in anc]),
                 _query("Parent(X, dave)", "X", [p for p in people if (p, "dave") in parent]))


@case(select=lambda line: line.startswith(("  w:", "w =")))
def tut_learn() -> str:
    target = np.array([1.0, 2.0])
    w = np.zeros(2)
    for _ in range(3):
        w = w - 0.1 * 2 * (w - target)  # sgd on sum((w - t)^2)
    return lines(f"  w: {w.tolist()}", f"w = {T(w, 'float32')}")


@case(select=lambda line: line.startswith(("w =", "tensor =")))
def tut_tensor_param() -> str:
    w = np.zeros(2)
    for _ in range(5):
        w = w - 0.05 * 4 * (2 * w - 3)  # sgd on sum((2w - 3)^2)
    return lines(f"w = {T(w, 'float32')}", f"tensor = {T(10 * w, 'float32')}")


# -- built-in probes ---------------------------------------------------------------------

@case(rtol=1e-6, atol=0)  # float32 values
def probe_from_array() -> str:
    a = np.array([0.1, 0.2, 0.3, 0.4], F32).reshape(2, 2)
    return lines(f"a: {T(a, 'float32')}", f"a @ a: {T(a @ a, 'float32')}",
                 f"b: {T(np.array([1.5, 2.5]))}", f"arange: {T(np.arange(2.0, 5.0), 'float32')}",
                 f"zeros: {T(np.zeros((2, 3)))}")


@case(rtol=1e-5, atol=1e-6)  # float32 throughout
def probe_candle() -> str:
    x = np.array([[1.0, -2.0, 0.5], [0.0, 1.0, 2.0]])
    lse = np.log(np.exp(x).sum(1, keepdims=True))
    ln = (x - x.mean(1, keepdims=True)) / np.sqrt(x.var(1, keepdims=True) + 1e-5)
    rn = x / np.sqrt((x * x).mean(1, keepdims=True) + 1e-5)
    return lines(f"softmax dim 0: {T(softmax(x, 0), 'float32')}",
                 f"log_softmax: {T(x - lse, 'float32')}", f"transpose: {T(x.T, 'float32')}",
                 f"matmul: {T(x @ x.T, 'float32')}", f"layer_norm: {T(ln, 'float32')}",
                 f"rms_norm: {T(rn, 'float32')}", f"gelu: {T(tanh_gelu(x), 'float32')}")


@case()
def probe_append_buffer() -> str:
    rows = np.repeat(np.arange(3.0)[:, None], 3, axis=1)
    return lines("empty: [0, 3]", "rows: [3, 3]", f"sum: {T(rows.sum(), 'float32')}",
                 f"cache: {T(rows, 'float32')}")


@case(writes=True)
def probe_save_load() -> str:
    w = np.array([[0.1, -2.5, 3.0], [1000.0, 0.333, -0.0]], np.float16)
    d = w * np.float16(2)
    return lines("Saved tensor to: weights.tlt",
                 "Loaded tensor from: weights.tlt (shape: [2, 3])", "shape: [2, 3]",
                 f"back: {T(w)}", f"equal: {T(np.bool_(True), 'bool')}",
                 "Saved tensor to: doubled.tlt",
                 "Loaded tensor from: doubled.tlt (shape: [2, 3])", f"doubled: {T(d)}")


@case()
def probe_tensor_buffer() -> str:
    return lines(f"zeros: {T(np.zeros((2, 3)))}", f"ones: {T(np.ones(3))}",
                 f"sum: {T(np.float16(0 + 3))}", f"scaled: {T(np.ones(4) * 3)}",
                 f"<TensorBuffer: {1024 * 1024} bytes>")


@case()
def tut_tests_in_main() -> str:
    w = np.array([1.0, 2.0, 3.0])
    return lines(f"norm2: {T((w * w).sum())}", "done")  # the test and bench are skipped


@case()
def probe_constraints() -> str:
    x = np.full((3, 4), 2.0, np.float32)
    norm = np.sqrt((x.astype(np.float64) ** 2).sum())
    return lines(f"rank: {x.ndim}", f"norm: {T(np.float32(norm), 'float32')}",
                 f"a is about {0.5}", f"steps: {3}")


@case()
def probe_arange() -> str:
    # float32, as the original (UPSTREAM.md 3.4): exact past 2048, where float16 is not
    return lines(T(np.arange(5.0), "float32"), T(np.arange(2.0, 6.0), "float32"),
                 str(list(range(3))), f"sum 2..6 = {sum(range(2, 7))}",
                 T(np.arange(3.0), "float32"), T(np.arange(2049, 2052, dtype=F32), "float32"),
                 T(np.arange(4097, 4100, dtype=F32), "float32"),
                 T(np.arange(3, dtype=np.float16)))


@case()
def probe_rounding() -> str:
    x = np.array([-1.7, -0.5, -0.2, 0.3, 1.5, 2.6], F32)
    half_away = np.sign(x) * np.floor(np.abs(x) + 0.5)
    return lines(f"floor: {T(np.floor(x), 'float32')}", f"ceil: {T(np.ceil(x), 'float32')}",
                 f"round: {T(half_away, 'float32')}", f"abs: {T(np.abs(x), 'float32')}")


@case()
def probe_gather_scatter() -> str:
    x = np.arange(1, 10, dtype=F32).reshape(3, 3)
    g0 = np.take_along_axis(x, np.array([[2, 0, 1], [1, 1, 0]]), 0)
    g1 = np.take_along_axis(x, np.array([[0, 0], [2, 1], [1, 2]]), 1)
    s = x.copy()
    np.put_along_axis(s, np.array([[2, 0, 1]]), np.array([[10.0, 20.0, 30.0]], F32), 0)
    return lines(f"gather dim 0: {T(g0, 'float32')}", f"gather dim 1: {T(g1, 'float32')}",
                 f"scatter dim 0: {T(s, 'float32')}")


@case()
def probe_split_chunk() -> str:
    pieces = [list(p.shape) for p in np.split(np.arange(10.0).reshape(10, 1), [4, 8])]
    n, k = 7, 3
    size = -(-n // k)
    chunks = [np.arange(7.0)[i:i + size] for i in range(0, n, size)]
    return lines(f"split pieces: {len(pieces)}", [str(p) for p in pieces],
                 f"chunk pieces: {len(chunks)}",
                 f"{T(chunks[0], 'float32')} {T(chunks[-1], 'float32')}")


@case()
def probe_concat_slice() -> str:
    a = np.array([[1.0, 2.0], [3.0, 4.0]], F32)
    b = np.array([[5.0, 6.0], [7.0, 8.0]], F32)
    m = np.concatenate([a, b], 1)
    return lines(f"dim 0: {T(np.concatenate([a, b], 0), 'float32')}",
                 f"dim 1: {T(m, 'float32')}", "list: [6, 2]",
                 f"slice 3 args: {T(m.flatten()[2:5])}", f"slice 4 args: {T(m[1, 1:3])}",
                 f"slice_last: {T(m[-1], 'float32')}")


@case()
def probe_masks() -> str:
    mask = np.tril(np.ones((4, 4)))
    scores = np.ones((4, 4)) + (1 - mask) * -1e4
    p = softmax(scores)
    return lines(f"mask: {T(mask)}", f"attention: {T(p)}", f"row sums: {T(p.sum(1))}")


@case()
def probe_padding_mask() -> str:
    pad = (np.arange(4)[None, :] < np.array([2, 4, 1])[:, None]).astype(float)
    causal_row = np.tril(np.ones((4, 4)))[2]
    return lines(f"padding: {T(pad)}", f"combined: {T(pad * causal_row)}")


@case()
def probe_positional_encoding() -> str:
    pos = np.arange(4)[:, None]
    i = np.arange(6)[None, :]
    angle = pos / 10000 ** (i / 6)
    pe = np.where(i % 2 == 0, np.sin(angle), np.cos(angle))
    return lines("[4, 6]", T(pe, "float32"))


@case(atol=2e-3)
def probe_rope() -> str:
    x = (np.arange(32) / 10.0).reshape(4, 2, 4)
    return lines(T(rope_pairs(x, 10000.0), "float32"),
                 f"offset 2: {T(rope_pairs(x, 10000.0, 2)[0], 'float32')}")


@case()
def probe_rope_tables() -> str:
    t = np.arange(8)[:, None]
    j = np.arange(4)[None, :]
    cos = np.cos(t * 10000.0 ** (-2 * (j // 2) / 4))  # each pair's frequency, twice
    return lines("[8, 4] [8, 4]", f"tables agree: {T(np.array(True), 'bool')}",
                 T(cos, "float32"))


@case()
def probe_softmax() -> str:
    s = np.array([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]])
    return lines(f"last axis: {T(softmax(s), 'float32')}", f"axis 0: {T(softmax(s, 0), 'float32')}")


@case()
def probe_norms() -> str:
    x = np.array([[1.0, 2.0, 3.0, 4.0], [-1.0, 0.0, 1.0, 6.0]])
    g = np.array([1.0, 0.5, 2.0, 1.0])
    b = np.array([0.0, 0.1, 0.0, -0.1])

    def ln(v: np.ndarray, eps: float = 1e-5) -> np.ndarray:
        mu = v.mean(-1, keepdims=True)
        return (v - mu) / np.sqrt(((v - mu) ** 2).mean(-1, keepdims=True) + eps)
    return lines(f"rms_norm: {T(rms(x, g, 1e-6), 'float32')}",  # the original's eps 1e-6
                 f"rms_norm eps 0.5: {T(rms(x, g, 0.5), 'float32')}",
                 f"layer_norm: {T(ln(x) * g + b, 'float32')}",
                 f"plain layer_norm: {T(ln(x), 'float32')}")


@case(rtol=2e-5, atol=1e-7)  # float32 throughout; gelu's two forms differ by 2e-3 at -2
def probe_activations() -> str:
    x = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    return lines(f"relu: {T(np.maximum(x, 0), 'float32')}",
                 f"sigmoid: {T(1 / (1 + np.exp(-x)), 'float32')}",
                 f"tanh: {T(np.tanh(x), 'float32')}", f"gelu: {T(tanh_gelu(x), 'float32')}",
                 f"gelu exact: {T(erf_gelu(x), 'float32')}",
                 f"silu: {T(silu(x), 'float32')}")


@case()
def probe_einsum() -> str:
    a = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    b = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    s = np.arange(1.0, 10.0).reshape(3, 3)
    return lines(f"ij,jk->ik: {T(a @ b, 'float32')}", f"ij->ji: {T(a.T, 'float32')}",
                 f"ii->i: {T(np.diag(s), 'float32')}", f"ij->: {T(a.sum(), 'float32')}",
                 f"i,j->ij: {T(np.outer([1.0, 2.0], [3.0, 4.0, 5.0]), 'float32')}")


@case()
def probe_scalars() -> str:
    return lines(f"{trunc_div(17, 5)} {trunc_div(-17, 5)} {trunc_rem(17, 5)} {trunc_rem(-17, 5)}",
                 f"{int(3.99)} {int(-3.99)} {int(7.6)}", "20 40", "12|false",
                 f"{7 / 2} {int(7.9)}")


@case()
def probe_asserts() -> str:
    assert abs(0.1 + 0.2 - 0.3) < 1e-6
    return lines("all assertions passed")


@case()
def probe_sampling() -> str:
    logits = np.array([1.0, 5.0, 3.0, 5.0, -2.0, 4.0])
    greedy = len(logits) - 1 - int(np.argmax(logits[::-1]))  # the last maximal index
    kth = np.sort(logits)[-3]
    kept = np.where(logits >= kth, logits, -np.inf)
    return lines(f"greedy: {greedy}", f"top 3: {T(kept, 'float32')}",
                 f"greedy 2-D (last row): {int(np.argmax([0.0, 2.0]))}")


@case()
def probe_embedding() -> str:
    table = np.array([[r + c / 10 for c in range(3)] for r in range(5)])
    return lines(T(table[[4, 0, 2, 2]], "float32"), "[2, 2, 3]")


@case()
def probe_fused() -> str:
    x = np.array([[1.0, -2.0, 0.5], [0.0, 1.0, 2.0]])
    w = np.array([[0.5, 1.0, -1.0], [2.0, 0.0, 1.0]])
    b = np.array([0.1, -0.2])
    return lines(f"linear: {T(x @ w.T + b, 'float32')}",
                 f"fused_affine: {T(x * [2.0, 1.0, 0.5] + [1.0, 0.0, -1.0], 'float32')}",
                 f"fused_add_relu: {T(np.maximum(x + x * 0.5, 0), 'float32')}",
                 f"fused_mul_relu: {T(np.maximum(x * x, 0), 'float32')}",
                 f"fused_gelu_linear: {T(tanh_gelu(x) @ w.T + b, 'float32')}")


@case()
def probe_math() -> str:
    x = np.array([0.25, 1.0, 2.0, 4.0])
    return lines(f"exp: {T(np.exp(x), 'float32')}", f"log: {T(np.log(x), 'float32')}",
                 f"sqrt: {T(np.sqrt(x), 'float32')}", f"pow 3: {T(x ** 3, 'float32')}",
                 f"sin: {T(np.sin(x), 'float32')}", f"cos: {T(np.cos(x), 'float32')}")


# -- SmolLM2 demos (the GGUF read by the gguf package) -----------------------------------

IDS = [1, 9690, 198, 2683, 314, 260, 3458]


def eps() -> float:
    return float(smol_field("llama.attention.layer_norm_rms_epsilon"))


@case(model=True)
def smol_inspect() -> str:
    f = smol_field
    names = [t.name for t in smol_reader().tensors]
    return lines(f"architecture: {f('general.architecture')}",
                 f"layers: {f('llama.block_count')}",
                 f"heads: {f('llama.attention.head_count')} kv heads: "
                 f"{f('llama.attention.head_count_kv')}",
                 f"embedding: {f('llama.embedding_length')} ffn: "
                 f"{f('llama.feed_forward_length')}",
                 f"rope base: {f('llama.rope.freq_base')}", f"tensors: {len(names)}",
                 f"token_embd: {list(W('token_embd.weight').shape)}")


@case(model=True)
def smol_navigate() -> str:
    def s(name: str) -> list[int]:
        return list(W(name).shape)
    params = sum(np.prod(W(f"blk.{i}.attn_q.weight").shape) +
                 np.prod(W(f"blk.{i}.ffn_gate.weight").shape) for i in range(30))
    return lines(f"attn_q: {s('blk.0.attn_q.weight')}", f"attn_k: {s('blk.0.attn_k.weight')}",
                 f"attn_v: {s('blk.0.attn_v.weight')}",
                 f"attn_output: {s('blk.0.attn_output.weight')}",
                 f"ffn_gate: {s('blk.0.ffn_gate.weight')}",
                 f"ffn_down: {s('blk.0.ffn_down.weight')}",
                 f"output_norm: {s('output_norm.weight')}",
                 f"q and gate parameters in 30 blocks: {int(params)}")


@case(model=True, rtol=1e-3, atol=2e-3)
def smol_embed() -> str:
    x = W("token_embd.weight")[IDS[:5]]
    return lines("embeddings: [5, 576]", f"row sums: {T(x.sum(1), 'float32')}",
                 f"first values: {T(x[0:2, 0:3], 'float32')}")


@case(model=True, rtol=1e-2, atol=2e-3)
def smol_rmsnorm() -> str:
    x = W("token_embd.weight")[IDS[:3]]
    h = rms(x, W("blk.0.attn_norm.weight"), eps())
    unit = rms(x, 1.0, eps())[0]
    return lines(f"normed: {T(h[:, 0:4], 'float32')}",
                 f"mean square before gain (row 0): {T((unit * unit).mean())}")


@case(model=True, rtol=1e-2, atol=1e-2)
def smol_qkv() -> str:
    x = W("token_embd.weight")[IDS[:4]]
    h = rms(x, W("blk.0.attn_norm.weight"), 1e-5)
    q = h @ W("blk.0.attn_q.weight").T
    k = h @ W("blk.0.attn_k.weight").T
    return lines("q, k, v: [4, 576] [4, 192] [4, 192]", "q heads: [4, 9, 64] k heads: [4, 3, 64]",
                 f"q[3, 0:4]: {T(q[3, 0:4], 'float32')}", f"k[3, 0:4]: {T(k[3, 0:4], 'float32')}")


@case(model=True, rtol=2e-2, atol=3e-2)
def smol_block() -> str:
    out = block_ref(W("token_embd.weight")[IDS], 0)
    return lines("block output: [7, 576]", f"last row: {T(out[6, 0:6], 'float32')}")


@case(model=True)
def smol_next_token() -> str:
    vocab = smol_field("tokenizer.ggml.tokens")
    ids = [vocab.index(p) for p in ("The", "Ġcapital", "Ġof", "ĠFrance", "Ġis")]
    x = W("token_embd.weight")[ids]
    for i in range(30):
        x = block_ref(x, i)
    logits = rms(x[-1:], W("output_norm.weight"), eps()) @ W("token_embd.weight").T
    top2 = np.sort(logits[0])[-2:]
    assert top2[1] - top2[0] > 1.0, "a near tie: float16 could pick either"
    best = int(np.argmax(logits[0]))
    return lines("logits: [1, 49152]", f"next token: {best} {vocab[best].replace('Ġ', ' ')}")


@case(model=True)
def smol_tokenizer() -> str:
    vocab = smol_field("tokenizer.ggml.tokens")
    ids = [vocab.index("Hello"), vocab.index("Ġworld")]  # the GGUF's own pieces
    return lines(f"ids: {T(np.array(ids), 'int32')}", "text: Hello world",
                 "The quick brown fox jumps over the lazy dog.")


@case(model=True, rtol=1e-5, atol=1e-3)
def smol_layer_norms() -> str:
    total = sum(int(W(f"blk.{i}.ffn_norm.weight").astype(np.float64).sum() * 1000)
                for i in range(30))
    return lines(f"sum of ffn_norm weights x 1000 (truncated per layer): {float(total)}",
                 f"layer 29 attn_norm mean: {T(W('blk.29.attn_norm.weight').mean(), 'float32')}")


@case(model=True)
def smol_tied_head() -> str:
    x = W("token_embd.weight")[[2683]]
    logits = rms(x, W("output_norm.weight"), eps()) @ W("token_embd.weight").T
    return lines("logits: [1, 49152]", f"argmax: {T(np.argmax(logits), 'int64')}")
