"""How values print: `print(...)`, `str(x)` and the value summaries of a run.

Tensors print NumPy-style (abbreviated with `...` beyond 1000 elements, 3 edge items),
followed by their type and device: `tensor([[2.209, 2.82], ...], float16[4, 2], gpu)`; each
float element as the original writes it (a whole value as an integer, else the shortest
digits of its dtype). Floats print as Rust's Display (`2`, `0.1`), inside lists and structs
as its Debug (`2.0`), as the original does (tl_core.lang.rustfloat).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import mlx.core as mx
import numpy as np

from tl_core.lang.rustfloat import debug as rust_debug
from tl_core.lang.rustfloat import display as rust_display
from tl_core.lang.rustfloat import tensor_element
from tl_core.runtime.values import Record, Vec, dtype_name, shape_text, type_name

THRESHOLD = 1000
EDGE_ITEMS = 3


def to_numpy(a: mx.array) -> np.ndarray:
    if a.dtype == mx.bfloat16:
        a = a.astype(mx.float32)
    return np.array(a, copy=False)


def _shown(arr: np.ndarray) -> np.ndarray:
    """The elements an abbreviated print shows (the edge items of each long axis)."""
    if arr.size <= THRESHOLD:
        return arr
    idx = [np.r_[0:EDGE_ITEMS, n - EDGE_ITEMS:n] if n > 2 * EDGE_ITEMS else np.arange(n)
           for n in arr.shape]
    return arr[np.ix_(*idx)]


def _float_formatter(arr: np.ndarray) -> Callable[[Any], str]:
    """Each float element as the original prints one (UPSTREAM.md 15.3: a whole value as an
    integer, else the shortest digits of its own type, `NaN`, `inf`), right-aligned."""
    bits = {2: 16, 4: 32}.get(arr.dtype.itemsize, 64)
    shown = _shown(arr).ravel()
    width = max((len(tensor_element(float(v), bits)) for v in shown), default=0)
    return lambda v: tensor_element(float(v), bits).rjust(width)


def tensor_values(a: mx.array, prefix: str = "") -> str:
    """The abbreviated values alone: `[[1, 2], [3, 4]]`."""
    arr = to_numpy(a)
    formatter: dict[str, Callable[[Any], str]] = {"bool": lambda b: "true" if b else "false"}
    if arr.dtype.kind == "f" and arr.size:
        formatter["float_kind"] = _float_formatter(arr)
    return np.array2string(
        arr, separator=", ", prefix=prefix, threshold=THRESHOLD, edgeitems=EDGE_ITEMS,
        max_line_width=100, formatter=formatter,
    )


def format_tensor(a: mx.array, device: str) -> str:
    body = tensor_values(a, prefix="tensor(")
    return f"tensor({body}, {dtype_name(a.dtype)}{shape_text(a.shape)}, {device})"


def _scalar_text(v: Any, nested: bool = False) -> str:
    """A bool, int or float: floats as Rust's Display (`2`, `0.1`), or its Debug (`2.0`,
    `1e-5`) inside a list or a struct, as the original prints them (UPSTREAM.md 15.3)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return rust_debug(v) if nested else rust_display(v)
    return str(v)


ARRAY_SHOWN = 10  # a longer list of numbers, strings or bools prints as the original's


def format_value(v: Any, device: str = "cpu", *, quote_strings: bool = False) -> str:
    """The text `print` writes for one value (strings unquoted unless inside a list)."""
    if isinstance(v, mx.array):
        return format_tensor(v, device)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' if quote_strings else v
    if isinstance(v, (bool, int, float)):
        return _scalar_text(v, quote_strings)
    if v is None:
        return "void"
    if isinstance(v, range) or isinstance(v, list) and len(v) > ARRAY_SHOWN and all(
            isinstance(x, (bool, int, float, str)) for x in v):
        if len(v) > ARRAY_SHOWN:  # the original's long arrays, with Display (no quotes)
            return (f"[{format_value(v[0])}, {format_value(v[1])}, ..., "
                    f"{format_value(v[-1])}] (len={len(v)})")
        v = list(v)
    if isinstance(v, list):
        return "[" + ", ".join(format_value(x, device, quote_strings=True) for x in v) + "]"
    if isinstance(v, tuple):
        return "(" + ", ".join(format_value(x, device, quote_strings=True) for x in v) + ")"
    if isinstance(v, Vec):  # `Vec[1, 2]`, as the original prints vectors
        return "Vec" + format_value(v.items, device)
    if isinstance(v, Record):
        shown = list(v.items.items())[:8]
        parts = [f"{k}: {_short(x, device)}" for k, x in shown]
        if len(v.items) > len(shown):
            parts.append(f"... ({len(v.items) - len(shown)} more)")
        return "{" + ", ".join(parts) + "}"
    if type(v).__name__ == "Model":
        return format_model(v)
    fields = getattr(v, "format_with", None)  # a struct value: `Point { x: 1.0, y: 2.0 }`
    if fields is not None:
        return fields(lambda x: format_value(x, device, quote_strings=True))
    return str(v)


def _short(v: Any, device: str) -> str:
    if isinstance(v, (list, tuple)) and len(v) > 8:
        head = ", ".join(format_value(x, device, quote_strings=True) for x in v[:3])
        return f"[{head}, ... ({len(v)} items)]"
    text = format_value(v, device, quote_strings=True)
    return text if len(text) <= 80 else text[:77] + "..."


def format_model(model: Any) -> str:
    header = model.header
    names = list(header.tensors)
    shown = []
    for name in names[:3]:
        info = header.tensors[name]
        shown.append(f"{name}: {info.dtype}{shape_text(info.shape)}")
    more = f", ... ({len(names) - 3} more)" if len(names) > 3 else ""
    return f"Model({header.format}, {len(names)} tensors: {', '.join(shown)}{more})"


def value_kind(v: Any) -> str:
    if isinstance(v, mx.array):
        return "tensor"
    if isinstance(v, (list, range)):
        return "list"
    name = type_name(v)
    return {"Model": "model", "void": "none"}.get(name, name)
