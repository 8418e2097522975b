"""Tokenizers: text <-> token ids and chat prompts, from a tokenizer.json or a GGUF file.

Plain Python; `tokenizers` and `jinja2` are imported on first use, never at import time.
"""

from tl_core.tokenizer.errors import TokenizerError
from tl_core.tokenizer.tokenizer import Tokenizer, TokenizerInfo, load_tokenizer, new_text

__all__ = ["Tokenizer", "TokenizerError", "TokenizerInfo", "load_tokenizer", "new_text"]
