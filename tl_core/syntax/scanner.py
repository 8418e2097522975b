"""A fast pre-scan that splits a document into top-level chunks and finds its comments.

The parser parses each chunk on its own (`parser.parse_chunk`), and the incremental parser
caches those parses by chunk text, so an edit inside one `fn` re-parses only that chunk.
A full parse uses the same chunks, so incremental and full parses agree by construction.

The scanner knows strings, comments and bracket nesting. A chunk boundary is placed at the
start of a line whose first token, at bracket depth 0, begins a new statement or item
after a token that can end one (a name, a literal, `)`, `]`, `}`, `?`, `break`,
`continue`). Words that only continue a construct (`else`, `where`, `embed`, `learnable`,
`frozen`, the `infer` modes) never start a chunk, nor does anything inside an `impl` header.
A declaration keyword (`fn`, `struct`, `impl`, `main`, `test`, ...) at column 0 starts a chunk
even inside unclosed brackets, so a missing `}` does not swallow the rest of the file (except
a `fn` directly inside an `impl` body, which is a method).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tl_core.lang.keywords import DECLARATIONS

# Patterns shared with grammar.lark (tests check that they agree).
# Possessive (`*+`): Python's `re` keeps no backtracking entry per repetition (a 4 MB
# comment of separate `*` cost 750 MB, a 5 MB string 1.7 GB before it was unrolled).
STRING_RE = r'"[^"\\\n]*+(?:\\.[^"\\\n]*+)*+"?'
LINE_COMMENT_RE = r"//[^\n]*"
SQUOTE_RE = r"'[^'\n]*'?"  # not a string (an error), but the lexer reads it as one token
BLOCK_COMMENT_RE = r"/\*[^*]*+(?:\*(?!/)[^*]*+)*+(?:\*/)?"

# One match per token, white space before it included (a token's own start is
# `m.start(m.lastindex)`); line breaks with the indentation after them are one match, and so
# is a run of operator characters (only its last character matters: `?` ends a statement;
# U+FEFF, white space to the grammar but not to `\s`, is never part of a run).
# Most frequent first; a comment or string start (`/`, `"`, `'`) is never part of a run.
_WORD, _OPEN, _CLOSE, _OPS, _NL, _NUM, _STR, _LC, _BC, _OP1 = range(1, 11)
_TOKEN = re.compile(
    r"[ \t\f\r\ufeff]*(?:"
    + "|".join(
        [
            r"([A-Za-z_][A-Za-z0-9_]*)",
            r"([(\[{])",
            r"([)\]}])",
            r"([^\s\ufeffA-Za-z0-9_\"'/()\[\]{}]+)",
            r"((?:\n[ \t\f\r\ufeff]*)+)",
            r"([0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)",
            rf"({STRING_RE}|{SQUOTE_RE})",
            rf"({LINE_COMMENT_RE})",
            rf"({BLOCK_COMMENT_RE})",
            r"(.)",
        ]
    )
    + ")",
)

# no re.S anywhere: as in the grammar, `\.` in a string never takes a newline
_COMMENT = re.compile(rf"{STRING_RE}|{SQUOTE_RE}|{LINE_COMMENT_RE}|{BLOCK_COMMENT_RE}")

# Words that start a chunk when they begin a line after a complete statement.
_NEVER_START = frozenset(
    {"else", "where", "embed", "learnable", "frozen", "forward", "backward", "gradient",
     "symbolic", "as", "in"}
)
# Declaration keywords that start a chunk at column 0 even inside open brackets.
_DECL_WORDS = DECLARATIONS
_NEEDS_NAME_AFTER = frozenset(
    {"test", "bench", "entity", "relation", "embedding", "relation_embedding"}
)
# Words after which a statement cannot be complete (an expression must follow).
_CONTINUES = frozenset(
    {"fn", "let", "return", "if", "else", "for", "in", "while", "loop", "import",
     "struct", "impl", "match", "as", "main", "infer",
     "and", "or"}  # the original's `and`/`or` may end a line (grammar.lark's AND, OR)
)
_NAME_AFTER = re.compile(r"[ \t]+[A-Za-z_]")


@dataclass(frozen=True, slots=True)
class Chunk:
    """`text[start:end]` is one chunk; it starts at column 0 of `line` (or at offset 0).

    `next_word` is the word that starts the next chunk ("" for the last chunk); the parser
    names it when the chunk ends too early ("expected '}' ..., found 'fn'").
    """

    start: int
    end: int
    line: int
    next_word: str = ""


def split_chunks(text: str, start: int = 0, line: int = 0, stop=None) -> list[Chunk]:  # noqa: ANN001
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
    for m in _TOKEN.finditer(text, start):
        kind = m.lastindex
        if kind == _WORD:
            word = m.group(kind)
            if first_on_line and line_start > chunk_start:
                split = False
                if depth > 0:
                    if m.start(kind) == line_start and word in _DECL_WORDS and (
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
        elif kind == _OPS or kind == _OP1:
            prev_ends = text[m.end() - 1] == "?"
        elif kind == _NL:
            value = m.group(kind)
            line += value.count("\n")
            line_start = m.start(kind) + value.rindex("\n") + 1
            first_on_line = True
            continue
        elif kind == _OPEN:
            # True for the `{` of an `impl` body: a `fn` at column 0 there is a method
            brace = text[m.end() - 1] == "{"
            braces.append(brace and in_impl_header)
            if brace:
                in_impl_header = False
            depth += 1
            prev_ends = False
        elif kind == _CLOSE:
            if depth > 0:
                depth -= 1
                braces.pop()
            prev_ends = True
        elif kind == _NUM or kind == _STR:
            prev_ends = True
        elif kind == _LC or kind is None:
            continue  # a comment to the end of the line, or spaces at the end of the text
        else:  # _BC
            value = m.group(kind)
            n = value.count("\n")
            if n:
                line += n
                line_start = m.start(kind) + value.rindex("\n") + 1
                # a token after a multi-line comment is not first on its line for splitting
                first_on_line = False
            continue
        first_on_line = False
    chunks.append(Chunk(chunk_start, len(text), chunk_line, ""))
    return chunks


def comment_matches(text: str, start: int = 0, end: int | None = None):
    """(start, end) of every comment in `text[start:end]`, skipping strings."""
    if end is None:
        end = len(text)
    for m in _COMMENT.finditer(text, start, end):
        if text[m.start()] not in "\"'":
            yield m.start(), m.end()
