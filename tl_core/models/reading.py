"""Tensor bytes from a mapped model file, and their fast conversion to float16.

A `TensorReader` belongs to one `Model`: it maps the file once and hands out zero-copy NumPy
views of each tensor's bytes (no `pread` into `bytes`, no second copy). Before each view it
compares the file's size and mtime with the header's, so a file replaced or truncated since
`load_model` is a `ModelFileError`, not a SIGBUS; a truncation during the copy itself remains
a race, as with `safetensors` and `mx.load`, which map files too.

Where float32 becomes float16 depends on the backend (measured on an H100, 1.85 GB F32
SafeTensors, bench/load.py, every tensor then read once on the GPU):
- MLX's CUDA backend copies a NumPy array into its memory at about 9.5 GB/s, and an array
  copied in that way moves to the GPU again on first use (0.08 s per GB). So on CUDA the
  conversion runs on the host, a tensor split over threads (NumPy releases the GIL), writing
  straight into the memory of a fresh MLX array (a NumPy view of an evaluated `mx.zeros`):
  no staging copy, no second move (2026-12-06 17:27 UTC: 0.53 s, against 0.92 s through a
  staging buffer and `mx.array`, 0.65 s for `mx.load` + `astype` and 0.34 s for
  `safetensors.torch.load_file(device="cuda")` + `.half()`).
- On MLX's CPU device the same host path wins too: `mx.array` of a NumPy view copies at a
  fraction of memcpy's speed, so one copy plus MLX's `astype` lost to `mx.load` + `astype`
  (MiniLM, 90 MB F32, on the 2-core development machine: 157 ms against 101 ms), while
  NumPy's conversion into the array's memory needs no copy. Whether a chunk overflowed is two
  integer maxima over its float16 bits (`special_float16`); only a chunk with an inf or a NaN
  is counted.
- On Apple GPUs (unified memory) the conversion runs in MLX (`astype`) and the overflow count
  stays lazy; the host path serves there only when a progress bar wants the chunks as they go.
"""

from __future__ import annotations

import mmap
import os
import stat
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from tl_core.models.errors import ModelFileError

if TYPE_CHECKING:
    import mlx.core as mx
    import numpy as np

    from tl_core.models.types import ModelHeader, TensorInfo

# Elements per conversion task on the host path: large enough to amortize a task's cost
# (1 MB of float32), small enough that a 16 MB tensor spreads over 16 cores and that a
# chunk's source and result stay in the core's cache for the overflow check.
CHUNK_ELEMENTS = 1 << 18

# Tensors of at most this many elements skip the threads and the fresh array on the host
# path: one NumPy conversion and a copy, no wait for the device.
SMALL_ELEMENTS = 1 << 14

# A progress callback: the bytes just loaded.
Progress = Callable[[int], None]

F16_MAX = 65504.0  # the largest finite float16; values from 65520 up round to inf


class TensorReader:
    """The mapped file of one model and the threads that convert its tensors on the host."""

    def __init__(self, header: ModelHeader) -> None:
        self.header = header
        self._maps: dict[str, tuple[int, mmap.mmap]] = {}
        self._pool: ThreadPoolExecutor | None = None
        # The mapped files page-locked for "host-register" copies: path -> (address, the CUDA
        # runtime that registered it), or None where the runtime refused (not tried again).
        # Owner: this reader; `close` unregisters each before unmapping it.
        self._registered: dict[str, tuple[int, Any] | None] = {}
        # "host-register-ahead": tensor name -> (the float32 MLX array a copy brought it in,
        # its first element there), for tensors copied ahead and not converted yet; the
        # names converted already (never copied ahead again); the F32 tensors of each data
        # file by offset. Owner: this reader (`copy_ahead` and `copied_ahead`, under
        # `_ahead_lock`); `close` drops the arrays.
        self._ahead: dict[str, tuple[Any, int]] = {}
        self._taken: set[str] = set()
        self._order: dict[str | None, tuple[list[TensorInfo], dict[str, int]]] = {}
        self._ahead_lock = threading.Lock()

    def close(self) -> None:
        for pinned in self._registered.values():
            if pinned is not None:
                pinned[1].unregister(pinned[0])
        self._registered.clear()
        with self._ahead_lock:
            self._ahead.clear()
        for fd, mm in self._maps.values():
            os.close(fd)
            try:
                mm.close()
            except BufferError:
                pass  # a view of it is still alive (e.g. in a traceback): unmapped when it dies
        self._maps.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown: nothing left to report to
            pass

    def view(self, info: TensorInfo, dtype: Any) -> np.ndarray:
        """The tensor's bytes as a read-only NumPy array of `dtype` (no copy)."""
        import numpy as np  # lazy: NumPy stays out of `import tl_core` and tl-lsp start

        fd, mm = self._mapped(info)
        st = os.fstat(fd)
        path = info.data_file or self.header.path
        if info.data_file is None and (
            st.st_size != self.header.file_size
            or (self.header.mtime_ns and st.st_mtime_ns != self.header.mtime_ns)
        ):
            raise ModelFileError(
                "the file changed since its header was read; call load_model again", None, path
            )
        if info.offset + info.nbytes > min(st.st_size, len(mm)):
            have = max(0, min(st.st_size, len(mm)) - info.offset)
            raise ModelFileError(
                f"truncated file: tensor \"{info.name}\" needs {info.nbytes} bytes at byte "
                f"{info.offset}, only {have} could be read",
                info.offset + have,
                path,
            )
        itemsize = np.dtype(dtype).itemsize
        return np.frombuffer(mm, dtype, info.nbytes // itemsize, info.offset)

    def _mapped(self, info: TensorInfo) -> tuple[int, mmap.mmap]:
        path = info.data_file or self.header.path
        hit = self._maps.get(path)
        if hit is not None:
            return hit
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        except OSError as exc:
            raise ModelFileError(f"cannot open the file: {exc.strerror}", None, path) from None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise ModelFileError("is no longer a regular file", None, path)
            if st.st_size == 0:
                raise ModelFileError("the file is empty now", None, path)
            mm = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
        except ModelFileError:
            os.close(fd)
            raise
        except (OSError, ValueError) as exc:
            os.close(fd)
            raise ModelFileError(f"cannot map the file: {exc}", None, path) from None
        self._maps[path] = (fd, mm)
        return fd, mm

    def registered(self, cuda: Any, src: np.ndarray) -> bool:
        """Whether `src` (a view from `view`) lies in a mapped file page-locked by `cuda` (a
        `cuda_runtime.CudaRuntime`), so that a copy from it runs by DMA at full speed. On the
        first call for a file its whole mapping is registered (from its page-aligned start,
        the length rounded up to whole pages), and stays so until `close`; False where the
        runtime refuses (that file then loads by another path)."""
        import numpy as np  # lazy: NumPy stays out of `import tl_core` and tl-lsp start

        at, found = src.ctypes.data, None
        for path, (_, mm) in self._maps.items():
            base = np.frombuffer(mm, np.uint8).ctypes.data  # the view is dropped at once
            if base <= at < base + len(mm):
                found = path, base, len(mm)
        if found is None:
            return False
        path, base, length = found
        if path not in self._registered:
            size = -(-length // mmap.PAGESIZE) * mmap.PAGESIZE
            self._registered[path] = (base, cuda) if cuda.register(base, size) else None
        return self._registered[path] is not None

    def copied_ahead(self, info: TensorInfo) -> Any:
        """For "host-register-ahead": tensor `info`'s slice (a lazy float32 MLX array on the
        GPU) of an array an earlier `copy_ahead` brought it in, or None; either way `info`
        counts as converted from now on (no later copy brings it again)."""
        with self._ahead_lock:
            self._taken.add(info.name)
            hit = self._ahead.pop(info.name, None)
        if hit is None:
            return None
        raw, at = hit
        return raw[at: at + info.numel].reshape(info.shape)

    def copy_ahead(self, cuda: Any, info: TensorInfo) -> Any:
        """Tensor `info` (F32, not `copied_ahead`, in a file `registered` with `cuda`) as a
        lazy float32 MLX array on the GPU: one `cudaMemcpyAsync` (waited for) of its bytes and
        those of the large F32 tensors after it in its file not converted or copied yet, up to
        AHEAD_BYTES from its start, into one new array; the others wait there for their
        `copied_ahead`."""
        import mlx.core as mx  # lazy: MLX stays out of `import tl_core` and tl-lsp start
        import numpy as np  # lazy: NumPy stays out of `import tl_core` and tl-lsp start

        with self._ahead_lock:
            window = self._window(info)
            start = window[0].offset
            end = window[-1].offset + window[-1].nbytes
            src = [self.view(t, "<f4") for t in window]  # each checked against the file
            raw = mx.zeros(((end - start) // 4,), mx.float32)
            mx.eval(raw)
            cuda.copy(np.array(raw, copy=False).ctypes.data, src[0].ctypes.data, end - start)
            for t in window[1:]:
                self._ahead[t.name] = (raw, (t.offset - start) // 4)
        return raw[: info.numel].reshape(info.shape)

    def _window(self, info: TensorInfo) -> list[TensorInfo]:
        """`info`, then the large F32 tensors after it in its data file, by offset, while they
        end within AHEAD_BYTES of its start (4-byte aligned to it; other tensors between,
        norms and biases included, are copied as bytes and left alone: they convert on the
        host, which measured faster for them), skipping those converted or copied already."""
        key = info.data_file
        if key not in self._order:
            tensors = sorted((t for t in self.header.tensors.values()
                              if t.dtype == "F32" and t.data_file == key), key=lambda t: t.offset)
            self._order[key] = tensors, {t.name: i for i, t in enumerate(tensors)}
        tensors, index = self._order[key]
        window = [info]
        for t in tensors[index[info.name] + 1:]:
            if t.offset + t.nbytes - info.offset > AHEAD_BYTES:
                break
            if (t.numel > SMALL_ELEMENTS and (t.offset - info.offset) % 4 == 0
                    and t.name not in self._taken and t.name not in self._ahead):
                window.append(t)
        return window

    def pool(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max(1, min(16, os.cpu_count() or 1)),
                                            thread_name_prefix="tl-load")
        return self._pool


def host_conversion() -> bool:
    """Whether float32 -> float16 runs on the host: on MLX's CPU device and with its CUDA
    backend, not on an Apple GPU (see the module doc)."""
    import mlx.core as mx  # lazy: MLX stays out of `import tl_core` and tl-lsp start

    return mx.default_device() == mx.cpu or mx.cuda.is_available()


# Where the host path puts a tensor with MLX's CUDA backend (`TL_CUDA_LOAD`; the default is
# DEFAULT_CUDA_LOAD below; `bench/load.py --only big --variants` compares them all on a GPU in
# one run). Each is correct on every device; they differ in where memory lives:
# - "device-zeros": convert on the host into an `mx.zeros` made on the default device (0.53 s
#   for 1.85 GB on an H100, 2026-12-06 17:27 UTC);
# - "host-zeros": the same, the zeros made on the CPU stream, so that the host's writes find
#   host pages instead of pulling the device's zeros back first;
# - "host-zeros-touch": "host-zeros", then a device reduction over each tensor started without
#   waiting, so its move to the GPU overlaps the next tensor's conversion;
# - "raw-device-astype": copy the float32 bytes (no conversion on the host, a memcpy over the
#   threads) into an array made on the CPU stream, then `astype` and the overflow count on
#   the device, lazily: twice the bytes cross, no host conversion, several tensors in flight;
# - "memcpy-f32": `cudaMemcpyAsync` of the file's float32 bytes into an array made on the GPU,
#   then `astype` and the overflow count on the device (no host conversion, no page faults),
#   pieces of a tensor copied from the reader's threads at once ("memcpy-f32-serial": one
#   piece after the other, on the calling thread);
# - "host-zeros-prefetch": "host-zeros", then `cudaMemPrefetchAsync` moves the filled array
#   to the GPU in bulk instead of by faults on first use;
# - "host-register": the mapped file page-locked once (`cudaHostRegister`, read-only; see
#   `TensorReader.registered`), then one `cudaMemcpyAsync` per tensor from it into an array
#   made on the GPU, `astype` and the overflow count on the device ("memcpy-f32" from
#   page-locked memory: the DMA engine reads the file's pages directly, no staging by the
#   CPU; an experiment on an H100 loaded an 87 MB file of MiniLM's shapes so in 0.028 s).
# - "host-register-ahead": "host-register", but a large tensor's copy also brings the large
#   F32 tensors that follow it in the file (up to AHEAD_BYTES from its start; see
#   `TensorReader.copy_ahead`) into one float32 array on the GPU, so that each of them
#   later converts from its slice of that array with no copy, allocation or wait of its
#   own (a copy costs about 0.1 ms besides its bytes: 2 MiB at 15 GB/s, 1 GiB at 50 GB/s,
#   H100, 2026-12-07).
# The last five call the CUDA runtime (`cuda_runtime`); without one the "memcpy-f32" and
# prefetch variants run as "host-zeros", and the "host-register" ones (also where the runtime
# refuses to register the file) as "device-zeros".
RUNTIME_VARIANTS = ("memcpy-f32", "memcpy-f32-serial", "host-zeros-prefetch", "host-register",
                    "host-register-ahead")
REGISTER_VARIANTS = ("host-register", "host-register-ahead")
CUDA_LOAD_VARIANTS = ("device-zeros", "host-zeros", "host-zeros-touch", "raw-device-astype",
                      *RUNTIME_VARIANTS)

# float32 elements per `cudaMemcpyAsync` of "memcpy-f32" (4 MB: a 16 MB tensor spreads over
# four threads); progress is reported per piece.
COPY_ELEMENTS = 1 << 20

# "host-register-ahead": the most file bytes one copy brings from a tensor's start (whole
# tensors; a tensor larger than this is copied alone).
AHEAD_BYTES = 64 << 20


# The default: "host-register-ahead", the fastest on an H100 (docs/benchmarks.md, 2026-12-07
# 09:39 UTC: 1.85 GB F32 in 0.106 s, 0.46x safetensors.torch's time; MiniLM in 0.0153 s,
# 0.87x safetensors.torch's and 0.63x `mx.load` + `astype`'s), its values checked against
# NumPy there (tests/gpu) through the `libcudart` of NVIDIA's wheel, no PyTorch in the
# process. FALLBACK_CUDA_LOAD: where a variant that needs the runtime finds none, or the
# runtime refuses to register the file.
DEFAULT_CUDA_LOAD = "host-register-ahead"
FALLBACK_CUDA_LOAD = "device-zeros"


def cuda_load_variant() -> str:
    """The host path's variant: `TL_CUDA_LOAD` when it names one, else the default."""
    v = os.environ.get("TL_CUDA_LOAD", "")
    return v if v in CUDA_LOAD_VARIANTS else DEFAULT_CUDA_LOAD


def float16_on_host(reader: TensorReader, src: np.ndarray, shape: tuple[int, ...],
                    progress: Progress | None = None,
                    info: TensorInfo | None = None) -> tuple[Any, Any]:
    """float32 `src` -> an MLX float16 array, converted on the host in chunks over the reader's
    threads straight into the array's memory; returns the array and how many finite values
    became inf (an int, or a lazy MLX count for "raw-device-astype"). `progress` gets the source
    bytes of each chunk as it completes; `info`: the tensor `src` views (without it,
    "host-register-ahead" runs as "host-register")."""
    import mlx.core as mx  # lazy: MLX stays out of `import tl_core` and tl-lsp start
    import numpy as np  # lazy: NumPy stays out of `import tl_core` and tl-lsp start

    flat = src.reshape(-1)
    if flat.size <= SMALL_ELEMENTS:
        # A norm or a bias: converted by NumPy and copied in, with no evaluation (a fresh
        # array's `mx.eval` waits for the device: SmolLM2's GGUF has 61 such tensors).
        with np.errstate(over="ignore", invalid="ignore"):
            h = flat.astype(np.float16)  # rounds to nearest even, as below and as MLX does
        overflow = int(np.count_nonzero(np.isinf(h) & np.isfinite(flat))) if \
            special_float16(h) else 0
        if progress is not None:
            progress(4 * flat.size)
        return mx.array(h.reshape(shape)), overflow
    variant = cuda_load_variant()
    cuda = None
    if variant in RUNTIME_VARIANTS:
        from tl_core.models.cuda_runtime import runtime  # lazy: ctypes work only on CUDA

        cuda = runtime()
        if variant in REGISTER_VARIANTS:
            if cuda is None or not reader.registered(cuda, flat):
                variant, cuda = FALLBACK_CUDA_LOAD, None
        elif cuda is None or (variant == "host-zeros-prefetch" and not cuda.can_prefetch):
            variant = "host-zeros"
    if variant == "host-register-ahead" and cuda is not None and info is not None:
        raw = reader.copied_ahead(info)
        if raw is None:
            raw = reader.copy_ahead(cuda, info)
        if progress is not None:
            progress(4 * flat.size)
        out = raw.astype(mx.float16)
        return out, overflow_count(raw, out)
    if variant in ("memcpy-f32", "memcpy-f32-serial", *REGISTER_VARIANTS) and cuda is not None:
        raw = mx.zeros(shape, mx.float32)
        mx.eval(raw)
        dst, src_c = np.array(raw, copy=False).reshape(-1), np.ascontiguousarray(flat)
        at, size = (dst.ctypes.data, src_c.ctypes.data), src_c.size

        def piece(a: int, b: int) -> int:
            cuda.copy(at[0] + 4 * a, at[1] + 4 * a, 4 * (b - a))
            return 0

        if variant != "memcpy-f32-serial":
            # page-locked ("host-register"): one copy of the whole tensor, as the experiment
            # did; pageable: pieces from the reader's threads, each staged by its CPU thread
            _in_chunks(reader, size, piece, progress,
                       size if variant in REGISTER_VARIANTS else COPY_ELEMENTS)
        else:
            for a in range(0, size, COPY_ELEMENTS):
                piece(a, min(size, a + COPY_ELEMENTS))
                if progress is not None:
                    progress(4 * (min(size, a + COPY_ELEMENTS) - a))
        out = raw.astype(mx.float16)
        return out, overflow_count(raw, out)
    if variant == "raw-device-astype":
        raw, buf = _fresh(shape, mx.float32, mx.cpu)

        def copy(a: int, b: int) -> int:
            np.copyto(buf[a:b], flat[a:b])
            return 0

        _in_chunks(reader, flat.size, copy, progress)
        out = raw.astype(mx.float16)
        return out, overflow_count(raw, out)
    result, out = _fresh(shape, mx.float16, None if variant == "device-zeros" else mx.cpu)

    def convert(a: int, b: int) -> int:
        s, d = flat[a:b], out[a:b]
        with np.errstate(over="ignore", invalid="ignore"):
            np.copyto(d, s, casting="unsafe")  # rounds to nearest even, as MLX does
        if not special_float16(d):
            return 0
        return int(np.count_nonzero(np.isinf(d) & np.isfinite(s)))

    overflow = _in_chunks(reader, flat.size, convert, progress)
    if variant == "host-zeros-touch":
        mx.async_eval(mx.max(result))
    elif variant == "host-zeros-prefetch" and cuda is not None:
        cuda.prefetch(out.ctypes.data, out.nbytes)
    return result, overflow


def _fresh(shape: tuple[int, ...], dtype: Any, stream: Any) -> tuple[Any, np.ndarray]:
    """An evaluated MLX array of zeros (made on `stream`, None: the default device) and a flat
    NumPy view of its memory. Writing into an evaluated array nothing else refers to: MLX
    arrays are immutable to MLX code, but the buffer is plain memory that the view (no copy)
    fills before any use."""
    import mlx.core as mx  # lazy: MLX stays out of `import tl_core` and tl-lsp start
    import numpy as np  # lazy: NumPy stays out of `import tl_core` and tl-lsp start

    result = mx.zeros(shape, dtype) if stream is None else mx.zeros(shape, dtype, stream=stream)
    mx.eval(result)
    return result, np.array(result, copy=False).reshape(-1)


def _in_chunks(reader: TensorReader, size: int, work: Callable[[int, int], int],
               progress: Progress | None, chunk: int | None = None) -> int:
    """`work(start, end)` over chunks of `size` elements (`chunk`, default CHUNK_ELEMENTS,
    read at each call) on the reader's threads; the sum of its results. `progress` gets 4
    bytes per element of each chunk as it completes."""
    chunk = chunk or CHUNK_ELEMENTS
    bounds = range(0, size, chunk)

    def one(a: int) -> int:
        return work(a, min(size, a + chunk))

    total = 0
    done = reader.pool().map(one, bounds) if len(bounds) > 1 else map(one, bounds)
    for a, n in zip(bounds, done, strict=True):
        total += n
        if progress is not None:
            progress(4 * (min(size, a + chunk) - a))
    return total


def special_float16(values: np.ndarray) -> bool:
    """Whether float16 `values` hold an inf or a NaN (the exponent bits all ones: 0x7C00 up to
    0x7FFF, 0xFC00 up to 0xFFFF), by two integer maxima over the same memory: several times
    faster than NumPy's `isinf` on float16, which this CPU computes element by element."""
    import numpy as np  # lazy: NumPy stays out of `import tl_core` and tl-lsp start

    bits = values.reshape(-1).view(np.int16)
    return bool(bits.max() >= 0x7C00 or bits.view(np.uint16).max() >= 0xFC00)


def overflow_count(src: Any, out: Any) -> Any:
    """The finite values of `src` that became inf in `out` (`src.astype(float16)`), as an MLX
    scalar whose evaluation has been started together with `out`. Once evaluated it holds no
    reference to `src`."""
    import mlx.core as mx  # lazy: MLX stays out of `import tl_core` and tl-lsp start

    n = _fused_overflow_count()(src)
    mx.async_eval(out, n)
    return n


# The overflow count compiled once per process (shapeless: one trace per input dtype and
# rank). Owner: this module; key: none. Compiled, its element-wise part is one fused kernel
# (the uncompiled count ran five kernels per tensor: two `isinf`, two sums and a subtraction);
# on an H100 this took MiniLM's load from 23.4 to 19.9 ms (2026-12-07, docs/benchmarks.md).
@cache
def _fused_overflow_count() -> Callable[[Any], Any]:
    import mlx.core as mx  # lazy: MLX stays out of `import tl_core` and tl-lsp start

    def count(src: Any) -> Any:
        # int32: a tensor would need 2^31 values past float16's range to wrap
        became_inf = mx.logical_and(mx.isinf(src.astype(mx.float16)),
                                    mx.logical_not(mx.isinf(src)))
        return mx.sum(became_inf.astype(mx.int32))

    return mx.compile(count, shapeless=True)


@dataclass(frozen=True, slots=True)
class LoadedTensor:
    """A loaded tensor (float16, or the file's integer type for integer tensors) and how many
    finite source values became inf. `pending_overflow` is that count, or a lazy one (an MLX
    scalar or a `QuantOverflow`, anything with `.item()`) that `overflow` evaluates on first
    use, so loading several tensors does not wait on each."""

    array: mx.array
    pending_overflow: Any

    @property
    def overflow(self) -> int:
        v = self.pending_overflow
        if not isinstance(v, int):
            v = int(v.item())
            object.__setattr__(self, "pending_overflow", v)
        return v


def finish(src: mx.array, out: mx.array) -> LoadedTensor:
    """`out` (float16) with its overflow count. On a GPU the count is two device reductions
    evaluated with `out`, asynchronously (no wait per tensor; `src` is freed once they ran);
    on the CPU a cheap bound check first usually skips the count."""
    import mlx.core as mx  # lazy: MLX stays out of `import tl_core` and tl-lsp start

    if mx.default_device() == mx.gpu:
        return LoadedTensor(out, overflow_count(src, out))
    return LoadedTensor(out, count_overflow(src, out))


def count_overflow(src: mx.array, out: mx.array) -> int:
    """Finite source values that became inf in float16."""
    import mlx.core as mx  # lazy: MLX stays out of `import tl_core` and tl-lsp start

    # Cheap test first (two passes instead of four): if the largest magnitude is below
    # float16's largest finite value, nothing overflowed. NaN or inf fall to the full count.
    if mx.max(mx.abs(src)).item() < F16_MAX:
        return 0
    return int(mx.sum(mx.logical_and(mx.isinf(out), mx.isfinite(src))).item())
