"""The one keyword table: every word of the language that is not a name, with its role.

The parser's keyword list, the IDE's highlighting and completion, rename's reserved-word
check and the TextMate grammar (`syntaxes/gen_grammar.py`) read their words from here.
`grammar.lark` spells the reserved words in its NAME rule; a test checks that list equals
`RESERVED`.
"""

from __future__ import annotations

from tl_core.lang.dtypes import DTYPES, NAMESPACES, SCALAR_TYPES

# Words that can never be names (grammar.lark's NAME rule excludes exactly these).
RESERVED: frozenset[str] = frozenset(
    "fn let return if else for in while loop break continue main true false import "
    "struct impl match as".split())

# Words that are keywords only where they stand (`test NAME { }`, `x: float16[N] learnable`).
CONTEXTUAL: frozenset[str] = frozenset(
    "test bench learn entity relation embedding relation_embedding infer where learnable "
    "frozen tensor not and or".split())

KEYWORDS: frozenset[str] = RESERVED | CONTEXTUAL

# Roles (the TextMate grammar gives each its own scope).
CONTROL: tuple[str, ...] = ("if", "else", "for", "in", "while", "loop", "break", "continue",
                            "return", "match")
# Words that start a top-level item.
DECLARATIONS: frozenset[str] = frozenset(
    "fn struct impl main test bench import entity relation embedding relation_embedding"
    .split())
# `infer { forward Q? }`: the query modes of an infer block.
INFER_MODES: tuple[str, ...] = ("forward", "backward", "gradient", "symbolic")
# Shape annotations after a tensor type: `float16[N] learnable`.
TYPE_MODIFIERS: tuple[str, ...] = ("learnable", "frozen")

BOOLEANS: tuple[str, ...] = ("true", "false")
DEVICES: tuple[str, ...] = ("gpu", "cpu")

# Every word that names a type: element types, scalar types, `Model`, `Device`, and the
# dtype namespaces written as types (`x as f32`).
NAMED_TYPES: tuple[str, ...] = ("Model", "Device")
CAST_SHORT_NAMES: tuple[str, ...] = tuple(n for n, d in NAMESPACES.items() if d is not None)
TYPE_WORDS: tuple[str, ...] = tuple(dict.fromkeys(
    DTYPES + SCALAR_TYPES + NAMED_TYPES + CAST_SHORT_NAMES))
TYPE_NAMES: frozenset[str] = frozenset(TYPE_WORDS)
