"""Entity domains: every entity name gets one index in a growing universe; an entity type
is a set of those indices, fixed (`entity City = {paris, seoul}`) or data-driven
(`entity Person`, which collects the constants that facts put in its positions).

Every relation axis is indexed by the whole universe, so a join between two relations
needs no index translation; a relation's tensor grows (zero-padded) when the universe does.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class EntityType:
    name: str
    fixed: bool  # declared with its members; a fact cannot add to it
    members: dict[str, int] = field(default_factory=dict)  # name -> universe index, in order

    def __contains__(self, name: str) -> bool:
        return name in self.members


@dataclass
class Universe:
    names: list[str] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.names)

    def __contains__(self, name: str) -> bool:
        return name in self.index

    def add(self, name: str) -> int:
        i = self.index.get(name)
        if i is None:
            i = self.index[name] = len(self.names)
            self.names.append(name)
        return i
