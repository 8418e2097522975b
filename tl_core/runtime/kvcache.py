"""`KVCache`: per-layer key/value tensors that grow along axis 0 (UPSTREAM.md §14.4).

The original concatenates on every `append` (copying the whole layer each token). Here each
layer owns a device buffer `[capacity, *rest]`, preallocated in steps of `STEP` rows; an
append writes its rows into the buffer in place (MLX donates the buffer to the slice update
when nothing else holds it) and `get_k`/`get_v` return the filled prefix, a view. Growing
past the capacity reallocates once per `STEP` rows, as mlx-lm's cache does.

Tensors are converted to the cache's dtype (float16 for `KVCache::new`/`new_f16`, float32
for `new_f32`): ours mixes f16 and f32 where the original refuses.

Under the "bias" decode-attention form (tl_core.runtime.decode_form), a layer of 3-D rows
`[n, heads, D]` is stored padded to `[capacity, heads, W]`: K with a bias channel (column D:
`BIAS` on the rows not yet filled, 0 once written) and zeros after it, V with zeros, so a
compiled one-query step attends over the buffers without a mask array. `get_k`/`get_v`,
`length`, the error messages, all speak of the rows as given (`[n, heads, D]`).
"""

from __future__ import annotations

import mlx.core as mx

from tl_core.runtime.decode_form import BIAS, decode_attention_form, padded_width
from tl_core.runtime.errors import OpError
from tl_core.runtime.values import dtype_name, shape_text


class _Layer:
    __slots__ = ("k", "v", "length", "width")

    def __init__(self, k: mx.array, v: mx.array, length: int, width: int | None = None):
        self.k = k
        self.v = v
        self.length = length
        # D when the buffers hold rows padded to a wider last axis ("bias" form), else None
        self.width = width

    def rows(self, buf: mx.array) -> mx.array:
        """`buf` (this layer's K or V buffer, or rows of it) as the rows were given."""
        return unpadded(buf, self.width)


def unpadded(buf: mx.array, width: int | None) -> mx.array:
    """Rows of a buffer as they were given: the first `width` columns when padded."""
    return buf if width is None else buf[..., :width]


def pad_rows(rows: mx.array, wide: int, width: int | None) -> mx.array:
    """3-D rows `[n, heads, D]` padded with zeros to the buffer's width `wide` (the bias
    column of a written row is 0); as given when the layer is not padded."""
    if width is None:
        return rows
    return mx.pad(rows, [(0, 0), (0, 0), (0, wide - width)])


def layer_width(k: mx.array, v: mx.array) -> int | None:
    """D when a new layer of rows `k`, `v` is stored padded (the "bias" form, 3-D rows of one
    head width that a fused width exceeds), else None."""
    if k.ndim != 3 or v.shape != k.shape or padded_width(k.shape[-1]) is None:
        return None
    return k.shape[-1] if decode_attention_form() == "bias" else None


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
            entry = self._new_layer(k, v, n)
            self._layers[layer] = entry
        else:
            for name, new, buf in (("K", k, entry.k), ("V", v, entry.v)):
                rest = entry.rows(buf).shape[1:]
                if new.shape[1:] != rest:
                    raise OpError(
                        f"{name} rows of shape {shape_text(new.shape[1:])} cannot follow the "
                        f"{shape_text(rest)} rows stored in layer {layer} "
                        f"(cache: {shape_text((entry.length, *rest))})",
                        arg=name,
                    )
        end = entry.length + n
        if end > entry.k.shape[0]:
            self._grow_layer(entry, end)
        wide = entry.k.shape[-1]
        entry.k[entry.length : end] = pad_rows(k, wide, entry.width)
        entry.v[entry.length : end, ..., : v.shape[-1]] = v  # a padded buffer's rest is 0
        entry.length = end

    def get_k(self, layer: int) -> mx.array:
        entry = self._entry(layer)
        return entry.rows(entry.k[: entry.length])

    def get_v(self, layer: int) -> mx.array:
        entry = self._entry(layer)
        return entry.rows(entry.v[: entry.length])

    def capacity(self, layer: int) -> int:
        entry = self._layers[self._index(layer)]
        return 0 if entry is None else entry.k.shape[0]

    def _new_layer(self, k: mx.array, v: mx.array, rows: int) -> _Layer:
        """An empty layer with room for `rows` rows of `k`'s and `v`'s shapes."""
        width = layer_width(k, v)
        return _Layer(self._alloc(k.shape, rows, width, True), self._alloc(v.shape, rows, width),
                      0, width)

    def _alloc(self, shape: tuple[int, ...], rows: int, width: int | None = None,
               keys: bool = False) -> mx.array:
        """A zero buffer for `rows` rows (a multiple of STEP) of `shape[1:]`; with `width`,
        padded to `padded_width(width)`, and for `keys` the bias column set to BIAS."""
        cap = -(-max(rows, 1) // self.STEP) * self.STEP
        if width is None:
            return mx.zeros((cap, *shape[1:]), dtype=self.dtype)
        wide = padded_width(width)
        assert wide is not None
        buf = mx.zeros((cap, *shape[1:-1], wide), dtype=self.dtype)
        if keys:
            buf[..., width] = BIAS
        return buf

    def _grow_layer(self, entry: _Layer, rows: int) -> None:
        """Reallocate `entry`'s buffers for `rows` rows, keeping the filled ones."""
        entry.k = self._grow(entry.k, entry.length, rows, entry.width, True)
        entry.v = self._grow(entry.v, entry.length, rows, entry.width)

    def _grow(self, buf: mx.array, used: int, rows: int, width: int | None,
              keys: bool = False) -> mx.array:
        """A buffer for `rows` rows holding `buf`'s first `used` (a K buffer: `keys`)."""
        bigger = self._alloc(buf.shape, rows, width, keys)
        bigger[:used] = buf[:used]
        return bigger

    @property
    def dtype_name(self) -> str:
        return dtype_name(self.dtype)
