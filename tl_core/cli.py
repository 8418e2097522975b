"""The `tl` command: `tl run | check | inspect | test | bench`.

Each subcommand lives in `tl_core.commands.<name>` and is imported only when used, so
`tl --help` and `tl check` never import MLX.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from tl_core import __version__
from tl_core.commands.stopping import stop_on_ctrl_c

SUBCOMMANDS: dict[str, str] = {
    "run": "run a TensorLogic program (on the GPU when MLX has one)",
    "check": "parse and check files; print errors as path:line:col: error: message",
    "inspect": "show the format, metadata and tensor table of a model file",
    "test": "run the `test` blocks of a program and report passed/failed",
    "bench": "run the `bench` blocks of a program and report timings",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tl",
        description="TensorLogic: check, run, test and inspect tensor programs and model files.",
    )
    parser.add_argument("--version", action="version", version=f"tl {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        module = _command_module(name)
        if module is not None:
            module.add_arguments(p)
    return parser


def _command_module(name: str):  # noqa: ANN202 - a module
    try:
        return importlib.import_module(f"tl_core.commands.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"tl_core.commands.{name}":
            return None
        raise


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    module = _command_module(args.command)
    if module is None:
        print(f"tl {args.command}: not available in this build", file=sys.stderr)
        return 2

    try:
        with stop_on_ctrl_c():
            return int(module.main(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
