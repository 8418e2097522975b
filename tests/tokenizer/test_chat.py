"""Chat templates: SmolLM2's own (from its GGUF) against the ChatML text it documents, and
the sandbox."""

from __future__ import annotations

import pytest

from tests.model_files import smollm2_path
from tl_core.tokenizer import TokenizerError, load_tokenizer
from tl_core.tokenizer.chat import render_chat

SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"


@pytest.fixture(scope="module")
def tok():
    return load_tokenizer(smollm2_path())


def test_smollm2_default_system_prompt(tok):
    prompt = tok.chat_prompt([{"role": "user", "content": "What is 2+2?"}])
    assert prompt == (
        f"<|im_start|>system\n{SYSTEM}<|im_end|>\n"
        "<|im_start|>user\nWhat is 2+2?<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_smollm2_conversation_without_generation_prompt(tok):
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
    ]
    assert tok.chat_prompt(messages, add_generation_prompt=False) == (
        "<|im_start|>system\nBe brief.<|im_end|>\n"
        "<|im_start|>user\nHi<|im_end|>\n"
        "<|im_start|>assistant\nHello!<|im_end|>\n"
    )


def test_prompt_tokens_start_with_im_start(tok):
    ids = tok.tokenize(tok.chat_prompt([{"role": "user", "content": "Hi"}]), False)
    tail = [1, *tok.tokenize("assistant\n", False)]  # specials split the text into pieces
    assert ids[0] == 1 and ids[-len(tail):] == tail


def test_sandbox_and_template_errors():
    messages = [{"role": "user", "content": "x"}]
    with pytest.raises(TokenizerError) as err:
        render_chat("{{ messages.append(1) }}", messages)
    assert str(err.value).startswith("the chat template tried an unsafe operation: ")
    # attributes starting with _ are unsafe: undefined, never Python internals
    assert render_chat("{{ messages.__class__ }}", messages) == ""
    with pytest.raises(TokenizerError) as err:
        render_chat("{{ raise_exception('only user and assistant roles') }}", messages)
    assert str(err.value) == (
        "the chat template refused the messages: only user and assistant roles"
    )
    with pytest.raises(TokenizerError) as err:
        render_chat("{% for m in messages %}", messages)
    assert str(err.value).startswith("the chat template has a syntax error at its line 1: ")
    with pytest.raises(TokenizerError) as err:
        render_chat("{{ 1 }}", [{"role": "user"}])
    assert str(err.value) == "chat message 0 has no string 'content'"


def test_tojson_and_bos(tok):
    out = render_chat("{{ bos_token }}{{ messages | tojson }}", [{"role": "user", "content": "é"}],
                      bos_token="<s>")
    assert out == '<s>[{"role": "user", "content": "é"}]'
