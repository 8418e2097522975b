"""The one registry of built-in functions (LANGUAGE.md section 7).

Each `Builtin` holds its parameters (kinds and defaults), a one-paragraph doc, a category,
the shape rule the checker uses, and (through `impl()`) the MLX implementation the runtime
uses: `tl_core.runtime.ops.op_<name>`, imported lazily so that importing this module never
imports MLX. Hover, completion, signature help, the checker and the runtime read this table.

Parameter kinds: "tensor" (a tensor or a number), "indices" (an integer tensor used to gather),
"int", "float", "bool", "string", "shape" (a list of sizes such as `[2, 3]` or `x.shape`),
"dims" (a list of axes), "list" (a list of tensors), "model", "device", "spec" (an einsum
spec string) and "any".

Binding (`bind_arguments`) is shared by the checker and the runtime so both report the same
message. A variadic built-in collects extra positional arguments in its last parameter; a
built-in with `var_keyword` (only `model_from`) accepts any keyword name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tl_core.check import shapes as S
from tl_core.check.shapes import RuleArgs, ShapeError
from tl_core.types import (
    BOOL,
    INT,
    STRING,
    UNKNOWN_DIM,
    VOID,
    ListType,
    ModelType,
    ScalarType,
    ShapeType,
    TensorType,
    Type,
    canonical_dtype,
    dim_value,
)


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

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def label(self, variadic: bool = False) -> str:
        text = f"{'...' if variadic else ''}{self.name}: {self.kind}"
        if not self.required and not variadic:
            text += f" = {_default_text(self.default)}"
        return text


def _default_text(v: object) -> str:
    if v is None:
        return "none"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return v if v in ("gpu", "cpu") else f'"{v}"'
    return repr(v)


ShapeRule = Callable[[RuleArgs], Type]


@dataclass(frozen=True, slots=True)
class Builtin:
    name: str
    params: tuple[BuiltinParam, ...]
    variadic: bool
    returns: str
    doc: str
    category: str
    shape_rule: ShapeRule
    var_keyword: bool = False

    def impl(self) -> Callable[..., Any]:
        """The runtime implementation `tl_core.runtime.ops.op_<name>` (imports MLX)."""
        import importlib

        ops = importlib.import_module("tl_core.runtime.ops")
        return getattr(ops, f"op_{self.name}")

    @property
    def label(self) -> str:
        return signature_label(self)


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
    for i, p in enumerate(b.params):
        is_var = b.variadic and i == len(b.params) - 1
        if b.var_keyword and i == len(b.params) - 1:
            parts.append(f"**{p.name}: {p.kind}")
        else:
            parts.append(p.label(is_var))
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
    out: dict[str, int | str] = {}
    if n_positional > len(fixed) and not b.variadic:
        most = len(fixed)
        raise BindError(f"{b.name}() takes at most {_plural(most)} but {n_positional} were "
                        f"given; signature: {signature_label(b)}", position=most)
    for i in range(min(n_positional, len(fixed))):
        out[fixed[i].name] = i
    if b.variadic and n_positional > len(fixed):
        out[params[-1].name] = len(fixed)
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


# ---------------------------------------------------------------------------
# Shape rules (each takes the bound RuleArgs and returns the result type)


def _same(param: str = "x") -> ShapeRule:
    def rule(a: RuleArgs) -> Type:
        t = a.type(param)
        if isinstance(t, TensorType):
            return t
        if isinstance(t, ScalarType) and t.name in ("int", "float"):
            return TensorType("float16", ())
        return TensorType("float16", None)
    return rule


def _fixed(t: Type) -> ShapeRule:
    return lambda a: t


def _binary(op: str) -> ShapeRule:
    def rule(a: RuleArgs) -> Type:
        try:
            return S.broadcast(a.type("a"), a.type("b"), op)
        except ShapeError as e:
            raise ShapeError(e.message, param="b") from None
    return rule


def _matmul_rule(a: RuleArgs) -> Type:
    x, y = a.tensor("a"), a.tensor("b")
    if x is None or y is None:
        return TensorType("float16", None)
    ta, tb = a.get("a"), a.get("b")
    try:
        return S.matmul(x, y, ta.text if ta else "", tb.text if tb else "")
    except ShapeError as e:
        raise ShapeError(e.message, param="b", hint=e.hint) from None


def _creation(a: RuleArgs) -> Type:
    dims = a.dims("shape")
    dtype = a.dtype or "float16"
    if dims is None:
        return TensorType(dtype, None)
    for d in dims:
        v = dim_value(d)
        if v is not None and v < 0:
            raise ShapeError(f"sizes must be non-negative; found {v}", param="shape")
    return TensorType(dtype, dims)


def _arange(a: RuleArgs) -> Type:
    n = a.int("n")
    return TensorType(a.dtype or "float16", (n if n is not None and n >= 0 else UNKNOWN_DIM,))


def _shape(a: RuleArgs) -> Type:
    t = a.type("x")
    if isinstance(t, TensorType):
        return ShapeType(t.dims)
    return ShapeType(None)


def _len(a: RuleArgs) -> Type:
    t = a.type("x")
    if isinstance(t, TensorType) and t.dims:
        return ScalarType("int", dim_value(t.dims[0]))
    if isinstance(t, ShapeType) and t.dims is not None:
        return ScalarType("int", len(t.dims))
    if isinstance(t, ListType) and t.length is not None:
        return ScalarType("int", t.length)
    return INT


def _reshape(a: RuleArgs) -> Type:
    x = a.tensor("x")
    target = a.dims("shape")
    if target is None:
        return TensorType(x.dtype if x else "float16", None)
    if x is None:
        return TensorType("float16", tuple(UNKNOWN_DIM if dim_value(d) == -1 else d
                                           for d in target))
    return S.reshape(x, target)


def _transpose(a: RuleArgs) -> Type:
    x = a.tensor("x")
    return TensorType("float16", None) if x is None else S.transpose(x)


def _permute(a: RuleArgs) -> Type:
    x = a.tensor("x")
    dims = a.dims("dims")
    if x is None or dims is None or any(not isinstance(d, int) for d in dims):
        return TensorType(x.dtype if x else "float16", None)
    return S.permute(x, [int(d) for d in dims])  # type: ignore[arg-type]


def _flatten(a: RuleArgs) -> Type:
    x = a.tensor("x")
    if x is None:
        return TensorType("float16", (UNKNOWN_DIM,))
    n = S._numel(x)
    return TensorType(x.dtype, (n if n is not None else UNKNOWN_DIM,))


def _squeeze(a: RuleArgs) -> Type:
    x = a.tensor("x")
    if x is None:
        return TensorType("float16", None)
    assert x.dims is not None
    if not a.given("dim"):
        if all(dim_value(d) is not None for d in x.dims):
            return TensorType(x.dtype, tuple(d for d in x.dims if dim_value(d) != 1))
        return TensorType(x.dtype, None)
    dim = a.int("dim")
    if dim is None:
        return TensorType(x.dtype, None)
    axis = S.norm_axis(dim, len(x.dims), x)
    v = dim_value(x.dims[axis])
    if v is not None and v != 1:
        raise ShapeError(f"squeeze: dimension {axis} of {x} has size {v}, not 1",
                         param="dim")
    return TensorType(x.dtype, x.dims[:axis] + x.dims[axis + 1:])


def _unsqueeze(a: RuleArgs) -> Type:
    x = a.tensor("x")
    dim = a.int("dim")
    if x is None or dim is None:
        return TensorType(x.dtype if x else "float16", None)
    assert x.dims is not None
    axis = S.norm_axis(dim, len(x.dims), x, extra=1)
    return TensorType(x.dtype, x.dims[:axis] + (1,) + x.dims[axis:])


def _concat(a: RuleArgs) -> Type:
    arg = a.get("tensors")
    dim = a.int("dim") if a.given("dim") else 0
    if arg is None or not isinstance(arg.value, list) or dim is None:
        return TensorType("float16", None)
    items = arg.value
    if not items or not all(isinstance(t, TensorType) and t.dims is not None for t in items):
        return TensorType("float16", None)
    return S.concat(items, dim)


def _split(a: RuleArgs) -> Type:
    x = a.tensor("x")
    n = a.int("n")
    dim = a.int("dim") if a.given("dim") else 0
    if x is None or n is None or dim is None:
        return ListType(TensorType(x.dtype if x else "float16", None))
    assert x.dims is not None
    if n <= 0:
        raise ShapeError(f"split: the number of parts must be positive; found {n}", param="n")
    axis = S.norm_axis(dim, len(x.dims), x)
    size = dim_value(x.dims[axis])
    dims = list(x.dims)
    if size is not None:
        if size % n != 0:
            raise ShapeError(f"split: dimension {axis} of {x} has size {size}, which does "
                             f"not split into {n} equal parts", param="n")
        dims[axis] = size // n
    else:
        dims[axis] = UNKNOWN_DIM
    return ListType(TensorType(x.dtype, tuple(dims)), n)


def _slice(a: RuleArgs) -> Type:
    x = a.tensor("x")
    dim = a.int("dim")
    if x is None or dim is None:
        return TensorType(x.dtype if x else "float16", None)
    assert x.dims is not None
    axis = S.norm_axis(dim, len(x.dims), x)
    start, end = a.int("start"), a.int("end")
    size = dim_value(x.dims[axis])
    dims = list(x.dims)
    if size is not None and start is not None and end is not None:
        dims[axis] = S.slice_len(size, start, end, None)
    elif start is not None and end is not None and start >= 0 and end >= start:
        dims[axis] = end - start
    else:
        dims[axis] = UNKNOWN_DIM
    return TensorType(x.dtype, tuple(dims))


def _slice_last(a: RuleArgs) -> Type:
    x = a.tensor("x")
    dim = a.int("dim") if a.given("dim") else 0
    if x is None or dim is None:
        return TensorType(x.dtype if x else "float16", None)
    assert x.dims is not None
    axis = S.norm_axis(dim, len(x.dims), x)
    return TensorType(x.dtype, x.dims[:axis] + x.dims[axis + 1:])


def _broadcast_to(a: RuleArgs) -> Type:
    x = a.tensor("x")
    target = a.dims("shape")
    if target is None:
        return TensorType(x.dtype if x else "float16", None)
    if x is None:
        return TensorType("float16", target)
    assert x.dims is not None
    r = S.broadcast_dims(x.dims, target)
    bad = isinstance(r, str) or len(x.dims) > len(target)
    if not bad:
        for xd, td in zip(reversed(x.dims), reversed(target), strict=False):
            if dim_value(xd) != 1 and S.differ(xd, td):
                bad = True
    if bad:
        raise ShapeError(f"cannot broadcast {x} to {list(target)}", param="shape")
    return TensorType(x.dtype, target)


def _softmax(a: RuleArgs) -> Type:
    x = a.tensor("x")
    if x is None:
        return _same()(a)
    assert x.dims is not None
    dim = a.int("dim") if a.given("dim") else -1
    if dim is not None and x.dims:
        S.norm_axis(dim, len(x.dims), x)
    return x


def _reduction(arg: bool = False) -> ShapeRule:
    def rule(a: RuleArgs) -> Type:
        x = a.tensor("x")
        if x is None:
            return TensorType("int64" if arg else "float16", None)
        given = a.given("dim") and a.get("dim") is not None and not (
            a.get("dim").value is None and isinstance(a.type("dim"), ScalarType)
            and a.type("dim").name == "none")
        keep = a.get("keepdim")
        keepdim = bool(keep.value) if keep is not None and isinstance(keep.value, bool) else False
        t = S.reduce(x, a.int("dim"), keepdim, given)
        return TensorType("int64", t.dims) if arg else t
    return rule


def _linear(a: RuleArgs) -> Type:
    x, w = a.tensor("x"), a.tensor("W")
    if x is None or w is None:
        return TensorType("float16", None)
    assert x.dims is not None and w.dims is not None
    if len(w.dims) != 2:
        raise ShapeError(f"linear: W must be 2-D [out, in]; found {w}", param="W")
    if not x.dims:
        raise ShapeError(f"linear: x must have at least 1 dimension; found {x}", param="x")
    if S.differ(x.dims[-1], w.dims[1]):
        hint = None
        wt, xt = a.get("W"), a.get("x")
        wname = wt.text if wt and wt.text else "W"
        xname = xt.text if xt and xt.text else "x"
        if not S.differ(x.dims[-1], w.dims[0]):
            hint = f"{wname} looks like [in, out]; did you mean {xname} @ {wname}?"
        raise ShapeError(f"linear: x is {x} but {wname} is {w}; W must be [out, in] with "
                         f"in = {S.dstr(x.dims[-1])} (PyTorch nn.Linear convention)",
                         param="W", hint=hint)
    out = x.dims[:-1] + (w.dims[0],)
    b = a.tensor("b")
    if b is not None and b.dims is not None:
        if len(b.dims) != 1 or S.differ(b.dims[0], w.dims[0]):
            raise ShapeError(f"linear: bias is {b} but W is {w}; the bias must be "
                             f"[{S.dstr(w.dims[0])}]", param="b")
    return TensorType(S.result_dtype(x.dtype, w.dtype), out)


def _norm(a: RuleArgs) -> Type:
    x = a.tensor("x")
    if x is None:
        return TensorType("float16", None)
    assert x.dims is not None
    for p in ("w", "b"):
        t = a.tensor(p)
        if t is None or t.dims is None or not x.dims:
            continue
        if len(t.dims) != 1 or S.differ(t.dims[0], x.dims[-1]):
            raise ShapeError(f"{a.name}: {p} is {t} but x is {x}; {p} must be "
                             f"[{S.dstr(x.dims[-1])}], the size of x's last dimension", param=p)
    return x


def _embedding(a: RuleArgs) -> Type:
    table, ids = a.tensor("table"), a.tensor("ids")
    if table is None:
        return TensorType("float16", None)
    assert table.dims is not None
    if len(table.dims) != 2:
        raise ShapeError(f"embedding: table must be 2-D [vocab, dim]; found {table}",
                         param="table")
    if ids is None:
        return TensorType(table.dtype, None)
    assert ids.dims is not None
    return TensorType(table.dtype, ids.dims + (table.dims[1],))


def _causal_mask(a: RuleArgs) -> Type:
    n = a.int("n")
    d = n if n is not None and n >= 0 else UNKNOWN_DIM
    return TensorType("float16", (d, d))


def _attention_mask(a: RuleArgs) -> Type:
    s, m = a.tensor("scores"), a.tensor("mask")
    if s is None or m is None:
        return _same("scores")(a)
    r = S.broadcast_dims(s.dims or (), m.dims or ())
    if isinstance(r, str):
        raise ShapeError(f"apply_attention_mask: mask {m} does not broadcast to scores {s}: "
                         f"{r}", param="mask")
    return s


def _rope(a: RuleArgs) -> Type:
    x = a.tensor("x")
    if x is None:
        return _same()(a)
    assert x.dims is not None
    if x.dims:
        v = dim_value(x.dims[-1])
        if v is not None and v % 2:
            raise ShapeError(f"rope: the last dimension of {x} must be even; found {v}",
                             param="x")
    return x


def _einsum(a: RuleArgs) -> Type:
    spec = a.get("spec")
    if spec is None or not isinstance(spec.value, str):
        return TensorType("float16", None)
    return S.einsum(spec.value, [o.type for o in a.rest])


def _get_tensor(a: RuleArgs) -> Type:
    m = a.type("model")
    name = a.get("name")
    if isinstance(m, ModelType) and m.header is not None and name is not None \
            and isinstance(name.value, str):
        return S.model_tensor(m.header, name.value)
    return TensorType("float16", None)


def _tensor_ctor(a: RuleArgs) -> Type:
    t = a.type("data")
    dtype = canonical_dtype(a.dtype) if a.dtype else None
    if isinstance(t, TensorType):
        return TensorType(dtype or t.dtype, t.dims)
    if isinstance(t, ScalarType) and t.name in ("int", "float"):
        return TensorType(dtype or "float16", ())
    return TensorType(dtype or "float16", None)


def _range(a: RuleArgs) -> Type:
    return ListType(INT, a.int("n"))


# ---------------------------------------------------------------------------
# The registry


def P(name: str, kind: str, default: object = REQUIRED, doc: str = "") -> BuiltinParam:
    return BuiltinParam(name, kind, default, doc)


BUILTINS: dict[str, Builtin] = {}


def _add(name: str, params: tuple[BuiltinParam, ...], returns: str, category: str,
         doc: str, rule: ShapeRule, variadic: bool = False, var_keyword: bool = False) -> None:
    BUILTINS[name] = Builtin(name, params, variadic, returns, doc, category, rule, var_keyword)


X = P("x", "tensor", doc="the input tensor")
_DIM_OPT = P("dim", "int", None, "the axis to reduce; all axes when omitted")
_KEEP = P("keepdim", "bool", False, "keep the reduced axis with size 1")

# Model
_add("load_model", (P("path", "string", doc="a .safetensors, .gguf, .mlmodel or .mlpackage "
                                            "file, relative to the program"),),
     "Model", "model",
     "Open a model file and return its named tensors and metadata. The format is detected "
     "from the magic bytes (falling back to the extension); relative paths resolve against "
     "the program's own directory. Only the header is read here; each tensor is loaded and "
     "converted to float16 on first `get_tensor`.", _fixed(ModelType()))
_add("load_model_f32", (P("path", "string", doc="the model file"),), "Model", "model",
     "Same as `load_model`: the dialect computes in float16 regardless, so this exists for "
     "programs written for other TensorLogic implementations.", _fixed(ModelType()))
_add("save_model", (P("model", "model", doc="the model to write"),
                    P("path", "string", doc="the .safetensors file to write")),
     "void", "model",
     "Write a model as SafeTensors (float16) that PyTorch's `safetensors.torch.load_file` "
     "reads back bit-exact. The file is written to a temporary name in the same directory "
     "and renamed, so a failed save never leaves a half-written file. Saving to .gguf is an "
     "error: GGUF and CoreML files are read-only sources.", _fixed(VOID))
_add("get_tensor", (P("model", "model", doc="a value of load_model or model_from"),
                    P("name", "string", doc="the tensor's name in the file")),
     "tensor", "model",
     "One tensor of a model, converted to float16, with its shape in row-major (PyTorch) "
     "order. Also written `model.get_tensor(name)`. Integer tensors of the file cannot be "
     "loaded: the language loads floating-point tensors only.", _get_tensor)
_add("model_from", (P("tensors", "tensor", doc="name: tensor pairs; names may be quoted"),),
     "Model", "model",
     "Build a Model from named tensors given as keyword arguments, whose names may be "
     "quoted since tensor names contain dots: `model_from(\"layer.0.weight\": W)`.",
     _fixed(ModelType()), var_keyword=True)

# Creation
_add("tensor", (P("data", "any", doc="a (nested) list of numbers"),
                P("device", "device", "gpu", doc="gpu or cpu")),
     "tensor", "creation",
     "Make a tensor from a rectangular nested list literal, written "
     "`tensor<float16>([[1.0, 2.0], [3.0, 4.0]], device: gpu)`. Integer tensors "
     "(`tensor<int>(...)`) are meant as gather indices.", _tensor_ctor)
_SHAPE = P("shape", "shape", doc="the sizes, e.g. [2, 3] or x.shape")
_add("zeros", (_SHAPE,), "tensor", "creation",
     "A float16 tensor of the given shape filled with 0.", _creation)
_add("ones", (_SHAPE,), "tensor", "creation",
     "A float16 tensor of the given shape filled with 1.", _creation)
_add("full", (_SHAPE, P("value", "float", doc="the fill value")), "tensor", "creation",
     "A float16 tensor of the given shape filled with `value`.", _creation)
_add("arange", (P("n", "int", doc="the number of values"),), "tensor", "creation",
     "The values 0, 1, ..., n-1 as a 1-D float16 tensor of length n.", _arange)
_add("rand", (_SHAPE,), "tensor", "creation",
     "A float16 tensor of the given shape with values drawn uniformly from [0, 1).",
     _creation)
_add("randn", (_SHAPE,), "tensor", "creation",
     "A float16 tensor of the given shape with values drawn from the standard normal "
     "distribution.", _creation)

# Shape
_add("shape", (P("x", "tensor", doc="any tensor"),), "shape", "shape",
     "The sizes of a tensor as a list of integers; also written `x.shape`.", _shape)
_add("len", (P("x", "any", doc="a tensor, list or string"),), "int", "shape",
     "The size of the first dimension of a tensor, or the length of a list or string.", _len)
_add("reshape", (X, P("shape", "shape", doc="the new sizes; one may be -1")), "tensor",
     "shape",
     "The same elements with a new shape. One size may be -1 and is then computed from the "
     "element count; the element counts must agree.", _reshape)
_add("transpose", (P("x", "tensor", doc="a 2-D tensor"),), "tensor", "shape",
     "The transpose of a 2-D tensor: `[m, n]` becomes `[n, m]`. Also written `x.T`. Use "
     "`permute` for other ranks.", _transpose)
_add("permute", (X, P("dims", "dims", doc="a permutation of the axes, e.g. [0, 2, 1]")),
     "tensor", "shape",
     "Reorder the axes of a tensor: result axis i is input axis dims[i].", _permute)
_add("flatten", (X,), "tensor", "shape",
     "The elements of a tensor as a 1-D tensor, in row-major order.", _flatten)
_add("squeeze", (X, P("dim", "int", None, "the axis of size 1 to remove; all when omitted")),
     "tensor", "shape",
     "Remove an axis of size 1 (or every axis of size 1 when `dim` is omitted).", _squeeze)
_add("unsqueeze", (X, P("dim", "int", doc="where the new axis goes")), "tensor", "shape",
     "Insert an axis of size 1 at position `dim` (negative counts from the end).",
     _unsqueeze)
_add("concat", (P("tensors", "list", doc="a list of tensors, e.g. [a, b]"),
                P("dim", "int", 0, "the axis to join along")), "tensor", "shape",
     "Join tensors along an existing axis. Every other axis must have the same size.",
     _concat)
_add("split", (X, P("n", "int", doc="the number of equal parts"),
               P("dim", "int", 0, "the axis to split")), "list[tensor]", "shape",
     "Split a tensor into `n` equal parts along `dim`; the size of that axis must be "
     "divisible by `n`. Returns a list of tensors.", _split)
_add("slice", (X, P("dim", "int", doc="the axis"), P("start", "int", doc="first index"),
               P("end", "int", doc="one past the last index")), "tensor", "shape",
     "The entries start..end-1 along axis `dim` (negative indices count from the end); "
     "the same as indexing with `start:end` on that axis.", _slice)
_add("slice_last", (X, P("dim", "int", 0, "the axis")), "tensor", "shape",
     "The last entry along axis `dim`, with that axis removed: `slice_last(logits, 0)` of "
     "a `[seq, vocab]` tensor is `[vocab]`.", _slice_last)
_add("broadcast_to", (X, P("shape", "shape", doc="the target sizes")), "tensor", "shape",
     "The tensor broadcast (NumPy rules) to the given shape, without copying.",
     _broadcast_to)

# Math
_add("matmul", (P("a", "tensor"), P("b", "tensor")), "tensor", "math",
     "Matrix product with NumPy `matmul` rules, the same as `a @ b`: 1-D operands are "
     "treated as vectors, leading axes broadcast as a batch.", _matmul_rule)
for _n, _op, _what in (("add", "+", "sum"), ("sub", "-", "difference"),
                       ("mul", "*", "product"), ("div", "/", "quotient"),
                       ("pow", "**", "power a ** b")):
    _add(_n, (P("a", "tensor"), P("b", "tensor")), "tensor", "math",
         f"The element-wise {_what} of two tensors with NumPy broadcasting; the same as "
         f"`a {_op} b`.", _binary(_op))
for _n, _what in (("exp", "e raised to each element"), ("log", "the natural logarithm"),
                  ("sqrt", "the square root"), ("abs", "the absolute value"),
                  ("sin", "the sine (radians)"), ("cos", "the cosine (radians)"),
                  ("tan", "the tangent (radians)"), ("tanh", "the hyperbolic tangent"),
                  ("sigmoid", "the logistic sigmoid 1 / (1 + exp(-x))"),
                  ("relu", "max(x, 0)"),
                  ("gelu", "the Gaussian error linear unit (exact, erf-based)"),
                  ("silu", "x * sigmoid(x) (also called swish)")):
    _add(_n, (X,), "tensor", "math", f"Element-wise: {_what}. The shape is unchanged.",
         _same())
_add("softmax", (X, P("dim", "int", -1, "the axis that sums to 1")), "tensor", "math",
     "The softmax along `dim` (default the last axis), computed stably by subtracting the "
     "maximum. The shape is unchanged.", _softmax)
for _n, _what in (("sum", "the sum"), ("mean", "the mean"), ("max", "the maximum"),
                  ("min", "the minimum")):
    _add(_n, (X, _DIM_OPT, _KEEP), "tensor", "math",
         f"Reduce by {_what} along `dim`, or over every element when `dim` is omitted. "
         f"With `keepdim: true` the reduced axis stays with size 1.", _reduction())
for _n, _what in (("argmax", "largest"), ("argmin", "smallest")):
    _add(_n, (X, _DIM_OPT, _KEEP), "tensor", "math",
         f"The index of the {_what} value along `dim` (of the flattened tensor when `dim` "
         f"is omitted), as an integer tensor usable as gather indices.", _reduction(True))

# NN
_add("linear", (X, P("W", "tensor", doc="the weight, [out, in] (PyTorch nn.Linear)"),
                P("b", "tensor", None, "the bias, [out]")), "tensor", "nn",
     "`x @ transpose(W) + b` with PyTorch's `nn.Linear` convention: `W` is `[out, in]`, so "
     "weights loaded from a PyTorch or HuggingFace file are used as they are. `x` is "
     "`[..., in]` and the result `[..., out]`.", _linear)
_add("rms_norm", (X, P("w", "tensor", doc="the scale, [D]"),
                  P("eps", "float", 1e-5, "added to the mean square")), "tensor", "nn",
     "RMS normalization over the last axis: `x / sqrt(mean(x**2) + eps) * w`, as in "
     "LLaMA-style models. `w` has the size of the last axis.", _norm)
_add("layer_norm", (X, P("w", "tensor", doc="the scale, [D]"),
                    P("b", "tensor", doc="the shift, [D]"),
                    P("eps", "float", 1e-5, "added to the variance")), "tensor", "nn",
     "Layer normalization over the last axis: `(x - mean) / sqrt(var + eps) * w + b`, as in "
     "BERT-style models.", _norm)
_add("embedding", (P("table", "tensor", doc="[vocab, dim]"),
                   P("ids", "indices", doc="an integer tensor of token ids")), "tensor", "nn",
     "Look up rows of an embedding table: the result is `ids.shape + [dim]`. The same as "
     "`table[ids, :]`.", _embedding)
_add("causal_mask", (P("n", "int", doc="the sequence length"),), "tensor", "nn",
     "An `[n, n]` additive attention mask: 0 on and below the diagonal, -inf above, so "
     "position i attends only to positions <= i.", _causal_mask)
_add("apply_attention_mask", (P("scores", "tensor", doc="attention scores [..., n, n]"),
                              P("mask", "tensor", doc="an additive mask, e.g. causal_mask(n)")),
     "tensor", "nn",
     "Add an additive mask to attention scores (broadcasting), so masked positions become "
     "-inf before the softmax.", _attention_mask)
_add("rope", (X, P("offset", "int", 0, "the position of the first row"),
              P("base", "float", 10000.0, "the frequency base")), "tensor", "nn",
     "Rotary position embedding over the last axis (which must be even), with positions "
     "offset, offset+1, ... along the second-to-last axis. The shape is unchanged.", _rope)
_add("einsum", (P("spec", "spec", doc='subscripts such as "ij,jk->ik"'),
                P("operands", "tensor", doc="one tensor per operand of the spec")),
     "tensor", "nn",
     "Einstein summation: `einsum(\"ij,jk->ik\", A, B)` is a matrix product. The spec names "
     "each operand's axes with letters; letters missing from the output are summed.",
     _einsum, variadic=True)

# Training
_add("learnable", (P("t", "tensor", doc="the initial value"),), "tensor", "training",
     "Mark a tensor as trainable; `learn` blocks update such tensors (once they run).",
     _same("t"))

# Utility
_add("print", (P("values", "any", None, "values to print, separated by spaces"),),
     "void", "utility",
     "Print values separated by spaces. Tensors print with their shape, dtype and device, "
     "values abbreviated like NumPy.", _fixed(VOID), variadic=True)
_add("assert", (P("cond", "bool", doc="the condition"),
                P("msg", "string", "", "the message when it fails")), "void", "utility",
     "Stop the program with an error when `cond` is false.", _fixed(VOID))
_add("assert_eq", (P("a", "any"), P("b", "any")), "void", "utility",
     "Stop the program with an error showing both values when `a` and `b` differ (tensors "
     "compare shape and values).", _fixed(VOID))
_add("env", (P("name", "string", doc="the variable's name"),), "string", "utility",
     "The value of an environment variable, or an empty string when it is not set.",
     _fixed(STRING))
_add("str", (P("x", "any"),), "string", "utility",
     "The text form of a value, as `print` would show it.", _fixed(STRING))
_add("range", (P("n", "int", doc="the number of steps"),), "list[int]", "utility",
     "The integers 0, 1, ..., n-1, for `for i in range(n) { }`.", _range)
_add("range_i", (P("n", "int", doc="the number of steps"),), "list[int]", "utility",
     "The same as `range(n)` (the name other TensorLogic implementations use).", _range)

del _n, _op, _what

__all__ = [
    "BOOL", "BUILTINS", "BindError", "Builtin", "BuiltinParam", "REQUIRED", "bind_arguments",
    "signature_label",
]
