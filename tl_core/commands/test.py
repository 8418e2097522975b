"""`tl test FILE`: run the program's `test` blocks and report each as passed or failed.

The file's top-level statements run first (as setup; `main` blocks do not), then each test
block in a scope of its own: the top-level ones, then those directly inside `main` (which see
the top level, not main's variables). The last line is `N passed, N failed`; the exit status is 1
when a test failed or the setup did.
"""

from __future__ import annotations

import argparse
import sys

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


def main(args: argparse.Namespace) -> int:
    prepared = prepare(args)
    if prepared is None:
        return 1
    interp, program = prepared
    tests = blocks_of(program, ast.TestDecl)
    try:
        run_setup(interp, program)
    except TLRuntimeError as exc:
        print("setup failed (the file's top-level statements):", file=sys.stderr)
        report(exc, args.file, args.debug)
        print(f"0 passed, {len(tests)} failed")
        return 1
    passed = failed = 0
    for t in tests:
        try:
            interp.run_block_items(t.body)
        except TLRuntimeError as exc:
            nested_hint(program, t, exc)
            failed += 1
            print(f"test {t.name} ... failed")
            sys.stdout.flush()
            report(exc, args.file, args.debug)
        else:
            passed += 1
            print(f"test {t.name} ... passed")
        sys.stdout.flush()
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0
