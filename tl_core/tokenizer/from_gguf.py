"""A HuggingFace `tokenizers.Tokenizer` built from a GGUF file's tokenizer metadata.

llama.cpp stores the tokenizer in `tokenizer.ggml.*` keys: `model` ("gpt2": byte-level BPE
with `merges`; "llama": SentencePiece BPE with `scores` and byte-fallback tokens `<0xNN>`),
`tokens`, `token_type` (1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte),
`pre` (the pre-tokenizer of a gpt2 vocabulary), the bos/eos/unknown/padding ids,
`add_bos_token`, `add_eos_token`, `add_space_prefix`. We map them onto the same pipeline
HuggingFace's own converters produce for those models, so `encode`/`decode` answer as the
model's `tokenizer.json` would (and as llama.cpp's tokenizer does for ordinary text).

The long arrays come from `gguf.metadata_array`, so only a tokenizer pays for reading them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tl_core.models.gguf import metadata_array
from tl_core.models.types import ModelHeader
from tl_core.tokenizer.errors import TokenizerError

if TYPE_CHECKING:
    import tokenizers

NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6

# GPT-2's split (tokenizers' ByteLevel with use_regex=True applies exactly this one).
_GPT2 = "gpt2"
# Llama 3's split, also used (with ignore_merges) by the models llama.cpp groups with it.
_LLAMA3 = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_QWEN2 = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)


@dataclass(frozen=True, slots=True)
class _PreTokenizer:
    regex: str  # _GPT2, or a pattern applied by a Split before a regex-free ByteLevel
    digits: bool = False  # split every digit on its own first
    ignore_merges: bool = False  # a whole word that is a token wins over the merges


# tokenizer.ggml.pre -> how llama.cpp (llama-vocab.cpp) splits text before BPE.
PRE_TOKENIZERS: dict[str, _PreTokenizer] = {
    "default": _PreTokenizer(_GPT2),
    "gpt-2": _PreTokenizer(_GPT2),
    "gpt2": _PreTokenizer(_GPT2),
    "starcoder": _PreTokenizer(_GPT2, digits=True),
    "smollm": _PreTokenizer(_GPT2, digits=True),
    "refact": _PreTokenizer(_GPT2, digits=True),
    "codeshell": _PreTokenizer(_GPT2, digits=True),
    "command-r": _PreTokenizer(_GPT2, digits=True),
    "llama3": _PreTokenizer(_LLAMA3, ignore_merges=True),
    "llama-v3": _PreTokenizer(_LLAMA3, ignore_merges=True),
    "llama-bpe": _PreTokenizer(_LLAMA3, ignore_merges=True),
    "qwen2": _PreTokenizer(_QWEN2),
}


@dataclass(frozen=True, slots=True)
class GGUFVocab:
    """The tokenizer part of a GGUF header, arrays read."""

    kind: str  # "gpt2" or "llama"
    tokens: list[str]
    token_types: list[int]
    scores: list[float] | None
    merges: list[str] | None
    pre: str | None
    bos_id: int | None
    eos_id: int | None
    unk_id: int | None
    pad_id: int | None
    add_bos: bool
    add_eos: bool
    add_space_prefix: bool


def read_vocab(header: ModelHeader) -> GGUFVocab:
    md = header.metadata
    kind = md.get("tokenizer.ggml.model")
    if kind is None:
        raise TokenizerError(
            f"{header.path}: the GGUF file has no tokenizer (no tokenizer.ggml.model key); "
            f"load the model's tokenizer.json instead"
        )
    if kind not in ("gpt2", "llama"):
        raise TokenizerError(
            f"{header.path}: tokenizer.ggml.model is {kind!r}; supported: 'gpt2' (byte-level "
            f"BPE) and 'llama' (SentencePiece BPE); load the model's tokenizer.json instead"
        )
    _check_count(header, "tokenizer.ggml.tokens", MAX_TOKENS)
    if kind == "gpt2":
        _check_count(header, "tokenizer.ggml.merges", MAX_MERGES)
    tokens = [str(t) for t in metadata_array(header, "tokenizer.ggml.tokens")]
    n = len(tokens)
    types = _optional_array(header, "tokenizer.ggml.token_type", n) or [NORMAL] * n
    scores = _optional_array(header, "tokenizer.ggml.scores", n)
    merges = None
    if kind == "gpt2":
        merges = [str(m) for m in metadata_array(header, "tokenizer.ggml.merges")]
    elif scores is None:
        raise TokenizerError(
            f"{header.path}: a 'llama' tokenizer needs tokenizer.ggml.scores, which is missing"
        )

    def token_id(key: str) -> int | None:
        value = md.get(f"tokenizer.ggml.{key}")
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < n:
            raise TokenizerError(
                f"{header.path}: tokenizer.ggml.{key} is {value!r}, not a token id in "
                f"[0, {n})"
            )
        return value

    def flag(key: str, default: bool) -> bool:
        value = md.get(f"tokenizer.ggml.{key}", default)
        return bool(value)

    return GGUFVocab(
        kind=kind,
        tokens=tokens,
        token_types=[int(t) for t in types],
        scores=[float(s) for s in scores] if scores is not None else None,
        merges=merges,
        pre=md.get("tokenizer.ggml.pre") if isinstance(md.get("tokenizer.ggml.pre"), str) else None,
        bos_id=token_id("bos_token_id"),
        eos_id=token_id("eos_token_id"),
        unk_id=token_id("unknown_token_id"),
        pad_id=token_id("padding_token_id"),
        # llama.cpp's defaults: SentencePiece vocabularies add BOS, byte-level ones do not.
        add_bos=flag("add_bos_token", kind == "llama"),
        add_eos=flag("add_eos_token", False),
        add_space_prefix=flag("add_space_prefix", kind == "llama"),
    )


# The largest vocabulary and merge list built (the largest published vocabularies have about
# 262k tokens): a header that declares more is refused before its arrays are read.
MAX_TOKENS = 1 << 21
MAX_MERGES = 1 << 22


def _check_count(header: ModelHeader, key: str, limit: int) -> None:
    value = header.metadata.get(key)
    count = getattr(value, "count", None)
    if count is not None and count > limit:
        raise TokenizerError(
            f"{header.path}: {key} has {count} entries; tokenizers of more than {limit} are "
            f"not built (is the file corrupt?)"
        )


def _optional_array(header: ModelHeader, key: str, n: int) -> list | None:
    if key not in header.metadata:
        return None
    values = metadata_array(header, key)
    if len(values) != n:
        raise TokenizerError(
            f"{header.path}: {key} has {len(values)} entries, but tokenizer.ggml.tokens has {n}"
        )
    return values


def build(vocab: GGUFVocab, path: str) -> tokenizers.Tokenizer:
    """The HuggingFace tokenizer for `vocab`."""
    from tokenizers import AddedToken, Tokenizer  # lazy: tokenizers loads with the first tokenizer

    tok = Tokenizer(_bpe_gpt2(vocab, path) if vocab.kind == "gpt2" else _bpe_llama(vocab))
    if vocab.kind == "gpt2":
        _byte_level(tok, vocab, path)
    else:
        _sentencepiece(tok, vocab)
    added = [
        AddedToken(text, special=ttype == CONTROL, normalized=False)
        for text, ttype in zip(vocab.tokens, vocab.token_types, strict=True)
        if ttype in (CONTROL, USER_DEFINED)
    ]
    if added:
        tok.add_tokens(added)
    _post_processor(tok, vocab)
    return tok


def _vocab_dict(vocab: GGUFVocab) -> dict[str, int]:
    ids: dict[str, int] = {}
    for i, text in enumerate(vocab.tokens):
        ids.setdefault(text, i)  # a duplicated string keeps its first id, as llama.cpp does
    return ids


def _bpe_gpt2(vocab: GGUFVocab, path: str) -> tokenizers.models.BPE:
    from tokenizers import models  # lazy: as above

    pre = _pre(vocab, path)
    merges: list[tuple[str, str]] = []
    for i, merge in enumerate(vocab.merges or ()):
        left, sep, right = merge.partition(" ")
        if not sep:
            raise TokenizerError(
                f"{path}: tokenizer.ggml.merges[{i}] is {merge!r}, not two tokens separated "
                f"by a space"
            )
        merges.append((left, right))
    return models.BPE(
        _vocab_dict(vocab), merges, fuse_unk=False, byte_fallback=False,
        ignore_merges=pre.ignore_merges,
    )


def _pre(vocab: GGUFVocab, path: str) -> _PreTokenizer:
    name = vocab.pre or "default"
    pre = PRE_TOKENIZERS.get(name)
    if pre is None:
        raise TokenizerError(
            f"{path}: unknown pre-tokenizer tokenizer.ggml.pre = {name!r} (known: "
            f"{', '.join(sorted(PRE_TOKENIZERS))}); load the model's tokenizer.json instead"
        )
    return pre


def _byte_level(tok: tokenizers.Tokenizer, vocab: GGUFVocab, path: str) -> None:
    from tokenizers import Regex, decoders, pre_tokenizers  # lazy: as above

    pre = _pre(vocab, path)
    steps = []
    if pre.digits:
        steps.append(pre_tokenizers.Digits(individual_digits=True))
    if pre.regex == _GPT2:
        steps.append(pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True))
    else:
        steps.append(pre_tokenizers.Split(Regex(pre.regex), behavior="isolated", invert=False))
        steps.append(pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False))
    tok.pre_tokenizer = steps[0] if len(steps) == 1 else pre_tokenizers.Sequence(steps)
    tok.decoder = decoders.ByteLevel()


def _bpe_llama(vocab: GGUFVocab) -> tokenizers.models.BPE:
    """SentencePiece BPE as a merge list: every split of a normal token into two tokens is a
    merge, ranked by the merged token's score (highest first), the way HuggingFace's
    `SentencePieceExtractor` converts Llama's tokenizer.model."""
    from tokenizers import models  # lazy: as above

    ids = _vocab_dict(vocab)
    scores = vocab.scores or []
    ranked: list[tuple[float, int, int, str, str]] = []
    for text, i in ids.items():
        if vocab.token_types[i] != NORMAL:
            continue
        for cut in range(1, len(text)):
            left, right = text[:cut], text[cut:]
            li, ri = ids.get(left), ids.get(right)
            if li is not None and ri is not None:
                ranked.append((-scores[i], li, ri, left, right))
    ranked.sort()
    unk = vocab.tokens[vocab.unk_id] if vocab.unk_id is not None else None
    return models.BPE(
        ids, [(left, right) for _, _, _, left, right in ranked], unk_token=unk,
        fuse_unk=True, byte_fallback=True,
    )


def _sentencepiece(tok: tokenizers.Tokenizer, vocab: GGUFVocab) -> None:
    from tokenizers import decoders, normalizers  # lazy: as above

    space = "\u2581"
    if vocab.add_space_prefix:
        tok.normalizer = normalizers.Sequence(
            [normalizers.Prepend(space), normalizers.Replace(" ", space)]
        )
    else:
        tok.normalizer = normalizers.Replace(" ", space)
    steps = [decoders.Replace(space, " "), decoders.ByteFallback(), decoders.Fuse()]
    if vocab.add_space_prefix:
        steps.append(decoders.Strip(" ", 1, 0))
    tok.decoder = decoders.Sequence(steps)


def _post_processor(tok: tokenizers.Tokenizer, vocab: GGUFVocab) -> None:
    from tokenizers import processors  # lazy: as above

    specials: list[tuple[str, int]] = []
    single = "$A"
    if vocab.add_bos and vocab.bos_id is not None:
        bos = vocab.tokens[vocab.bos_id]
        specials.append((bos, vocab.bos_id))
        single = f"{bos} {single}"
    if vocab.add_eos and vocab.eos_id is not None:
        eos = vocab.tokens[vocab.eos_id]
        specials.append((eos, vocab.eos_id))
        single = f"{single} {eos}"
    if specials:
        tok.post_processor = processors.TemplateProcessing(single=single, special_tokens=specials)
