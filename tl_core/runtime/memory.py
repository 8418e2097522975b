"""Tensors too large for the device are refused before MLX allocates them.

MLX is lazy: an op returns an array whose shape is known but whose memory is allocated only
when it is evaluated (at the end of the statement). The interpreter hands every tensor a
built-in or an operator returns to `check`, so a `zeros([1000000, 1000000])` is a clear
error naming the shape, its bytes and the device's memory instead of a failed allocation
that takes the process down.
"""

from __future__ import annotations

import functools
from typing import Any

import mlx.core as mx

from tl_core.limits import format_bytes, host_memory, size_problem
from tl_core.runtime.errors import TLRuntimeError
from tl_core.runtime.values import dtype_name
from tl_core.syntax.span import Span


class TooLarge(TLRuntimeError):
    code = "size"


@functools.cache
def device_memory(device: str) -> int:
    """Bytes of memory of `device` ("gpu" | "cpu"), asked once per process (cached: it does
    not change). The GPU's own size when MLX reports one, else this machine's memory."""
    if device == "gpu":
        try:
            info = mx.device_info()
        except Exception:  # noqa: BLE001 - older MLX, or no GPU backend
            info = {}
        for key in ("memory_size", "total_memory"):
            size = info.get(key)
            if isinstance(size, int) and size > 0:
                return size
    return host_memory() or 2**200


def check(value: Any, device: str, what: str, span: Span | None = None) -> None:
    """Raise `TooLarge` when the tensor `value` (made by `what`, at `span`) cannot fit
    `device`."""
    shape = value.shape
    n = 1
    for d in shape:
        n *= d
    if n * value.itemsize <= 2**24:  # the common case: no need to ask for the device's size
        return
    problem = size_problem(tuple(shape), dtype_name(value.dtype), device_memory(device),
                           f"the {device}")
    if problem is not None:
        raise TooLarge(f"{what}: {problem}", span)


# What MLX's allocators say when an allocation fails (CUDA, Metal, the CPU's malloc).
_OOM_MARKERS = ("out of memory", "unable to allocate", "failed to allocate",
                "greater than the maximum allowed buffer size")


def out_of_memory(exc: BaseException, device: str, span: Span | None = None) -> TooLarge | None:
    """The clear error for a failed allocation inside MLX (`exc`), or None when `exc` is
    something else. Each tensor alone passed `check`, but together with the tensors already
    alive they do not fit (two [200000, 200000] float16 operands on an 80 GB card)."""
    if not isinstance(exc, (RuntimeError, MemoryError)):
        return None
    if not isinstance(exc, MemoryError) and not any(
            m in str(exc).lower() for m in _OOM_MARKERS):
        return None
    try:
        in_use = f"{format_bytes(mx.get_active_memory())} in use by this run's tensors, of "
    except Exception:  # noqa: BLE001 - an MLX without memory statistics
        in_use = "of "
    return TooLarge(f"out of memory on the {device}: this statement's tensors do not fit "
                    f"({in_use}the {format_bytes(device_memory(device))} of the {device}); "
                    f"free tensors you no longer need (assign something small to their "
                    f"names) or use smaller shapes", span)
