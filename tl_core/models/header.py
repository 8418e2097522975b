"""Model headers: what a file holds (names, shapes, dtypes, metadata), never the tensor data.

`read_header(path)` picks the format by magic bytes (falling back to the extension), checks
the file type before opening it (a FIFO or a device is refused, never opened), reads with a
bounded buffer (at most `HEADER_LIMIT` bytes) and caches the answer by (resolved path, size,
mtime). Imports nothing heavy: the GGUF reader uses the `gguf` package's tables lazily, and
CoreML goes through `coremltools` only for `.mlmodel`/`.mlpackage` files.
"""

from __future__ import annotations

import os
import stat
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from tl_core.models.errors import ModelFileError

# The most header bytes any reader will hold in memory (SafeTensors JSON, GGUF key/values and
# tensor infos, a CoreML spec). A GGUF with a 256k-token vocabulary needs about 6 MiB.
HEADER_LIMIT = 100 * 1024 * 1024

FORMATS = ("safetensors", "gguf", "mlmodel", "mlpackage")


@dataclass(frozen=True, slots=True)
class TensorInfo:
    """One tensor of a file. `shape` is row-major (PyTorch order; GGUF's is reversed back).

    `dtype` is the source type name ("F32", "F16", "BF16", "I64", "Q4_1", "Q8_0", ...);
    `quantization` is the block-quantization name for quantized GGUF tensors, else None;
    `offset`/`nbytes` locate the data (absolute in `data_file`, which is the model file
    itself unless set, e.g. an `.mlpackage`'s weight blob).
    """

    name: str
    shape: tuple[int, ...]
    dtype: str
    quantization: str | None
    offset: int
    nbytes: int
    is_float: bool
    data_file: str | None = None

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def loaded_dtype(self) -> str | None:
        """The language dtype `get_tensor` gives this tensor: float16 for floating-point data,
        int32 / int64 / bool for integers (narrower ones widened without loss), None when it
        cannot be loaded."""
        if self.is_float:
            return "float16"
        return LOADED_INTEGER_DTYPES.get(self.dtype)


# Integer source dtypes -> the language dtype they load as (the loader's single table).
LOADED_INTEGER_DTYPES = {"I8": "int32", "I16": "int32", "I32": "int32", "U8": "int32",
                         "U16": "int32", "U32": "int64", "I64": "int64", "U64": "int64",
                         "BOOL": "bool"}


@dataclass(frozen=True, slots=True)
class ArrayInfo:
    """A large GGUF array value (a vocabulary, merges) left unread: element type and count."""

    element_type: str
    count: int
    offset: int

    def __str__(self) -> str:
        return f"[{self.count} x {self.element_type}]"


@dataclass(frozen=True, slots=True)
class ModelHeader:
    path: str
    format: str
    tensors: dict[str, TensorInfo]
    metadata: dict[str, object]
    file_size: int
    mtime_ns: int = field(default=0, compare=False)


class Source:
    """Bounded, growing read access to the start of an open regular file.

    Readers ask for bytes with `need(pos, n)`; the buffer grows by doubling, never past the
    file size nor `HEADER_LIMIT`, so a hostile length costs an error, not an allocation.
    """

    def __init__(self, fd: int, size: int, path: str, limit: int = HEADER_LIMIT):
        self.fd = fd
        self.size = size
        self.path = path
        self.limit = limit
        self.buf = b""

    def prefetch(self, end: int) -> None:
        """Read ahead up to `end` (clamped to the file size and the limit), never raising."""
        end = min(end, self.size, self.limit)
        if end > len(self.buf):
            self.buf += os.pread(self.fd, end - len(self.buf), len(self.buf))

    def need(self, pos: int, n: int, what: str) -> None:
        end = pos + n
        if end <= len(self.buf):
            return
        if end > self.size:
            raise ModelFileError(
                f"truncated file: {what} needs {n} bytes at byte {pos}, but the file ends at "
                f"byte {self.size}; the file is incomplete or not a model file "
                f"(download it again)",
                min(pos, self.size),
            )
        if end > self.limit:
            raise ModelFileError(
                f"header too large: {what} at byte {pos} reaches past the header size "
                f"limit of {_size_text(self.limit)}",
                pos,
            )
        want = max(end, 2 * len(self.buf), 64 * 1024)
        want = min(want, self.size, self.limit)
        self.buf += os.pread(self.fd, want - len(self.buf), len(self.buf))
        if len(self.buf) < end:  # the file shrank while we read it
            raise ModelFileError(
                f"truncated file: {what} needs {n} bytes at byte {pos}, but only "
                f"{len(self.buf)} bytes could be read (was the file changed while reading?)",
                min(pos, len(self.buf)),
            )


def _size_text(n: int) -> str:
    mib = 1024 * 1024
    return f"{n} bytes ({n // mib} MiB)" if n >= mib else f"{n} bytes"


_CACHE: OrderedDict[tuple[str, int, int], ModelHeader] = OrderedDict()
_CACHE_SIZE = 64
_CACHE_LOCK = threading.Lock()  # the language server reads headers from worker threads


def read_header(path: str | os.PathLike[str]) -> ModelHeader:
    """The header of a model file, cached by (resolved path, size, mtime).

    Raises `ModelFileError` (with the byte offset where reading stopped) for anything that is
    not a readable, well-formed model file.
    """
    spath = os.fspath(path)
    try:
        st = os.stat(spath)
        resolved = str(Path(spath).resolve())
    except OSError as exc:
        raise ModelFileError(_os_message(exc), _os_offset(exc), spath) from None
    key = (resolved, st.st_size, st.st_mtime_ns)
    if stat.S_ISDIR(st.st_mode) and _is_package(spath):  # key by the files inside
        from tl_core.models.coreml import package_stamp

        key = (resolved, *package_stamp(spath))
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
        if cached is not None:
            _CACHE.move_to_end(key)
            return cached
    try:
        header = _read_uncached(spath, st)
    except ModelFileError as exc:
        raise exc.with_path(spath) from None
    with _CACHE_LOCK:
        _CACHE[key] = header
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return header


def clear_cache() -> None:
    with _CACHE_LOCK:
        _CACHE.clear()


def _is_package(path: str) -> bool:
    return path.rstrip("/").endswith(".mlpackage") or os.path.isfile(
        os.path.join(path, "Manifest.json")
    )


def _os_offset(exc: OSError) -> int | None:
    """0 (reading stopped before the first byte) except for a missing file (no offset)."""
    import errno

    return None if exc.errno == errno.ENOENT else 0


def _os_message(exc: OSError) -> str:
    import errno

    if exc.errno == errno.ENOENT:
        return "no such file (check the path; relative paths are resolved against the program's directory)"
    if exc.errno == errno.ELOOP:
        return "too many levels of symbolic links (a symlink loop?)"
    if exc.errno == errno.EACCES:
        return "permission denied"
    return f"cannot open the file: {exc.strerror or exc}"


def _read_uncached(path: str, st: os.stat_result) -> ModelHeader:
    if stat.S_ISDIR(st.st_mode):
        if _is_package(path):
            from tl_core.models import coreml

            return coreml.read_mlpackage_header(path, st)
        raise ModelFileError(
            "is a directory, not a model file (expected a .safetensors, .gguf or .mlmodel "
            "file or an .mlpackage directory)",
            0,
        )
    if not stat.S_ISREG(st.st_mode):
        raise ModelFileError(
            f"is not a regular file (it is {file_kind(st.st_mode)}); model files must be "
            f"regular files",
            0,
        )
    try:
        # O_NONBLOCK: if the path was swapped for a FIFO after the stat, open must not block.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise ModelFileError(_os_message(exc), _os_offset(exc)) from None
    try:
        st2 = os.fstat(fd)
        if not stat.S_ISREG(st2.st_mode):
            raise ModelFileError(
                f"is not a regular file (it is {file_kind(st2.st_mode)})", 0
            )
        size = st2.st_size
        if size == 0:
            raise ModelFileError(
                "empty file (0 bytes); expected a SafeTensors, GGUF or CoreML model", 0
            )
        src = Source(fd, size, path)
        src.need(0, min(size, 9), "the file's magic bytes")
        fmt = _detect(src.buf[:9], path)
        if fmt == "gguf":
            from tl_core.models import gguf

            tensors, metadata = gguf.parse_header(src)
        elif fmt == "safetensors":
            from tl_core.models import safetensors

            tensors, metadata = safetensors.parse_header(src)
        else:
            from tl_core.models import coreml

            tensors, metadata = coreml.parse_mlmodel(src)
        return ModelHeader(path, fmt, tensors, metadata, size, st2.st_mtime_ns)
    finally:
        os.close(fd)


def _detect(head: bytes, path: str) -> str:
    """The format by magic bytes, else by extension."""
    if head[:4] == b"GGUF":
        return "gguf"
    # SafeTensors: an 8-byte little-endian header length, then the JSON header's "{".
    if len(head) >= 9 and head[8:9] == b"{":
        return "safetensors"
    lower = path.lower()
    if lower.endswith(".gguf"):
        raise ModelFileError('not a GGUF file: it does not start with the bytes "GGUF"', 0)
    if lower.endswith(".safetensors"):
        if len(head) >= 9 and head[8:9] != b"[":  # a list is a JSON header, if a wrong one
            raise ModelFileError(
                'not a SafeTensors file: byte 8 is not "{", the start of its JSON header', 8)
        return "safetensors"  # too short: the reader says where it ends
    if lower.endswith(".mlmodel"):
        return "mlmodel"
    # Never quote the bytes: the file may be anything (a key, a password file).
    raise ModelFileError(
        "not a model file: it does not start like a GGUF file (the bytes \"GGUF\") or a "
        "SafeTensors file (an 8-byte length, then \"{\"), and its extension is not "
        ".safetensors, .gguf or .mlmodel",
        0,
    )


def file_kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"
