"""Reading LSP's base protocol frames (`Content-Length: N` headers, an empty line, N bytes)
from a byte stream, so that no frame can stop the server.

Standard library only. A frame that cannot be read is returned as a `BadFrame` with the
message to answer (JSON-RPC `id: null`) and how many bytes the client said follow it,
which the caller then skips as they arrive, never holding them: the next message starts
after them, as the framing says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

MAX_BODY = 256 << 20  # bytes: a 10,000-line document is ~0.5 MB
MAX_LINE = 8192  # a header line (the name, the value, CRLF)
_SKIP_CHUNK = 1 << 20
_LENGTH = re.compile(rb"content-length[ \t]*:[ \t]*(\d+)[ \t]*", re.IGNORECASE)


class Stream(Protocol):
    def readline(self, limit: int = -1, /) -> bytes: ...

    def read(self, n: int = -1, /) -> bytes: ...


@dataclass(frozen=True)
class BadFrame:
    message: str  # why, for the error answer
    skip: int = 0  # bytes of body to drop before the next header


def read_frame(stream: Stream) -> bytes | BadFrame | None:
    """The next message body, a `BadFrame`, or None at the end of the stream (also when it
    ends inside a message)."""
    length: int | None = None
    problem: str | None = None
    seen_header = False
    while True:
        line = stream.readline(MAX_LINE)
        if not line:
            return None
        if not line.endswith(b"\n"):  # longer than MAX_LINE: drop the rest of the line
            while line and not line.endswith(b"\n"):
                line = stream.readline(MAX_LINE)
            if not line:
                return None
            seen_header = True
            problem = problem or f"a header line is longer than {MAX_LINE} bytes"
            continue
        content = line.rstrip(b"\r\n")
        if not content:
            if seen_header:
                break
            continue  # blank lines between messages
        seen_header = True
        match = _LENGTH.fullmatch(content)
        if match is not None and length is None:
            digits = match.group(1).lstrip(b"0") or b"0"
            # more digits than any body could have: never parsed (int() refuses >4300)
            length = int(digits) if len(digits) <= 18 else -1
            if not 0 <= length <= MAX_BODY:
                shown = digits.decode() if len(digits) <= 40 else f"{digits[:20].decode()}..."
                problem = (
                    f"a message of {shown} bytes (Content-Length) is over the limit of "
                    f"{MAX_BODY} bytes; its bytes are skipped"
                )
        elif match is None and content[:15].lower() == b"content-length:":
            problem = problem or "the Content-Length header is not a number of bytes"
    if length is None:
        return BadFrame(problem or "a message without a Content-Length header")
    if not 0 <= length <= MAX_BODY:
        return BadFrame(problem or "", length)  # -1: the rest of the stream
    body = stream.read(length) if length else b""
    while len(body) < length:  # a pipe may return less than asked before the end
        more = stream.read(length - len(body))
        if not more:
            return None
        body += more
    if problem is not None:
        return BadFrame(problem)
    return body


def skip(stream: Stream, n: int) -> bool:
    """Read and drop `n` bytes (all of the stream when `n` < 0); False at its end."""
    while n != 0:
        chunk = stream.read(_SKIP_CHUNK if n < 0 else min(n, _SKIP_CHUNK))
        if not chunk:
            return False
        n = n - len(chunk) if n > 0 else n
    return True
