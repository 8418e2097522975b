"""Builders of small model files for the tests (GGUF through gguf.GGUFWriter, SafeTensors by
hand so that broken variants are easy to make)."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np


def write_gguf(
    path: Path,
    tensors: dict[str, tuple[np.ndarray, str | None]] | None = None,
    kv: dict[str, object] | None = None,
    vocab: int = 0,
    arch: str = "llama",
) -> Path:
    """A GGUF v3 file. `tensors` maps name -> (array, ggml type name or None = keep the numpy
    dtype); float arrays are quantized with gguf.quants, uint8 arrays are raw blocks."""
    import gguf

    w = gguf.GGUFWriter(str(path), arch)
    for key, value in (kv or {}).items():
        if isinstance(value, bool):
            w.add_bool(key, value)
        elif isinstance(value, int):
            w.add_uint32(key, value)
        elif isinstance(value, float):
            w.add_float32(key, value)
        elif isinstance(value, str):
            w.add_string(key, value)
        else:
            w.add_array(key, value)
    if vocab:
        w.add_token_list([f"tok{i}\u00e9" for i in range(vocab)])
        w.add_token_types([1] * vocab)
        w.add_token_merges([f"t o{i}" for i in range(vocab)])
    for name, (arr, qtype) in (tensors or {}).items():
        if qtype is None or qtype in ("F32", "F16"):
            a = arr if qtype is None else arr.astype(np.float32 if qtype == "F32" else np.float16)
            w.add_tensor(name, a)
        else:
            q = gguf.GGMLQuantizationType[qtype]
            # uint8 arrays are raw blocks (for types gguf.quants cannot quantize)
            data = arr if arr.dtype == np.uint8 else gguf.quants.quantize(arr.astype(np.float32), q)
            w.add_tensor(name, data, raw_dtype=q)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def safetensors_bytes(
    header: dict[str, object], data: bytes = b"", length: int | None = None
) -> bytes:
    """SafeTensors bytes from a header dict (not validated: tests break it on purpose)."""
    blob = json.dumps(header).encode("utf-8")
    return struct.pack("<Q", len(blob) if length is None else length) + blob + data


def write_safetensors(path: Path, arrays: dict[str, np.ndarray], metadata=None) -> Path:
    dtypes = {"float32": "F32", "float16": "F16", "float64": "F64", "int64": "I64", "int32": "I32",
              "int16": "I16", "int8": "I8", "uint8": "U8", "bool": "BOOL"}
    header: dict[str, object] = {}
    if metadata:
        header["__metadata__"] = metadata
    data = b""
    for name, arr in arrays.items():
        raw = np.ascontiguousarray(arr).tobytes()
        header[name] = {
            "dtype": dtypes[str(arr.dtype)],
            "shape": list(arr.shape),
            "data_offsets": [len(data), len(data) + len(raw)],
        }
        data += raw
    path.write_bytes(safetensors_bytes(header, data))
    return path


def gguf_string(s: bytes | str) -> bytes:
    raw = s.encode("utf-8") if isinstance(s, str) else s
    return struct.pack("<Q", len(raw)) + raw


def gguf_bytes(
    kvs: list[tuple[bytes | str, int, bytes]] = (),
    tensors: list[tuple[bytes | str, tuple[int, ...], int, int]] = (),
    data: bytes = b"",
    version: int = 3,
    n_tensors: int | None = None,
    n_kv: int | None = None,
    alignment: int = 32,
) -> bytes:
    """Raw GGUF bytes, by hand: kvs are (key, value type id, encoded value); tensors are
    (name, ggml dims (fastest first), ggml type id, relative offset). Counts may lie."""
    out = b"GGUF" + struct.pack("<IQQ", version,
                                len(tensors) if n_tensors is None else n_tensors,
                                len(kvs) if n_kv is None else n_kv)
    for key, vtype, value in kvs:
        out += gguf_string(key) + struct.pack("<I", vtype) + value
    for name, dims, ttype, offset in tensors:
        out += gguf_string(name) + struct.pack("<I", len(dims))
        out += struct.pack(f"<{len(dims)}Q", *dims) + struct.pack("<IQ", ttype, offset)
    out += b"\0" * (-len(out) % alignment)
    return out + data
