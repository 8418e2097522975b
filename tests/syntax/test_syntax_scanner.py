"""The chunk scanner (tl_core/syntax/scanner.py) against its first, plain version.

`split_chunks` was rewritten for speed (white space folded into tokens, runs of operator
characters read as one match); the plain version below, kept verbatim, is the oracle.
"""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st

from tl_core.syntax.scanner import (
    _CONTINUES,
    _DECL_WORDS,
    _NAME_AFTER,
    _NEEDS_NAME_AFTER,
    _NEVER_START,
    BLOCK_COMMENT_RE,
    LINE_COMMENT_RE,
    SQUOTE_RE,
    STRING_RE,
    Chunk,
    split_chunks,
)

from .test_syntax_properties import EXAMPLES, PIECES

ROOT = Path(__file__).resolve().parents[2]

_PLAIN_TOKEN = re.compile(
    "|".join(
        [
            r"(?P<nl>\n)",
            r"(?P<ws>[ \t\f\r\ufeff]+)",
            rf"(?P<str>{STRING_RE}|{SQUOTE_RE})",
            rf"(?P<lc>{LINE_COMMENT_RE})",
            rf"(?P<bc>{BLOCK_COMMENT_RE})",
            r"(?P<word>[A-Za-z_][A-Za-z0-9_]*)",
            r"(?P<num>[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)",
            r"(?P<open>[(\[{])",
            r"(?P<close>[)\]}])",
            r"(?P<op>.)",
        ]
    ),
)



def plain_split_chunks(text: str, start: int = 0, line: int = 0, stop=None) -> list[Chunk]:  # noqa: ANN001
    """Split `text[start:]` into top-level chunks that cover it exactly, in order.

    `start` must be 0 or the start of a chunk of `text` (on line `line`): the split from a
    chunk start does not depend on the text before it. `stop(offset, line)` is asked at each
    new boundary after the first; when it returns True the scan ends there and the last
    chunk returned ends at that offset (its `next_word` is still set).
    """
    chunks: list[Chunk] = []
    depth = 0
    line_start = start
    chunk_start = start
    chunk_line = line
    first_on_line = True
    prev_ends = False  # the previous significant token can end a statement
    in_impl_header = False
    braces: list[bool] = []  # open brackets: is it the `{` of an impl body?
    for m in _PLAIN_TOKEN.finditer(text, start):
        kind = m.lastgroup
        if kind == "nl":
            line += 1
            line_start = m.end()
            first_on_line = True
            continue
        if kind == "ws" or kind == "lc":
            continue
        if kind == "bc":
            value = m.group()
            n = value.count("\n")
            if n:
                line += n
                line_start = m.start() + value.rindex("\n") + 1
                # a token after a multi-line comment is not first on its line for splitting
                first_on_line = False
            continue
        tstart = m.start()
        if kind == "word":
            word = m.group()
            if first_on_line and line_start > chunk_start:
                split = False
                if depth > 0:
                    if tstart == line_start and word in _DECL_WORDS and (
                        word not in _NEEDS_NAME_AFTER or _NAME_AFTER.match(text, m.end())
                    ) and not (word == "fn" and braces and braces[-1]):
                        split = True
                elif prev_ends and not in_impl_header and word not in _NEVER_START:
                    split = True
                if split:
                    chunks.append(Chunk(chunk_start, line_start, chunk_line, word))
                    if stop is not None and stop(line_start, line):
                        return chunks
                    chunk_start = line_start
                    chunk_line = line
                    depth = 0
                    braces.clear()
                    in_impl_header = False
            if word == "impl" and depth == 0:
                in_impl_header = True
            prev_ends = word not in _CONTINUES
        elif kind == "open":
            # True for the `{` of an `impl` body: a `fn` at column 0 there is a method
            braces.append(m.group() == "{" and in_impl_header)
            if m.group() == "{":
                in_impl_header = False
            depth += 1
            prev_ends = False
        elif kind == "close":
            if depth > 0:
                depth -= 1
                braces.pop()
            prev_ends = True
        elif kind == "str" or kind == "num":
            prev_ends = True
        else:  # operators and any other character
            prev_ends = m.group() == "?"
        first_on_line = False
    chunks.append(Chunk(chunk_start, len(text), chunk_line, ""))
    return chunks




def test_examples_split_as_the_plain_scanner_splits_them() -> None:
    for text in EXAMPLES:
        assert split_chunks(text) == plain_split_chunks(text)


def stopper(seen: list[tuple[int, int]]):  # noqa: ANN201
    def stop(offset: int, line: int) -> bool:
        seen.append((offset, line))
        return len(seen) > 3

    return stop


def test_a_split_from_a_chunk_start_with_stop_agrees() -> None:
    text = "\n".join(EXAMPLES)
    chunks = plain_split_chunks(text)
    for c in chunks[:: max(1, len(chunks) // 40)]:
        seen_new: list[tuple[int, int]] = []
        seen_old: list[tuple[int, int]] = []
        assert split_chunks(text, c.start, c.line, stopper(seen_new)) == plain_split_chunks(
            text, c.start, c.line, stopper(seen_old))
        assert seen_new == seen_old


odd = st.sampled_from(["\n", " ", "\t", "\r", "\x0b", "\u3000", "/", "*", "\"", "'", "?",
                       "(", ")", "{", "}", "[", "]", "fn ", "impl ", "test x", "// c\n",
                       "/* a\nb */", "x", "1.5e3", "::", "->", "é", "😀", "\ufeff"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(PIECES), odd), max_size=60).map("".join))
@example("?\ufeff\nfn")  # U+FEFF after `?` was taken into the operator run: no split
def test_random_text_splits_as_the_plain_scanner_splits_it(text: str) -> None:
    assert split_chunks(text) == plain_split_chunks(text)
