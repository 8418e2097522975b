"""`load_tokenizer(path)` and the `Tokenizer` value: text <-> token ids, and chat prompts.

Backed by HuggingFace `tokenizers` (imported on first load), as the original TensorLogic is
(UPSTREAM.md §13): `tokenize` is `encode(text, add_special_tokens).ids`, `detokenize` is
`decode(ids, skip_special_tokens)`, `detokenize_single` decodes a one-element list. Sources:
a `tokenizer.json` (or a directory holding one, with its `tokenizer_config.json` for the
bos/eos text and the chat template), or a `.gguf` file (tokenizer built from its metadata,
see `from_gguf`).
"""

from __future__ import annotations

import errno
import json
import os
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tl_core.models import ModelFileError, read_header
from tl_core.read_wait import bounded, bounded_call
from tl_core.source import open_regular, path_problem, read_regular
from tl_core.tokenizer import from_gguf
from tl_core.tokenizer.chat import render_chat
from tl_core.tokenizer.errors import TokenizerError

if TYPE_CHECKING:
    import tokenizers


@dataclass(frozen=True, slots=True)
class TokenizerInfo:
    """What a tokenizer is, for display (hover) and for programs (special ids)."""

    path: str
    source: str  # "gguf" or "tokenizer.json"
    kind: str  # "gpt2" (byte-level BPE), "llama" (SentencePiece BPE), or the json model type
    vocab_size: int  # ids are 0 .. vocab_size - 1 (added tokens included)
    bos_id: int | None
    eos_id: int | None
    pad_id: int | None
    unk_id: int | None
    add_bos: bool
    special_tokens: tuple[tuple[int, str], ...]  # (id, text), by id
    chat_template: str | None

    def token_text(self, token_id: int | None) -> str | None:
        for i, text in self.special_tokens:
            if i == token_id:
                return text
        return None


class Tokenizer:
    """An immutable tokenizer (safe to share between threads and runs)."""

    __slots__ = ("info", "_hf")

    def __init__(self, info: TokenizerInfo, hf: tokenizers.Tokenizer):
        self.info = info
        self._hf = hf

    def tokenize(self, text: str, add_special: bool) -> list[int]:
        """Token ids of `text`; `add_special` adds what the tokenizer's post-processor adds
        (a BOS for Llama-style vocabularies), nothing else."""
        return self._hf.encode(text, add_special_tokens=add_special).ids

    def detokenize(self, ids: Sequence[int], skip_special: bool) -> str:
        n = self.info.vocab_size
        for i in ids:
            if not 0 <= i < n:
                raise TokenizerError(
                    f"token id {i} is out of range: the vocabulary has {n} tokens "
                    f"(ids 0..{n - 1})"
                )
        return self._hf.decode(list(ids), skip_special_tokens=skip_special)

    def detokenize_single(self, token_id: int, skip_special: bool) -> str:
        """The text of one token decoded alone (a Llama-style decoder strips its leading
        word-boundary space, as HuggingFace does)."""
        return self.detokenize([token_id], skip_special)

    def chat_prompt(
        self, messages: Sequence[Mapping[str, str]], add_generation_prompt: bool = True
    ) -> str:
        """The model's chat template rendered for `messages` (role/content mappings)."""
        info = self.info
        if info.chat_template is None:
            raise TokenizerError(
                f"{info.path}: the tokenizer has no chat template (no "
                f"tokenizer.chat_template); write the prompt text yourself"
            )
        return render_chat(
            info.chat_template,
            messages,
            add_generation_prompt=add_generation_prompt,
            bos_token=info.token_text(info.bos_id) or "",
            eos_token=info.token_text(info.eos_id) or "",
        )

    def __repr__(self) -> str:
        i = self.info
        return f"Tokenizer({i.kind}, {i.vocab_size} tokens, path={i.path!r})"


# Tokenizers, and the errors that a file's bytes gave (a broken 30 MB tokenizer.json is not
# parsed again at every check of the program), by (resolved path, size, mtime).
_CACHE: OrderedDict[tuple[str, int, int], Tokenizer | TokenizerError] = OrderedDict()
_CACHE_SIZE = 8
_CACHE_LOCK = threading.Lock()  # tokenizers load from the kernel and language-server threads


# The largest tokenizer.json / tokenizer_config.json read (the largest published ones are
# about 35 MB); a bigger file, a FIFO or a device is refused before reading.
JSON_LIMIT = 128 * 1024 * 1024


class _OpenError(TokenizerError):
    """A file that could not be opened or read (permissions, a FIFO): not cached, unlike an
    error of the file's bytes."""


def load_tokenizer(path: str | os.PathLike[str]) -> Tokenizer:
    """The tokenizer of a `.gguf` file or a `tokenizer.json` (or a directory holding one),
    cached by (resolved path, size, mtime). Raises `TokenizerError` with the reason.
    Only regular files are opened (never blocking on a FIFO), and a tokenizer.json is read
    only up to `JSON_LIMIT` bytes: the checker loads tokenizers that programs name. Under a
    `tl_core.read_wait.ReadWait` (the language server's analysis) a load not cached is
    waited for at most its seconds, then raises `ReadPending` and goes on in the background.
    """
    named = os.fspath(path)
    problem = path_problem(named)
    if problem is not None:
        raise TokenizerError(f"{named}: {problem}")
    # (the file's state waited for as a read: a hung mount holds no analysis)
    spath, st, resolved = bounded_call(named, lambda: _file_state(named))
    if isinstance(st, OSError):
        why = "no such file" if isinstance(st, FileNotFoundError) else st.strerror or str(st)
        raise TokenizerError(f"{spath}: {why}") from None
    key = (resolved, st.st_size, st.st_mtime_ns)
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
    if isinstance(hit, TokenizerError):
        raise TokenizerError(str(hit))
    if hit is not None:
        return hit
    return bounded(("tokenizer", *key), named, lambda: _load(spath, key))


def _file_state(named: str) -> tuple[str, os.stat_result | OSError, str]:
    """The file that `named` stands for (a directory's tokenizer.json), its stat (or why
    there is none) and its resolved path."""
    spath = os.path.join(named, "tokenizer.json") if os.path.isdir(named) else named
    try:
        return spath, os.stat(spath), str(Path(spath).resolve())
    except OSError as exc:
        return spath, exc, ""


def _load(spath: str, key: tuple[str, int, int]) -> Tokenizer:
    """Read and build a tokenizer (or the error of its bytes), and cache it."""
    try:
        tok: Tokenizer | TokenizerError = (_load_gguf(spath) if _is_gguf(spath)
                                           else _load_json(spath))
    except _OpenError as exc:
        raise TokenizerError(str(exc)) from None
    except TokenizerError as exc:
        tok = TokenizerError(str(exc))  # without the traceback (it holds the file's text)
    with _CACHE_LOCK:
        _CACHE[key] = tok
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    if isinstance(tok, TokenizerError):
        raise TokenizerError(str(tok))
    return tok


def _is_gguf(path: str) -> bool:
    try:
        fd, _ = open_regular(path)
    except OSError as exc:
        raise _OpenError(f"{path}: {exc.strerror or exc}") from None
    try:
        return os.pread(fd, 4, 0) == b"GGUF"
    finally:
        os.close(fd)


def _read_json_file(path: str) -> str:
    try:
        data = read_regular(path, JSON_LIMIT, "tokenizer files")
    except OSError as exc:
        error = TokenizerError if exc.errno == errno.EFBIG else _OpenError
        raise error(f"{path}: cannot read it ({exc.strerror or exc})") from None
    return data.decode("utf-8", errors="replace")


def _load_gguf(path: str) -> Tokenizer:
    try:
        header = read_header(path)
        vocab = from_gguf.read_vocab(header)
    except ModelFileError as exc:  # the header's own cache keeps the errors of its bytes
        raise _OpenError(str(exc)) from None
    hf = from_gguf.build(vocab, path)
    template = header.metadata.get("tokenizer.chat_template")
    specials = tuple(
        (i, text)
        for i, (text, ttype) in enumerate(zip(vocab.tokens, vocab.token_types, strict=True))
        if ttype == from_gguf.CONTROL
    )
    info = TokenizerInfo(
        path=path,
        source="gguf",
        kind=vocab.kind,
        vocab_size=hf.get_vocab_size(with_added_tokens=True),
        bos_id=vocab.bos_id,
        eos_id=vocab.eos_id,
        pad_id=vocab.pad_id,
        unk_id=vocab.unk_id,
        add_bos=vocab.add_bos,
        special_tokens=specials,
        chat_template=template if isinstance(template, str) else None,
    )
    return Tokenizer(info, hf)


def _load_json(path: str) -> Tokenizer:
    # lazy: tokenizers loads with the first tokenizer
    from tokenizers import Tokenizer as HFTokenizer

    text = _read_json_file(path)
    try:
        hf = HFTokenizer.from_str(text)
    except Exception as exc:  # the Rust side raises plain Exceptions
        raise TokenizerError(
            f"{path}: not a tokenizer.json or a GGUF file ({exc}); expected a HuggingFace "
            f"tokenizer.json or a .gguf with tokenizer metadata"
        ) from None
    specials = tuple(
        sorted((i, t.content) for i, t in hf.get_added_tokens_decoder().items() if t.special)
    )
    config: dict[str, object] = {}
    config_path = os.path.join(os.path.dirname(path), "tokenizer_config.json")
    if os.path.isfile(config_path):
        try:
            loaded = json.loads(_read_json_file(config_path))
            config = loaded if isinstance(loaded, dict) else {}
        except ValueError as exc:
            raise TokenizerError(f"{config_path}: cannot read it ({exc})") from None

    def special_id(name: str) -> int | None:
        value = config.get(name)
        if isinstance(value, dict):
            value = value.get("content")
        return hf.token_to_id(value) if isinstance(value, str) else None

    template = config.get("chat_template")
    post = hf.post_processor
    bos_id = special_id("bos_token")
    info = TokenizerInfo(
        path=path,
        source="tokenizer.json",
        kind=type(hf.model).__name__,
        vocab_size=hf.get_vocab_size(with_added_tokens=True),
        bos_id=bos_id,
        eos_id=special_id("eos_token"),
        pad_id=special_id("pad_token"),
        unk_id=special_id("unk_token"),
        add_bos=bos_id is not None
        and post is not None
        and bos_id in hf.encode("", add_special_tokens=True).ids,
        special_tokens=specials,
        chat_template=template if isinstance(template, str) else None,
    )
    return Tokenizer(info, hf)


def new_text(text: str, shown: str) -> str:
    """What `text` (a decode of all the ids so far) adds to `shown` (the text printed so
    far), without trailing replacement characters: a character whose bytes span tokens is
    held back until its last token is in, so printing each answer streams the text whole.
    `shown` must start `text` (it is what earlier answers added up to)."""
    if not text.startswith(shown):
        raise TokenizerError(
            f"the text shown so far ({shown[-20:]!r}, {len(shown)} characters) is not the "
            f"start of the text of the ids ({text[:len(shown)][-20:]!r}); pass what the "
            f"earlier calls returned, joined"
        )
    return text[len(shown):].rstrip("\ufffd")
