"""Checks that a Protocol at the bottom of a layer (`tl_core.check.context.CheckContext`,
`tl_core.runtime.context.RunContext`) says what its users use and that the class above
satisfies it (nothing checks annotations here: no type checker runs in `make test`)."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def members(proto: type) -> dict[str, bool]:
    """The Protocol's members: name -> whether it is a method."""
    out = {n: False for n in getattr(proto, "__annotations__", {})}
    out.update({n: True for n, v in vars(proto).items()
                if inspect.isfunction(v) and not n.startswith("_")})
    return out


def gaps(proto: type, obj: Any) -> list[str]:
    """What `obj` lacks of `proto`: a missing attribute, or a method whose parameters
    (names, kinds and defaults) differ from the Protocol's."""
    out = []
    for name, is_method in members(proto).items():
        if not hasattr(obj, name):
            out.append(f"missing {name}")
        elif is_method:
            want = inspect.signature(getattr(proto, name)).parameters
            have = inspect.signature(getattr(type(obj), name)).parameters
            shape = [(p.name, p.kind, p.default) for p in want.values()]
            if shape != [(p.name, p.kind, p.default) for p in have.values()]:
                out.append(f"{name}{inspect.signature(getattr(type(obj), name))} differs")
    return out


def used_on(path: str, receivers: tuple[str, ...]) -> set[str]:
    """The attributes read on `receivers` (`c.error`, `self.interp.eval`) in a module."""
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and ast.unparse(node.value) in receivers:
            out.add(node.attr)
    return out
