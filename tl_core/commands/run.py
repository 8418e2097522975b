"""`tl run FILE [--device gpu|cpu] [--debug] [--test | --bench]`: run a program.

`--test` and `--bench` are the original TensorLogic's spelling of `tl test FILE` and `tl
bench FILE` (UPSTREAM.md 17.4): the same commands, with their own output."""

from __future__ import annotations

import argparse

from tl_core.commands import bench, test
from tl_core.runtime.errors import TLRuntimeError
from tl_core.runtime.program import add_common, prepare, report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common(parser)
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--test", action="store_true",
                       help="run the test blocks instead of the program (as tl test FILE)")
    which.add_argument("--bench", action="store_true",
                       help="run the bench blocks instead of the program (as tl bench FILE)")


def main(args: argparse.Namespace) -> int:
    if getattr(args, "test", False):
        return test.main(args)
    if getattr(args, "bench", False):
        args.seconds = getattr(args, "seconds", 1.0)
        return bench.main(args)
    prepared = prepare(args)
    if prepared is None:
        return 1
    interp, program = prepared
    try:
        interp.define_functions(program)
        interp.run_items(program.items)
    except TLRuntimeError as exc:
        report(exc, args.file, args.debug)
        return 1
    return 0
