"""What a built-in function is: `Builtin` (one registry entry), its parameters and their
kinds, argument binding, signature labels, and the slot the runtime fills with the
implementation.

An entry declares everything about a built-in: its parameters (name, kind, default, doc),
what it returns, its doc paragraph, its category, whether it is pure, the shape rule the
checker runs, and its runtime implementation. The implementation is registered by the
runtime (`@implements("softmax")` in `tl_core.runtime.ops`), so this layer never imports
MLX; `Builtin.impl()` returns it once the runtime is loaded.

Binding (`bind_arguments`) is shared by the checker and the runtime so both report the same
message. A variadic built-in collects extra positional arguments in its last parameter; a
built-in with `var_keyword` (only `model_from`) accepts any keyword name.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tl_core.lang.shapes import RuleArgs
from tl_core.lang.types import (
    INT,
    STRING,
    UNKNOWN,
    VOID,
    KVCacheType,
    ListType,
    ModelType,
    ShapeType,
    TensorBufferType,
    TensorType,
    TokenizerType,
    Type,
)

# Parameter kinds and what each accepts. "model_path" and "tensor_name" are strings with a
# meaning: the checker opens a model_path argument's file (its header) and hands the Model to
# the shape rule; the IDE completes file names in one and the model's tensor names in the
# other, and hovers show the file or the tensor.
KINDS: dict[str, str] = {
    "tensor": "a tensor or a number",
    "indices": "an integer tensor used to gather",
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "string": "a string",
    "shape": "a list of sizes such as [2, 3] or x.shape",
    "dims": "a list of axes",
    "list": "a list of tensors",
    "model": "a Model (from load_model or model_from)",
    "device": "gpu or cpu",
    "spec": "an einsum spec string",
    "any": "any value",
    "model_path": "the path of a model file (a string), relative to the program",
    "tensor_name": "the name of a tensor of the model argument (a string)",
    "tokenizer": "a Tokenizer (from load_tokenizer)",
    "kvcache": "a KVCache (from KVCache::new_f16 or KVCache::new_f32)",
    "tensor_buffer": "a TensorBuffer (from new_tensor_buffer)",
    "tokenizer_path": "the path of a tokenizer.json or .gguf file (a string), relative to "
                      "the program",
}
# How a kind reads in a signature label (`load_model(path: string) -> Model`).
KIND_LABELS: dict[str, str] = {"model_path": "string", "tensor_name": "string",
                               "tokenizer_path": "string", "tokenizer": "Tokenizer",
                               "kvcache": "KVCache", "tensor_buffer": "TensorBuffer"}
STRING_KINDS = frozenset({"string", "spec", "model_path", "tensor_name", "tokenizer_path"})

CATEGORIES = ("model", "creation", "shape", "math", "nn", "training", "utility")


class _Required:
    __slots__ = ()

    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()


@dataclass(frozen=True, slots=True)
class BuiltinParam:
    name: str
    kind: str
    default: object = REQUIRED
    doc: str = ""
    keyword_only: bool = False  # filled only by name (`print(x, end: "")`)

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def label(self, variadic: bool = False) -> str:
        text = f"{'...' if variadic else ''}{self.name}: {KIND_LABELS.get(self.kind, self.kind)}"
        if not self.required and not variadic:
            text += f" = {_default_text(self.default)}"
        return text


def _default_text(v: object) -> str:
    if v is None:
        return "none"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return v if v in ("gpu", "cpu") else json.dumps(v, ensure_ascii=False)
    return repr(v)


ShapeRule = Callable[[RuleArgs], Type]


class _ImplSlot:
    """Where the runtime puts a built-in's implementation (filled once, at its import)."""

    __slots__ = ("fn",)

    def __init__(self) -> None:
        self.fn: Callable[..., Any] | None = None


@dataclass(frozen=True, slots=True)
class Builtin:
    """One built-in function. `pure` is false for anything with a side effect, a host read,
    randomness or a Python (non-tensor) result: such calls never run inside `mx.compile`."""

    name: str
    params: tuple[BuiltinParam, ...]
    variadic: bool
    returns: str
    doc: str
    category: str
    shape_rule: ShapeRule
    var_keyword: bool = False
    pure: bool = True
    _impl: _ImplSlot = field(default_factory=_ImplSlot, compare=False, repr=False)

    def impl(self) -> Callable[..., Any]:
        """The runtime implementation (registered by the modules that
        `tl_core.runtime.implementations` loads)."""
        fn = self._impl.fn
        if fn is None:
            raise LookupError(f"built-in '{self.name}' has no runtime implementation; "
                              f"import tl_core.runtime.implementations first")
        return fn

    @property
    def label(self) -> str:
        return signature_label(self)

    @property
    def shown_params(self) -> tuple[BuiltinParam, ...]:
        """The parameters in the order a signature shows them: keyword-only ones last."""
        return (tuple(p for p in self.params if not p.keyword_only)
                + tuple(p for p in self.params if p.keyword_only))

    def param(self, name: str) -> BuiltinParam | None:
        for p in self.params:
            if p.name == name:
                return p
        return None

    def params_of_kind(self, kind: str) -> tuple[BuiltinParam, ...]:
        return tuple(p for p in self.params if p.kind == kind)

    @property
    def is_method_of_model(self) -> bool:
        """Callable as `model.name(...)`: the first parameter is a model."""
        return bool(self.params) and self.params[0].kind == "model"


def fallback_type(b: Builtin) -> Type:
    """The result type of a call whose shape rule cannot say more (bad or unknown
    arguments): read from the declared `returns`."""
    r = b.returns
    simple: dict[str, Type] = {"tensor": TensorType("float16", None), "Model": ModelType(),
                               "Tokenizer": TokenizerType(), "KVCache": KVCacheType(),
                               "TensorBuffer": TensorBufferType(), "token ids": TensorType("int32", None),
                               "void": VOID, "string": STRING, "int": INT,
                               "shape": ShapeType(None), "list[int]": ListType(INT),
                               "list[string]": ListType(STRING),
                               "list[tensor]": ListType(TensorType("float16", None))}
    return simple.get(r, UNKNOWN)


def register_impl(b: Builtin, fn: Callable[..., Any]) -> None:
    """Install `fn` as `b`'s implementation; a second, different one is an error."""
    if b._impl.fn is not None and b._impl.fn is not fn:
        raise ValueError(f"built-in '{b.name}' already has an implementation "
                         f"({b._impl.fn.__qualname__})")
    b._impl.fn = fn


class BindError(Exception):
    """Arguments that do not fit a built-in's parameters. `position` (0-based positional
    index) or `keyword` says which argument to point at; both None means the whole call."""

    def __init__(self, message: str, position: int | None = None,
                 keyword: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.position = position
        self.keyword = keyword


def signature_label(b: Builtin) -> str:
    """`softmax(x: tensor, dim: int = -1) -> tensor`."""
    parts = []
    for p in b.shown_params:
        last = p is b.params[-1]
        if b.var_keyword and last:
            parts.append(f"**{p.name}: {KIND_LABELS.get(p.kind, p.kind)}")
        else:
            parts.append(p.label(b.variadic and last))
    return f"{b.name}({', '.join(parts)}) -> {b.returns}"


def _plural(n: int, word: str = "argument") -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def bind_arguments(builtin: Builtin, n_positional: int,
                   keyword_names: list[str]) -> dict[str, int | str]:
    """Map each parameter to the argument that fills it: a positional index (int) or the
    keyword name (str). Parameters left out (with defaults) are absent from the result.

    For a variadic built-in the last parameter maps to the index of the first extra
    positional argument (the extras run to `n_positional - 1`); for `var_keyword` built-ins
    every keyword maps to itself. Raises `BindError` with the user-facing message.
    """
    b = builtin
    params = list(b.params)
    fixed = params[:-1] if (b.variadic or b.var_keyword) else params
    by_position = [p for p in fixed if not p.keyword_only]
    out: dict[str, int | str] = {}
    if n_positional > len(by_position) and not b.variadic:
        most = len(by_position)
        raise BindError(f"{b.name}() takes at most {_plural(most)} but {n_positional} were "
                        f"given; signature: {signature_label(b)}", position=most)
    for i in range(min(n_positional, len(by_position))):
        out[by_position[i].name] = i
    if b.variadic and n_positional > len(by_position):
        out[params[-1].name] = len(by_position)
    by_name = {p.name: p for p in fixed}
    seen: set[str] = set()
    for kw in keyword_names:
        if kw in seen:
            raise BindError(f"{b.name}() got argument '{kw}' twice", keyword=kw)
        seen.add(kw)
        if kw in by_name:
            if kw in out:
                raise BindError(f"{b.name}() got argument '{kw}' twice (by position and by "
                                f"name)", keyword=kw)
            out[kw] = kw
        elif b.var_keyword:
            out[kw] = kw
        else:
            names = ", ".join(p.name for p in b.params)
            raise BindError(f"{b.name}() has no parameter named '{kw}'; parameters: {names}",
                            keyword=kw)
    missing = [p.name for p in fixed if p.required and p.name not in out]
    if b.variadic and params[-1].required and params[-1].name not in out:
        missing.append(params[-1].name)
    if missing:
        m = ", ".join(f"'{x}'" for x in missing)
        raise BindError(f"{b.name}() missing required argument{'s' if len(missing) > 1 else ''} "
                        f"{m}; signature: {signature_label(b)}")
    return out


def param_at(b: Builtin, position: int | None = None, keyword: str | None = None,
             method: bool = False) -> BuiltinParam | None:
    """The parameter an argument fills: the `position`-th positional argument (counting
    after the receiver of a method call `x.name(...)`) or the keyword `keyword`."""
    if keyword is not None:
        return b.param(keyword)
    if position is None:
        return None
    i = position + (1 if method else 0)
    fixed = [p for p in (b.params[:-1] if (b.variadic or b.var_keyword) else b.params)
             if not p.keyword_only]
    if i < len(fixed):
        return fixed[i]
    return b.params[-1] if b.variadic else None
