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
from typing import Any

from tl_core.limits import MAX_RANK, dim_problem, shape_text
from tl_core.models import formats, save_guard
from tl_core.models.errors import ModelFileError
from tl_core.models.header import read_header
from tl_core.models.reading import (
    LoadedTensor,
    Progress,
    TensorReader,
    count_overflow,
    finish,
    float16_on_host,
    host_conversion,
)
from tl_core.models.types import LOADED_INTEGER_DTYPES, ModelHeader, TensorInfo
from tl_core.source import path_problem

# Source dtypes the language loads (everything else that is_float is refused by name).
PLAIN_FLOATS = ("F32", "F16", "BF16", "F64")


class Model:
    """A named table of tensors with metadata. Tensors load on first `get_tensor`, then stay
    cached in this Model."""

    def __init__(self, header: ModelHeader, loaded: dict[str, LoadedTensor] | None = None):
        self.header = header
        self._loaded: dict[str, LoadedTensor] = dict(loaded or {})
        self._reader = TensorReader(header)
        self._unloaded_bytes: int | None = None  # counted on first use, then kept up to date

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
            if self._unloaded_bytes is not None:
                self._unloaded_bytes -= self.header.tensors[name].nbytes
        return hit

    @property
    def unloaded_bytes(self) -> int:
        """The file bytes of the tensors not loaded yet (what a progress bar has to cover)."""
        if self._unloaded_bytes is None:
            self._unloaded_bytes = sum(t.nbytes for n, t in self.header.tensors.items()
                                       if n not in self._loaded)
        return self._unloaded_bytes

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
    import mlx.core as mx  # lazy: MLX stays out of `import tl_core` and tl-lsp start

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
            overflow = count_overflow(src, arr)
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
        import mlx.core as mx  # lazy: MLX stays out of `import tl_core` and tl-lsp start

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
        import mlx.core as mx  # lazy: MLX stays out of `import tl_core` and tl-lsp start

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
    if fmt is None or fmt.dequantize is None:
        raise ModelFileError(f"{where}: quantization {info.quantization} cannot be loaded from "
                             f"a {header.format} file", info.offset, header.path)
    import numpy as np  # lazy: NumPy stays out of `import tl_core` and tl-lsp start

    return fmt.dequantize(reader.view(info, np.uint8), info, header.path)


# Integer source dtypes as NumPy reads them (the language dtype is TensorInfo.loaded_dtype).
_NP_INT = {"I8": "<i1", "I16": "<i2", "I32": "<i4", "I64": "<i8",
           "U8": "<u1", "U16": "<u2", "U32": "<u4", "U64": "<u8", "BOOL": "?"}


_INT64_MAX = (1 << 63) - 1  # U64 values above it have no int64: an error, never a wrap


def _mx_dtype(name: str | None) -> Any:
    import mlx.core as mx  # lazy: MLX stays out of `import tl_core` and tl-lsp start

    return {"float16": mx.float16, "int32": mx.int32, "int64": mx.int64,
            "bool": mx.bool_}[name or "float16"]


def read_bytes(header: ModelHeader, info: TensorInfo) -> bytes:
    """The raw bytes of one tensor, after checking the file is still the one the header
    describes."""
    import numpy as np  # lazy: NumPy stays out of `import tl_core` and tl-lsp start

    reader = TensorReader(header)
    try:
        return reader.view(info, np.uint8).tobytes()
    finally:
        reader.close()


def _plain(reader: TensorReader, info: TensorInfo,
           progress: Progress | None = None) -> LoadedTensor:
    import mlx.core as mx  # lazy: MLX stays out of `import tl_core` and tl-lsp start

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
        out, overflow = float16_on_host(reader, reader.view(info, "<f4"), shape, progress,
                                        info)
        return LoadedTensor(out, overflow)
    else:
        src = mx.array(reader.view(info, "<f4").reshape(shape))
    return finish(src, src.astype(mx.float16))


def _from_numpy_float(a: Any) -> LoadedTensor:
    import mlx.core as mx  # lazy: MLX stays out of `import tl_core` and tl-lsp start
    import numpy as np  # lazy: NumPy stays out of `import tl_core` and tl-lsp start

    with np.errstate(over="ignore", invalid="ignore"):
        h = a.astype(np.float16)
    overflow = int(np.count_nonzero(np.isinf(h) & np.isfinite(a))) if a.dtype != np.float16 else 0
    return LoadedTensor(mx.array(h), overflow)


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
    import numpy as np  # lazy: NumPy stays out of `import tl_core` and tl-lsp start

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

    def body(f: Any) -> None:
        _write(f, len(blob).to_bytes(8, "little"))
        _write(f, blob)
        for name, info in plan:
            if info.is_float:
                arr = np.asarray(model.get_tensor(name).array)
                _write(f, np.ascontiguousarray(arr, dtype="<f2").tobytes())
            else:
                _write(f, read_bytes(model.header, info))

    write_atomically(spath, body, "the model")


def write_atomically(spath: str, body: Callable[[Any], None], what: str) -> None:
    """Write a file through `body(f)` atomically: a temporary file in the same directory,
    flushed and fsynced, then renamed over `spath` (and the directory fsynced); on any
    failure the old file is untouched and the temporary file removed (also on SIGTERM).
    Refuses targets `save_guard.target_problem` names. `what` names the contents in errors
    ("cannot save the model: ...")."""
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
                body(f)
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
                raise ModelFileError(f"cannot save {what}: {exc.strerror or exc}", None,
                                     spath) from None
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
