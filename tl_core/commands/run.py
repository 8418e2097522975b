"""`tl run FILE [--device gpu|cpu] [--debug]`: run a program."""

from __future__ import annotations

import argparse

from tl_core.runtime.errors import TLRuntimeError
from tl_core.runtime.program import add_common, prepare, report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common(parser)


def main(args: argparse.Namespace) -> int:
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
