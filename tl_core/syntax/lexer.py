"""A fast, context-free lexer built from grammar.lark's own terminals.

Why not lark's lexer: lark lexes token by token in Python (a LineCounter, a Token str
subclass, a scanner call per token) at ~15 µs a token here; one `finditer` over a master
regex with a light token class is several times faster. lark's contextual lexer remains the
oracle: tests check that this lexer, plus the per-state adjustments in `parser._Run._adjust`,
gives lark's parse on every example and on random edits.

The master regex has lark's terminals in lark's own order (priority, then width), so the
first alternative that matches is the token lark's root lexer would make. The contextual
part (what a parser state accepts) is applied by the parser when it feeds a token:
contextual keywords, the layout tokens NL_*, the declaration keywords with a lookahead, and
compound operators (`<-`, `::`, ...) that a state only accepts split.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


class Tok:
    """A token: the same attribute names as lark's Token (1-based line/column)."""

    __slots__ = ("type", "value", "start_pos", "line", "column", "end_line", "end_column",
                 "end_pos")

    def __init__(self, type_: str, value: str, start_pos: int, line: int, column: int,
                 end_line: int, end_column: int, end_pos: int) -> None:
        self.type = type_
        self.value = value
        self.start_pos = start_pos
        self.line = line
        self.column = column
        self.end_line = end_line
        self.end_column = end_column
        self.end_pos = end_pos

    def __repr__(self) -> str:
        return f"Tok({self.type!r}, {self.value!r}, {self.start_pos})"


# Error tokens, tried after every terminal of the grammar.
_ERROR_PATTERNS = [
    ("BAD_STRING", r'"(?:[^"\\\n]|\\.)*\\?'),
    ("BAD_SQUOTE", r"'[^'\n]*'?"),
    ("INVALID", r"[^ \t\f\r\n\ufeffA-Za-z0-9_\"'/(){}\[\]|=!<>+\-*%@⊙⊗~:.,?;]+"),
    ("INVALID1", r"[\s\S]"),
]
_GUARDS = {"space": r"[ \t\f\r\n\ufeff]", "slash": "/", "word": "[A-Za-z_]",
           "digit": "[0-9]", "quote": '"', "punct": ""}


def _first_chars(t) -> str:  # noqa: ANN001 - a lark TerminalDef
    """Which group of characters a terminal of grammar.lark can start with."""
    v = t.pattern.value
    if t.pattern.type == "str":
        c = v[0]
        if c.isalpha() or c == "_":
            return "word"
        if c.isdigit():
            return "digit"
        return {"/": "slash", '"': "quote"}.get(c, "punct")
    if v.startswith("\\/"):
        return "slash"
    if v.startswith('"'):
        return "quote"
    if v.startswith("[0-9]"):
        return "digit"
    if v[0].isalpha() or t.name == "NAME":
        return "word"
    if v.startswith("[ "):
        return "space"
    raise ValueError(f"grammar terminal {t.name} /{v}/: add it to lexer._first_chars")


_PLAIN, _WORD, _SKIP, _LINES, _OTHER = range(5)  # how `tokens` treats a regex group
_WHOLE_WORD = re.compile(r"([a-z_]+)\(\?!\[A-Za-z0-9_\]\)")
_MULTILINE = frozenset({"WS", "BLOCK_COMMENT", "BAD_COMMENT", "NL_LPAR", "NL_LSQB",
                        "NL_LBRACE"})


@dataclass(frozen=True)
class FastLexer:
    regex: re.Pattern
    ignore: frozenset[str]
    words: dict[str, str]  # whole-word keywords, reserved or contextual: "fn" -> FN

    @classmethod
    def from_terminals(cls, terminals, ignore) -> FastLexer:  # noqa: ANN001 - lark TerminalDefs
        name_re = None
        for t in terminals:
            if t.name == "NAME":
                name_re = re.compile(t.pattern.to_regexp())
        words: dict[str, str] = {}  # whole-word keywords: "fn" -> FN, "where" -> WHERE
        groups: dict[str, list[str]] = {g: [] for g in _GUARDS}
        soft_first: set[str] = set()
        ordered = sorted(terminals, key=lambda t: (-t.priority, -t.pattern.max_width,
                                                   -len(t.pattern.value), t.name))
        for t in ordered:
            if t.pattern.type == "str" and name_re is not None and name_re.fullmatch(t.pattern.value):
                # lark would lex this as NAME and retype it; we do not: keywords are written
                # as whole-word regexes in grammar.lark (`WHERE.2: /where(?![A-Za-z0-9_])/`)
                raise ValueError(f"grammar terminal {t.name} \"{t.pattern.value}\": write it "
                                 f"as /{t.pattern.value}(?![A-Za-z0-9_])/")
            m = _WHOLE_WORD.fullmatch(t.pattern.value) if t.pattern.type == "re" else None
            if m is not None:
                # `fn(?![A-Za-z0-9_])`: the word itself; NAME excludes these words, so a
                # word is this keyword exactly when it equals it (mapped after the match)
                words[m.group(1)] = t.name
                continue
            if t.name == "NAME":
                groups["word"].append("(?P<WORD>[A-Za-z_][A-Za-z0-9_]*)")
                continue
            group = _first_chars(t)
            if group == "word":
                soft_first.add(t.pattern.value[0])
            groups[group].append(f"(?P<{t.name}>{t.pattern.to_regexp()})")
        # the word group: the keywords with a lookahead (`test(?=[ \t]+[A-Za-z_])`) behind
        # their own first-letter guard, then any word
        word_alts = [a for a in groups["word"] if not a.startswith("(?P<WORD>")]
        if word_alts:
            guard = "[" + "".join(sorted(soft_first)) + "]"
            groups["word"] = [f"(?={guard})(?:{'|'.join(word_alts)})",
                              "(?P<WORD>[A-Za-z_][A-Za-z0-9_]*)"]
        groups["quote"] += [f"(?P<{n}>{p})" for n, p in _ERROR_PATTERNS[:1]]
        # Python's `re` tries alternatives in order at each position: the alternatives are
        # grouped by the characters they can start with, each group behind a one-character
        # lookahead, in lark's order within a group. The groups are disjoint, so the first
        # match is still the one lark's lexer makes, found after a few tests instead of ~80.
        alts = [f"(?={_GUARDS[g]})(?:{'|'.join(a)})" if _GUARDS[g] else "|".join(a)
                for g, a in groups.items() if a]
        alts += [f"(?P<{n}>{p})" for n, p in _ERROR_PATTERNS[1:]]
        # Spaces before a token are skipped by the same match (fewer matches to loop over);
        # a token's own start is then `m.start(group)`.
        master = r"[ \t\f\r\ufeff]*(?:" + "|".join(alts) + ")"
        # no re.S: as in lark, `.` in a terminal (the escape in STRING) never matches a newline
        return cls(re.compile(master), frozenset(ignore), words)

    def tokens(self, text: str, start: int, end: int, line: int) -> tuple[list[Tok], list[Tok]]:
        """Tokens of `text[start:end]`, which begins at column 0 of `line` (0-based).

        Returns (tokens, bad_comments); comments and whitespace are dropped.
        """
        out: list[Tok] = []
        bad: list[Tok] = []
        append = out.append
        words = self.words
        names, cats = self._groups()
        ln = line + 1  # 1-based, like lark
        line_start = start
        for m in self.regex.finditer(text, start, end):
            i = m.lastindex
            s, e = m.span(i)
            cat = cats[i]
            if cat == _PLAIN:
                c = s - line_start + 1
                append(Tok(names[i], text[s:e], s, ln, c, ln, c + e - s, e))
            elif cat == _WORD:
                c = s - line_start + 1
                value = text[s:e]
                append(Tok(words.get(value, "NAME"), value, s, ln, c, ln, c + e - s, e))
            elif cat == _SKIP:
                continue
            else:
                ty = names[i]
                value = text[s:e]
                k = value.count("\n") if cat == _LINES else 0
                if k:
                    nl = s + value.rindex("\n")
                    tok = Tok(ty, value, s, ln, s - line_start + 1, ln + k, e - nl, e)
                    ln += k
                    line_start = nl + 1
                else:
                    c = s - line_start + 1
                    tok = Tok(ty, value, s, ln, c, ln, c + e - s, e)
                if ty in self.ignore:
                    if ty == "BAD_COMMENT":
                        bad.append(tok)
                    continue
                if ty == "INVALID1" or ty == "BAD_SQUOTE":
                    tok.type = "INVALID"
                append(tok)
        return out, bad

    def _groups(self) -> tuple[list[str], list[int]]:
        """Per regex group number: the terminal name and how `tokens` treats it."""
        cached = self.__dict__.get("_group_table")
        if cached is not None:
            return cached
        n = self.regex.groups
        names = [""] * (n + 1)
        cats = [_PLAIN] * (n + 1)
        for name, idx in self.regex.groupindex.items():
            names[idx] = name
            if name == "WORD":
                cats[idx] = _WORD
            elif name in _MULTILINE:
                cats[idx] = _LINES
            elif name in self.ignore:
                cats[idx] = _SKIP if name == "LINE_COMMENT" else _OTHER
            elif name in ("INVALID1", "BAD_SQUOTE", "INVALID", "BAD_STRING"):
                cats[idx] = _OTHER
        table = (names, cats)
        object.__setattr__(self, "_group_table", table)
        return table
