"""Built-ins for generating text: the tokenizer calls (UPSTREAM.md §13, on
`tl_core.tokenizer`) and sampling (§14.1, on `tl_core.runtime.sampling`), registered into the
registry entries of `tl_core.lang.builtins` like the ops of `tl_core.runtime.ops`.

Token ids are 1-D int32 tensors (what `embedding` takes); a list of ints is accepted too.
"""

from __future__ import annotations

from typing import Any

import mlx.core as mx

from tl_core.lang.builtins import implements
from tl_core.runtime import sampling
from tl_core.runtime.errors import OpError
from tl_core.runtime.ops import OpContext, as_float, as_int, as_str, as_tensor
from tl_core.runtime.values import tensor_type, type_name
from tl_core.tokenizer import Tokenizer, TokenizerError, load_tokenizer


def _tok(v: Any) -> Tokenizer:
    if not isinstance(v, Tokenizer):
        raise OpError(f"expected a Tokenizer (from load_tokenizer), found {type_name(v)}",
                      arg="tok")
    return v


def _flag(v: Any, arg: str) -> bool:
    if not isinstance(v, bool):
        raise OpError(f"expected true or false, found {type_name(v)}", arg=arg)
    return v


def _ids(v: Any) -> list[int]:
    if isinstance(v, mx.array):
        if v.ndim > 1 or mx.issubdtype(v.dtype, mx.inexact):
            raise OpError(f"expected token ids (a 1-D int tensor), found {tensor_type(v)}",
                          arg="ids")
        return [int(i) for i in v.reshape(-1).tolist()]
    if isinstance(v, (list, tuple, range)):
        return [as_int(i, "ids") for i in v]
    raise OpError(f"expected token ids (a 1-D int tensor), found {type_name(v)}", arg="ids")


@implements("load_tokenizer")
def op_load_tokenizer(ctx: OpContext, path: Any) -> Tokenizer:
    written = as_str(path, "path")
    full = str(ctx.resolve_path(written))
    try:
        return load_tokenizer(full)
    except TokenizerError as exc:
        why = str(exc).removeprefix(f"{full}: ")
        raise OpError(f"Failed to load tokenizer '{written}': {why}", arg="path") from None


@implements("tokenize")
def op_tokenize(ctx: OpContext, tok: Any, text: Any, add_special: Any) -> mx.array:
    ids = _tok(tok).tokenize(as_str(text, "text"), _flag(add_special, "add_special"))
    return mx.array(ids, dtype=mx.int32)


@implements("detokenize")
def op_detokenize(ctx: OpContext, tok: Any, ids: Any, skip_special: Any) -> str:
    try:
        return _tok(tok).detokenize(_ids(ids), _flag(skip_special, "skip_special"))
    except TokenizerError as exc:
        raise OpError(str(exc), arg="ids") from None


@implements("detokenize_single")
def op_detokenize_single(ctx: OpContext, tok: Any, id: Any, skip_special: Any) -> str:  # noqa: A002
    try:
        return _tok(tok).detokenize_single(as_int(id, "id"), _flag(skip_special, "skip_special"))
    except TokenizerError as exc:
        raise OpError(str(exc), arg="id") from None


@implements("chat_prompt")
def op_chat_prompt(ctx: OpContext, tok: Any, messages: Any,
                   add_generation_prompt: Any = True) -> str:
    if isinstance(messages, str):
        messages = [["user", messages]]
    if not isinstance(messages, list):
        raise OpError(f"expected a list of [role, content] pairs or a string, found "
                      f"{type_name(messages)}", arg="messages")
    turns = []
    for i, m in enumerate(messages):
        if not (isinstance(m, (list, tuple)) and len(m) == 2
                and all(isinstance(x, str) for x in m)):
            raise OpError(f"message {i} must be a [role, content] pair of strings, found "
                          f"{ctx.format(m)}", arg="messages")
        turns.append({"role": m[0], "content": m[1]})
    try:
        return _tok(tok).chat_prompt(turns, _flag(add_generation_prompt, "add_generation_prompt"))
    except TokenizerError as exc:
        raise OpError(str(exc), arg="tok") from None


@implements("temperature_sample")
def op_temperature_sample(ctx: OpContext, logits: Any, T: Any) -> int:  # noqa: N803
    # one int comes back to the host: the chosen id, never the logits
    return int(sampling.temperature_sample(as_tensor(logits, "logits"), as_float(T, "T")).item())


@implements("top_k")
def op_top_k(ctx: OpContext, logits: Any, k: Any) -> mx.array:
    return sampling.top_k(as_tensor(logits, "logits"), as_int(k, "k"))


@implements("top_p")
def op_top_p(ctx: OpContext, logits: Any, p: Any) -> mx.array:
    return sampling.top_p(as_tensor(logits, "logits"), as_float(p, "p"))


@implements("seed")
def op_seed(ctx: OpContext, n: Any) -> None:
    sampling.seed(as_int(n, "n"))
