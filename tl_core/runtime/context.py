"""`RunContext`: what the interpreter's helpers call on it, below the interpreter.

The logic runner (`tl_core/logic/run.py`), the `learn` trainer (`tl_core/logic/learn.py`)
and the struct runtime (`tl_core/runtime/structs.py`) are called by the interpreter and
call it back (evaluate an expression, print, warn). They name its type through this
Protocol instead of importing `tl_core.runtime.interpreter`, which imports them: even an
annotation-only import of it would close a layering circle
(tests/check/test_import_cycles.py counts `if TYPE_CHECKING:` imports too).
`Interpreter` satisfies it (tests/runtime/test_run_context.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from tl_core.lang.structs import StructDefs
from tl_core.runtime.env import Env
from tl_core.syntax.span import Span


class RunContext(Protocol):
    """The part of `tl_core.runtime.interpreter.Interpreter` its helpers use."""

    globals: Env  # the program's top-level scope
    struct_defs: StructDefs  # the program's structs, their fields and impl methods
    impl_stack: list[str]  # the impls whose methods are running, innermost last
    trainable: dict[str, bool]  # top-level tensor -> declared learnable
    tracing: int  # > 0 while a function is traced by mx.compile or mx.value_and_grad
    progress: bool  # draw progress bars on the terminal
    on_progress: Callable[[str, int, int, str], None] | None  # (what, done, total, text)

    def eval(self, e: Any, env: Env) -> Any: ...

    def exec_stmt(self, s: Any, env: Env, top: bool = False) -> None: ...

    def holds(self, e: Any, env: Env) -> bool: ...

    def assign_place(self, target: Any, value: Any, env: Env) -> None: ...

    def match_pattern(self, p: Any, value: Any, scope: Env) -> bool: ...

    def call_fn(self, info: Any, e: Any, env: Env, receiver: tuple[Any, Span] | None = None,
                frame_out: list[Any] | None = None, implicit_self: bool = False) -> Any: ...

    def method_info(self, owner: str, fn: Any) -> Any: ...

    def dtype_of(self, name: str, span: Span) -> Any: ...

    def to_tensor(self, value: Any, span: Span, dtype: Any = None) -> Any: ...

    def source_of(self, node: Any) -> str: ...

    def format(self, value: Any) -> str: ...

    def write(self, text: str) -> None: ...

    def warn(self, message: str, span: Span | None = None) -> None: ...

    def warn_once(self, key: str, message: str, span: Span | None = None) -> None: ...

    def check_interrupt(self, span: Span) -> None: ...
