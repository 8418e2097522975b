"""Diagnostics shared by every layer: the parser, the checker, model readers and the runtime."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from tl_core.syntax.span import Span


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"
    HINT = "hint"


@dataclass(frozen=True, slots=True)
class Related:
    """A secondary location that explains a diagnostic ("N was bound to 4 here")."""

    span: Span
    message: str


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One message about a range of a document.

    `message` is the full text the user reads (what was expected, what was found, and a
    likely fix); `code` is a stable identifier such as "syntax", "shape", "undefined-name".
    """

    span: Span
    message: str
    severity: Severity = Severity.ERROR
    code: str = "error"
    related: tuple[Related, ...] = ()
    source: str = "tensorlogic"

    def format(self, path: str) -> str:
        """`path:line:col: severity: message`, 1-based line and column (the CLI format)."""
        return f"{path}:{self.span.line + 1}:{self.span.col + 1}: {self.severity.value}: {self.message}"
