"""Logic terms, atoms and rules: the engine's input, independent of the syntax tree.

A term is a variable or a constant (an entity name). An atom is `R(t1, ..., tn)`; a rule is
`head <- body` whose body holds relation atoms and comparisons (`X != Y`, `X == c`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Var:
    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Const:
    name: str

    def __str__(self) -> str:
        return self.name


Term = Var | Const


@dataclass(frozen=True)
class Atom:
    relation: str
    args: tuple[Term, ...]

    def variables(self) -> tuple[str, ...]:
        """The distinct variables, in order of first appearance."""
        return tuple(dict.fromkeys(a.name for a in self.args if isinstance(a, Var)))

    def __str__(self) -> str:
        return f"{self.relation}({', '.join(str(a) for a in self.args)})"


@dataclass(frozen=True)
class Compare:
    """`left == right` or `left != right` in a rule body."""

    op: str  # "==" | "!="
    left: Term
    right: Term

    def variables(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t.name for t in (self.left, self.right)
                                   if isinstance(t, Var)))


@dataclass(frozen=True)
class Rule:
    head: Atom
    body: tuple[Atom | Compare, ...]

    @property
    def atoms(self) -> tuple[Atom, ...]:
        return tuple(b for b in self.body if isinstance(b, Atom))

    def __str__(self) -> str:
        return f"{self.head} <- " + ", ".join(
            str(b) if isinstance(b, Atom) else f"{b.left} {b.op} {b.right}" for b in self.body)


def signature_text(name: str, params: tuple[tuple[str, str], ...] | None,
                   embed: str | None = None) -> str:
    """`relation Parent(x: entity, y: entity) embed float16[32]`; a parameter without a
    type shows its name only (a relation a rule defines)."""
    args = ", ".join(f"{n}: {t}" if t else n for n, t in params or ())
    return f"relation {name}({args})" + (f" embed {embed}" if embed else "")


class LogicError(Exception):
    """A logic error; `arg` is the index of the offending argument (None: the whole atom),
    `item` the index of the offending body item of a rule (None: the head or the atom)."""

    def __init__(self, message: str, arg: int | None = None, item: int | None = None):
        super().__init__(message)
        self.message = message
        self.arg = arg
        self.item = item
