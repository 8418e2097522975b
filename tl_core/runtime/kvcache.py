"""`KVCache`: per-layer key/value tensors that grow along axis 0 (UPSTREAM.md §14.4).

The original concatenates on every `append` (copying the whole layer each token). Here each
layer owns a device buffer `[capacity, *rest]`, preallocated in steps of `STEP` rows; an
append writes its rows into the buffer in place (MLX donates the buffer to the slice update
when nothing else holds it) and `get_k`/`get_v` return the filled prefix, a view. Growing
past the capacity reallocates once per `STEP` rows, as mlx-lm's cache does.

Tensors are converted to the cache's dtype (float16 for `KVCache::new`/`new_f16`, float32
for `new_f32`): ours mixes f16 and f32 where the original refuses.
"""

from __future__ import annotations

import mlx.core as mx

from tl_core.runtime.errors import OpError
from tl_core.runtime.values import dtype_name, shape_text


class _Layer:
    __slots__ = ("k", "v", "length")

    def __init__(self, k: mx.array, v: mx.array, length: int):
        self.k = k
        self.v = v
        self.length = length


class KVCache:
    """A cache of `n_layers` layers, shared by reference (methods mutate it)."""

    STEP = 256

    def __init__(self, n_layers: int, dtype: mx.Dtype = mx.float16):
        if n_layers < 1:
            raise OpError(f"a KVCache needs at least 1 layer, found {n_layers}", arg="n")
        self.n_layers = n_layers
        self.dtype = dtype
        self._layers: list[_Layer | None] = [None] * n_layers

    def __repr__(self) -> str:
        return f"<KVCache: {self.n_layers} layers>"

    def _index(self, layer: int) -> int:
        if not 0 <= layer < self.n_layers:
            raise OpError(
                f"Layer index {layer} out of bounds (cache has {self.n_layers} layers)",
                arg="layer",
            )
        return layer

    def _entry(self, layer: int) -> _Layer:
        entry = self._layers[self._index(layer)]
        if entry is None:
            raise OpError(f"No cache entry for layer {layer}", arg="layer")
        return entry

    def length(self, layer: int) -> int:
        """Rows stored in `layer` (0 when empty)."""
        entry = self._layers[self._index(layer)]
        return 0 if entry is None else entry.length

    def set(self, layer: int, k: mx.array, v: mx.array) -> None:
        """Replace the layer's keys and values."""
        self._index(layer)
        self._layers[layer] = None
        self.append(layer, k, v)

    def append(self, layer: int, k: mx.array, v: mx.array) -> None:
        """Add the rows of `k` and `v` (axis 0) after those stored."""
        self._index(layer)
        k, v = k.astype(self.dtype), v.astype(self.dtype)
        if k.ndim == 0 or v.ndim == 0 or k.shape[0] != v.shape[0]:
            raise OpError(
                f"K and V must have the same number of rows (axis 0), found K {shape_text(k.shape)} "
                f"and V {shape_text(v.shape)}",
                arg="V",
            )
        entry = self._layers[layer]
        n = k.shape[0]
        if entry is None:
            entry = _Layer(self._alloc(k.shape, n), self._alloc(v.shape, n), 0)
            self._layers[layer] = entry
        else:
            for name, new, buf in (("K", k, entry.k), ("V", v, entry.v)):
                if new.shape[1:] != buf.shape[1:]:
                    raise OpError(
                        f"{name} rows of shape {shape_text(new.shape[1:])} cannot follow the "
                        f"{shape_text(buf.shape[1:])} rows stored in layer {layer} "
                        f"(cache: {shape_text((entry.length, *buf.shape[1:]))})",
                        arg=name,
                    )
        end = entry.length + n
        if end > entry.k.shape[0]:
            entry.k = self._grow(entry.k, entry.length, end)
            entry.v = self._grow(entry.v, entry.length, end)
        entry.k[entry.length : end] = k
        entry.v[entry.length : end] = v
        entry.length = end

    def get_k(self, layer: int) -> mx.array:
        entry = self._entry(layer)
        return entry.k[: entry.length]

    def get_v(self, layer: int) -> mx.array:
        entry = self._entry(layer)
        return entry.v[: entry.length]

    def capacity(self, layer: int) -> int:
        entry = self._layers[self._index(layer)]
        return 0 if entry is None else entry.k.shape[0]

    def _alloc(self, shape: tuple[int, ...], rows: int) -> mx.array:
        cap = -(-max(rows, 1) // self.STEP) * self.STEP
        return mx.zeros((cap, *shape[1:]), dtype=self.dtype)

    def _grow(self, buf: mx.array, used: int, rows: int) -> mx.array:
        bigger = self._alloc(buf.shape, rows)
        bigger[:used] = buf[:used]
        return bigger

    @property
    def dtype_name(self) -> str:
        return dtype_name(self.dtype)
