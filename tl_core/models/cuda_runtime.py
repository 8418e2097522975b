"""The few CUDA runtime calls the loader makes itself, through ctypes: a copy from the host
into an MLX array's memory, a prefetch of an array's memory to the GPU, and the page-locking
(`cudaHostRegister`) of a mapped model file so that copies from it run at the DMA engine's
speed.

Why our own calls: MLX's CUDA backend keeps arrays in managed memory, and filling an array
from the host through NumPy (the other variants in `reading`) moves every page by a fault on
the host and again on the GPU's first use. `cudaMemcpyAsync` of the file's float32 bytes into
a device-resident array (then `astype` on the GPU), or `cudaMemPrefetchAsync` of a filled
array, moves them in bulk (bench/load.py --variants measures each against
`safetensors.torch`). MLX exposes neither call, and no pure-Python package offers them
without another dependency (cuda-python), so the loader calls a CUDA runtime library.

MLX 0.32's CUDA build links its runtime statically (on an H100, 2026-12-07, no `libcudart`
was mapped into a process that only used MLX), so the library is one already mapped into
this process (e.g. PyTorch's, read from /proc/self/maps) or else the one of NVIDIA's
`nvidia-cuda-runtime` wheel that MLX's CUDA build requires. Runtimes of one process share
the device's primary context, so their copies reach MLX's memory (checked on an H100,
2026-12-07 09:16 UTC: tests/gpu through the wheel's `libcudart.so.13`, no PyTorch loaded).
`runtime()` returns None where there is none (no CUDA, not Linux, a runtime without the
calls): callers then take a host-only path.
"""

from __future__ import annotations

import ctypes
import glob
import os
import threading
from collections.abc import Callable
from functools import cache

# cudaMemcpyKind: cudaMemcpyDefault (the direction follows from the pointers, which unified
# addressing allows)
_MEMCPY_DEFAULT = 4
_STREAM_NON_BLOCKING = 1
_LOCATION_DEVICE = 1  # cudaMemLocationTypeDevice
# cudaHostRegisterReadOnly: the device only reads the range, which lets a read-only file
# mapping be page-locked (without it, pinning asks for write access and fails).
_REGISTER_READ_ONLY = 0x08
_REGISTER_DEFAULT = 0x00
# cudaDeviceAttr values (the same numbers in CUDA 11.1 through 13)
_ATTR_HOST_REGISTER = 99  # cudaDevAttrHostRegisterSupported
_ATTR_HOST_REGISTER_READ_ONLY = 113  # cudaDevAttrHostRegisterReadOnlySupported


class _Location(ctypes.Structure):  # cudaMemLocation (CUDA 12.2 and later)
    _fields_ = [("type", ctypes.c_int), ("id", ctypes.c_int)]


class CudaError(RuntimeError):
    """A CUDA runtime call failed; the message names the call and CUDA's reason."""


class CudaRuntime:
    """Calls into one loaded `libcudart`. Each call takes a private non-blocking stream from
    a free list (so copies from several threads overlap: a copy from pageable memory is
    staged by the calling CPU thread; the list holds as many streams as calls ever ran at
    once) and waits for its work before it returns, so MLX never reads memory a copy is
    still writing."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        self._lib = lib
        lib.cudaGetErrorString.restype = ctypes.c_char_p
        lib.cudaGetErrorString.argtypes = [ctypes.c_int]
        lib.cudaMemcpyAsync.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t,
                                        ctypes.c_int, ctypes.c_void_p]
        lib.cudaStreamSynchronize.argtypes = [ctypes.c_void_p]
        # cudaHostRegister, cudaHostUnregister and cudaDeviceGetAttribute have one signature
        # in CUDA 12 and 13 (unlike the prefetch below).
        lib.cudaHostRegister.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint]
        lib.cudaHostUnregister.argtypes = [ctypes.c_void_p]
        version = ctypes.c_int()
        self._check(lib.cudaRuntimeGetVersion(ctypes.byref(version)), "cudaRuntimeGetVersion")
        self.version = version.value
        # CUDA 13 named cudaMemPrefetchAsync what 12.2-12.x call cudaMemPrefetchAsync_v2 (a
        # location instead of a device number); older runtimes get no prefetch.
        name = "cudaMemPrefetchAsync" if self.version >= 13000 else "cudaMemPrefetchAsync_v2"
        self._prefetch = getattr(lib, name, None)
        if self._prefetch is not None:
            self._prefetch.argtypes = [ctypes.c_void_p, ctypes.c_size_t, _Location,
                                       ctypes.c_uint, ctypes.c_void_p]
        device = ctypes.c_int()
        self._check(lib.cudaGetDevice(ctypes.byref(device)), "cudaGetDevice")
        self.device = device.value
        self.can_register = self._attribute(_ATTR_HOST_REGISTER) != 0
        self._register_flags = (_REGISTER_READ_ONLY
                                if self._attribute(_ATTR_HOST_REGISTER_READ_ONLY)
                                else _REGISTER_DEFAULT)
        self._free: list[ctypes.c_void_p] = []  # streams no call is using
        self._lock = threading.Lock()  # guards _free

    def _run(self, call: Callable[[ctypes.c_void_p], int], name: str) -> None:
        """`call(stream)` on a free stream, then wait for the stream."""
        with self._lock:
            stream = self._free.pop() if self._free else None
        if stream is None:
            stream = ctypes.c_void_p()
            self._check(self._lib.cudaStreamCreateWithFlags(ctypes.byref(stream),
                                                            _STREAM_NON_BLOCKING),
                        "cudaStreamCreateWithFlags")
        try:
            self._check(call(stream), name)
            self._check(self._lib.cudaStreamSynchronize(stream), "cudaStreamSynchronize")
        finally:
            with self._lock:
                self._free.append(stream)

    def _attribute(self, attr: int) -> int:
        """Device attribute `attr` of the current device; 0 where the runtime refuses it."""
        value = ctypes.c_int()
        ok = self._ok(self._lib.cudaDeviceGetAttribute(ctypes.byref(value), attr, self.device))
        return value.value if ok else 0

    def _ok(self, rc: int) -> bool:
        """Whether a call returned cudaSuccess; if not, the thread's last error is reset, so
        that MLX's next `cudaGetLastError` check does not take our refused call for its own."""
        if rc:
            self._lib.cudaGetLastError()
        return not rc

    def _check(self, rc: int, call: str) -> None:
        if not self._ok(rc):
            reason = self._lib.cudaGetErrorString(rc)
            raise CudaError(f"{call} failed: {reason.decode() if reason else rc}")

    @property
    def can_prefetch(self) -> bool:
        return self._prefetch is not None

    def copy(self, dst: int, src: int, nbytes: int) -> None:
        """Copy `nbytes` from address `src` to `dst` (host or device, managed included) and
        wait for it."""
        self._run(lambda s: self._lib.cudaMemcpyAsync(dst, src, nbytes, _MEMCPY_DEFAULT, s),
                  "cudaMemcpyAsync")

    def prefetch(self, ptr: int, nbytes: int) -> None:
        """Move `nbytes` of managed memory at `ptr` to the current GPU and wait for it."""
        if self._prefetch is None:
            raise CudaError(f"this CUDA runtime ({self.version}) has no location prefetch")
        prefetch, where = self._prefetch, _Location(_LOCATION_DEVICE, self.device)
        self._run(lambda s: prefetch(ptr, nbytes, where, 0, s), "cudaMemPrefetchAsync")

    def register(self, ptr: int, nbytes: int) -> bool:
        """Page-lock `nbytes` of host memory at `ptr` (page-aligned; a read-only file mapping
        is fine where the device supports cudaHostRegisterReadOnly), so that copies from it
        run by DMA without staging. False, with CUDA's error cleared, where the device or the
        runtime refuses; the caller then copies another way. Undo with `unregister(ptr)`
        before the memory is unmapped."""
        return self.can_register and self._ok(
            self._lib.cudaHostRegister(ptr, nbytes, self._register_flags))

    def unregister(self, ptr: int) -> bool:
        """Undo `register(ptr, ...)`; False (error cleared) where the runtime refuses, e.g.
        while the process exits and the runtime is gone already."""
        return self._ok(self._lib.cudaHostUnregister(ptr))


def loaded_cudart(maps: str) -> str | None:
    """The path of a `libcudart` mapped into a process, from its /proc/PID/maps text (MLX
    links its CUDA runtime statically, so this is another library's, e.g. PyTorch's)."""
    for line in maps.splitlines():
        fields = line.split(None, 5)
        path = fields[5].strip() if len(fields) == 6 else ""
        if "/libcudart.so" in path:
            return path
    return None


def packaged_cudart(roots: list[str] | None = None) -> str | None:
    """A `libcudart` from NVIDIA's wheels (`nvidia-cuda-runtime`, which MLX's CUDA build
    requires: `site-packages/nvidia/cu13/lib/libcudart.so.13`, or `nvidia/cuda_runtime/lib`
    in older ones), the newest major version first; `roots`: the `nvidia` package's
    directories (by default found by importing it). None when there is none."""
    if roots is None:
        try:
            import nvidia  # the namespace package of NVIDIA's wheels
        except ImportError:
            return None
        roots = list(getattr(nvidia, "__path__", []))
    found = [p for root in roots for p in glob.glob(os.path.join(root, "*", "lib",
                                                                  "libcudart.so*"))]

    def major(path: str) -> int:
        tail = path.rsplit(".so", 1)[-1].lstrip(".").split(".")[0]
        return int(tail) if tail.isdigit() else -1

    return max(found, key=lambda p: (major(p), p)) if found else None


# The process's CUDA runtime (None: none). Owner: this module; key: none (one per process,
# found once MLX's CUDA backend is loaded; `runtime.cache_clear()` forgets it for tests).
@cache
def runtime() -> CudaRuntime | None:
    """The CUDA runtime MLX uses in this process, or None (MLX without CUDA, no GPU, no
    /proc, a failing runtime)."""
    import mlx.core as mx  # lazy: MLX stays out of `import tl_core` and tl-lsp start

    if not mx.cuda.is_available():
        return None
    try:
        mx.eval(mx.zeros(1, stream=mx.gpu))  # the CUDA backend loads its runtime on first use
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as f:
            path = loaded_cudart(f.read()) or packaged_cudart()
        if path is None:
            return None
        return CudaRuntime(ctypes.CDLL(path))
    except (OSError, AttributeError, CudaError):
        return None
