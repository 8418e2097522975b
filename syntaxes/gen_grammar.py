"""Write the language's word lists into syntaxes/tensorlogic.tmLanguage.json.

The words come from `tl_core.lang`: built-in names from the registry (`BUILTINS`), keywords
from `tl_core.lang.keywords`, element types and dtype namespaces from `tl_core.lang.dtypes`,
so the grammar never drifts from them. The rest of the grammar is written by hand; this
script only rewrites the generated `match`/`begin`/`end` strings listed in `TARGETS`, in
place, keeping the file's layout.

    python syntaxes/gen_grammar.py          # rewrite the grammar
    python syntaxes/gen_grammar.py --check  # exit 1 if the grammar is out of date
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GRAMMAR = ROOT / "syntaxes" / "tensorlogic.tmLanguage.json"
IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def builtin_names() -> list[str]:
    """Names of every registry entry that can be called as `name(...)`, sorted."""
    from tl_core.lang.builtins import BUILTINS

    return sorted(name for name in BUILTINS if IDENT.match(name))


def targets() -> list[tuple[tuple[str | int, ...], str]]:
    """(JSON path in the grammar, the generated string) for every generated pattern."""
    from tl_core.lang import dtypes as D
    from tl_core.lang import keywords as K
    from tl_core.lang.collections import VECTORS

    def alt(words: tuple[str, ...] | list[str]) -> str:
        return "|".join(dict.fromkeys(words))

    modes = alt(K.INFER_MODES)
    types = alt(D.DTYPES + D.SCALAR_TYPES)
    return [
        (("builtins", "match"), rf"(?<![.:])\b({alt(builtin_names())})\b(?=\s*\()"),
        (("keywords", "patterns", 0, "match"), rf"\b(infer)\b(?:\s+({modes})\b)?"),
        (("keywords", "patterns", 1, "match"),
         rf"^\s*({modes})\s+(?=[A-Za-z_][A-Za-z0-9_]*\s*\()(?=[^\n]*\?)"),
        (("keywords", "patterns", 2, "match"), rf"\b({alt(K.CONTROL)})\b"),
        (("keywords", "patterns", 9, "match"),
         rf"\b(as)\s+({alt(K.CAST_SHORT_NAMES + ('int', 'float') + D.DTYPES)})\b"),
        (("types", "patterns", 0, "begin"), rf"\b({alt(D.DTYPES)})\s*(\[)"),
        (("types", "patterns", 0, "end"), rf"(\])(?:\s*\b({alt(K.TYPE_MODIFIERS)})\b)?"),
        (("types", "patterns", 1, "match"), rf"\b({types})\b(?!\s*::)"),
        (("types", "patterns", 2, "match"),
         rf"(->)\s*(?!(?:{types})\b)([A-Za-z_][A-Za-z0-9_]*)\b(?!\s*[\[<])"),
        (("namespaces", "patterns", 0, "match"),
         rf"\b({alt(list(D.NAMESPACES) + list(VECTORS))})\s*(::)"),
        (("constants", "patterns", 0, "match"), rf"\b({alt(K.BOOLEANS)})\b"),
        (("constants", "patterns", 1, "match"), rf"\b({alt(K.DEVICES)})\b"),
    ]


def _at(grammar: dict, path: tuple[str | int, ...]) -> str:
    node: object = grammar["repository"]
    for key in path:
        node = node[key]  # type: ignore[index]
    if not isinstance(node, str):
        raise SystemExit(f"{GRAMMAR}: repository{list(path)} is not a string")
    return node


def render(text: str) -> str:
    """The grammar text with every generated string replaced (layout kept)."""
    grammar = json.loads(text)
    for path, new in targets():
        old = json.dumps(_at(grammar, path), ensure_ascii=False)
        if text.count(old) != 1:
            raise SystemExit(f"{GRAMMAR}: the string at repository{list(path)} must occur "
                             f"exactly once in the file; found {text.count(old)}")
        text = text.replace(old, json.dumps(new, ensure_ascii=False))
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check, write nothing")
    args = parser.parse_args(argv)
    text = GRAMMAR.read_text(encoding="utf-8")
    new = render(text)
    json.loads(new)  # never write a grammar that is not valid JSON
    if args.check:
        if new != text:
            old_lines, new_lines = text.splitlines(), new.splitlines()
            changed = [f"  {a.strip()}\n  -> {b.strip()}" for a, b in
                       zip(old_lines, new_lines, strict=False) if a != b]
            print(f"{GRAMMAR.relative_to(ROOT)} is out of date with tl_core.lang:\n"
                  + "\n".join(changed) + "\nrun `python syntaxes/gen_grammar.py`",
                  file=sys.stderr)
            return 1
        return 0
    if new != text:
        GRAMMAR.write_text(new, encoding="utf-8")
    print(f"{len(targets())} generated patterns in {GRAMMAR.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
