"""The shape rules of the built-ins: each takes the bound `RuleArgs` of one call and returns
the result type, or raises `ShapeError` naming the argument to point at.

The checker runs them on static types; the runtime runs them on the concrete shapes of a
failing call, so a runtime error reads as the checker would have put it.
"""

from __future__ import annotations

import math

from tl_core.lang import shapes as S
from tl_core.lang.dtypes import canonical_dtype
from tl_core.lang.registry import ShapeRule
from tl_core.lang.shapes import RuleArgs, ShapeError
from tl_core.lang.text import FormatError, format_braces
from tl_core.lang.types import (
    INT,
    UNKNOWN,
    UNKNOWN_DIM,
    VOID,
    KVCacheType,
    ListType,
    ModelType,
    ScalarType,
    ShapeType,
    TensorBufferType,
    TensorType,
    TokenizerType,
    Type,
    dim_value,
)


def same(param: str = "x") -> ShapeRule:
    def rule(a: RuleArgs) -> Type:
        t = a.type(param)
        if isinstance(t, TensorType):
            return t
        if isinstance(t, ScalarType) and t.name in ("int", "float"):
            return TensorType("float16", ())
        return TensorType("float16", None)
    return rule


GELU_FORMS = ("tanh", "none")


def gelu(a: RuleArgs) -> Type:
    """`gelu(x, approximate: "tanh" | "none")`: x's type."""
    form = a.get("approximate")
    if form is not None and isinstance(form.value, str) and form.value not in GELU_FORMS:
        raise ShapeError(f"gelu: approximate must be \"tanh\" or \"none\", found "
                         f"\"{form.value}\"", "approximate")
    return same()(a)


def fixed(t: Type) -> ShapeRule:
    return lambda a: t


def binary(op: str) -> ShapeRule:
    def rule(a: RuleArgs) -> Type:
        try:
            return S.broadcast(a.type("a"), a.type("b"), op)
        except ShapeError as e:
            raise ShapeError(e.message, param="b") from None
    return rule


def matmul(a: RuleArgs) -> Type:
    x, y = a.tensor("a"), a.tensor("b")
    if x is None or y is None:
        return TensorType("float16", None)
    ta, tb = a.get("a"), a.get("b")
    try:
        return S.matmul(x, y, ta.text if ta else "", tb.text if tb else "")
    except ShapeError as e:
        raise ShapeError(e.message, param="b", hint=e.hint) from None


def creation(a: RuleArgs) -> Type:
    dims = a.dims("shape")
    dtype = a.dtype or "float16"
    if dims is None:
        return TensorType(dtype, None)
    for d in dims:
        v = dim_value(d)
        if v is not None and v < 0:
            raise ShapeError(f"sizes must be non-negative; found {v}", param="shape")
    return TensorType(dtype, dims)


def _bound(a: RuleArgs, name: str) -> int | None:
    """An int bound, or a float one truncated toward zero (as at run time)."""
    info = a.get(name)
    v = None if info is None else info.value
    if isinstance(v, float) and math.isfinite(v):
        return int(v)
    return a.int(name)


def _bounds(a: RuleArgs) -> tuple[int | None, int | None]:
    """(start, stop) of `f(n)` / `f(a, b)` (arange, range, range_i)."""
    if a.given("b"):
        return _bound(a, "a"), _bound(a, "b")
    return 0, _bound(a, "a")


def arange(a: RuleArgs) -> Type:
    lo, hi = _bounds(a)
    n = max(hi - lo, 0) if lo is not None and hi is not None else None
    return TensorType(a.dtype or "float32", (n if n is not None else UNKNOWN_DIM,))


def shape_of(a: RuleArgs) -> Type:
    t = a.type("x")
    if isinstance(t, TensorType):
        return ShapeType(t.dims)
    return ShapeType(None)


def len_of(a: RuleArgs) -> Type:
    t = a.type("x")
    if isinstance(t, TensorType) and t.dims:
        return ScalarType("int", dim_value(t.dims[0]))
    if isinstance(t, ShapeType) and t.dims is not None:
        return ScalarType("int", len(t.dims))
    if isinstance(t, ListType) and t.length is not None:
        return ScalarType("int", t.length)
    return INT


def reshape(a: RuleArgs) -> Type:
    x = a.tensor("x")
    target = a.dims("shape")
    if target is None:
        return TensorType(x.dtype if x else "float16", None)
    if x is None:
        return TensorType("float16", tuple(UNKNOWN_DIM if dim_value(d) == -1 else d
                                           for d in target))
    return S.reshape(x, target)


def transpose(a: RuleArgs) -> Type:
    x = a.tensor("x")
    return TensorType("float16", None) if x is None else S.transpose(x)


def permute(a: RuleArgs) -> Type:
    x = a.tensor("x")
    dims = a.dims("dims")
    if x is None or dims is None or any(not isinstance(d, int) for d in dims):
        return TensorType(x.dtype if x else "float16", None)
    return S.permute(x, [int(d) for d in dims])  # type: ignore[arg-type]


def flatten(a: RuleArgs) -> Type:
    x = a.tensor("x")
    if x is None:
        return TensorType("float16", (UNKNOWN_DIM,))
    n = S.numel(x)
    return TensorType(x.dtype, (n if n is not None else UNKNOWN_DIM,))


def squeeze(a: RuleArgs) -> Type:
    x = a.tensor("x")
    if x is None:
        return TensorType("float16", None)
    assert x.dims is not None
    if not a.given("dim"):
        if all(dim_value(d) is not None for d in x.dims):
            kept = tuple(d for d in x.dims if dim_value(d) != 1)
            return TensorType(x.dtype, kept or x.dims[:1])  # all of size 1: [1]
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


def unsqueeze(a: RuleArgs) -> Type:
    x = a.tensor("x")
    dim = a.int("dim")
    if x is None or dim is None:
        return TensorType(x.dtype if x else "float16", None)
    assert x.dims is not None
    axis = S.norm_axis(dim, len(x.dims), x, extra=1)
    return TensorType(x.dtype, x.dims[:axis] + (1,) + x.dims[axis:])


def concat(a: RuleArgs) -> Type:
    first = a.get("a")
    if first is not None and isinstance(first.value, list):  # concat([a, b, ...], dim)
        items = first.value
        dim = a.int("b") if a.given("b") else (a.int("dim") if a.given("dim") else 0)
    else:
        x, y = a.tensor("a"), a.tensor("b")
        items = [x, y] if x is not None and y is not None else []
        dim = a.int("dim") if a.given("dim") else 0
    if dim is None or not items or not all(isinstance(t, TensorType) and t.dims is not None
                                           for t in items):
        return TensorType("float16", None)
    listed = first is not None and isinstance(first.value, list)
    try:
        return S.concat(items, dim)
    except ShapeError as e:
        raise ShapeError(e.message, param="a" if listed else "b", hint=e.hint) from None


def _pieces(a: RuleArgs, count_param: str, what: str, by_size: bool) -> Type:
    """split (`by_size`: pieces of that size) and chunk (that many pieces)."""
    x = a.tensor("x")
    k = a.int(count_param)
    dim = a.int("dim") if a.given("dim") else 0
    if x is None or k is None or dim is None:
        return ListType(TensorType(x.dtype if x else "float16", None))
    assert x.dims is not None
    if k <= 0:
        raise ShapeError(f"{a.name}: {what} must be positive; found {k}", param=count_param)
    axis = S.norm_axis(dim, len(x.dims), x)
    n = dim_value(x.dims[axis])
    dims = list(x.dims)
    if n is None:
        dims[axis] = UNKNOWN_DIM
        return ListType(TensorType(x.dtype, tuple(dims)))
    size = k if by_size else max(1, -(-n // k))
    count = -(-n // size)
    dims[axis] = size if n % size == 0 else UNKNOWN_DIM
    return ListType(TensorType(x.dtype, tuple(dims)), count)


def split(a: RuleArgs) -> Type:
    return _pieces(a, "size", "the piece size", by_size=True)


def chunk(a: RuleArgs) -> Type:
    return _pieces(a, "chunks", "the number of chunks", by_size=False)


def slice_rule(a: RuleArgs) -> Type:
    x = a.tensor("x")
    if x is None:
        return TensorType(x.dtype if x else "float16", None)
    assert x.dims is not None
    if a.given("c"):  # slice(m, row, start, end) = m[row, start:end]
        if len(x.dims) < 2:
            raise ShapeError(f"slice(m, row, start, end) needs a tensor of at least 2 "
                             f"dimensions; found {x}", param="x")
        row, rows = a.int("a"), dim_value(x.dims[0])
        if row is not None and rows is not None and not -rows <= row < rows:
            raise ShapeError(f"row {row} is out of range for {x} ({rows} rows)", param="a")
        rest = TensorType(x.dtype, x.dims[1:])
        return _slice_axis(rest, 0, a.int("b"), a.int("c"))
    dim = a.int("dim") if a.given("dim") else 0
    if dim is None:
        return TensorType(x.dtype, None)
    return _slice_axis(x, S.norm_axis(dim, len(x.dims), x), a.int("a"), a.int("b"))


def _slice_axis(x: TensorType, axis: int, start: int | None, end: int | None) -> TensorType:
    assert x.dims is not None
    size = dim_value(x.dims[axis])
    dims = list(x.dims)
    if size is not None and start is not None and end is not None:
        dims[axis] = S.slice_len(size, start, end, None)
    elif start is not None and end is not None and start >= 0 and end >= start:
        dims[axis] = end - start
    else:
        dims[axis] = UNKNOWN_DIM
    return TensorType(x.dtype, tuple(dims))


def slice_last(a: RuleArgs) -> Type:
    x = a.tensor("x")
    dim = a.int("dim") if a.given("dim") else 0
    if x is None or dim is None:
        return TensorType(x.dtype if x else "float16", None)
    assert x.dims is not None
    axis = S.norm_axis(dim, len(x.dims), x)
    return TensorType(x.dtype, x.dims[:axis] + x.dims[axis + 1:])


def broadcast_to(a: RuleArgs) -> Type:
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


def softmax(a: RuleArgs) -> Type:
    x = a.tensor("x")
    if x is None:
        return same()(a)
    assert x.dims is not None
    dim = a.int("dim") if a.given("dim") else -1
    if dim is not None and x.dims:
        axis = S.norm_axis(dim, len(x.dims), x)
        if axis != len(x.dims) - 1 and "dim" in a.by_position:
            a.note(f"softmax(x, {dim}) runs along axis {axis} here; the original TensorLogic "
                   f"ignores this argument and always uses the last axis; write dim: {dim} "
                   f"to say you mean axis {axis}", "dim")
    return x


def softmax_any_axis(a: RuleArgs) -> Type:
    """`cndl_softmax(x, dim)`: dim honoured (the original's Candle softmax), x's type."""
    x = a.tensor("x")
    dim = a.int("dim")
    if x is not None and x.dims and dim is not None:
        S.norm_axis(dim, len(x.dims), x)
    return same()(a)


def swap_axes(a: RuleArgs) -> Type:
    """`cndl_transpose(x, dim_a, dim_b)`: x with the two axes exchanged."""
    x = a.tensor("x")
    d0, d1 = a.int("dim_a"), a.int("dim_b")
    if x is None or x.dims is None or d0 is None or d1 is None:
        return TensorType(x.dtype if x else "float16", None)
    i = S.norm_axis(d0, len(x.dims), x, "dim_a")
    j = S.norm_axis(d1, len(x.dims), x, "dim_b")
    dims = list(x.dims)
    dims[i], dims[j] = dims[j], dims[i]
    return TensorType(x.dtype, tuple(dims))


def plain_norm(ignored: tuple[str, ...]) -> ShapeRule:
    """`cndl_layer_norm` / `cndl_rms_norm`: x's type; the original ignores the weights, so
    giving one is a warning (the result is the plain normalization)."""

    def rule(a: RuleArgs) -> Type:
        for p in ignored:
            if a.given(p):
                a.note(f"{a.name} ignores {p}, as the original does (plain normalization "
                       f"over the last axis); use "
                       f"{'layer_norm(x, w, b, eps)' if 'b' in ignored else 'rms_norm(x, w, eps)'}"
                       f" to apply it", p)
        return same()(a)

    return rule


def file_tensor(a: RuleArgs) -> Type:
    """`cndl_load_safetensor(path, name)`: the tensor of the file the checker opened."""
    return _named_tensor(next(iter(a.opened.values()), None), a)


def token_appended(a: RuleArgs) -> Type:
    """`ids.append_token(id)`: token ids one longer."""
    x = a.tensor("ids")
    if x is not None and x.dims is not None and len(x.dims) == 1:
        n = dim_value(x.dims[0])
        return TensorType(x.dtype, (n + 1,) if n is not None else (UNKNOWN_DIM,))
    return TensorType("int32", (UNKNOWN_DIM,))


def reduction(arg: bool = False) -> ShapeRule:
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


def linear(a: RuleArgs) -> Type:
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
        # [out], or the original's full [m, out]: anything that broadcasts to the result
        fits = bool(b.dims) and not S.differ(b.dims[-1], w.dims[0]) and \
            len(b.dims) <= len(out) and not isinstance(S.broadcast_dims(out, b.dims), str)
        if not fits:
            raise ShapeError(f"linear: bias is {b} but W is {w}; the bias must be "
                             f"[{S.dstr(w.dims[0])}] (or broadcast to the result "
                             f"{TensorType(x.dtype, out)})", param="b")
    return TensorType(S.result_dtype(x.dtype, w.dtype), out)


def norm(a: RuleArgs, params: tuple[str, ...] = ("w", "b", "gamma", "beta")) -> Type:
    x = a.tensor("x")
    if x is None:
        return TensorType("float16", None)
    assert x.dims is not None
    for p in params:
        t = a.tensor(p)
        if t is None or t.dims is None or not x.dims:
            continue
        if len(t.dims) != 1 or S.differ(t.dims[0], x.dims[-1]):
            raise ShapeError(f"{a.name}: {p} is {t} but x is {x}; {p} must be "
                             f"[{S.dstr(x.dims[-1])}], the size of x's last dimension", param=p)
    return x


def originals_eps(a: RuleArgs) -> bool:
    """`layer_norm(x, w, 1e-5)`: a number in `b`'s place is the original's eps (its form
    `layer_norm(x, anything, eps)`, UPSTREAM.md 9.4)."""
    t = a.type("b")
    return isinstance(t, ScalarType) and t.name in ("int", "float") and not a.given("eps")


def layer_norm(a: RuleArgs) -> Type:
    """`layer_norm(x, w?, b?, eps?)`: x's type; `b` may be the original's eps. The
    original's forms with a weight, `layer_norm(x, w)` and `layer_norm(x, w, eps)`, get a
    note: the original ignores `w` (no scale), ours scales by it."""
    eps_form = originals_eps(a)
    if "w" in a.by_position and (eps_form or not a.given("b")):
        a.note("layer_norm(x, w, ...) scales by w here; the original TensorLogic ignores its "
               "second argument (its layer_norm has no scale or shift); write w: to say you "
               "mean the scale", "w")
    return norm(a, ("w",) if eps_form else ("w", "b"))


def embedding(a: RuleArgs) -> Type:
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
    t = a.type("ids")
    if isinstance(t, ScalarType):  # one id: [1, dim], as the original returns it
        return TensorType(table.dtype, (1, table.dims[1]))
    return TensorType(table.dtype, ids.dims + (table.dims[1],))


def causal_mask(a: RuleArgs) -> Type:
    n = a.int("n")
    d = n if n is not None and n >= 0 else UNKNOWN_DIM
    return TensorType("float16", (d, d))


def attention_mask(a: RuleArgs) -> Type:
    s, m = a.tensor("scores"), a.tensor("mask")
    if s is None or m is None:
        return same("scores")(a)
    r = S.broadcast_dims(s.dims or (), m.dims or ())
    if isinstance(r, str):
        raise ShapeError(f"apply_attention_mask: mask {m} does not broadcast to scores {s}: "
                         f"{r}", param="mask")
    return s


def rope(a: RuleArgs) -> Type:
    x = a.tensor("x")
    if x is None:
        return same()(a)
    assert x.dims is not None
    if len(x.dims) < 2:
        raise ShapeError(f"rope needs x as [..., seq, heads, head_dim] (or [seq, head_dim]); "
                         f"found {x}", param="x")
    cos = a.tensor("offset")
    if cos is not None and cos.dims:  # rope(x, cos, sin): tables [>= seq, head_dim]
        if len(x.dims) != 3 or len(cos.dims) != 2:
            raise ShapeError(f"rope(x, cos, sin) needs x [seq, heads, head_dim] and tables "
                             f"[max_seq, head_dim]; found x {x} and cos {cos}", param="offset")
        if S.differ(cos.dims[1], x.dims[2]):
            raise ShapeError(f"rope: the tables are {cos} but head_dim of x {x} is "
                             f"{S.dstr(x.dims[2])}", param="offset")
        rows, seq = dim_value(cos.dims[0]), dim_value(x.dims[0])
        if rows is not None and seq is not None and rows < seq:
            raise ShapeError(f"rope: the tables have {rows} rows but x has {seq} positions",
                             param="offset")
    v = dim_value(x.dims[-1])
    if v is not None and v % 2:
        raise ShapeError(f"rope: the last dimension of {x} must be even; found {v}",
                         param="x")
    return x


def einsum(a: RuleArgs) -> Type:
    spec = a.get("spec")
    if spec is None or not isinstance(spec.value, str):
        return TensorType("float16", None)
    return S.einsum(spec.value, [o.type for o in a.rest])


def opened_model(a: RuleArgs) -> Type:
    """`load_model(path)`: the Model the checker opened for the path (header and all)."""
    return next(iter(a.opened.values()), ModelType())


def opened_tokenizer(a: RuleArgs) -> Type:
    """`load_tokenizer(path)`: the Tokenizer the checker read for the path."""
    return next(iter(a.opened.values()), TokenizerType())


def token_ids(a: RuleArgs) -> Type:
    """`tokenize(tok, text, add_special)`: int32[n], n exact when the tokenizer was read and
    the text and flag are constants."""
    tok = a.type("tok")
    text, special = a.get("text"), a.get("add_special")
    if isinstance(tok, TokenizerType) and tok.tokenizer is not None and text is not None \
            and isinstance(text.value, str) and special is not None \
            and isinstance(special.value, bool):
        return TensorType("int32", (len(tok.tokenizer.tokenize(text.value, special.value)),))
    return TensorType("int32", (UNKNOWN_DIM,))


def logits_filter(a: RuleArgs) -> Type:
    """`top_k`/`top_p`: the logits' type; they must have at least one axis."""
    t = a.type("logits")
    if isinstance(t, TensorType) and t.dims is not None and len(t.dims) == 0:
        raise ShapeError("expected logits [..., vocab], found a 0-d tensor", "logits")
    return t if isinstance(t, TensorType) else TensorType("float16", None)


def sample_rule(a: RuleArgs) -> Type:
    """`temperature_sample(logits, T)`: logits [vocab] or [seq, vocab]; an int."""
    t = a.type("logits")
    if isinstance(t, TensorType) and t.dims is not None and len(t.dims) not in (1, 2):
        raise ShapeError(f"expected logits [vocab] or [seq, vocab], found {t}", "logits")
    return INT


def new_kvcache(dtype: str) -> ShapeRule:
    """`KVCache::new_f16(n)` / `new_f32(n)`."""

    def rule(a: RuleArgs) -> Type:
        n = a.int("n")
        if n is not None and n < 1:
            raise ShapeError(f"a KVCache needs at least 1 layer, found {n}", "n")
        return KVCacheType(dtype, n)

    return rule


def cache_layer(a: RuleArgs) -> KVCacheType | None:
    """The cache argument's type, after checking a constant layer index against it."""
    c = a.type("cache")
    layer = a.int("layer")
    if isinstance(c, KVCacheType) and c.layers is not None and layer is not None \
            and not 0 <= layer < c.layers:
        raise ShapeError(f"Layer index {layer} out of bounds (cache has {c.layers} layers)",
                         "layer")
    return c if isinstance(c, KVCacheType) else None


def cache_tensor(a: RuleArgs) -> Type:
    """`get_k` / `get_v`: a tensor of the cache's dtype; the rows grow, so the shape is
    unknown."""
    c = cache_layer(a)
    return TensorType(c.dtype if c is not None else "float16", None)


def cache_store(a: RuleArgs) -> Type:
    """`cache.set(layer, K, V)`: K and V have the same number of rows."""
    cache_layer(a)
    k, v = a.tensor("K"), a.tensor("V")
    if k is not None and v is not None and k.dims and v.dims:
        rk, rv = dim_value(k.dims[0]), dim_value(v.dims[0])
        if rk is not None and rv is not None and rk != rv:
            raise ShapeError(f"K and V must have the same number of rows (axis 0), found K "
                             f"{k} and V {v}", "V")
    return VOID


def create_cache(a: RuleArgs) -> Type:
    """`Tensor::create_cache(max_len, shape_rest)`: float32 `[0, *shape_rest]`."""
    n = a.int("max_len")
    if n is not None and n < 0:
        raise ShapeError(f"max_len must be non-negative; found {n}", "max_len")
    rest = a.dims("shape_rest")
    if rest is None:
        return TensorType("float32", None)
    for d in rest:
        v = dim_value(d)
        if v is not None and v < 0:
            raise ShapeError(f"sizes must be non-negative; found {v}", param="shape_rest")
    return TensorType("float32", (0, *rest))


def is_token_ids(t: TensorType) -> bool:
    """Token ids (`append(ids, id)`): a 1-D integer tensor."""
    return t.dtype.startswith(("int", "uint")) and t.dims is not None and len(t.dims) == 1


def _rows_appended(x: TensorType, rows: Type) -> Type:
    """`t.append(rows)` (UPSTREAM.md 14.5): x with rows' entries added along axis 0, in x's
    dtype; `rows` has x's trailing shape (or is one row: x's shape without axis 0)."""
    if x.dims is None or not isinstance(rows, TensorType) or rows.dims is None:
        return TensorType(x.dtype, None)
    if len(x.dims) == 0:
        raise ShapeError(f"append adds rows along axis 0; a 0-d tensor has none ({x})", "x")
    r = rows.dims
    if len(r) == len(x.dims) - 1:
        r = (1, *r)
    known = [(dim_value(p), dim_value(q)) for p, q in zip(r[1:], x.dims[1:], strict=False)]
    if len(r) != len(x.dims) or any(p is not None and q is not None and p != q
                                    for p, q in known):
        raise ShapeError(f"append: the rows must be {x.rank - 1}-D or {x.rank}-D with the "
                         f"trailing shape of {x}, found {TensorType(x.dtype, rows.dims)}",
                         "values")
    return S.concat([x, TensorType(x.dtype, r)], 0)


def append_rule(a: RuleArgs) -> Type:
    """`cache.append(layer, K, V)` (void), `append(ids, id)` (token ids, one longer) or
    `t.append(rows)` (rows added along axis 0)."""
    x = a.type("x")
    if isinstance(x, KVCacheType):
        if len(a.rest) != 3:
            raise ShapeError(f"KVCache append takes a layer, K and V (3 values), found "
                             f"{len(a.rest)}", "x")
        return VOID
    if isinstance(x, TensorType) and not (x.dims is None or is_token_ids(x)):
        if len(a.rest) != 1:
            raise ShapeError(f"appending rows to a tensor takes one tensor of rows, found "
                             f"{len(a.rest)} values", "x")
        return _rows_appended(x, a.rest[0].type)
    if isinstance(x, TensorType):
        if len(a.rest) != 1:
            raise ShapeError(f"appending to token ids takes one id, found {len(a.rest)} values",
                             "x")
        if x.dims is not None and len(x.dims) == 1:
            n = dim_value(x.dims[0])
            return TensorType(x.dtype, (n + 1,) if n is not None else (UNKNOWN_DIM,))
        return TensorType(x.dtype, (UNKNOWN_DIM,))
    return UNKNOWN


def attention_rule(a: RuleArgs) -> Type:
    """`attention_with_cache(Q, K, V, W_o)`: [s, out]."""
    q, w = a.tensor("Q"), a.tensor("W_o")
    if q is not None and q.rank not in (2, 3):
        raise ShapeError(f"Q must be [s, heads, head_dim] or [s, E], found {q}", "Q")
    if w is not None and w.rank != 2:
        raise ShapeError(f"W_o must be [out, E], found {w}", "W_o")
    rows = q.dims[0] if q is not None and q.dims else UNKNOWN_DIM
    out = w.dims[0] if w is not None and w.dims else UNKNOWN_DIM
    return TensorType(q.dtype if q is not None else "float16", (rows, out))


def get_tensor(a: RuleArgs) -> Type:
    return _named_tensor(a.type("model"), a)


def _named_tensor(m: Type | None, a: RuleArgs) -> Type:
    """The tensor `name` of model `m` as its header says, when both are known."""
    name = a.get("name")
    if isinstance(m, ModelType) and m.header is not None and name is not None \
            and isinstance(name.value, str):
        return S.model_tensor(m.header, name.value)
    return TensorType("float16", None)


def tensor_ctor(a: RuleArgs) -> Type:
    t = a.type("data")
    dtype = canonical_dtype(a.dtype) if a.dtype else None
    if isinstance(t, TensorType):
        return TensorType(dtype or t.dtype, t.dims)
    if isinstance(t, ScalarType) and t.name in ("int", "float"):
        return TensorType(dtype or "float16", ())
    return TensorType(dtype or "float16", None)


def from_array(dtype: str) -> ShapeRule:
    """`f32::from_array(data, shape?)`: data's shape (or `shape`) in that dtype."""

    def rule(a: RuleArgs) -> Type:
        t = a.type("data")
        dims: tuple | None = None
        if isinstance(t, TensorType):
            dims = t.dims
        elif isinstance(t, ScalarType) and t.name in ("int", "float"):
            dims = ()
        target = a.dims("shape")
        if target is None:
            return TensorType(dtype, dims)
        if dims is None:
            return TensorType(dtype, tuple(UNKNOWN_DIM if dim_value(d) == -1 else d
                                           for d in target))
        try:
            return S.reshape(TensorType(dtype, dims), target)
        except ShapeError as e:
            raise ShapeError(e.message, param="shape", hint=e.hint) from None

    return rule


def range_rule(a: RuleArgs) -> Type:
    lo, hi = _bounds(a)
    return ListType(INT, max(hi - lo, 0) if lo is not None and hi is not None else None)


def rounding(a: RuleArgs) -> Type:
    """floor/ceil/round: a number gives an int, a tensor a tensor of the same shape."""
    t = a.type("x")
    if isinstance(t, TensorType):
        return t
    return INT


def absolute(a: RuleArgs) -> Type:
    """abs: an int or a float keeps its kind, a tensor its type."""
    t = a.type("x")
    if isinstance(t, ScalarType) and t.name in ("int", "float"):
        known = isinstance(t.value, (int, float)) and not isinstance(t.value, bool)
        return ScalarType(t.name, abs(t.value) if known else None)
    return same()(a)


def gather(a: RuleArgs) -> Type:
    x, idx, dim = a.tensor("x"), a.tensor("index"), a.int("dim")
    if x is None or idx is None:
        return TensorType(x.dtype if x else "float16", None)
    assert x.dims is not None and idx.dims is not None
    if len(idx.dims) != len(x.dims):
        raise ShapeError(f"gather: index {idx} needs as many dimensions as x {x}",
                         param="index")
    if dim is not None:
        S.norm_axis(dim, len(x.dims), x)
    return TensorType(x.dtype, idx.dims)


def scatter(a: RuleArgs) -> Type:
    x, idx, src, dim = a.tensor("x"), a.tensor("index"), a.tensor("src"), a.int("dim")
    if x is None:
        return TensorType("float16", None)
    assert x.dims is not None
    if dim is not None:
        S.norm_axis(dim, len(x.dims), x)
    if idx is not None and src is not None and idx.dims != src.dims and \
            idx.dims is not None and src.dims is not None and len(src.dims) != 0 and \
            any(S.differ(i, j) for i, j in zip(idx.dims, src.dims, strict=False)):
        raise ShapeError(f"scatter: src {src} must have the shape of index {idx}", param="src")
    return x


def positional_encoding(a: RuleArgs) -> Type:
    n, d = a.int("seq_len"), a.int("d_model")
    return TensorType("float16", (n if n is not None else UNKNOWN_DIM,
                                  d if d is not None else UNKNOWN_DIM))


def padding_mask(a: RuleArgs) -> Type:
    lengths, n = a.tensor("lengths"), a.int("max_len")
    b = lengths.dims[0] if lengths is not None and lengths.dims else UNKNOWN_DIM
    if lengths is not None and lengths.dims is not None and len(lengths.dims) != 1:
        raise ShapeError(f"padding_mask: lengths must be 1-D [batch]; found {lengths}",
                         param="lengths")
    return TensorType("float16", (b, n if n is not None else UNKNOWN_DIM))


def rope_table(a: RuleArgs) -> Type:
    hd, n = a.int("head_dim"), a.int("max_seq_len")
    if hd is not None and hd % 2:
        raise ShapeError(f"{a.name}: head_dim must be even; found {hd}", param="head_dim")
    return TensorType("float16", (n if n is not None else UNKNOWN_DIM,
                                  hd if hd is not None else UNKNOWN_DIM))


def first_tensor(param: str) -> ShapeRule:
    """The type of the tensor argument `param` (element-wise helpers, masks)."""
    return lambda a: a.tensor(param) or TensorType("float16", None)


def fused_gelu_linear(a: RuleArgs) -> Type:
    x, w = a.tensor("x"), a.tensor("W")
    if x is None or w is None:
        return TensorType("float16", None)
    try:
        return S.matmul(x, w, a.get("x").text if a.get("x") else "",  # type: ignore[union-attr]
                        a.get("W").text if a.get("W") else "")  # type: ignore[union-attr]
    except ShapeError as e:
        raise ShapeError(e.message, param="W", hint=e.hint) from None


def print_rule(a: RuleArgs) -> Type:
    """`print("{} and {}", x)`: a literal format string with too few values is an error
    before the run, with the runtime's message."""
    if len(a.rest) > 1 and isinstance(a.rest[0].value, str):
        try:
            format_braces(a.rest[0].value, [""] * (len(a.rest) - 1))
        except FormatError as e:
            raise ShapeError(f"print: {e}", param="values") from None
    return VOID


def tensor_buffer(a: RuleArgs) -> Type:
    """`new_tensor_buffer(bytes)`."""
    n = a.int("bytes")
    if n is not None and n < 0:
        raise ShapeError(f"a TensorBuffer's size is a number of bytes >= 0, found {n}", "bytes")
    return TensorBufferType()


def buffer_alloc(a: RuleArgs) -> Type:
    """`buf.alloc(shape, count, elem_size)`: the sizes are checked, nothing is returned."""
    creation(a)
    count, size = a.int("count"), a.int("elem_size")
    if count is not None and count < 0:
        raise ShapeError(f"count is a number of tensors >= 0, found {count}", "count")
    if size is not None and size < 1:
        raise ShapeError(f"elem_size is a number of bytes >= 1, found {size}", "elem_size")
    return VOID


def saved_tensor(a: RuleArgs) -> Type:
    """`save(t, file)`: the file holds float16 only, so a tensor of another known dtype is
    an error (a silent rounding of float32 values would change them)."""
    t = a.type("t")
    if isinstance(t, TensorType) and t.dtype != "float16":
        raise ShapeError(f"save writes float16 tensors only (the file format holds float16), "
                         f"found {t}; convert it first: f16::from_array(t)", "t")
    return VOID

