"""Reading a .tl file: the one place that decides what its bytes mean.

`tl check`, `tl run` (and `tl test`, `tl bench`) and imports all read source through
`read_source`, so they agree: a file that is not valid UTF-8 is an error at its first bad
byte, with its line and column, in every command.
"""

from __future__ import annotations

import os

from tl_core.diagnostics import Diagnostic, Severity
from tl_core.syntax.span import LineIndex


def read_source(path: str | os.PathLike[str]) -> tuple[str, Diagnostic | None]:
    """(text, problem): the file's text, and the error for its first byte that is not
    UTF-8 (None when it is all UTF-8). Undecodable bytes are kept as surrogate escapes, so
    the rest of the file can still be checked with the right positions. OSError passes
    through (the caller says why the file cannot be read)."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        text = data.decode("utf-8", "surrogateescape")
        at = len(data[:exc.start].decode("utf-8", "surrogateescape"))
        span = LineIndex(text).span(at, at + 1)
        return text, Diagnostic(
            span, f"this file is not valid UTF-8: byte {data[exc.start]:#04x} here is not part "
                  f"of a UTF-8 character; save the file as UTF-8", Severity.ERROR, "encoding")
