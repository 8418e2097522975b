"""The syntax layer's answer: `ParseResult`, at the bottom of the package so that both the
package facade (`tl_core.syntax`) and the parsers (`incremental`) import it from below."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tl_core.diagnostics import Diagnostic
    from tl_core.syntax import ast


@dataclass(frozen=True, slots=True)
class ParseResult:
    program: ast.Program
    errors: tuple[Diagnostic, ...]
    comments: tuple[ast.Comment, ...]
