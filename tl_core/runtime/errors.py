"""Errors raised while a program runs. None of them imports MLX."""

from __future__ import annotations

from tl_core.syntax.span import Span


class TLRuntimeError(Exception):
    """A runtime error with the source range it belongs to.

    `span` may be None while the error travels up from an op; the interpreter fills it in
    with the span of the call (or of the argument named by `arg`) before reporting.
    """

    code = "runtime"

    def __init__(self, message: str, span: Span | None = None, arg: int | str | None = None):
        super().__init__(message)
        self.message = message
        self.span = span
        self.arg = arg  # positional index or parameter name of the offending argument
        self.related: tuple[tuple[Span, str], ...] = ()  # secondary locations

    def with_code(self, code: str) -> TLRuntimeError:
        self.code = code
        return self


class OpError(TLRuntimeError):
    """Raised by `tl_core.runtime.ops` for a bad argument value or shape."""


class ShapeError(TLRuntimeError):
    code = "shape"


class NotSupported(TLRuntimeError):
    code = "not-supported"

    def __init__(self, construct: str, span: Span | None = None):
        super().__init__(f"not supported yet: {construct}", span)
        self.construct = construct


class Interrupted(TLRuntimeError):
    code = "interrupted"

    def __init__(self, span: Span | None = None):
        super().__init__("interrupted", span)


class AssertionFailed(TLRuntimeError):
    code = "assert"


class Panic(TLRuntimeError):
    code = "panic"
