"""Small tokenizer files for tests, made by `tokenizers` itself."""

from __future__ import annotations

from pathlib import Path


def write_tokenizer_json(path: Path) -> Path:
    """A three-word WordLevel tokenizer ([UNK] 0, hello 1, world 2) saved as tokenizer.json."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    tok = Tokenizer(models.WordLevel({"[UNK]": 0, "hello": 1, "world": 2}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.save(str(path))
    return path
