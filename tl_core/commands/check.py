"""`tl check FILE...`: parse and check files; print `path:line:col: error: message`.

Uses `tl_core.check.analyze` (syntax and checker diagnostics) when the checker is present,
else the parser's syntax errors. Exit status 1 when any file has an error, else 0.
Imports nothing heavy at import time.
"""

from __future__ import annotations

import argparse
import json
import sys

from tl_core.source import read_source
from tl_core.syntax import parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="TensorLogic source files")
    parser.add_argument(
        "--format", choices=("text", "json"), default="text",
        help="text: one `path:line:col: severity: message` per line (default); "
             "json: one JSON object with every file's diagnostics",
    )


def _diagnostics(text: str, path: str) -> tuple:
    try:
        from tl_core.check import analyze  # lazy, guarded: a build without the checker
    except ImportError:  # (cli.py's "not available in this build") reports syntax errors
        analyze = None
    if analyze is not None:
        return tuple(analyze(text, path).diagnostics)
    return tuple(parse(text).errors)


def _read(path: str) -> tuple[str | None, object, str | None]:
    """(text, its encoding error or None, why it cannot be read or None)."""
    try:
        return (*read_source(path), None)
    except FileNotFoundError:
        return None, None, "no such file"
    except IsADirectoryError:
        return None, None, "is a directory, not a file"
    except OSError as exc:
        return None, None, exc.strerror or str(exc)


def _json_diag(d) -> dict:  # noqa: ANN001 - Diagnostic
    s = d.span
    return {
        "line": s.line + 1, "column": s.col + 1, "end_line": s.end_line + 1,
        "end_column": s.end_col + 1, "start": s.start, "end": s.end,
        "severity": d.severity.value, "code": d.code, "message": d.message,
        "related": [{"line": r.span.line + 1, "column": r.span.col + 1,
                     "message": r.message} for r in d.related],
    }


def main(args: argparse.Namespace) -> int:
    files = []
    failed = False
    out = sys.stdout
    for path in args.files:
        text, encoding, problem = _read(path)
        if text is None:
            failed = True
            if args.format == "json":
                files.append({"path": path, "error": problem, "diagnostics": []})
            else:
                print(f"{path}: error: {problem}", file=out)
            continue
        found = _diagnostics(text, path) + ((encoding,) if encoding is not None else ())
        diags = sorted(found, key=lambda d: (d.span.start, d.span.end))
        if any(d.severity.value == "error" for d in diags):
            failed = True
        if args.format == "json":
            files.append({"path": path, "diagnostics": [_json_diag(d) for d in diags]})
        else:
            for d in diags:
                print(_printable(d.format(path)), file=out)
    if args.format == "json":
        json.dump({"files": files, "ok": not failed}, out, ensure_ascii=True, indent=1)
        out.write("\n")
    return 1 if failed else 0


def _printable(line: str) -> str:
    """Lone surrogates (from undecodable bytes) would make print() raise; escape them."""
    try:
        line.encode(sys.stdout.encoding or "utf-8")
        return line
    except (UnicodeEncodeError, LookupError):
        return line.encode("utf-8", "backslashreplace").decode("utf-8")
