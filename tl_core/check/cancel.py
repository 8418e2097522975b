"""`Cancelled`: how an analysis whose text is no longer wanted stops early.

`analyze(text, path, checkpoint=...)` calls `checkpoint()` between top-level items; an
editor whose document changed meanwhile makes it raise `Cancelled` (as rust-analyzer's
salsa unwinds a query when its inputs change). It derives from `BaseException` so that
no `except Exception` of the checker (which turns internal errors into a diagnostic, or
retries without the item cache) swallows it. Nothing is committed by a cancelled
analysis: the item records of the previous analysis stay as they were.
"""

from __future__ import annotations


class Cancelled(BaseException):  # noqa: N818 - the name rust-analyzer uses
    """The analysis was cancelled at a checkpoint: its text was superseded."""
