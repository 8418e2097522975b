"""examples/chat_smollm2.tl: greedy decoding of a fixed prompt on the CPU gives exactly the
tokens of a float32 NumPy reference of the same model from the same GGUF
(tests/runtime/smollm2_generate_ref.py, weights through gguf.quants), and prints their
text as it goes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.model_files import smollm2_path
from tests.runtime import smollm2_generate_ref as ref
from tl_core.runtime import Session
from tl_core.tokenizer import load_tokenizer

pytestmark = pytest.mark.slow
EXAMPLE = Path(__file__).resolve().parent.parent.parent / "examples" / "chat_smollm2.tl"
PROMPT = "Write a haiku about tensors."
N = 16


def test_example_tokens_equal_numpy_reference(monkeypatch):
    path = smollm2_path()
    monkeypatch.setenv("TL_SMOLLM2", str(path))
    monkeypatch.setenv("TL_PROMPT", PROMPT)
    monkeypatch.setenv("TL_MAX_NEW", str(N))
    chunks: list[str] = []
    s = Session(base_dir=EXAMPLE.parent, device="cpu")
    r = s.run(EXAMPLE.read_text(encoding="utf-8"), on_output=chunks.append)
    assert [d.message for d in r.errors] == []
    shown = s.run("print(reply)").stdout
    got = [int(i) for i in re.search(r"\[([\d,\s]*)\]", shown).group(1).split(",")]

    tok = load_tokenizer(path)
    prompt = tok.tokenize(tok.chat_prompt([{"role": "user", "content": PROMPT}]), False)
    expected = ref.greedy(ref.load(path), prompt, N, eos=2)
    assert got == expected
    # streamed as generated: each chunk is what one more token adds to the decode of all
    # the tokens so far (the streaming itself on split characters:
    # tests/tokenizer/test_tokenizer_smollm2.py)
    text = tok._hf.decode(expected, skip_special_tokens=False)
    assert "".join(chunks[:N]) == text
    assert chunks[:N] == [tok._hf.decode(expected[:i + 1])[len(tok._hf.decode(expected[:i])):]
                          for i in range(N)]
    assert r.stdout == text + "\n"
