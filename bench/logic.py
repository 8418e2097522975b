"""Logic benchmark: transitive closure of a random graph, tensor engine vs sets.

The tensor engine (tl_core.logic: relations as dense tensors, the recursive rule an einsum,
semi-naive fixpoint) against a plain-Python set-based semi-naive evaluator (the same
algorithm as the tests' oracle, with an index on the edge relation so it is not quadratic).
Both must give the same closure. Prints the times and their ratio; no asserts on time.

Usage: python bench/logic.py [--nodes 2000] [--edges 2400] [--device cpu|gpu] [--seed 0]
"""

from __future__ import annotations

import argparse
import platform
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def random_edges(nodes: int, edges: int, seed: int) -> set[tuple[int, int]]:
    rng = random.Random(seed)
    out: set[tuple[int, int]] = set()
    while len(out) < edges:
        out.add((rng.randrange(nodes), rng.randrange(nodes)))
    return out


def closure_sets(edges: set[tuple[int, int]]) -> set[tuple[int, int]]:
    """TC(x, z) <- E(x, z); TC(x, z) <- E(x, y), TC(y, z), semi-naively on sets."""
    preds: dict[int, list[int]] = {}
    for x, y in edges:
        preds.setdefault(y, []).append(x)
    tc = set(edges)
    delta = set(edges)
    while delta:
        new = {(x, z) for y, z in delta for x in preds.get(y, ())} - tc
        tc |= new
        delta = new
    return tc


def closure_tensors(nodes: int, edges: set[tuple[int, int]]) -> tuple[set[tuple[int, int]], int]:
    from tl_core.logic import Atom, Const, KnowledgeBase, Rule, Var

    kb = KnowledgeBase()
    for i in range(nodes):
        kb.universe.add(f"n{i}")
    kb.declare_relation("E", [("x", "entity"), ("y", "entity")])
    for x, y in sorted(edges):
        kb.add_fact(Atom("E", (Const(f"n{x}"), Const(f"n{y}"))))
    X, Y, Z = Var("X"), Var("Y"), Var("Z")
    kb.add_rule(Rule(Atom("TC", (X, Z)), (Atom("E", (X, Z)),)))
    kb.add_rule(Rule(Atom("TC", (X, Z)), (Atom("E", (X, Y)), Atom("TC", (Y, Z)))))
    sol = kb.query(Atom("TC", (X, Y)))
    return {(int(a[1:]), int(b[1:])) for a, b in sol.rows}, kb.rounds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=2000)
    ap.add_argument("--edges", type=int, default=2400)
    ap.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import mlx.core as mx

    mx.set_default_device(mx.gpu if args.device == "gpu" else mx.cpu)
    edges = random_edges(args.nodes, args.edges, args.seed)
    print(f"# transitive closure, {args.nodes} nodes, {len(edges)} random edges, "
          f"device {args.device}, {platform.machine()}, mlx {mx.__version__}")
    closure_tensors(min(args.nodes, 50), {e for e in edges if max(e) < 50})  # warm-up

    t0 = time.perf_counter()
    want = closure_sets(edges)
    t_sets = time.perf_counter() - t0
    t0 = time.perf_counter()
    got, rounds = closure_tensors(args.nodes, edges)
    t_tensor = time.perf_counter() - t0
    if got != want:
        raise SystemExit(f"MISMATCH: tensor engine {len(got)} pairs, sets {len(want)} pairs")
    print(f"closure pairs       {len(want):>10}   fixpoint rounds {rounds}")
    print(f"sets (Python)       {t_sets * 1000:>10.1f} ms")
    print(f"tensors (MLX {args.device}) {t_tensor * 1000:>10.1f} ms")
    print(f"ratio sets/tensors  {t_sets / t_tensor:>10.2f}x")
    a = mx.random.uniform(shape=(1024, 1024))
    mx.eval(a @ a)
    t0 = time.perf_counter()
    mx.eval(a @ a)
    rate = 2 * 1024 ** 3 / (time.perf_counter() - t0) / 1e9
    print(f"(context: MLX {args.device} float32 matmul 1024^3 runs at {rate:.1f} GFLOP/s "
          f"on this machine)")


if __name__ == "__main__":
    main()
