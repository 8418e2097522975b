"""The one error type of the tokenizer layer."""

from __future__ import annotations


class TokenizerError(Exception):
    """A tokenizer that cannot be loaded, ids it cannot decode, a chat template that fails.

    The message is complete (it names the file where one is involved) and is shown to users
    as it is."""
