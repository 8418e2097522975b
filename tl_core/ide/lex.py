"""A forgiving tokenizer for editor queries on text that may not parse.

Written by hand instead of reusing the Lark grammar because completion and signature help
need tokens around the cursor of half-typed code (an unterminated string, a dangling `.`),
and because it must cost well under a millisecond on the window around the cursor. The
parser stays the oracle for real syntax; this only classifies characters.

`tokens_before` is the window completion and signature help read; `all_tokens` the whole
document's tokens (highlighting and folding), computed once per analysis.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass

from tl_core.check.model import Analysis
from tl_core.ide.overlay import Overlay


@dataclass(frozen=True, slots=True)
class Tok:
    kind: str  # ident | number | string | comment | op | punct
    start: int
    end: int
    text: str
    closed: bool = True  # strings and block comments: terminated?


_OPS2 = ("->", "<-", "=>", "::", ":=", "==", "!=", "<=", ">=", "&&", "||", "**")


# Semantic tokens and folding leave lines longer than this untokenized, as VS Code leaves
# them uncolored (`editor.maxTokenizationLineLength`): a 5 MB line of `1 + 1 + ...` would
# be 2.6 million tokens.
LONG_LINE = 20_000

_QUOTE_OR_COMMENT = re.compile(r'"|//|/\*')
# a string's rest as `tokenize` reads it (a backslash takes the next character, a line
# break included); possessive, so a long string costs Python's `re` no memory per character
_STRING_REST = re.compile(r'[^"\\\n]*+(?:\\(?s:.)?[^"\\\n]*+)*+("?)')


def tokenize(text: str, start: int = 0, end: int | None = None,
             long_lines: int | None = None) -> list[Tok]:
    """Tokens of `text[start:end]` (offsets are absolute). With `long_lines`, a line longer
    than that many characters gives no tokens, except a string or block comment that starts
    on it and runs past its end (so the lines after it read as they do without the limit)."""
    n = len(text) if end is None else min(end, len(text))
    i = start
    out: list[Tok] = []
    append = out.append
    line_end = n if long_lines is None else -1  # the end of the line of `i`, once known
    while i < n:
        if i > line_end:  # on a new line: is it a long one?
            ls = text.rfind("\n", 0, i) + 1
            le = text.find("\n", i, n)
            le = n if le == -1 else le
            if le - ls > long_lines:  # type: ignore[operator]
                i, tok = _past_long_line(text, i, le, n)
                if tok is not None:
                    append(tok)
                line_end = le if i == le else -1
                continue
            line_end = le
        c = text[i]
        if c in " \t\r\n;":
            i += 1
            continue
        if c == "/" and i + 1 < n and text[i + 1] == "/":
            j = text.find("\n", i)
            j = n if j == -1 or j > n else j
            append(Tok("comment", i, j, text[i:j]))
            i = j
            continue
        if c == "/" and i + 1 < n and text[i + 1] == "*":
            j = text.find("*/", i + 2)
            closed = j != -1 and j + 2 <= n
            j = j + 2 if closed else n
            append(Tok("comment", i, j, text[i:j], closed))
            i = j
            continue
        if c == '"':
            j = i + 1
            closed = False
            while j < n:
                ch = text[j]
                if ch == "\\":
                    j += 2
                    continue
                if ch == '"':
                    closed = True
                    j += 1
                    break
                if ch == "\n":
                    break
                j += 1
            j = min(j, n)
            append(Tok("string", i, j, text[i:j], closed))
            i = j
            continue
        if c.isalpha() or c == "_":
            j = i + 1
            while j < n and (text[j].isalnum() or text[j] == "_"):
                j += 1
            append(Tok("ident", i, j, text[i:j]))
            i = j
            continue
        if c.isdigit():
            j = i + 1
            while j < n and (text[j].isdigit() or text[j] in ".eE_" or
                             (text[j] in "+-" and text[j - 1] in "eE")):
                if text[j] == "." and j + 1 < n and not text[j + 1].isdigit():
                    break
                j += 1
            append(Tok("number", i, j, text[i:j]))
            i = j
            continue
        two = text[i:i + 2]
        if two in _OPS2:
            append(Tok("op", i, i + 2, two))
            i += 2
            continue
        kind = "punct" if c in "()[]{},.:" else "op"
        append(Tok(kind, i, i + 1, c))
        i += 1
    return out


def _past_long_line(text: str, i: int, le: int, n: int) -> tuple[int, Tok | None]:
    """Skip a long line from `i` to its end `le`: where tokenizing goes on, and the string
    or block comment (the token `tokenize` makes of it) that starts there and runs past
    `le`, if any. Only `"`, `//` and `/*` start what can cross a line break, and none of
    them is part of another token."""
    while True:
        m = _QUOTE_OR_COMMENT.search(text, i, le)
        if m is None or m.group() == "//":
            return le, None
        s = m.start()
        if m.group() == '"':
            r = _STRING_REST.match(text, s + 1, n)
            j = r.end()  # type: ignore[union-attr]
            if j <= le:
                i = j
                continue
            return j, Tok("string", s, j, text[s:j], r.group(1) == '"')  # type: ignore[union-attr]
        j = text.find("*/", s + 2)
        closed = j != -1 and j + 2 <= n
        j = j + 2 if closed else n
        if j <= le:
            i = j
            continue
        return j, Tok("comment", s, j, text[s:j], closed)


def window_start(a: Analysis, offset: int) -> int:
    """The start of the top-level item holding (or preceding) `offset` (an overlay's own
    window: tl_core/ide/overlay.py)."""
    if isinstance(a, Overlay):
        return a.window
    items = a.program.items  # type: ignore[attr-defined]
    if not items:
        return 0
    # a search over the items themselves: a list of their starts would cost a read of
    # every item's (anchored) span on the first completion after each edit
    i = bisect_right(items, offset, key=_item_start) - 1
    if i < 0:
        return 0
    return items[i].span.start


def _item_start(it: object) -> int:
    return it.span.start  # type: ignore[attr-defined]


# The most text before the cursor that completion and signature help read: the item holding
# the cursor, or its last 64 KiB from a line start when the item is longer (a 5 MB line
# cost 3 s per completion to tokenize).
WINDOW_CHARS = 1 << 16


def tokens_before(a: Analysis, offset: int) -> list[Tok]:
    start = window_start(a, offset)
    if offset - start > WINDOW_CHARS:
        text = a.text
        line = text.find("\n", offset - WINDOW_CHARS, offset)
        start = line + 1 if line >= 0 else offset - WINDOW_CHARS
    return tokenize(a.text, start, offset)


def current_keyword(toks: list[Tok], paren: int) -> str | None:
    """The keyword name of the argument being typed (`dim: |`), if any, in the call whose `(`
    is token `paren`."""
    depth = 0
    j = len(toks) - 1
    start = paren + 1
    while j > paren:
        x = toks[j].text
        if x in (")", "]", "}"):
            depth += 1
        elif x in ("(", "[", "{"):
            depth -= 1
        elif x == "," and depth == 0:
            start = j + 1
            break
        j -= 1
    seg = toks[start:]
    if len(seg) >= 2 and seg[0].kind in ("ident", "string") and seg[1].text in (":", "="):
        return seg[0].text.strip('"')
    return None


def all_tokens(a: Analysis) -> list[Tok]:
    toks = a.ide_cache.tokens
    if toks is None:
        toks = a.ide_cache.tokens = tokenize(a.text, long_lines=LONG_LINE)
    return toks
