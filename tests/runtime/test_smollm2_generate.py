"""Greedy generation on the real SmolLM2 GGUF: the runtime's tokenizer, chat template,
KVCache, attention_with_cache and temperature_sample composed in Python
(tests/runtime/smollm2_mlx.py) give exactly the tokens of a float32 NumPy reference built
from gguf.quants (tests/runtime/smollm2_generate_ref.py)."""

from __future__ import annotations

import mlx.core as mx
import pytest

from tests.model_files import smollm2_path
from tests.runtime import smollm2_generate_ref as ref
from tests.runtime.smollm2_mlx import SmolLM2
from tl_core.tokenizer import load_tokenizer

pytestmark = pytest.mark.slow
PROMPT = "Write a haiku about tensors."
N = 16


@pytest.fixture(scope="module")
def prompt_ids() -> list[int]:
    tok = load_tokenizer(smollm2_path())
    return tok.tokenize(tok.chat_prompt([{"role": "user", "content": PROMPT}]), False)


@pytest.fixture(scope="module")
def expected(prompt_ids) -> list[int]:
    return ref.greedy(ref.load(smollm2_path()), prompt_ids, N, eos=2)


@pytest.mark.parametrize("dtype", [mx.float32, mx.float16], ids=["float32", "float16"])
def test_greedy_tokens_equal_numpy_reference(prompt_ids, expected, dtype):
    with mx.stream(mx.cpu):
        got = list(SmolLM2(smollm2_path(), dtype).generate(prompt_ids, N, eos=2))
    assert got == expected
    tok = load_tokenizer(smollm2_path())
    assert tok.detokenize(got, False) == tok.detokenize(expected, False)
    assert len(expected) == N and 2 not in expected  # 16 real tokens, no early stop
