"""Loading tensors to float16 MLX arrays, Models, and saving SafeTensors atomically.

MLX is imported inside functions only: importing this module stays cheap.
"""

from __future__ import annotations

import difflib
import json
import os
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tl_core.limits import MAX_RANK, dim_problem, shape_text
from tl_core.models import formats, save_guard
from tl_core.models.errors import ModelFileError
from tl_core.models.header import read_header
from tl_core.models.reading import (
    F16_MAX,
    Progress,
    TensorReader,
    float16_on_host,
    host_conversion,
    overflow_count,
)
from tl_core.models.types import LOADED_INTEGER_DTYPES, ModelHeader, TensorInfo
from tl_core.source import path_problem

if TYPE_CHECKING:
    import mlx.core as mx

# Source dtypes the language loads (everything else that is_float is refused by name).
PLAIN_FLOATS = ("F32", "F16", "BF16", "F64")
# GGUF block quantizations dequantized with MLX ops here; other types go through gguf.quants.
MLX_QUANTS = ("Q4_0", "Q4_1", "Q8_0")


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


class Model:
    """A named table of tensors with metadata. Tensors load on first `get_tensor`, then stay
    cached in this Model."""

    def __init__(self, header: ModelHeader, loaded: dict[str, LoadedTensor] | None = None):
        self.header = header
        self._loaded: dict[str, LoadedTensor] = dict(loaded or {})
        self._reader = TensorReader(header)

    @property
    def metadata(self) -> dict[str, object]:
        return self.header.metadata

    @property
    def path(self) -> str:
        return self.header.path

    def names(self) -> list[str]:
        return list(self.header.tensors)

    def __contains__(self, name: object) -> bool:
        return name in self.header.tensors

    def __len__(self) -> int:
        return len(self.header.tensors)

    def get_tensor(self, name: str, progress: Progress | None = None) -> LoadedTensor:
        """Tensor `name`, loaded on first use; `progress` (if given) is called with the bytes
        converted so far, chunk by chunk, for a progress bar."""
        hit = self._loaded.get(name)
        if hit is None:
            hit = _load(self._reader, name, progress)
            self._loaded[name] = hit
        return hit

    def loaded(self, name: str) -> LoadedTensor | None:
        """Tensor `name` if it is loaded already, else None (nothing is read)."""
        return self._loaded.get(name)

    def close(self) -> None:
        """Unmap the file now (the loaded tensors stay); later loads map it again."""
        self._reader.close()

    def __repr__(self) -> str:
        return f"Model({self.header.format}, {len(self)} tensors, path={self.header.path!r})"


def load_model(path: str | os.PathLike[str]) -> Model:
    """A lazy Model over a file: the header is read now, tensors on `get_tensor`."""
    return Model(read_header(path))


def load_tensor(path: str | os.PathLike[str], name: str) -> LoadedTensor:
    """One tensor of a file as a float16 MLX array (integer tensors keep their type)."""
    reader = TensorReader(read_header(path))
    try:
        return _load(reader, name)
    finally:
        reader.close()


def model_from(mapping: dict[str, Any]) -> Model:
    """A Model built from named arrays (converted to float16), e.g. to `save_model` it."""
    import mlx.core as mx

    tensors: dict[str, TensorInfo] = {}
    loaded: dict[str, LoadedTensor] = {}
    offset = 0
    for name, value in mapping.items():
        if not isinstance(name, str) or not name:
            raise ModelFileError(
                f"model_from: tensor names must be non-empty strings, found {name!r}"
            )
        if name == "__metadata__":
            raise ModelFileError(
                'model_from: "__metadata__" is reserved by SafeTensors; choose another name'
            )
        arr = value if isinstance(value, mx.array) else mx.array(value)
        if not mx.issubdtype(arr.dtype, mx.floating):
            raise ModelFileError(
                f"model_from: tensor \"{name}\" is {_mx_name(arr.dtype)}; a Model holds "
                f"floating-point tensors only (convert it with `as float16`)"
            )
        overflow = 0
        if arr.dtype != mx.float16:
            src = arr
            arr = arr.astype(mx.float16)
            overflow = _count_overflow(src, arr)
        nbytes = arr.size * 2
        tensors[name] = TensorInfo(name, tuple(arr.shape), "F16", None, offset, nbytes, True)
        loaded[name] = LoadedTensor(arr, overflow)
        offset += nbytes
    header = ModelHeader(
        "", "memory", tensors, {"format": "memory", "quantization": None, "architecture": None}, 0
    )
    return Model(header, loaded)


# --- loading ----------------------------------------------------------------------------


def _load(reader: TensorReader, name: str, progress: Progress | None = None) -> LoadedTensor:
    header = reader.header
    info = header.tensors.get(name)
    if info is None:
        raise ModelFileError(_unknown_name(header, name), None, header.path or None)
    where = f"tensor \"{name}\" ({info.dtype}{shape_text(info.shape)})"
    if len(info.shape) > MAX_RANK:
        raise ModelFileError(f"{where} cannot be loaded: it has {len(info.shape)} dimensions, "
                             f"at most {MAX_RANK} are supported", None, header.path)
    for d in info.shape:
        problem = dim_problem(d)
        if problem is not None:
            raise ModelFileError(f"{where} cannot be loaded: {problem}", None, header.path)
    if info.loaded_dtype is None:
        raise ModelFileError(
            f"{where}: dtype {info.dtype} cannot be loaded (supported: "
            f"{', '.join(PLAIN_FLOATS)}, GGUF quantized types and the integer types "
            f"{', '.join(LOADED_INTEGER_DTYPES)})",
            info.offset,
            header.path,
        )
    if info.numel == 0:
        import mlx.core as mx

        return LoadedTensor(mx.zeros(info.shape, _mx_dtype(info.loaded_dtype)), 0)
    fmt = formats.named(header.format)
    if fmt is not None and fmt.load_array is not None:  # the format reads its own data
        return _from_numpy_float(fmt.load_array(header, info))
    if info.quantization is None and info.is_float and info.dtype not in PLAIN_FLOATS:
        raise ModelFileError(
            f"{where}: dtype {info.dtype} cannot be loaded (supported: "
            f"{', '.join(PLAIN_FLOATS)} and GGUF quantized types)",
            info.offset,
            header.path,
        )
    if not info.is_float:
        import mlx.core as mx

        values = reader.view(info, _NP_INT[info.dtype]).reshape(info.shape)
        if info.dtype == "U64" and int(values.max()) > _INT64_MAX:
            raise ModelFileError(
                f"{where} cannot be loaded: its value {int(values.max())} is larger than int64 "
                f"can hold (at most {_INT64_MAX}), the widest integer of the language",
                info.offset, header.path)
        raw = mx.array(values)
        return LoadedTensor(raw.astype(_mx_dtype(info.loaded_dtype)), 0)
    if info.quantization is None:
        return _plain(reader, info, progress)
    import numpy as np

    return _dequantize(reader.view(info, np.uint8), info, header.path)


# Integer source dtypes as NumPy reads them (the language dtype is TensorInfo.loaded_dtype).
_NP_INT = {"I8": "<i1", "I16": "<i2", "I32": "<i4", "I64": "<i8",
           "U8": "<u1", "U16": "<u2", "U32": "<u4", "U64": "<u8", "BOOL": "?"}


_INT64_MAX = (1 << 63) - 1  # U64 values above it have no int64: an error, never a wrap


def _mx_dtype(name: str | None) -> Any:
    import mlx.core as mx

    return {"float16": mx.float16, "int32": mx.int32, "int64": mx.int64,
            "bool": mx.bool_}[name or "float16"]


def read_bytes(header: ModelHeader, info: TensorInfo) -> bytes:
    """The raw bytes of one tensor, after checking the file is still the one the header
    describes."""
    import numpy as np

    reader = TensorReader(header)
    try:
        return reader.view(info, np.uint8).tobytes()
    finally:
        reader.close()


def _plain(reader: TensorReader, info: TensorInfo,
           progress: Progress | None = None) -> LoadedTensor:
    import mlx.core as mx

    shape = info.shape
    if info.dtype == "F16":
        return LoadedTensor(mx.array(reader.view(info, "<f2").reshape(shape)), 0)
    if info.dtype == "F64":
        # numpy rounds float64 -> float16 once (MLX would go through float32 and round twice).
        return _from_numpy_float(reader.view(info, "<f8").reshape(shape))
    if info.dtype == "BF16":
        src = mx.array(reader.view(info, "<u2")).view(mx.bfloat16).reshape(shape)
    elif progress is not None or host_conversion():
        # chunks on the host report progress as they go (no second read for the bar)
        out, overflow = float16_on_host(reader, reader.view(info, "<f4"), shape, progress)
        return LoadedTensor(out, overflow)
    else:
        src = mx.array(reader.view(info, "<f4").reshape(shape))
    return _finish(src, src.astype(mx.float16))


def _finish(src: mx.array, out: mx.array) -> LoadedTensor:
    """`out` (float16) with its overflow count. On a GPU the count is two device reductions
    evaluated with `out`, asynchronously (no wait per tensor; `src` is freed once they ran);
    on the CPU a cheap bound check first usually skips the count."""
    import mlx.core as mx

    if mx.default_device() == mx.gpu:
        return LoadedTensor(out, overflow_count(src, out))
    return LoadedTensor(out, _count_overflow(src, out))


def _from_numpy_float(a: Any) -> LoadedTensor:
    import mlx.core as mx
    import numpy as np

    with np.errstate(over="ignore", invalid="ignore"):
        h = a.astype(np.float16)
    overflow = int(np.count_nonzero(np.isinf(h) & np.isfinite(a))) if a.dtype != np.float16 else 0
    return LoadedTensor(mx.array(h), overflow)


def _count_overflow(src: mx.array, out: mx.array) -> int:
    """Finite source values that became inf in float16."""
    import mlx.core as mx

    # Cheap test first (two passes instead of four): if the largest magnitude is below
    # float16's largest finite value, nothing overflowed. NaN or inf fall to the full count.
    if mx.max(mx.abs(src)).item() < F16_MAX:
        return 0
    return int(mx.sum(mx.logical_and(mx.isinf(out), mx.isfinite(src))).item())


def _dequantize(raw: Any, info: TensorInfo, path: str) -> LoadedTensor:
    """`raw`: the tensor's bytes (a uint8 NumPy view of the mapped file, or bytes)."""
    import mlx.core as mx
    import numpy as np

    qtype = info.quantization
    raw = np.frombuffer(raw, np.uint8) if isinstance(raw, bytes | bytearray) else raw
    if qtype in MLX_QUANTS:
        blocks = mx.array(raw).reshape(-1, _BLOCK_BYTES[qtype])
        out = _dequantize_mlx(blocks, qtype).reshape(info.shape).astype(mx.float16)
        # Left lazy: evaluated with its first use, together with the other tensors loaded by
        # then (an experiment on an H100, 2026-12-06 16:36 UTC: SmolLM2's GGUF loaded in
        # 0.19 s with an async_eval per tensor, 0.07 s without).
        bound = _quant_bound(blocks, qtype)
        return LoadedTensor(out, QuantOverflow(bound, lambda: _recount(raw, info)))
    import gguf

    q = gguf.GGMLQuantizationType[qtype]
    rows = raw.reshape(-1, info.nbytes // max(1, _rows(info)))
    try:
        values = gguf.quants.dequantize(rows, q)
    except NotImplementedError:
        raise ModelFileError(
            f"tensor \"{info.name}\" uses GGUF quantization {qtype}, which cannot be "
            f"dequantized here (the gguf package has no dequantizer for it; supported: "
            f"Q4_0, Q4_1, Q8_0 and the types gguf.quants implements, such as Q4_K, Q6_K)",
            info.offset,
            path,
        ) from None
    src = mx.array(np.ascontiguousarray(values, dtype=np.float32)).reshape(info.shape)
    return _finish(src, src.astype(mx.float16))


_BLOCK_BYTES = {"Q4_0": 18, "Q4_1": 20, "Q8_0": 34}


def _quant_bound(blocks: mx.array, qtype: str) -> mx.array:
    """The largest magnitude any value of these blocks can have, from the block scales
    (|q| <= 128 for Q8_0, <= 8 for Q4_0, <= 15 plus |m| for Q4_1), as a lazy MLX scalar; NaN
    if a scale is NaN."""
    import mlx.core as mx

    def peak(col: int) -> mx.array:
        scales = mx.contiguous(blocks[:, col : col + 2]).view(mx.float16).astype(mx.float32)
        return mx.max(mx.abs(scales))

    if qtype == "Q8_0":
        return peak(0) * 128
    if qtype == "Q4_0":
        return peak(0) * 8
    return peak(0) * 15 + peak(2)


@dataclass(frozen=True, slots=True)
class QuantOverflow:
    """The overflow count of a GGUF block-quantized tensor, decided when first read: 0 when
    the block scales bound every value below float16's largest finite value (nearly always),
    else counted by dequantizing the blocks again (counting as each tensor loads would need a
    float32 copy of it and two reductions)."""

    bound: mx.array
    recount: Callable[[], int]

    def item(self) -> int:
        return 0 if self.bound.item() < F16_MAX else self.recount()


def _recount(raw: Any, info: TensorInfo) -> int:
    import mlx.core as mx

    qtype = info.quantization or ""
    src = _dequantize_mlx(mx.array(raw).reshape(-1, _BLOCK_BYTES[qtype]), qtype)
    return _count_overflow(src, src.astype(mx.float16))


def _rows(info: TensorInfo) -> int:
    n = 1
    for d in info.shape[:-1]:
        n *= d
    return n


def _dequantize_mlx(blocks: mx.array, qtype: str) -> mx.array:
    """Q4_0 / Q4_1 / Q8_0 blocks (rows of bytes) -> float32 values, with MLX ops (on the GPU
    when MLX has one). Arithmetic in float32 in the same order as ggml and gguf.quants:
    Q8_0 d*q; Q4_0 d*(q-8); Q4_1 d*q + m; the low nibbles are elements 0..15 of a block,
    the high nibbles 16..31."""
    import mlx.core as mx

    d = mx.contiguous(blocks[:, 0:2]).view(mx.float16).astype(mx.float32)
    if qtype == "Q8_0":
        q = mx.contiguous(blocks[:, 2:]).view(mx.int8).astype(mx.float32)
        return (d * q).reshape(-1)
    first = 2 if qtype == "Q4_0" else 4
    qs = blocks[:, first:]
    nib = mx.concatenate([qs & 0x0F, qs >> 4], axis=1)
    if qtype == "Q4_0":
        return (d * (nib.astype(mx.int8) - 8).astype(mx.float32)).reshape(-1)
    m = mx.contiguous(blocks[:, 2:4]).view(mx.float16).astype(mx.float32)
    return (d * nib.astype(mx.float32) + m).reshape(-1)


def _unknown_name(header: ModelHeader, name: str) -> str:
    names = list(header.tensors)
    msg = f"no tensor named \"{name}\" in this model ({len(names)} tensors)"
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    if close:
        msg += f"; did you mean \"{close[0]}\"?"
    elif names:
        msg += f"; the first ones are {', '.join(_quote(n) for n in names[:3])}"
    return msg


def _quote(name: str) -> str:
    return json.dumps(name, ensure_ascii=False)


def _mx_name(dtype: Any) -> str:
    return str(dtype).replace("mlx.core.", "")


# --- saving -----------------------------------------------------------------------------

# int dtype names of GGUF -> SafeTensors (same names); integer tensors are copied unchanged.
_INT_PASSTHROUGH = {"I8", "I16", "I32", "I64", "U8", "U16", "U32", "U64", "BOOL"}


def save_model(model: Model, path: str | os.PathLike[str]) -> None:
    """Write `model` as SafeTensors: float tensors as float16, integer tensors copied
    unchanged. Atomic: a temporary file in the same directory, flushed and fsynced, then
    renamed over `path` (and the directory fsynced); on any failure the old file is untouched and the temporary file is
    removed (also on SIGTERM; one left by a killed process goes at the next save to `path`).
    Refuses a `path` that is a symbolic link, a FIFO, a device, a directory or a read-only
    file (`tl_core.models.save_guard`)."""
    import numpy as np

    spath = os.fspath(path)
    read_only = path_problem(spath) or formats.read_only_problem(spath)
    if read_only is not None:
        raise ModelFileError(read_only, None, spath)
    header: dict[str, object] = {
        "__metadata__": {"format": "pt", "source_format": model.header.format}
    }
    plan: list[tuple[str, TensorInfo]] = []
    offset = 0
    for name in model.names():
        info = model.header.tensors[name]
        if info.is_float:
            dtype, nbytes = "F16", info.numel * 2
        elif info.dtype in _INT_PASSTHROUGH:
            dtype, nbytes = info.dtype, info.nbytes
        else:
            raise ModelFileError(f"tensor \"{name}\" of dtype {info.dtype} cannot be saved", None, spath)
        header[name] = {"dtype": dtype, "shape": list(info.shape), "data_offsets": [offset, offset + nbytes]}
        plan.append((name, info))
        offset += nbytes
    blob = json.dumps(header, separators=(",", ":")).encode("utf-8")
    blob += b" " * (-len(blob) % 8)

    problem = save_guard.target_problem(spath)
    if problem is not None:
        raise ModelFileError(problem, None, spath)
    save_guard.remove_stale_temps(spath)
    directory = os.path.dirname(os.path.abspath(spath))
    try:
        fd, tmp = tempfile.mkstemp(prefix=save_guard.temp_prefix(spath), suffix=".tmp",
                                   dir=directory)
    except OSError as exc:
        raise ModelFileError(f"cannot write in {directory}: {exc.strerror}", None, spath) from None
    with save_guard.sigterm_cleans_up():
        try:
            with os.fdopen(fd, "wb") as f:
                _write(f, len(blob).to_bytes(8, "little"))
                _write(f, blob)
                for name, info in plan:
                    if info.is_float:
                        arr = np.asarray(model.get_tensor(name).array)
                        _write(f, np.ascontiguousarray(arr, dtype="<f2").tobytes())
                    else:
                        _write(f, read_bytes(model.header, info))
                f.flush()
                os.fsync(f.fileno())
            try:
                mode = stat.S_IMODE(os.stat(spath).st_mode)
            except OSError:
                mode = 0o644
            os.chmod(tmp, mode)
            os.replace(tmp, spath)
        except BaseException as exc:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            if isinstance(exc, OSError):
                raise ModelFileError(f"cannot save the model: {exc.strerror or exc}", None, spath) from None
            raise
        _sync_directory(directory)


def _sync_directory(directory: str) -> None:
    """fsync the directory of a renamed file, so that the rename itself survives a power cut
    (where the file system allows it; the save is complete either way)."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write(f: Any, data: bytes) -> None:
    """One write of the save path (a seam for tests that simulate a failing disk)."""
    f.write(data)
