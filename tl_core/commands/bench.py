"""`tl bench FILE`: run the program's `bench` blocks and report their time per run.

Each block runs once to warm up (its output is shown), then repeatedly with output
suppressed until about `--seconds` have passed (at least 3, at most 1000 runs). Tensors are
evaluated at the end of every statement, so the times include the GPU work.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from tl_core.runtime.errors import TLRuntimeError
from tl_core.runtime.program import (
    add_common,
    blocks_of,
    nested_hint,
    prepare,
    report,
    run_setup,
)
from tl_core.syntax import ast


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common(parser)
    parser.add_argument("--seconds", type=float, default=1.0,
                        help="time budget per bench block (default 1 s)")


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f} ms"


def main(args: argparse.Namespace) -> int:
    prepared = prepare(args)
    if prepared is None:
        return 1
    interp, program = prepared
    benches = blocks_of(program, ast.BenchDecl)
    try:
        run_setup(interp, program)
    except TLRuntimeError as exc:
        report(exc, args.file, args.debug)
        return 1
    status = 0
    for b in benches:
        try:
            interp.run_block_items(b.body)  # warm-up, output shown
            write = interp._write
            interp._write = lambda s: None
            times: list[float] = []
            deadline = time.perf_counter() + args.seconds
            try:
                while len(times) < 3 or (time.perf_counter() < deadline and len(times) < 1000):
                    t0 = time.perf_counter()
                    interp.run_block_items(b.body)
                    times.append(time.perf_counter() - t0)
            finally:
                interp._write = write
        except TLRuntimeError as exc:
            nested_hint(program, b, exc)
            print(f"bench {b.name} ... failed")
            sys.stdout.flush()
            report(exc, args.file, args.debug)
            status = 1
            continue
        print(f"bench {b.name}: median {_ms(statistics.median(times))}, "
              f"min {_ms(min(times))} ({len(times)} runs, {interp.device})")
        sys.stdout.flush()
    if not benches:
        print(f"{args.file}: no bench blocks")
    return status
