"""The one keyword table and the one dtype table (tl_core.lang) against the places that
spell the same words: grammar.lark, the TextMate grammar, the snippets, the runtime."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tl_core.lang import dtypes as D
from tl_core.lang import keywords as K
from tl_core.lang.builtins import BUILTINS

ROOT = Path(__file__).resolve().parents[2]


def test_reserved_words_are_the_ones_grammar_lark_excludes_from_names():
    lark = (ROOT / "tl_core" / "syntax" / "grammar.lark").read_text()
    m = re.search(r"^NAME: /\(\?!\(\?:([a-z_|]+)\)", lark, re.M)
    assert m is not None
    assert frozenset(m.group(1).split("|")) == K.RESERVED


def test_reserved_words_cannot_be_names_and_contextual_ones_can():
    from tl_core.syntax import parse

    for w in sorted(K.RESERVED - {"true", "false"}):
        assert parse(f"let {w} = 1").errors, w
    for w in ("where", "learnable", "frozen", "forward", "tensor"):
        assert not parse(f"let {w} = 1").errors, w


def _snippet_words(body: str) -> tuple[str, list[str]]:
    first = re.match(r"[A-Za-z_]+", body)
    calls = re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\(", body)
    return (first.group(0) if first else ""), calls


def test_snippets_use_keywords_and_registry_names():
    """Both snippet sets (VS Code's file and the server's completion) start with a keyword
    or a name, and every call in them is a built-in or the function they declare."""
    from tl_core.ide.completion import SNIPPETS

    vscode = json.loads((ROOT / "vscode-extension" / "snippets" / "tensorlogic.json")
                        .read_text())
    bodies = ["\n".join(s["body"]) for s in vscode.values()] + [b for _, b, _ in SNIPPETS]
    prefixes = [label for label, _, _ in SNIPPETS]
    for p in prefixes:
        assert p in K.KEYWORDS, p
    for body in bodies:
        first, calls = _snippet_words(body)
        assert first in K.KEYWORDS or "=" in body.split("\n")[0], body
        declared = set(re.findall(r"\bfn ([A-Za-z_][A-Za-z0-9_]*)", body))
        for c in calls:
            assert c in BUILTINS or c in declared or c == "name" or c in K.KEYWORDS, (c, body)


def test_the_textmate_grammar_spells_every_table_word():
    g = (ROOT / "syntaxes" / "tensorlogic.tmLanguage.json").read_text()
    for w in K.CONTROL + K.INFER_MODES + K.BOOLEANS + K.DEVICES + D.DTYPES:
        assert re.search(rf"[(|]{w}[|)]", g), w
    for ns in D.NAMESPACES:
        assert re.search(rf"[(|]{ns}[|)]", g), ns


def test_dtype_table_names_and_aliases():
    assert D.canonical_dtype("bf16") == "bfloat16" and D.canonical_dtype("half") == "float16"
    assert D.canonical_dtype("int") == "int64" and D.canonical_dtype("nope") is None
    assert D.kind_of("f32") == "float" and D.kind_of("i16") == "int" and D.kind_of("bool") == "bool"
    for ns, name in D.NAMESPACES.items():
        assert name is None or D.canonical_dtype(ns) == name, ns
    assert "bool" not in D.ELEMENT_TYPES and "float16" in D.ELEMENT_TYPES


def test_runtime_dtypes_come_from_the_table():
    import mlx.core as mx

    from tl_core.runtime.values import DTYPES, dtype_name

    assert set(DTYPES) == set(D.all_names())
    assert DTYPES["bf16"] == mx.bfloat16 and DTYPES["complex16"] == mx.complex64
    assert dtype_name(mx.bool_) == "bool" and dtype_name(mx.int64) == "int64"
