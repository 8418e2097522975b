"""A forgiving tokenizer for editor queries on text that may not parse.

Written by hand instead of reusing the Lark grammar because completion and signature help
need tokens around the cursor of half-typed code (an unterminated string, a dangling `.`),
and because it must cost well under a millisecond on the window around the cursor. The
parser stays the oracle for real syntax; this only classifies characters.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Tok:
    kind: str  # ident | number | string | comment | op | punct
    start: int
    end: int
    text: str
    closed: bool = True  # strings and block comments: terminated?


_OPS3 = ("**=",)
_OPS2 = ("->", "<-", "=>", "::", ":=", "==", "!=", "<=", ">=", "&&", "||", "**")


def tokenize(text: str, start: int = 0, end: int | None = None) -> list[Tok]:
    """Tokens of `text[start:end]` (offsets are absolute)."""
    n = len(text) if end is None else min(end, len(text))
    i = start
    out: list[Tok] = []
    append = out.append
    while i < n:
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
