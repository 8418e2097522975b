"""Importing the tokenizer layer imports none of its heavy libraries (they load on use)."""

from __future__ import annotations

import subprocess
import sys


def test_import_is_light():
    code = (
        "import sys, tl_core.tokenizer, tl_core.tokenizer.chat, tl_core.tokenizer.from_gguf;"
        "print([m for m in ('tokenizers', 'jinja2', 'mlx', 'gguf') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
