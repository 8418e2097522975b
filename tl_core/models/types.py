"""The model layer's shared types: what a header says, how a format reader reads, and what a
format is. The bottom of `tl_core.models`: every format module and `header.py` import these;
this module imports nothing of the layer but its error type.

- `TensorInfo`, `ArrayInfo`, `ModelHeader`: what a file holds (never the tensor data).
- `Source`: bounded, growing read access to the start of an open file (a format's header
  reader asks it for bytes; a hostile length costs an error, not an allocation).
- `ModelFormat`: one file format as the registry (`tl_core.models.formats`) lists it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tl_core.models.errors import ModelFileError

# The most header bytes any reader will hold in memory (SafeTensors JSON, GGUF key/values and
# tensor infos, a CoreML spec). A GGUF with a 256k-token vocabulary needs about 6 MiB.
HEADER_LIMIT = 100 * 1024 * 1024

# How many leading bytes a format's magic test sees (fewer when the file is shorter).
MAGIC_BYTES = 16


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


# What a file format's header reader returns: the tensors by name and the metadata.
HeaderParts = tuple[dict[str, TensorInfo], dict[str, object]]


@dataclass(frozen=True, slots=True)
class ModelFormat:
    """One model-file format: everything the rest of the tools know about it.

    `name` is `ModelHeader.format`; `title` names it in messages ("GGUF"); `extensions` are
    lower-case with the dot (the editor's file watcher, path completion, messages).

    A file format has `read_header`, given a `Source` over the open file; `magic` recognizes
    its first `MAGIC_BYTES` bytes (None: recognized by extension only) and `magic_text` says
    what those bytes are, for the message about a file that is no format's. `mismatch`
    (given the same bytes) raises `ModelFileError` for a file whose extension names this
    format but whose bytes do not fit (None: let the reader say what is wrong).

    A directory format (`directory=True`, e.g. `.mlpackage`) has `read_directory(path, stat)`
    and `stamp(path)`, the (size, mtime) its cached header is keyed by; `marker` is a file
    whose presence makes a directory of another name one of this format's.

    `load_array(header, info)` returns a tensor's values as a NumPy array; None means the
    data lies at `info.offset` of the file, read by the shared mapped reader (plain floats,
    integers, quantized tensors). `dequantize(raw, info, path)` turns the bytes of a tensor
    whose `quantization` is set (a uint8 NumPy view of the mapped file) into a
    `reading.LoadedTensor`: the format owns its quantizations. `writable`: `save_model` may write this format's
    extensions (it writes SafeTensors); the others are refused as read-only sources.
    """

    name: str
    title: str
    extensions: tuple[str, ...]
    read_header: Callable[[Source], HeaderParts] | None = None
    magic: Callable[[bytes], bool] | None = None
    magic_text: str = ""
    mismatch: Callable[[bytes], None] | None = None
    directory: bool = False
    read_directory: Callable[[str, os.stat_result], ModelHeader] | None = None
    stamp: Callable[[str], tuple[int, int]] | None = None
    marker: str | None = None
    load_array: Callable[[ModelHeader, TensorInfo], Any] | None = None
    dequantize: Callable[[Any, TensorInfo, str], Any] | None = None
    writable: bool = False

    def __post_init__(self) -> None:
        if self.directory:
            if self.read_directory is None or self.stamp is None:
                raise ValueError(f"{self.name}: a directory format needs read_directory and stamp")
        elif self.read_header is None:
            raise ValueError(f"{self.name}: a file format needs read_header")
        if not self.extensions or not all(e.startswith(".") and e == e.lower()
                                          for e in self.extensions):
            raise ValueError(f"{self.name}: extensions must be lower-case and start with '.'")
