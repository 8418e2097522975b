"""A fast, context-free lexer built from grammar.lark's own terminals.

Why not lark's lexer: lark lexes token by token in Python (a LineCounter, a Token str
subclass, a scanner call per token) at ~15 µs a token here; one `finditer` over a master
regex with a light token class is several times faster. lark's contextual lexer remains the
oracle: tests check that this lexer, plus the per-state adjustments in `parser._Run._adjust`,
gives lark's parse on every example and on random edits.

The master regex has lark's terminals in lark's own order (priority, then width) within
groups of disjoint first characters, so the first alternative that matches is the token
lark's root lexer would make. Two groups are named after the match, by a dict lookup: all
punctuation (longest first, as lark orders it) and all words (keywords, and the keywords
with a lookahead such as `test(?=[ \t]+[A-Za-z_])`, checked after the whole word is read);
one alternative each instead of ~40 measured twice as fast as the whole regex. The contextual
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
    ("BAD_STRING", r'"[^"\\\n]*+(?:\\.[^"\\\n]*+)*+\\?'),
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


_PLAIN, _WORD, _SKIP, _LINES, _OTHER, _PUNCT = range(6)  # how `tokens` treats a group
_LOOKAHEAD_WORD = re.compile(r"([a-z_]+)((?:\(\?[=!](?:\[[^\]]*\]|[^()\[])*\))+)")
_WHOLE_WORD = re.compile(r"([a-z_]+)\(\?!\[A-Za-z0-9_\]\)")
_MULTILINE = frozenset({"WS", "BLOCK_COMMENT", "BAD_COMMENT", "NL_LPAR", "NL_LSQB",
                        "NL_LBRACE"})


@dataclass(frozen=True)
class FastLexer:
    regex: re.Pattern
    ignore: frozenset[str]
    words: dict[str, str]  # whole-word keywords, reserved or contextual: "fn" -> FN
    # keywords with a lookahead: "test" -> [(TEST, the pattern of `(?=[ \t]+[A-Za-z_])`)]
    soft: dict[str, list[tuple[str, re.Pattern]]]
    punct: dict[str, str]  # punctuation by its text: "->" -> ARROW

    @classmethod
    def from_terminals(cls, terminals, ignore) -> FastLexer:  # noqa: ANN001 - lark TerminalDefs
        name_re = None
        for t in terminals:
            if t.name == "NAME":
                name_re = re.compile(t.pattern.to_regexp())
        words: dict[str, str] = {}  # whole-word keywords: "fn" -> FN, "where" -> WHERE
        soft: dict[str, list[tuple[str, re.Pattern]]] = {}
        punct: dict[str, str] = {}
        groups: dict[str, list[str]] = {g: [] for g in _GUARDS}
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
                # `test(?=[ \t]+[A-Za-z_])`: the word, then its lookahead (checked after a
                # whole word is read: `test` is this keyword only where the lookahead holds)
                m = _LOOKAHEAD_WORD.fullmatch(t.pattern.value)
                if m is None:
                    raise ValueError(f"grammar terminal {t.name} /{t.pattern.value}/: add "
                                     "its shape to lexer.FastLexer.from_terminals")
                ahead = re.sub(r"^\(\?!\[A-Za-z0-9_\]\)", "", m.group(2))  # a whole word already
                soft.setdefault(m.group(1), []).append((t.name, re.compile(ahead)))
                continue
            if group == "punct" and t.pattern.type == "str":
                punct[t.pattern.value] = t.name
                continue
            groups[group].append(f"(?P<{t.name}>{t.pattern.to_regexp()})")
        groups["word"] = ["(?P<WORD>[A-Za-z_][A-Za-z0-9_]*)"]
        # all punctuation in one group, longest first (as lark's order puts it), named by a
        # dict lookup of its text: one test per token instead of one per operator
        ops = sorted(punct, key=len, reverse=True)
        multi = [re.escape(o) for o in ops if len(o) > 1]
        single = "".join(re.escape(o) for o in ops if len(o) == 1)
        groups["punct"].insert(0, f"(?P<PUNCT>{'|'.join(multi + [f'[{single}]'])})")
        groups["quote"] += [f"(?P<{n}>{p})" for n, p in _ERROR_PATTERNS[:1]]
        # Python's `re` tries alternatives in order at each position: the alternatives are
        # grouped by the characters they can start with, each group behind a one-character
        # lookahead, in lark's order within a group. The groups are disjoint, so the first
        # match is still the one lark's lexer makes, found after a few tests instead of ~80.
        # The groups go most frequent first (measured ~10% faster on bench/parse.py's text).
        order = ("word", "punct", "space", "digit", "quote", "slash")
        alts = [f"(?={_GUARDS[g]})(?:{'|'.join(groups[g])})" if _GUARDS[g] else "|".join(groups[g])
                for g in order if groups[g]]
        alts += [f"(?P<{n}>{p})" for n, p in _ERROR_PATTERNS[1:]]
        # Spaces before a token are skipped by the same match (fewer matches to loop over);
        # a token's own start is then `m.start(group)`.
        master = r"[ \t\f\r\ufeff]*(?:" + "|".join(alts) + ")"
        # no re.S: as in lark, `.` in a terminal (the escape in STRING) never matches a newline
        return cls(re.compile(master), frozenset(ignore), words, soft, punct)

    def tokens(self, text: str, start: int, end: int, line: int) -> tuple[list[Tok], list[Tok]]:
        """Tokens of `text[start:end]`, which begins at column 0 of `line` (0-based).

        Returns (tokens, bad_comments); comments and whitespace are dropped.
        """
        out: list[Tok] = []
        bad: list[Tok] = []
        append = out.append
        words = self.words
        soft = self.soft
        punct = self.punct
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
                ty = words.get(value, "NAME")
                if ty == "NAME" and value in soft:
                    for name, ahead in soft[value]:
                        if ahead.match(text, e):
                            ty = name
                            break
                append(Tok(ty, value, s, ln, c, ln, c + e - s, e))
            elif cat == _PUNCT:
                c = s - line_start + 1
                value = text[s:e]
                append(Tok(punct[value], value, s, ln, c, ln, c + e - s, e))
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
            elif name == "PUNCT":
                cats[idx] = _PUNCT
            elif name in _MULTILINE:
                cats[idx] = _LINES
            elif name in self.ignore:
                cats[idx] = _SKIP if name == "LINE_COMMENT" else _OTHER
            elif name in ("INVALID1", "BAD_SQUOTE", "INVALID", "BAD_STRING"):
                cats[idx] = _OTHER
        table = (names, cats)
        object.__setattr__(self, "_group_table", table)
        return table
