"""A 'llama' (SentencePiece BPE) GGUF tokenizer against `sentencepiece` itself: a small BPE
model with byte fallback is trained here, written into a GGUF the way llama.cpp's converter
writes one (pieces, scores, token types, bos/eos/unk ids), and loaded back."""

from __future__ import annotations

import io
import random

import gguf
import pytest
import sentencepiece as spm
from hypothesis import given, settings
from hypothesis import strategies as st

from tl_core.tokenizer import load_tokenizer

WORDS = (
    "the model reads tokens and writes tokens again a tensor holds numbers in rows "
    "attention looks back at every earlier position while the cache keeps keys and values "
    "naïve café déjà vu 日本 語"
).split()


def corpus() -> list[str]:
    rng = random.Random(7)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12))) for _ in range(400)]


def train() -> spm.SentencePieceProcessor:
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus()), model_writer=model, vocab_size=400,
        model_type="bpe", byte_fallback=True, character_coverage=1.0,
        normalization_rule_name="identity", remove_extra_whitespaces=False,
        add_dummy_prefix=True, unk_id=0, bos_id=1, eos_id=2, pad_id=-1, minloglevel=2,
    )
    return spm.SentencePieceProcessor(model_proto=model.getvalue())


def token_type(sp: spm.SentencePieceProcessor, i: int) -> int:
    """llama.cpp's convert_hf_to_gguf: 2 unknown, 3 control, 5 unused, 6 byte, else 1."""
    if sp.is_unknown(i):
        return 2
    if sp.is_control(i):
        return 3
    if sp.is_unused(i):
        return 5
    if sp.is_byte(i):
        return 6
    return 1


@pytest.fixture(scope="module")
def sp() -> spm.SentencePieceProcessor:
    return train()


@pytest.fixture(scope="module")
def tok(sp, tmp_path_factory):
    path = tmp_path_factory.mktemp("spm") / "tiny-llama.gguf"
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_tokenizer_model("llama")
    n = sp.get_piece_size()
    w.add_token_list([sp.id_to_piece(i) for i in range(n)])
    w.add_token_scores([sp.get_score(i) for i in range(n)])
    w.add_token_types([token_type(sp, i) for i in range(n)])
    w.add_unk_token_id(0)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.close()
    return load_tokenizer(path)


def test_info(tok, sp):
    info = tok.info
    assert (info.kind, info.vocab_size, info.add_bos) == ("llama", sp.get_piece_size(), True)
    assert (info.bos_id, info.eos_id, info.unk_id) == (1, 2, 0)
    assert info.special_tokens == ((1, "<s>"), (2, "</s>"))
    assert info.chat_template is None


# "▁" (U+2581) is SentencePiece's space: text containing it does not round-trip.
_text = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\u2581"), max_size=40)


@settings(max_examples=200, deadline=None)
@given(st.one_of(_text, st.lists(st.sampled_from(WORDS), max_size=8).map(" ".join)))
def test_ids_equal_sentencepiece_and_round_trip(tok, sp, text):
    ids = tok.tokenize(text, False)
    assert ids == sp.encode(text)
    assert tok.tokenize(text, True) == [1, *ids]  # BOS only, no EOS
    assert tok.detokenize(ids, False) == text
    assert tok.detokenize(ids, False) == sp.decode(ids)


def test_single_token_decoding(tok, sp):
    ids = tok.tokenize("the cache", True)
    assert ids[0] == 1 and len(ids) >= 3
    # a word-boundary space is stripped when one token is decoded alone (HF's Strip decoder)
    assert tok.detokenize_single(ids[-1], False) == sp.id_to_piece(ids[-1]).replace("\u2581", "")
    assert tok.detokenize_single(1, False) == "<s>"
    assert tok.detokenize_single(1, True) == ""
    # bytes of a character outside the vocabulary come back as one character
    ids = tok.tokenize("€", False)
    assert all(sp.is_byte(i) for i in ids[1:]) and tok.detokenize(ids, False) == "€"
