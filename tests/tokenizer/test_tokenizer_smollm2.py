"""The SmolLM2 GGUF's tokenizer (gpt2 byte-level BPE) against HuggingFace `tokenizers` built
here, independently, from the published SmolLM2 tokenizer.json layout and the vocabulary read
with gguf.GGUFReader."""

from __future__ import annotations

import json

import gguf
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer as HFTokenizer

from tests.model_files import smollm2_path
from tl_core.tokenizer import TokenizerError, load_tokenizer


def smollm2_tokenizer_json() -> dict:
    """HuggingFaceTB/SmolLM2-135M-Instruct's tokenizer.json: vocabulary and merges from the
    GGUF, pipeline as published (Digits then ByteLevel, ByteLevel decoder, 17 specials)."""
    reader = gguf.GGUFReader(smollm2_path())
    tokens = reader.fields["tokenizer.ggml.tokens"].contents()
    merges = reader.fields["tokenizer.ggml.merges"].contents()
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {"id": i, "content": tokens[i], "single_word": False, "lstrip": False,
             "rstrip": False, "normalized": False, "special": True}
            for i in range(17)
        ],
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": True}, byte_level]},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": False, "byte_fallback": False,
                  "vocab": {t: i for i, t in enumerate(tokens)}, "merges": merges},
    }


@pytest.fixture(scope="module")
def oracle() -> HFTokenizer:
    return HFTokenizer.from_str(json.dumps(smollm2_tokenizer_json()))


@pytest.fixture(scope="module")
def tok():
    return load_tokenizer(smollm2_path())


def test_info(tok):
    info = tok.info
    assert (info.source, info.kind, info.vocab_size) == ("gguf", "gpt2", 49152)
    assert (info.bos_id, info.eos_id, info.pad_id, info.unk_id, info.add_bos) == (1, 2, 2, 0, False)
    assert info.special_tokens[:3] == ((0, "<|endoftext|>"), (1, "<|im_start|>"), (2, "<|im_end|>"))
    assert len(info.special_tokens) == 17
    assert info.chat_template.startswith("{% for message in messages %}")


def gpt2_byte_chars() -> dict[int, str]:
    """GPT-2's byte -> printable character table (the ByteLevel alphabet)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    chars = {b: chr(b) for b in printable}
    extra = (b for b in range(256) if b not in chars)
    chars.update((b, chr(256 + n)) for n, b in enumerate(extra))
    return chars


def representable(oracle_vocab: dict[str, int]):
    """Characters all of whose UTF-8 bytes have a token: SmolLM2's vocabulary lacks some
    bytes (0x04, 0x06, 0x13, 0xF1, ...), which byte-level BPE drops, as `tokenizers` does."""
    byte_chars = gpt2_byte_chars()
    ok = {b for b, c in byte_chars.items() if c in oracle_vocab}
    return lambda ch: all(b in ok for b in ch.encode("utf-8"))


@pytest.fixture(scope="module")
def texts(oracle):
    return st.text(st.characters(exclude_categories=("Cs",)).filter(
        representable(oracle.get_vocab())), max_size=60)


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_round_trip_and_ids_equal_tokenizers(tok, oracle, texts, data):
    text = data.draw(texts)
    ids = tok.tokenize(text, False)
    assert ids == oracle.encode(text, add_special_tokens=False).ids
    assert tok.tokenize(text, True) == ids  # add_bos_token is false: nothing is added
    assert tok.detokenize(ids, False) == text


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=30))
def test_any_text_ids_equal_tokenizers(tok, oracle, text):
    """Also for characters the vocabulary cannot spell (dropped, as `tokenizers` does)."""
    assert tok.tokenize(text, False) == oracle.encode(text, add_special_tokens=False).ids


def test_unrepresentable_bytes_are_dropped(tok):
    assert tok.detokenize(tok.tokenize("a\x04b", False), False) == "ab"


def test_known_answers(tok, oracle):
    text = "<|im_start|>user\nWhat is 12+7?<|im_end|>"
    ids = tok.tokenize(text, False)
    assert ids[0] == 1 and ids[-1] == 2  # specials are matched whole
    assert ids == oracle.encode(text).ids
    assert [tok.detokenize_single(i, False) for i in ids][:2] == ["<|im_start|>", "user"]
    assert tok.detokenize(ids, True) == "user\nWhat is 12+7?"
    assert tok.detokenize_single(2, True) == ""
    # Digits are split one by one (the smollm pre-tokenizer)
    assert [tok.detokenize_single(i, False) for i in tok.tokenize("2024", False)] == list("2024")


def test_out_of_range_ids(tok):
    with pytest.raises(TokenizerError) as err:
        tok.detokenize([5, 49152], False)
    assert str(err.value) == (
        "token id 49152 is out of range: the vocabulary has 49152 tokens (ids 0..49151)"
    )
    with pytest.raises(TokenizerError):
        tok.detokenize_single(-1, False)


def test_tokenizer_json_loads_the_same(tmp_path, tok):
    (tmp_path / "tokenizer.json").write_text(json.dumps(smollm2_tokenizer_json()))
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({
        "bos_token": "<|im_start|>", "eos_token": {"content": "<|im_end|>"},
        "chat_template": tok.info.chat_template,
    }))
    from_json = load_tokenizer(tmp_path)  # a directory holding tokenizer.json
    info = from_json.info
    assert (info.source, info.kind, info.vocab_size) == ("tokenizer.json", "BPE", 49152)
    assert (info.bos_id, info.eos_id, info.add_bos) == (1, 2, False)
    assert info.special_tokens == tok.info.special_tokens
    text = "Gravity is 9.81 m/s² — «vite»!"
    assert from_json.tokenize(text, True) == tok.tokenize(text, True)
    messages = [{"role": "user", "content": "Hi"}]
    assert from_json.chat_prompt(messages) == tok.chat_prompt(messages)


def test_load_errors(tmp_path):
    with pytest.raises(TokenizerError) as err:
        load_tokenizer(tmp_path / "missing.json")
    assert str(err.value) == f"{tmp_path / 'missing.json'}: no such file"
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(TokenizerError) as err:
        load_tokenizer(bad)
    assert str(err.value).startswith(f"{bad}: not a tokenizer.json or a GGUF file (")
    assert str(err.value).endswith(
        "); expected a HuggingFace tokenizer.json or a .gguf with tokenizer metadata"
    )


@settings(max_examples=25, deadline=None)
@given(st.text(min_size=1, max_size=12), st.integers(min_value=1, max_value=12))
def test_detokenize_incremental_streams_whole_characters(oracle, text, cut):
    """`detokenize_incremental` of each prefix of the ids (the language, on the GGUF's
    tokenizer) is the oracle's decode of that prefix with special tokens; so a character
    whose bytes span tokens appears whole once its last token is in."""
    from tl_core.runtime import Session

    ids = oracle.encode("<|im_start|>" + text, add_special_tokens=False).ids
    cut = min(cut, len(ids))
    s = Session(device="cpu")
    r = s.run(f'let tok = load_tokenizer("{smollm2_path()}")\n'
              f'let ids = tensor<int32>({ids})\n'
              f'let a = detokenize_incremental(tok, ids)\n'
              f'let b = tok.detokenize_incremental({ids[:cut]})\n')
    assert [d.message for d in r.errors] == []
    got = s.interpreter.globals.vars
    assert got["a"] == oracle.decode(ids, skip_special_tokens=False)
    assert got["b"] == oracle.decode(ids[:cut], skip_special_tokens=False)


STREAM = '''let tok = load_tokenizer("{path}")
let reply = tokenize(tok, "", false)
let shown = ""
for t in tensor<int32>({ids}) {{
    reply = append(reply, t)
    let new = detokenize_incremental(tok, reply, shown)
    print(new, end: "")
    shown = shown + new
}}
'''


def stream(ids: list[int]) -> list[str]:
    """The chunks printed by the chat example's streaming loop over `ids`, one per token."""
    from tl_core.runtime import Session

    chunks: list[str] = []
    r = Session(device="cpu").run(STREAM.format(path=smollm2_path(), ids=ids),
                                  on_output=chunks.append)
    assert [d.message for d in r.errors] == []
    assert "".join(chunks) == r.stdout
    return chunks


def test_streamed_text_keeps_characters_split_across_tokens(oracle):
    """Each emoji and CJK character here spans several byte-level tokens: one token decoded
    alone gives replacement characters, the streamed chunks never do, and they join to
    `tokenizers`' decode of the whole sequence."""
    text = "Paris 🇫🇷 est la capitale. 日本語 — 🤖✨ naïve"
    ids = oracle.encode(text, add_special_tokens=False).ids
    assert any("\ufffd" in oracle.decode([i]) for i in ids)  # split characters exist
    chunks = stream(ids)
    assert "".join(chunks) == oracle.decode(ids, skip_special_tokens=False) == text
    assert not any("\ufffd" in c for c in chunks)


@settings(max_examples=20, deadline=None)
@given(st.text(min_size=1, max_size=16))
def test_streamed_text_equals_decode_of_whole_sequence(oracle, text):
    ids = oracle.encode("<|im_start|>" + text, add_special_tokens=False).ids
    whole = oracle.decode(ids, skip_special_tokens=False)
    joined = "".join(stream(ids))
    # a character whose last token never comes stays held back: only trailing U+FFFD differ
    assert joined == whole.rstrip("\ufffd")


def test_detokenize_incremental_shown_must_start_the_text():
    from tl_core.runtime import Session

    r = Session(device="cpu").run(
        f'let tok = load_tokenizer("{smollm2_path()}")\n'
        f'let x = detokenize_incremental(tok, tokenize(tok, "Hello world", false), "Help")\n')
    assert [d.message for d in r.errors] == [
        "the text shown so far ('Help', 4 characters) is not the start of the text of the ids "
        "('Hell'); pass what the earlier calls returned, joined"]
