"""Inject the built-in function names into syntaxes/tensorlogic.tmLanguage.json.

The names come from the one registry, `tl_core.builtins.BUILTINS`, so the grammar never
drifts from it. The rest of the grammar is written by hand; this script only rewrites the
`match` of the `builtins` rule, in place, keeping the file's layout.

    python syntaxes/gen_builtins.py          # rewrite the grammar
    python syntaxes/gen_builtins.py --check  # exit 1 if the grammar is out of date
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
# The text of the builtins rule's match line: `"match": "(?<![.:])\\b(a|b|c)\\b(?=\\s*\\()",`
MATCH_LINE = re.compile(
    r'("match": "\(\?<!\[\.:\]\)\\\\b\()([A-Za-z0-9_|]*)(\)\\\\b\(\?=\\\\s\*\\\\\(\)")'
)


def builtin_names() -> list[str]:
    """Names of every registry entry that can be called as `name(...)`, sorted."""
    sys.path.insert(0, str(ROOT))
    from tl_core.builtins import BUILTINS

    return sorted(name for name in BUILTINS if IDENT.match(name))


def render(text: str, names: list[str]) -> str:
    matches = MATCH_LINE.findall(text)
    if len(matches) != 1:
        raise SystemExit(
            f"{GRAMMAR}: expected exactly one builtins match line, found {len(matches)}"
        )
    return MATCH_LINE.sub(lambda m: m.group(1) + "|".join(names) + m.group(3), text)


def grammar_names(text: str) -> list[str]:
    grammar = json.loads(text)
    match = grammar["repository"]["builtins"]["match"]
    inner = match[match.index("\\b(") + 3 : match.index(")\\b")]
    return inner.split("|") if inner else []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check, write nothing")
    args = parser.parse_args(argv)
    text = GRAMMAR.read_text(encoding="utf-8")
    names = builtin_names()
    new = render(text, names)
    json.loads(new)  # never write a grammar that is not valid JSON
    if args.check:
        if new != text:
            missing = sorted(set(names) - set(grammar_names(text)))
            extra = sorted(set(grammar_names(text)) - set(names))
            print(
                f"{GRAMMAR.relative_to(ROOT)} is out of date with tl_core.builtins "
                f"(missing: {', '.join(missing) or '-'}; not in the registry: "
                f"{', '.join(extra) or '-'}); run `python syntaxes/gen_builtins.py`",
                file=sys.stderr,
            )
            return 1
        return 0
    if new != text:
        GRAMMAR.write_text(new, encoding="utf-8")
    print(f"{len(names)} built-in names in {GRAMMAR.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
