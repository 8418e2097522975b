"""Markdown and labels shared by hover, completion and signature help: code blocks, sizes,
function labels, and the hovers of a model, a tokenizer, a tensor and a built-in."""

from __future__ import annotations

from typing import Any

from tl_core.check.model import Binding
from tl_core.lang.builtins import BUILTINS
from tl_core.lang.registry import signature_label
from tl_core.lang.types import DimVar, FnType, ScalarType, TensorType, Type
from tl_core.syntax import ast as A


def code(text: str) -> str:
    return f"```tensorlogic\n{text}\n```"


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover


def human_count(n: int) -> str:
    if n >= 1_000_000_000:
        return f"{n / 1e9:.2f}B"
    if n >= 1_000_000:
        return f"{n / 1e6:.1f}M"
    if n >= 1_000:
        return f"{n / 1e3:.1f}K"
    return str(n)


def fn_label(b: Binding) -> str:
    t = b.type
    node = b.node
    if isinstance(node, A.FnDecl) and isinstance(t, FnType):
        ps = ", ".join(f"{n}: {pt}" if not (n == "self") else "self" for n, pt in t.params)
        return f"fn {t.name}({ps}) -> {t.ret}"
    return f"fn {b.name}"


KEY_METADATA = ("general.architecture", "general.name", "general.quantization_version",
                "general.file_type", "quantization", "architecture", "format")


def model_markdown(name: str, header: object) -> str:
    h = header
    tensors = getattr(h, "tensors", {})
    params = 0
    for info in tensors.values():
        n = 1
        for d in info.shape:
            n *= d
        params += n
    lines = [code(f"{name}: Model"), "",
             f"**{getattr(h, 'format', '?')}** `{getattr(h, 'path', '')}`", "",
             f"- tensors: {len(tensors)}",
             f"- parameters: {human_count(params)} ({params:,})",
             f"- file size: {human_size(getattr(h, 'file_size', 0))}"]
    meta = getattr(h, "metadata", {}) or {}
    shown = 0
    for k in list(KEY_METADATA) + [k for k in meta if k.endswith(
            (".context_length", ".embedding_length", ".block_count", ".head_count"))]:
        if k in meta and shown < 10:
            v = meta[k]
            text = str(v)
            if len(text) > 60:
                text = text[:57] + "..."
            lines.append(f"- {k}: {text}")
            shown += 1
    return "\n".join(lines)


def tokenizer_markdown(name: str, info: Any) -> str:
    """Hover of a tokenizer: kind, vocabulary size, special tokens (a `TokenizerInfo`)."""
    kinds = {"gpt2": "byte-level BPE (gpt2)", "llama": "SentencePiece BPE (llama)"}

    def token(i: int | None) -> str:
        if i is None:
            return "none"
        text = info.token_text(i)
        return f"{i} `{text}`" if text is not None else str(i)

    specials = ", ".join(f"`{t}`" for _, t in info.special_tokens[:8])
    if len(info.special_tokens) > 8:
        specials += f", ... ({len(info.special_tokens)} in all)"
    lines = [code(f"{name}: Tokenizer"), "",
             f"**{kinds.get(info.kind, info.kind)}** from {info.source} `{info.path}`", "",
             f"- vocabulary: {info.vocab_size:,} tokens",
             f"- bos: {token(info.bos_id)}{' (added by tokenize)' if info.add_bos else ''}",
             f"- eos: {token(info.eos_id)}",
             f"- special tokens: {specials or 'none'}",
             f"- chat template: {'yes' if info.chat_template else 'no'}"]
    return "\n".join(lines)


def tensor_markdown(info: object) -> str:
    shape = list(info.shape)  # type: ignore[attr-defined]
    dtype = info.dtype  # type: ignore[attr-defined]
    q = getattr(info, "quantization", None)
    loaded = getattr(info, "loaded_dtype", "float16")
    lines = [code(f"\"{info.name}\": {loaded or dtype}{shape}"), "",  # type: ignore[attr-defined]
             f"- shape: {shape}",
             f"- source dtype: {dtype}" + (f" (quantization {q})" if q and q != dtype else ""),
             f"- size: {human_size(info.nbytes)} ({info.nbytes:,} bytes)"]  # type: ignore[attr-defined]
    if loaded is None:
        lines.append(f"- `get_tensor` cannot load dtype {dtype}")
    return "\n".join(lines)


def bound_signature(t: FnType, bound: dict[str, int]) -> str:
    """`forward(input: float16[N=4, D_in=3], ...) -> float16[N=4, D_out=2]`."""

    def show(x: Type) -> str:
        if isinstance(x, TensorType) and x.dims is not None:
            return str(TensorType(x.dtype, tuple(
                DimVar(d.name, bound.get(d.name)) if isinstance(d, DimVar) else d
                for d in x.dims)))
        return str(x)

    ps = ", ".join(f"{n}: {show(pt)}" for n, pt in t.params)
    return f"{t.name}({ps}) -> {show(t.ret)}"


def builtin_markdown(name: str) -> str:
    b = BUILTINS[name]
    parts = [code(signature_label(b)), "", b.doc]
    params = [f"- `{p.name}`: {p.doc}" for p in b.params if p.doc]
    if params:
        parts += [""] + params
    return "\n".join(parts)


def type_text(t: Type) -> str:
    """The type, with a known constant value: `int = 4`, `string = "gguf"`."""
    v = getattr(t, "value", None)
    if isinstance(t, ScalarType) and v is not None and t.name != "void":
        shown = f'"{v}"' if isinstance(v, str) else ("true" if v is True else "false"
                                                      if v is False else repr(v))
        if len(shown) <= 60:
            return f"{t} = {shown}"
    return str(t)

