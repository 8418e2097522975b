"""What a function traced for mx.compile sees in place of a `KVCache` and of an int that
changes on every call (`Interpreter.run_compiled`), so that a whole decode step (embedding,
every block with its cache appends and attention, the output head) is one compiled graph
replayed per token instead of a retrace per position.

- `DeviceInt`: an int parameter passed as a device scalar (the position of a decode step).
  Only `rope`'s offset takes one; any other use is an error, and the interpreter then traces
  the function with that parameter a constant again, so semantics never change.
- `TracedCache`: the cache's layer buffers (`[capacity, heads, head_dim]`, preallocated as
  `KVCache` keeps them) and their lengths as device scalars. `append` writes the rows at the
  device length (`mx.slice_update`), so shapes stay fixed from one token to the next; a layer
  still empty is allocated in the trace (its length 0 is known) and written at known
  offsets (a prefill: no offset computed on the device). The rows each layer gains
  are recorded (`appended`) so the host keeps exact lengths without reading the device.
- `CacheView`: what `get_k`/`get_v` return in a trace: the whole buffer and the filled
  length. Only `attention_with_cache` takes it (masking the rows past the length, which is
  what attending to the filled prefix computes); anything else is an error in the trace, and
  the function then runs uncompiled.

A step's graph is replayed per token, and replaying costs host time per node, so the trace
keeps nodes few: when every filled layer holds the same number of rows (a decode step after
a prefill), the lengths enter as one device scalar, and the write position and the mask of
the layers (a function of that scalar, the rows appended and the query count) are made once
per step and shared by all layers instead of once per layer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import mlx.core as mx

from tl_core.runtime.decode_form import decode_attention_form
from tl_core.runtime.errors import OpError
from tl_core.runtime.kvcache import KVCache, _Layer, pad_rows, unpadded


class Untraceable(Exception):  # noqa: N818 - a signal: run this call uncompiled
    """A traced body used a cache or a device int where only a host value works."""


class DeviceInt:
    """An int parameter as a 0-d int32 device array, inside a trace. Any host use (compare,
    format, hash, convert) raises `Untraceable`, so the function is traced with the value a
    constant instead: no use of it can silently differ."""

    __slots__ = ("value",)

    def __init__(self, value: mx.array) -> None:
        self.value = value

    def _host(self, *_: object) -> None:
        raise Untraceable("an int parameter read on the host")

    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = _host  # type: ignore[assignment]
    __hash__ = __bool__ = __str__ = __repr__ = __format__ = _host  # type: ignore[assignment]
    __int__ = __float__ = __index__ = _host  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class CacheView:
    buffer: mx.array  # [capacity, *rest], padded to a wider last axis when `width` is set
    base: mx.array  # 0-d int32: the rows filled when the step began
    rows: int  # the rows this step appended: the length is base + rows
    masks: dict[tuple[object, ...], mx.array]  # `first`, `mask` and others, per step
    width: int | None = None  # D of rows stored padded (the "bias" form, kvcache.py)

    def given(self) -> mx.array:
        """The buffer as the rows were given (`[capacity, *rest]`)."""
        return unpadded(self.buffer, self.width)

    def first(self, queries: int) -> mx.array:
        """The row of the first of the last `queries` rows (0-d int32, their RoPE offset)."""
        return self.shared("first", (queries,), lambda: self.base + (self.rows - queries))

    def mask(self, queries: int) -> mx.array:
        """[queries, capacity] bool: query t (of the last `queries` rows) sees the rows up to
        its own. Both made once per step for all layers of the same length."""
        cap = self.buffer.shape[0]
        return self.shared("mask", (queries, cap), lambda: mx.arange(cap)[None, :] <= (
            mx.arange(queries)[:, None] + self.first(queries)))

    def filled(self) -> mx.array:
        """[capacity] bool: the rows filled after this step's appends."""
        cap = self.buffer.shape[0]
        return self.shared("filled", (cap,), lambda: mx.arange(cap) < self.base + self.rows)

    def shared(self, name: str, extra: tuple[object, ...], make: Callable[[], mx.array]
               ) -> mx.array:
        """`make()`, made once per step for every layer of this length (`name`, `extra`: what
        else it depends on)."""
        key = (id(self.base), self.rows, name, *extra)
        a = self.masks.get(key)
        if a is None:
            a = self.masks[key] = make()
        return a


class TracedCache(KVCache):
    """A `KVCache` inside a trace: buffers and lengths are the trace's inputs."""

    def __init__(self, n_layers: int, dtype: mx.Dtype, buffers: list[tuple[mx.array, mx.array]
                                                                      | None],
                 lengths: mx.array | None, widths: tuple[int | None, ...] | None = None):
        """`lengths`: one int32 per layer, or a 0-d int32 shared by every filled layer;
        `widths`: each layer's `_Layer.width` (D of rows stored padded)."""
        super().__init__(n_layers, dtype)
        self.buffers = list(buffers)
        self.widths = list(widths or (None,) * n_layers)
        # the rows of each filled layer when the step began (a device scalar)
        self.bases: list[mx.array | None] = [
            None if b is None or lengths is None else lengths if lengths.ndim == 0
            else lengths[i] for i, b in enumerate(buffers)]
        self.appended = [0] * n_layers  # rows added per layer by this trace
        # the length of a layer that was empty when the trace began: known, not on the device
        self.known: list[int | None] = [None] * n_layers
        # the rows (K, V) as given of a layer this trace allocated and appended to once (a
        # prefill): attention reads them as they are, not back from the (padded) buffer
        self.fresh: list[tuple[mx.array, mx.array] | None] = [None] * n_layers
        self._starts: dict[tuple[int, int], mx.array] = {}  # write positions, shared
        self._masks: dict[tuple[object, ...], mx.array] = {}

    def length(self, layer: int) -> int:
        raise Untraceable("the cache's length is on the device in a compiled function")

    def capacity(self, layer: int) -> int:
        raise Untraceable("the cache's capacity is read on the host")

    def set(self, layer: int, k: mx.array, v: mx.array) -> None:
        raise Untraceable("KVCache set in a compiled function")

    def append(self, layer: int, k: mx.array, v: mx.array) -> None:
        self._index(layer)
        k, v = k.astype(self.dtype), v.astype(self.dtype)
        if k.ndim == 0 or v.ndim == 0 or k.shape[0] != v.shape[0]:
            raise Untraceable("K and V rows differ: the uncompiled run reports it")
        bufs = self.buffers[layer]
        n = k.shape[0]
        if bufs is None:  # empty: allocated here, rows from 0
            new = self._new_layer(k, v, n)
            bufs, self.widths[layer] = (new.k, new.v), new.width
            self.bases[layer] = mx.array(0, dtype=mx.int32)
            self.known[layer] = 0
        else:
            width = self.widths[layer]
            if k.shape[1:] != unpadded(bufs[0], width).shape[1:] or \
                    v.shape[1:] != unpadded(bufs[1], width).shape[1:]:
                raise Untraceable("rows of another shape: the uncompiled run reports it")
            if n > bufs[0].shape[0]:
                raise Untraceable("more rows than the buffer holds: it grows on the host")
        width, wide = self.widths[layer], bufs[0].shape[-1]
        known = self.known[layer]
        if known is not None:  # a layer this trace allocated: the rows go at a known offset
            # (a slice update at a host offset: on CUDA no kernel computes the offset)
            keys, values = bufs
            keys[known : known + n] = pad_rows(k, wide, width)
            values[known : known + n, ..., : v.shape[-1]] = v
            self.buffers[layer] = (keys, values)
            self.fresh[layer] = (k, v) if known == 0 else None
            self.appended[layer] += n
            self.known[layer] = known + n
            return
        base = self.bases[layer]
        assert base is not None
        key = (id(base), self.appended[layer])
        at = self._starts.get(key)
        if at is None:
            at = self._starts[key] = (base + self.appended[layer]).reshape(1)
        # V rows go into their first columns as they are: a padded buffer's other columns
        # are zeros from its allocation (no pad op per step); K's bias column is written
        self.buffers[layer] = (mx.slice_update(bufs[0], pad_rows(k, wide, width), at, [0]),
                               mx.slice_update(bufs[1], v, at, [0]))
        self.appended[layer] += n

    def _view(self, layer: int, which: int) -> CacheView | mx.array:
        """The filled rows: a slice when their number is known in the trace (a prefill
        into an empty cache: attention over exactly those rows), else a CacheView."""
        bufs = self.buffers[self._index(layer)]
        base = self.bases[layer]
        if bufs is None or base is None:
            raise OpError(f"No cache entry for layer {layer}", arg="layer")
        known, width = self.known[layer], self.widths[layer]
        if known is not None:
            fresh = self.fresh[layer]
            if fresh is not None:  # no copy of a strided slice of the buffer for attention
                return fresh[which]
            return unpadded(bufs[which][:known], width)
        return CacheView(bufs[which], base, self.appended[layer], self._masks, width)

    def get_k(self, layer: int) -> CacheView | mx.array:  # type: ignore[override]
        return self._view(layer, 0)

    def get_v(self, layer: int) -> CacheView | mx.array:  # type: ignore[override]
        return self._view(layer, 1)


def folded(a: mx.array) -> mx.array:
    """`a` evaluated where it can be, inside a trace: a value made from constants only (a
    weight's transpose) becomes data the compiled graph holds instead of a node each replay
    recomputes (a replay's host time grows with its nodes); a value of the trace's inputs
    stays as it is. Only for traces: outside one, evaluating waits for the device."""
    try:
        mx.eval(a)
    except ValueError:  # MLX refuses to evaluate a value of the trace's inputs
        pass
    return a


# -- the host side of a compiled step (Interpreter.run_compiled) ------------------------


def cache_key(cache: KVCache) -> tuple[object, ...]:
    """What a trace over `cache` depends on besides its buffers' shapes: the layer count,
    the dtype, which layers hold rows (an empty layer is allocated in the trace), whether
    the filled ones hold the same number (one shared length) and which are stored padded."""
    lengths = {entry.length for entry in cache._layers if entry is not None}
    return ("KVCache", cache.n_layers, str(cache.dtype),
            tuple(entry is not None for entry in cache._layers), len(lengths) == 1,
            tuple(None if entry is None else entry.width for entry in cache._layers),
            decode_attention_form())  # the form the trace attends in


def cache_inputs(cache: KVCache, shared: bool) -> list[mx.array]:
    """The trace's inputs for `cache`: each filled layer's K and V buffers, then the lengths:
    one int32 scalar when `shared` (every filled layer holds as many rows), else one int32 per
    layer."""
    out: list[mx.array] = []
    for entry in cache._layers:
        if entry is not None:
            out += (entry.k, entry.v)
            if shared:
                length = entry.length
    if shared:
        out.append(mx.array(length, dtype=mx.int32))
    else:
        out.append(mx.array([0 if e is None else e.length for e in cache._layers],
                            dtype=mx.int32))
    return out


def traced_cache(cache_meta: tuple[int, mx.Dtype, tuple[bool, ...], bool,
                                   tuple[int | None, ...]],
                 arrays: Iterator[mx.array]) -> TracedCache:
    """The TracedCache over the next inputs (as `cache_inputs` laid them out)."""
    n_layers, dtype, filled, _shared, widths = cache_meta
    buffers = [(next(arrays), next(arrays)) if f else None for f in filled]
    return TracedCache(n_layers, dtype, buffers, next(arrays), widths)


def traced_outputs(cache: TracedCache) -> list[mx.array]:
    """The trace's outputs for a cache: the buffers of every layer that holds rows now."""
    return [b for pair in cache.buffers if pair is not None for b in pair]


@dataclass(frozen=True, slots=True)
class StepPlan:
    """What one trace does to a cache: the rows it appends to each layer, and each layer's
    `_Layer.width` after it (a layer the trace allocated may be stored padded)."""

    appended: tuple[int, ...]
    widths: tuple[int | None, ...] = ()


def step_plan(cache: TracedCache) -> StepPlan:
    return StepPlan(tuple(cache.appended), tuple(cache.widths))


def reserve(cache: KVCache, plan: StepPlan) -> bool:
    """Grow the layers whose buffers cannot take the rows the step appends (a new shape:
    the step is traced again); True when one grew."""
    grew = False
    for entry, n in zip(cache._layers, plan.appended, strict=True):
        if entry is not None and n and entry.length + n > entry.k.shape[0]:
            cache._grow_layer(entry, entry.length + n)
            grew = True
    return grew


def apply_outputs(cache: KVCache, plan: StepPlan, outputs: Iterator[mx.array]) -> None:
    """Take a step's new buffers into `cache` and add the appended rows to its lengths."""
    for i, n in enumerate(plan.appended):
        entry = cache._layers[i]
        if entry is None and not n:
            continue
        k, v = next(outputs), next(outputs)
        if entry is None:
            cache._layers[i] = _Layer(k, v, n, plan.widths[i])
        else:
            entry.k, entry.v, entry.length = k, v, entry.length + n
