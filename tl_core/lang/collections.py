"""The vector collections of the original TensorLogic (UPSTREAM.md 16.2): `IntVec`,
`FloatVec`, `StringVec`, `BoolVec`, made by `IntVec::new()`, shared by reference, with the
methods below; `len(v)` and `get(v, i)` read them. The checker and the runtime read this
table."""

from __future__ import annotations

from dataclasses import dataclass

# vector type -> the scalar type of its elements
VECTORS: dict[str, str] = {"IntVec": "int", "FloatVec": "float", "StringVec": "string",
                           "BoolVec": "bool"}


@dataclass(frozen=True, slots=True)
class VecMethod:
    """`v.name(params...)`: `returns` is "void", "bool" or "elem" (the element type)."""

    name: str
    params: tuple[str, ...]
    returns: str
    doc: str

    @property
    def label(self) -> str:
        return f"{self.name}({', '.join(self.params)})"


METHODS: dict[str, VecMethod] = {m.name: m for m in (
    VecMethod("push", ("x",), "void", "Append x at the end."),
    VecMethod("pop", (), "elem", "Remove and return the last element (an error when empty)."),
    VecMethod("set", ("i", "x"), "void", "Replace the element at i (negative counts from the end)."),
    VecMethod("clear", (), "void", "Remove every element."),
    VecMethod("is_empty", (), "bool", "Whether the vector has no elements."),
)}


def accepts(kind: str, value: object) -> bool:
    """May `value` (a Python scalar) go into a vector of `kind`? FloatVec takes ints too."""
    elem = VECTORS[kind]
    if elem == "bool":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if elem == "int":
        return isinstance(value, int)
    if elem == "float":
        return isinstance(value, (int, float))
    return isinstance(value, str)


def method_names() -> str:
    return ", ".join(METHODS)
