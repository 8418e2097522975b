"""The interpreter's scopes: `Env`, below the interpreter so that the statements it hands to
`tl_core.logic` (queries, `learn`) can open scopes without importing it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


class Env:
    """One scope. `frame` marks a function's outermost scope: assignments do not cross it."""

    __slots__ = ("vars", "parent", "frame")

    def __init__(self, parent: Env | None = None, frame: bool = False) -> None:
        self.vars: dict[str, Any] = {}
        self.parent = parent
        self.frame = frame

    def lookup(self, name: str) -> tuple[bool, Any]:
        env: Env | None = self
        while env is not None:
            if name in env.vars:
                return True, env.vars[name]
            env = env.parent
        return False, None

    def assign(self, name: str, value: Any) -> None:
        env: Env | None = self
        while env is not None:
            if name in env.vars:
                env.vars[name] = value
                return
            if env.frame:
                break
            env = env.parent
        self.vars[name] = value

    def names(self) -> Iterator[str]:
        env: Env | None = self
        while env is not None:
            yield from env.vars
            env = env.parent
