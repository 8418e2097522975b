"""Logic programming as tensors: entity domains, relations, rules (einsum + step) and
their fixpoint (`engine`), and the `learn` block's training loop (`learn`).

Plain Python; MLX is imported only when something is solved or trained.
"""

from tl_core.logic.domain import EntityType, Universe
from tl_core.logic.engine import KnowledgeBase, Param, Relation, Solutions
from tl_core.logic.terms import Atom, Compare, Const, LogicError, Rule, Term, Var

__all__ = ["Atom", "Compare", "Const", "EntityType", "KnowledgeBase", "LogicError", "Param",
           "Relation", "Rule", "Solutions", "Term", "Universe", "Var"]
