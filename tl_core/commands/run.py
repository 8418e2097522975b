"""`tl run FILE [--device gpu|cpu] [--debug]`: run a program."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from tl_core.runtime.program import add_common

    add_common(parser)


def main(args: argparse.Namespace) -> int:
    from tl_core.runtime.program import make_interpreter, read_program, report

    loaded = read_program(args.file)
    if loaded is None:
        return 1
    text, parsed = loaded
    from tl_core.runtime.errors import TLRuntimeError

    interp = make_interpreter(args.file, args.device)
    interp.text = text
    try:
        interp.define_functions(parsed.program)
        interp.run_items(parsed.program.items)
    except TLRuntimeError as exc:
        report(exc, args.file, args.debug)
        return 1
    return 0
