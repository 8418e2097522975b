"""The TensorLogic interpreter over MLX.

Importing this package does not import MLX: `Session` and friends load lazily.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from tl_core.runtime.session import RunResult, Session, ValueSummary

__all__ = ["RunResult", "Session", "ValueSummary"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from tl_core.runtime import session  # lazy: `import tl_core.runtime` imports no MLX

        return getattr(session, name)
    raise AttributeError(name)
