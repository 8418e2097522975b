"""`learn` blocks: gradient descent checked against the same descent written in NumPy."""

from __future__ import annotations

import math
import re
import textwrap

import numpy as np
import pytest

from tl_core.runtime import Session

RNG = np.random.default_rng(7)
# multiples of 1/32: exact in float16, the type of a literal before its declared type
X = np.round(RNG.normal(size=(12, 3)) * 32) / 32
Y = np.round((X @ np.array([[1.5], [-2.0], [0.5]]) + 0.3 +
              RNG.normal(scale=0.1, size=(12, 1))) * 32) / 32


def lit(a: np.ndarray) -> str:
    return "[" + ", ".join(lit(r) if r.ndim else repr(float(r)) for r in a) + "]"


def program(optimizer: str, epochs: int, extra: str = "") -> str:
    return textwrap.dedent(f"""\
        tensor X: float32[12, 3] = {lit(X)}
        tensor Y: float32[12, 1] = {lit(Y)}
        tensor W: float32[3, 1] learnable = zeros([3, 1]) as float32
        tensor b: float32[1] learnable = zeros([1]) as float32
        learn {{
            let err = X @ W + b - Y
            objective: mean(err * err),
            optimizer: {optimizer},
            epochs: {epochs}{extra}
        }}
        """)


def run(src: str):
    s = Session(device="cpu")
    r = s.run(src)
    errs = [d.message for d in r.errors if d.severity.value == "error"]
    return s, r, errs


def trained(s: Session, name: str) -> np.ndarray:
    return np.array(s.interpreter.globals.vars[name])


def losses(stdout: str) -> list[float]:
    return [float(m) for m in re.findall(r"Loss = ([-0-9.]+)", stdout)]


def numpy_descent(steps: int, update) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """Gradient descent on mean((XW + b - Y)^2) with the closed-form gradient."""
    w, b = np.zeros((3, 1)), np.zeros(1)
    seen = []
    for t in range(steps):
        err = X @ w + b - Y
        seen.append(float(np.mean(err ** 2)))
        gw, gb = 2 * X.T @ err / len(X), np.array([2 * err.mean()])
        w, b = update(t, w, gw, "W"), update(t, b, gb, "b")
    return w, b, seen


def test_sgd_matches_numpy_gradient_descent():
    s, r, errs = run(program("sgd(lr: 0.05)", 40))
    assert errs == []
    w, b, seen = numpy_descent(40, lambda t, p, g, n: p - 0.05 * g)
    assert np.allclose(trained(s, "W"), w, atol=1e-5)
    assert np.allclose(trained(s, "b"), b, atol=1e-5)
    assert losses(r.stdout) == pytest.approx(seen, abs=2e-6)


def test_learn_inside_main_trains_as_at_the_top_level():
    """The original allows `learn { }` inside main (it was a syntax error here)."""
    top = program("sgd(lr: 0.05)", 4)
    head, _, rest = top.partition("learn {")
    body = "learn {" + rest
    nested = head + "main {\n" + textwrap.indent(body, "    ") + "}\n"
    s, r, errs = run(nested)
    assert errs == []
    w, b, seen = numpy_descent(4, lambda t, p, g, n: p - 0.05 * g)
    assert np.allclose(trained(s, "W"), w, atol=1e-5)
    assert losses(r.stdout) == pytest.approx(seen, abs=2e-6)


def test_adam_matches_numpy_adam_with_the_originals_defaults():
    s, r, errs = run(program("adam(lr: 0.1)", 30))
    assert errs == []
    state: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def adam(t, p, g, n, b1=0.9, b2=0.999, eps=1e-3):  # eps 1e-3: the original's default
        m, v = state.get(n, (np.zeros_like(p), np.zeros_like(p)))
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
        state[n] = (m, v)
        mh, vh = m / (1 - b1 ** (t + 1)), v / (1 - b2 ** (t + 1))
        return p - 0.1 * mh / (np.sqrt(vh) + eps)

    w, b, seen = numpy_descent(30, adam)
    assert np.allclose(trained(s, "W"), w, atol=1e-4)
    assert losses(r.stdout) == pytest.approx(seen, abs=2e-5)  # float32 against float64


def test_linear_regression_converges_to_least_squares():
    s, r, errs = run(program("adam(lr: 0.05)", 600))
    assert errs == []
    A = np.hstack([X, np.ones((len(X), 1))])
    coef, *_ = np.linalg.lstsq(A, Y, rcond=None)
    got = np.concatenate([trained(s, "W").ravel(), trained(s, "b")])
    assert np.allclose(got, coef.ravel(), atol=1e-2)


@pytest.mark.parametrize("sched, rate", [
    ("step(step_size: 3, gamma: 0.5)", lambda e: 0.1 * 0.5 ** (e // 3)),
    ("exponential(gamma: 0.9)", lambda e: 0.1 * 0.9 ** e),
    ("cosine(t_max: 4, eta_min: 0.01)",
     lambda e: 0.01 + (0.1 - 0.01) * (1 + math.cos(math.pi * (e % 4) / 4)) / 2),
])
def test_schedulers_step_once_per_epoch(sched, rate):
    # the gradient of sum(V) is 1 everywhere, so V falls by exactly the epoch's rate
    src = textwrap.dedent(f"""\
        tensor V: float32[2] learnable = ones([2]) as float32
        learn {{
            objective: sum(V),
            optimizer: sgd(lr: 0.1),
            epochs: 11,
            scheduler: {sched}
        }}
        """)
    s, r, errs = run(src)
    assert errs == []
    want = 1.0 - sum(rate(e) for e in range(11))
    assert np.allclose(trained(s, "V"), [want, want], atol=1e-6)
    lr_at_10 = rate(10)
    last = [ln for ln in r.stdout.splitlines() if ln.startswith("Epoch  11/11: ")]
    assert last and last[0].endswith(f", LR: {lr_at_10:.6f}")


def test_printed_form():
    src = textwrap.dedent("""\
        tensor V: float32[2] learnable = [1.0, 2.0] as float32
        learn {
            objective: sum(V * V),
            optimizer: sgd(lr: 0.25),
            epochs: 2
        }
        """)
    s, r, errs = run(src)
    assert errs == []
    # V = [1, 2]: loss 5, grad 2V = [2, 4] (norm sqrt(20)); V <- V - 0.25 * 2V = V / 2
    assert r.stdout == (
        "\n=== Learning Started ===\nOptimizer: sgd\nEpochs: 2\n  lr: 0.25\n"
        "\nLearnable parameter: V\n  Shape: [2]\n  Initial values: [1.0000, 2.0000]\n"
        f"Epoch   1/2: Loss = 5.000000, Grad Norm: {math.sqrt(20):.6f}, V = [0.5000, ...]\n"
        f"Epoch   2/2: Loss = 1.250000, Grad Norm: {math.sqrt(5):.6f}, V = [0.2500, ...]\n"
        "\n=== Learning Completed ===\n\nFinal Parameter Values:\n  V: [0.2500, 0.5000]\n")


def test_frozen_and_plain_tensors_are_not_trained():
    src = textwrap.dedent("""\
        tensor F: float32[2] frozen = [1.0, 1.0] as float32
        tensor P: float32[2] = [1.0, 1.0] as float32
        tensor V: float32[2] learnable = [1.0, 1.0] as float32
        learn { objective: sum(F * V + P * V + F + P), optimizer: sgd(lr: 0.5), epochs: 1 }
        """)
    s, r, errs = run(src)
    assert errs == []
    assert trained(s, "F").tolist() == [1.0, 1.0]
    assert trained(s, "P").tolist() == [1.0, 1.0]
    assert trained(s, "V").tolist() == [0.0, 0.0]  # grad F + P = 2, lr 0.5


def test_float16_parameters_keep_their_type_and_train():
    src = textwrap.dedent("""\
        tensor V: float16[2] learnable = [1.0, 2.0]
        learn { objective: sum(V * V), optimizer: sgd(lr: 0.25), epochs: 1 }
        """)
    s, r, errs = run(src)
    assert errs == []
    v = s.interpreter.globals.vars["V"]
    assert str(v.dtype) == "mlx.core.float16"
    assert np.array(v).tolist() == [0.5, 1.0]


@pytest.mark.parametrize("src, message", [
    ("learn { objective: 1.0, optimizer: sgd, epochs: 1 }",
     "learn has no learnable tensor to train; declare one at the top level, e.g. "
     "`tensor W: float32[2, 2] learnable = randn([2, 2])`"),
    ("tensor V: float32[2] learnable = [1.0, 2.0]\n"
     "learn { objective: V * V, optimizer: sgd, epochs: 1 }",
     "the objective must be a tensor with one element (the loss), found float32[2]; "
     "reduce it, e.g. with mean(...)"),
    ("tensor V: float32[2] learnable = [1.0, 2.0]\n"
     "learn { objective: sum(V), optimizer: rmsprop(lr: 0.1), epochs: 1 }",
     "unknown optimizer 'rmsprop'; expected one of sgd, adam, adamw"),
    ("tensor V: float32[2] learnable = [1.0, 2.0]\nlearn { objective: sum(V), epochs: 1 }",
     "learn needs `optimizer:` (fields: objective, optimizer, epochs, and optionally "
     "scheduler)"),
])
def test_learn_errors(src, message):
    _, r, errs = run(src)
    assert errs == [message]


def test_two_layer_mlp_learns_xor():
    src = textwrap.dedent("""\
        seed(0)
        tensor X: float32[4, 2] = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]] as float32
        tensor T: float32[4, 1] = [[0.0], [1.0], [1.0], [0.0]] as float32
        tensor W1: float32[2, 8] learnable = randn([2, 8]) as float32
        tensor b1: float32[8] learnable = zeros([8]) as float32
        tensor W2: float32[8, 1] learnable = randn([8, 1]) as float32
        tensor b2: float32[1] learnable = zeros([1]) as float32
        learn {
            let p = sigmoid(tanh(X @ W1 + b1) @ W2 + b2)
            objective: mean((p - T) * (p - T)),
            optimizer: adam(lr: 0.05),
            epochs: 300
        }
        let pred = sigmoid(tanh(X @ W1 + b1) @ W2 + b2)
        """)
    s, r, errs = run(src)
    assert errs == []
    pred = np.array(s.interpreter.globals.vars["pred"]).ravel()
    assert ((pred > 0.5) == np.array([False, True, True, False])).all()


def grid_triples() -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int]]]:
    """A 3 x 3 grid: entity 3y + x, relation 0 = right, 1 = up. Two edges are held out;
    the other edges still fix the grid, so a translation model can recover them."""
    triples = []
    for y in range(3):
        for x in range(3):
            if x < 2:
                triples.append((3 * y + x, 0, 3 * y + x + 1))
            if y < 2:
                triples.append((3 * y + x, 1, 3 * y + x + 3))
    held = [(0, 0, 1), (4, 1, 7)]
    return [t for t in triples if t not in held], held


def test_transe_ranks_held_out_triples_above_corrupted_ones():
    train, held = grid_triples()
    h, rel, t = zip(*train, strict=True)
    onehot = np.eye(9)[list(t)]
    # TransE (UPSTREAM.md's knowledge-graph score): distance ||E[h] + R[r] - E[t]||^2,
    # trained with a margin ranking loss against every corrupted tail
    src = textwrap.dedent(f"""\
        seed(1)
        tensor E: float32[9, 4] learnable = randn([9, 4]) as float32
        tensor R: float32[2, 4] learnable = randn([2, 4]) as float32
        let H = tensor<int>({list(h)})
        let Rl = tensor<int>({list(rel)})
        let Tm = {lit(onehot)} as float32
        learn {{
            let q = embedding(E, H) + embedding(R, Rl)
            let diff = reshape(q, [{len(train)}, 1, 4]) - reshape(E, [1, 9, 4])
            let dist = sum(diff * diff, 2)
            let pos = reshape(sum(Tm * dist, 1), [{len(train)}, 1])
            objective: mean(pos) + mean(relu(2.0 + pos - dist) * (1.0 - Tm)),
            optimizer: adam(lr: 0.05),
            epochs: 300
        }}
        """)
    s, r, errs = run(src)
    assert errs == []
    e = np.array(s.interpreter.globals.vars["E"])
    rr = np.array(s.interpreter.globals.vars["R"])
    for hh, ri, tt in held:
        dist = ((e[hh] + rr[ri] - e) ** 2).sum(axis=1)
        corrupted = [dist[j] for j in range(9) if j != tt]
        assert dist[tt] < min(corrupted), (hh, ri, tt, dist)


def test_tl_run_on_a_terminal_shows_an_epoch_bar(monkeypatch):
    import io
    import sys

    from tl_core.runtime.interpreter import Interpreter
    from tl_core.syntax import parse

    class Tty(io.StringIO):
        def isatty(self):
            return True

    import tqdm as tqdm_module

    class EveryEpoch(tqdm_module.tqdm):
        """Draws every update (tqdm reads TQDM_* variables once, when it is first imported,
        so an environment variable set here would not reach it in a full test run)."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, mininterval=0, miniters=1, **kwargs)

    monkeypatch.setattr(tqdm_module, "tqdm", EveryEpoch)
    err = Tty()
    monkeypatch.setattr(sys, "stderr", err)
    out: list[str] = []
    interp = Interpreter(device="cpu", write=out.append, progress=True)
    prog = parse("tensor V: float32[2] learnable = [1.0, 2.0]\n"
                 "learn { objective: sum(V * V), optimizer: sgd(lr: 0.25), epochs: 3 }\n")
    interp.run_items(prog.program.items)
    assert "learn" in err.getvalue() and "3/3" in err.getvalue()
    assert "loss 0.312500" in err.getvalue()  # 5 -> 1.25 -> 0.3125
    assert "Epoch   3/3" in "".join(out)


def test_sessions_report_learn_progress_per_epoch():
    seen = []
    s = Session(device="cpu")
    r = s.run("tensor V: float32[2] learnable = [1.0, 2.0]\n"
              "learn { objective: sum(V * V), optimizer: sgd(lr: 0.25), epochs: 3 }\n",
              on_progress=lambda *a: seen.append(a))
    assert [d.message for d in r.errors] == []
    # V halves each epoch: losses 5, 1.25, 0.3125
    assert seen == [("learn", 1, 3, "epoch 1/3: loss 5.000000"),
                    ("learn", 2, 3, "epoch 2/3: loss 1.250000"),
                    ("learn", 3, 3, "epoch 3/3: loss 0.312500")]
    assert s.interpreter.on_progress is None


def test_save_model_writes_the_trained_values(tmp_path):
    from safetensors.numpy import load_file

    src = textwrap.dedent("""\
        tensor V: float16[2] learnable = [1.0, 2.0]
        learn { objective: sum(V * V), optimizer: sgd(lr: 0.25), epochs: 2 }
        save_model(model_from(V: V), "trained.safetensors")
        """)
    r = Session(base_dir=tmp_path, device="cpu").run(src)
    assert [d.message for d in r.errors if d.severity.value == "error"] == []
    # V <- V - 0.25 * 2V = V / 2, twice
    assert load_file(str(tmp_path / "trained.safetensors"))["V"].tolist() == [0.25, 0.5]
