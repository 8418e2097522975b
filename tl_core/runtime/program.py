"""What `tl run`, `tl test` and `tl bench` share: reading a program, making an interpreter,
and reporting errors as `path:line:col: error: message`."""

from __future__ import annotations

import re
import sys
import traceback
from pathlib import Path
from typing import Any

from tl_core.diagnostics import Diagnostic, Severity
from tl_core.lang.text import nested_block_hint
from tl_core.runtime.progress import is_terminal
from tl_core.source import read_source
from tl_core.syntax import ast, parse


def read_program(file: str) -> tuple[Any, Any] | None:
    """(text, ParseResult), or None after printing why the file cannot run."""
    try:
        text, encoding = read_source(file)
    except FileNotFoundError:
        print(f"{file}: error: no such file", file=sys.stderr)
        return None
    except OSError as exc:
        print(f"{file}: error: cannot read the file: {exc.strerror or exc}", file=sys.stderr)
        return None
    if encoding is not None:  # as `tl check` reports it
        print(encoding.format(file), file=sys.stderr)
        return None
    result = parse(text)
    if result.errors:
        for d in result.errors:
            print(d.format(file), file=sys.stderr)
        return None
    return text, result


def make_interpreter(file: str, device: str | None, quiet: bool = False) -> Any:
    # lazy: MLX loads when a program runs (`tl --help`, `tl check` never)
    from tl_core.runtime.interpreter import Interpreter

    def write(text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    def warn(d: Diagnostic) -> None:
        print(d.format(file), file=sys.stderr)

    def read_input(prompt: str) -> str | None:
        """`input(prompt)` on the terminal: one line of stdin (None at its end)."""
        sys.stdout.write(prompt)
        sys.stdout.flush()
        line = sys.stdin.readline()
        return None if line == "" else line

    interp = Interpreter(Path(file).resolve().parent, device, write=write, warn=warn,
                         progress=is_terminal(sys.stderr) and not quiet)
    interp.read_input = read_input
    return interp


def prepare(args: Any) -> tuple[Any, tuple[Any, ...]] | None:
    """Read and parse `args.file` and make its interpreter (on `args.device`): what
    `tl run`, `tl test` and `tl bench` do first. Returns (interpreter, ast.Program), or
    None after printing why the file cannot run."""
    loaded = read_program(args.file)
    if loaded is None:
        return None
    text, parsed = loaded
    interp = make_interpreter(args.file, args.device)
    interp.text = text
    interp.source_path = Path(args.file).resolve()
    return interp, parsed.program


def run_setup(interp: Any, program: Any) -> None:
    """Define the functions and run every top-level item but `main` blocks (the setup of
    `tl test` and `tl bench`)."""
    interp.define_functions(program)
    interp.run_items([i for i in program.items if not isinstance(i, ast.MainBlock)])


def blocks_of(program: Any, kind: type) -> list[Any]:
    """The `test` (or `bench`) blocks `tl test` (`tl bench`) runs: the top-level ones, then
    those standing directly inside `main` (as the original allows), in file order."""
    found = [i for i in program.items if isinstance(i, kind)]
    return found + [s for i in program.items if isinstance(i, ast.MainBlock)
                    for s in i.body.stmts if isinstance(s, kind)]


def nested_hint(program: Any, block: Any, exc: Any) -> None:
    """When a `test`/`bench` standing inside `main` fails on an undefined name that `main`
    declares, add to the message why (it sees only the top level), as the checker does."""
    m = re.fullmatch(r"undefined name '([A-Za-z_][A-Za-z0-9_]*)'(?:; .*)?", exc.message)
    if m is None:
        return
    for item in program.items:
        if isinstance(item, ast.MainBlock) and any(s is block for s in item.body.stmts):
            names = {s.name for s in item.body.stmts if isinstance(s, ast.Let)}
            if m.group(1) in names:
                word = "test" if isinstance(block, ast.TestDecl) else "bench"
                exc.message = (f"undefined name '{m.group(1)}'; "
                               + nested_block_hint(m.group(1), word))
            return


def report(exc: Any, file: str, debug: bool) -> None:
    """Print a runtime error; the Python traceback only with --debug."""
    if debug:
        traceback.print_exception(exc)
    d = Diagnostic(exc.span, exc.message, Severity.ERROR, exc.code) if exc.span else None
    if d is not None:
        print(d.format(file), file=sys.stderr)
    else:
        print(f"{file}: error: {exc.message}", file=sys.stderr)


def add_common(parser: Any) -> None:
    parser.add_argument("file", help="the .tl program")
    parser.add_argument("--device", choices=("gpu", "cpu"), default=None,
                        help="where tensors live (default: the GPU when MLX has one)")
    parser.add_argument("--debug", action="store_true",
                        help="show the Python traceback of runtime errors")
