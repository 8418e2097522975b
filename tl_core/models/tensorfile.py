"""The file of `save(t, file)` / `load(file)` (UPSTREAM.md 12.1): one float16 tensor.

The original TensorLogic writes these files in a binary layout of its own that its reference
(UPSTREAM.md) does not describe, so this is a documented layout of ours (docs/language.md
says so). All integers are little-endian:

    offset    size       field
    0         8          magic, the bytes `TLTENSOR`
    8         4          u32 format version, 1
    12        4          u32 ndim, 0 to MAX_RANK
    16        8 * ndim   u64 sizes, outermost first
    16+8*ndim 2 * numel  the elements as IEEE float16 (little-endian), row-major

The file is exactly that long. Reading checks every field against the file's real size
before allocating anything, so a truncated or hostile file is a clear error, never a huge
allocation or a traceback. Writing is atomic (`loader.write_atomically`).
"""

from __future__ import annotations

import os
import struct
from typing import Any

from tl_core.limits import MAX_RANK, dim_problem, shape_text
from tl_core.models.errors import ModelFileError
from tl_core.models.loader import write_atomically

MAGIC = b"TLTENSOR"
VERSION = 1
_FIXED = struct.Struct("<8sII")  # magic, version, ndim
_RESAVE = "save the tensor again with save() of this implementation"


def header_size(ndim: int) -> int:
    return _FIXED.size + 8 * ndim


def encode_header(shape: tuple[int, ...]) -> bytes:
    return _FIXED.pack(MAGIC, VERSION, len(shape)) + struct.pack(f"<{len(shape)}Q", *shape)


def write_tensor(path: str, values: Any) -> None:
    """Write a float16 NumPy array (any shape) to `path`, atomically."""
    import numpy as np  # lazy: NumPy loads when a tensor file is written, not with the checker

    arr = np.asarray(values, dtype="<f2")  # (ascontiguousarray makes a 0-d array 1-D)
    head = encode_header(tuple(int(d) for d in arr.shape))

    def body(f: Any) -> None:
        f.write(head)
        f.write(arr.tobytes(order="C"))

    write_atomically(path, body, "the tensor")


def read_tensor(path: str, shown: str | None = None) -> Any:
    """The float16 NumPy array stored in `path`; `shown` is the path as the program wrote it
    (in error messages). Raises `ModelFileError` saying what was expected and found."""
    import numpy as np  # lazy: NumPy loads when a tensor file is read, not with the checker

    name = shown if shown is not None else path
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        raise ModelFileError("no such file; write it first with save(t, file)", None,
                             name) from None
    except IsADirectoryError:
        raise ModelFileError("is a directory, not a tensor file", None, name) from None
    except OSError as exc:
        raise ModelFileError(f"cannot open the file: {exc.strerror or exc}", None,
                             name) from None
    with f:
        try:
            size = os.fstat(f.fileno()).st_size
            fixed = f.read(_FIXED.size)
            if len(fixed) < len(MAGIC) or fixed[:len(MAGIC)] != MAGIC:
                found = fixed[:len(MAGIC)]
                raise ModelFileError(
                    f"not a tensor file of save(): expected the bytes {MAGIC.decode()} at "
                    f"its start, found {found!r}" + (" (an empty file)" if not found else "")
                    + "; files written by the original TensorLogic's save() use its own "
                    f"layout, which is not read here: {_RESAVE}", 0, name)
            if len(fixed) < _FIXED.size:
                raise ModelFileError(
                    f"truncated: the header needs {_FIXED.size} bytes, the file has {size}; "
                    f"{_RESAVE}", len(fixed), name)
            _, version, ndim = _FIXED.unpack(fixed)
            if version != VERSION:
                raise ModelFileError(
                    f"tensor file format version {version}, this implementation reads "
                    f"version {VERSION}; {_RESAVE}", len(MAGIC), name)
            if ndim > MAX_RANK:
                raise ModelFileError(
                    f"the header says the tensor has {ndim} dimensions; at most {MAX_RANK} "
                    f"are possible, so the file is damaged; {_RESAVE}", len(MAGIC) + 4, name)
            raw = f.read(8 * ndim)
            if len(raw) < 8 * ndim:
                raise ModelFileError(
                    f"truncated: the header announces {ndim} sizes ({header_size(ndim)} "
                    f"bytes of header), the file has {size} bytes; {_RESAVE}",
                    _FIXED.size + len(raw), name)
            shape = struct.unpack(f"<{ndim}Q", raw)
            for i, d in enumerate(shape):
                problem = dim_problem(d)
                if problem is not None:
                    raise ModelFileError(f"size {i} of the header: {problem}; the file is "
                                         f"damaged; {_RESAVE}", _FIXED.size + 8 * i, name)
            numel = 1
            for d in shape:
                numel *= d
            want = header_size(ndim) + 2 * numel
            if size != want:
                what = "truncated" if size < want else "has extra bytes"
                raise ModelFileError(
                    f"{what}: a float16 tensor of shape {shape_text(shape)} needs "
                    f"{want} bytes ({header_size(ndim)} of header, {2 * numel} of data), the "
                    f"file has {size}; {_RESAVE}", min(size, want), name)
            data = f.read(2 * numel)
        except OSError as exc:
            raise ModelFileError(f"cannot read the file: {exc.strerror or exc}", None,
                                 name) from None
    if len(data) != 2 * numel:  # the file shrank while we read it
        raise ModelFileError(f"truncated while reading: {len(data)} of {2 * numel} data "
                             f"bytes", header_size(ndim) + len(data), name)
    return np.frombuffer(data, dtype="<f2").reshape(shape)
