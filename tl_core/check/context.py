"""`CheckContext`: what the checker's helpers call on it, below the checker.

The `learn` and logic checks (`learn.py`, `logic.py`) and the per-item cache (`memo.py`,
which records what checking an item added to the checker's containers and replays it) are
called by `tl_core.check.checker.Checker` and read or call it back. They name its type
through this Protocol instead of importing the checker, which imports them: even an
annotation-only import of it would close a layering circle
(tests/check/test_import_cycles.py counts `if TYPE_CHECKING:` imports too). `Checker`
satisfies it (tests/check/test_check_context.py).
"""

from __future__ import annotations

from typing import Any, Protocol

from tl_core.check.names import Binding, Ref, Scope
from tl_core.diagnostics import Diagnostic, Related, Severity
from tl_core.lang.types import Type
from tl_core.syntax.span import Span


class CheckContext(Protocol):
    """The part of the `Checker` its helpers use."""

    # what the check made so far, in order (`memo.record` takes an item's part of each)
    diags: list[Diagnostic]
    scopes: list[Scope]
    all_bindings: list[Binding]
    types: dict[tuple, Type]  # node_key(node) -> type
    refs: dict[tuple[int, int], Ref]  # (start, end) -> the name occurrence
    point_types: dict[int, Type]  # name occurrence start -> type there
    call_bindings: dict[int, dict[str, int]]  # fn name at a call -> its shape variables
    # the item's effects outside itself: uses of and lookups through outer bindings, type
    # changes (binding, its previous type); `serial` numbers the bindings as made
    use_log: list[tuple[Binding, Span, bool]]
    # (name, stop_at_fn, binding found or None, its type and int_literal then)
    dep_log: list[tuple[str, bool, Binding | None, Type | None, bool]]
    journal: list[tuple[Binding, Type]]
    serial: int
    uncacheable: bool  # set when the item's results depend on more than its text
    pending: list  # the reused items whose scopes and occurrences wait (model.Analysis)

    def src(self, span: Span) -> str: ...

    def error(self, span: Span, message: str, code: str = "error",
              severity: Severity = Severity.ERROR, related: tuple[Related, ...] = ()) -> None: ...

    def resolve(self, scope: Scope, name: str, stop_at_fn: bool = False) -> Binding | None: ...

    def use(self, b: Binding, span: Span, read: bool = True) -> None: ...

    def infer(self, e: Any, scope: Scope) -> Type: ...

    def check_stmt(self, st: Any, scope: Scope) -> None: ...
