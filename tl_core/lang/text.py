"""Texts of the language: format strings of `print` and `panic` (UPSTREAM.md 15.1-15.2):
each `{}` takes the next value; `{:.2}`, `{0}` and `{{` are plain text; extra values are
ignored. And the hint shared by the checker and `tl test`/`tl bench` for a test or bench
inside `main` that uses main's variables, and the error of `with T { }` naming no entity
type (both also shared by the checker and the runtime)."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable

PLACEHOLDER = "{}"


class FormatError(ValueError):
    """Fewer values than placeholders."""


def format_braces(template: str, values: list[str]) -> str:
    """`template` with its `{}` replaced by `values` (already rendered), in order."""
    parts = template.split(PLACEHOLDER)
    if len(values) < len(parts) - 1:
        raise FormatError(f"the format string \"{template}\" has {len(parts) - 1} {{}} "
                          f"placeholder{'s' if len(parts) != 2 else ''} but "
                          f"{len(values)} value{'s were' if len(values) != 1 else ' was'} "
                          f"given; pass one value per {{}}")
    out = [parts[0]]
    for v, part in zip(values, parts[1:], strict=False):
        out += [v, part]
    return "".join(out)


def print_text(values: list[object], render: Callable[[object], str]) -> str:
    """The line `print(values...)` writes (without the newline): a first string holding `{}`
    followed by more values is a format string; otherwise the rendered values joined by
    spaces (a lone string prints verbatim, `{}` included)."""
    if len(values) > 1 and isinstance(values[0], str) and PLACEHOLDER in values[0]:
        return format_braces(values[0], [render(v) for v in values[1:]])
    return " ".join(render(v) for v in values)


def nested_block_hint(name: str, word: str, line: int | None = None) -> str:
    """Why a `test`/`bench` (`word`) standing inside `main` cannot see main's variable
    `name` (declared at 1-based `line`): said by the checker and by `tl test`/`tl bench`."""
    where = f" (line {line})" if line is not None else ""
    return (f"'{name}' is a variable of main{where}, and a {word} inside main sees only the "
            f"top level, as a top-level {word} does (tl {word} runs it without running "
            f"main); declare '{name}' at the top level or inside the {word}")


def unknown_with_type(name: str, types: Iterable[str]) -> str:
    """`with Nme { }`: the error when `Nme` is not a declared entity type."""
    known = sorted(types)
    close = difflib.get_close_matches(name, known, n=1)
    listed = f"; entity types: {', '.join(known)}" if known else "; none is declared"
    hint = f"; did you mean {close[0]}?" if close else ""
    return (f"with {name}: {name} is not an entity type (declare it with `entity {name}`)"
            f"{listed}{hint}")
