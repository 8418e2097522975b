"""The one error type of the model-file layer."""

from __future__ import annotations


class ModelFileError(Exception):
    """A model file that cannot be read, or a tensor that cannot be loaded or saved.

    `message` says what was expected, what was found and, where likely, a fix; `offset` is
    the byte offset in the file where reading stopped (None when no byte was at fault, e.g.
    a missing file or an unknown tensor name); `path` is the file as the caller named it.
    `str(error)` is the full message: `"<path>: <message>"`.
    """

    def __init__(self, message: str, offset: int | None = None, path: str | None = None):
        self.message = message
        self.offset = offset
        self.path = path
        super().__init__(self.full_message())

    def full_message(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message

    def __str__(self) -> str:
        return self.full_message()

    def with_path(self, path: str) -> ModelFileError:
        """The same error naming `path` (used when a reader raised it without one)."""
        return ModelFileError(self.message, self.offset, path)

