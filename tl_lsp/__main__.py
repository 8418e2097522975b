"""`tl-lsp`: start the TensorLogic language server (stdio by default)."""

from __future__ import annotations

import argparse
import logging
import os
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tl-lsp",
        description="The TensorLogic language server (Language Server Protocol).",
        epilog="Environment: TL_LSP_FAST_INIT=0 lets pygls answer `initialize` (a slower "
        "start; by default it is answered before pygls is imported). TL_LSP_GC=python "
        "keeps Python's automatic garbage collection (by default it runs in pauses).",
    )
    # stdio only: a TCP port (as pygls offers) would let any local user run code as us
    parser.add_argument("--stdio", action="store_true", help="talk LSP on stdin/stdout (default)")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_argument("--log-file", metavar="PATH", help="append the server's log to PATH")
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    args = parser.parse_args(argv)

    # lazy: nothing loads before the early initialize answer (fast_start.py)
    from tl_lsp.capabilities import VERSION

    if args.version:
        print(f"tl-lsp {VERSION}")
        return 0
    if args.log_file:
        logging.basicConfig(
            filename=args.log_file,
            level=getattr(logging, args.log_level),
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
    else:  # stdout is the protocol channel: logs may only go to stderr
        logging.basicConfig(stream=sys.stderr, level=logging.WARNING)

    if os.environ.get("TL_LSP_FAST_INIT", "1") != "0":
        # answers `initialize` before importing pygls (why: tl_lsp/fast_start.py)
        from tl_lsp.fast_start import serve_stdio

        return serve_stdio()

    from tl_lsp.server import create_server  # lazy: as above

    server = create_server()
    server.gc.install()  # cyclic GC in pauses only (why: tl_lsp/gc_policy.py)
    return server.start_io()


if __name__ == "__main__":
    sys.exit(main())
