"""Logic and learning on a GPU: the transitive closure of random graphs equals the set-based
oracle (and the CPU), weighted scores equal the CPU's, and a learn block trains to the same
values as on the CPU. Skipped without a GPU."""

from __future__ import annotations

import random
import textwrap

import numpy as np
import pytest

mx = pytest.importorskip("mlx.core")

from tests.logic.oracle import evaluate  # noqa: E402
from tl_core.logic import Atom, Const, KnowledgeBase, Rule, Var  # noqa: E402
from tl_core.runtime import Session  # noqa: E402
from tl_core.runtime.interpreter import gpu_available  # noqa: E402

needs_gpu = pytest.mark.skipif(not gpu_available(), reason="MLX has no GPU here")
pytestmark = pytest.mark.gpu

X, Y, Z = Var("X"), Var("Y"), Var("Z")
TC = [Rule(Atom("TC", (X, Z)), (Atom("E", (X, Z)),)),
      Rule(Atom("TC", (X, Z)), (Atom("E", (X, Y)), Atom("TC", (Y, Z))))]


def closure(device, edges, weights=None):
    with mx.stream(device):
        kb = KnowledgeBase()
        kb.declare_relation("E", [("x", "entity"), ("y", "entity")])
        for i, (a, b) in enumerate(edges):
            kb.add_fact(Atom("E", (Const(a), Const(b))), None if weights is None else weights[i])
        for r in TC:
            kb.add_rule(r)
        sol = kb.query(Atom("TC", (X, Y)))
    return sol


@needs_gpu
@pytest.mark.parametrize("nodes, edges", [(30, 45), (300, 360), (1000, 1200)])
def test_transitive_closure_on_the_gpu_equals_the_oracle(nodes, edges):
    rng = random.Random(nodes)
    es = sorted({(f"n{rng.randrange(nodes)}", f"n{rng.randrange(nodes)}")
                 for _ in range(edges)})
    got = closure(mx.gpu, es)
    if nodes <= 300:
        want = evaluate({"E": set(es)}, TC)["TC"]
        assert set(got.rows) == want
    assert got.rows == closure(mx.cpu, es).rows


@needs_gpu
def test_weighted_closure_scores_on_the_gpu_equal_the_cpu():
    rng = random.Random(3)
    es = sorted({(f"n{rng.randrange(20)}", f"n{rng.randrange(20)}") for _ in range(30)})
    ws = [round(rng.uniform(0.2, 1.0), 3) for _ in es]
    gpu, cpu = closure(mx.gpu, es, ws), closure(mx.cpu, es, ws)
    assert gpu.rows == cpu.rows
    # MLX's CUDA matmuls of float32 use TF32 (10-bit mantissa inputs): an H100 run differed
    # from the CPU by at most 2.4e-3 relative over the fixpoint's soft steps (2026-12-06)
    np.testing.assert_allclose(gpu.scores, cpu.scores, rtol=5e-3, atol=1e-4)


@needs_gpu
def test_learn_on_the_gpu_equals_the_cpu():
    src = textwrap.dedent("""\
        tensor X: float32[4, 2] = [[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [2.0, 1.0]] as float32
        tensor Y: float32[4, 1] = [[1.0], [2.0], [3.0], [5.0]] as float32
        tensor W: float32[2, 1] learnable = zeros([2, 1]) as float32
        learn { objective: mean((X @ W - Y) * (X @ W - Y)), optimizer: adam(lr: 0.1),
                epochs: 50 }
        """)
    out = {}
    for device in ("gpu", "cpu"):
        s = Session(device=device)
        r = s.run(src)
        assert [d.message for d in r.errors if d.severity.value == "error"] == []
        out[device] = np.array(s.interpreter.globals.vars["W"])
    np.testing.assert_allclose(out["gpu"], out["cpu"], rtol=1e-4, atol=1e-5)
