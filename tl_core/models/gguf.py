"""GGUF v2/v3: a fast header reader of our own, and the dequantization of its tensors.

Why our own reader: `gguf.GGUFReader` memory-maps the file and builds numpy objects for
every element of every array (49k vocabulary strings, 49k merges in SmolLM2), about 2 s for
SmolLM2. We walk the key/value section with `struct`, decode scalars, keep small arrays,
and skip large arrays: fixed-size elements in one step, strings by hopping over their
length prefixes without decoding them. The ggml type names and block sizes come from the
`gguf` package (imported on first use); `gguf.GGUFReader` stays the test oracle
(tests/models/test_gguf_models.py).

Layout (little-endian): b"GGUF", u32 version, u64 tensor_count, u64 kv_count; kv_count
times (string key, u32 value type, value); tensor_count times (string name, u32 n_dims,
n_dims u64 dims (fastest-varying first), u32 ggml type, u64 offset); padding to
`general.alignment` (default 32); data. Strings are a u64 length and UTF-8 bytes.

Quantized tensors (`dequantize`, the format's hook for the shared loader): Q4_0, Q4_1 and Q8_0
with MLX ops, left lazy (with an overflow count decided from the block scales when first
read); the other types through `gguf.quants` on the host. MLX, NumPy and `gguf` load on use.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tl_core.models.errors import ModelFileError
from tl_core.models.reading import F16_MAX, LoadedTensor, count_overflow, finish
from tl_core.models.types import (
    ArrayInfo,
    HeaderParts,
    ModelFormat,
    ModelHeader,
    Source,
    TensorInfo,
)

if TYPE_CHECKING:
    import mlx.core as mx

_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")

# GGUF value types: id -> (name, struct format or None)
_VALUE_TYPES: dict[int, tuple[str, str | None]] = {
    0: ("uint8", "<B"),
    1: ("int8", "<b"),
    2: ("uint16", "<H"),
    3: ("int16", "<h"),
    4: ("uint32", "<I"),
    5: ("int32", "<i"),
    6: ("float32", "<f"),
    7: ("bool", "<?"),
    8: ("string", None),
    9: ("array", None),
    10: ("uint64", "<Q"),
    11: ("int64", "<q"),
    12: ("float64", "<d"),
}
_SCALAR = {k: struct.Struct(f) for k, (_, f) in _VALUE_TYPES.items() if f is not None}
_STRING, _ARRAY = 8, 9

# Arrays up to this many elements are decoded into the metadata; longer ones become ArrayInfo.
SMALL_ARRAY = 64
MAX_DIMS = 4  # GGML_MAX_DIMS
DEFAULT_ALIGNMENT = 32

_FLOAT_TYPES = frozenset({"F32", "F16", "BF16", "F64"})
_INT_TYPES = frozenset({"I8", "I16", "I32", "I64"})


def ggml_types() -> dict[int, tuple[str, int, int]]:
    """ggml type id -> (name, block size in elements, block size in bytes), from `gguf`."""
    global _GGML_TYPES
    if _GGML_TYPES is None:
        # lazy: the gguf package (and its NumPy) stays out of tl-lsp start
        from gguf import GGML_QUANT_SIZES, GGMLQuantizationType

        _GGML_TYPES = {
            int(t): (t.name, *GGML_QUANT_SIZES[t])
            for t in GGMLQuantizationType
            if t in GGML_QUANT_SIZES
        }
    return _GGML_TYPES


_GGML_TYPES: dict[int, tuple[str, int, int]] | None = None  # a keyed cache of gguf's tables


class _Reader:
    __slots__ = ("src", "pos")

    def __init__(self, src: Source):
        self.src = src
        self.pos = 0

    def take(self, n: int, what: str) -> int:
        """Ensure n bytes at pos; return the start and advance."""
        p = self.pos
        self.src.need(p, n, what)
        self.pos = p + n
        return p

    def u32(self, what: str) -> int:
        p = self.take(4, what)
        return _U32.unpack_from(self.src.buf, p)[0]

    def u64(self, what: str) -> int:
        p = self.take(8, what)
        return _U64.unpack_from(self.src.buf, p)[0]

    def raw_string(self, what: str) -> tuple[bytes, int]:
        start = self.pos
        n = self.u64(f"the length of {what}")
        if n > self.src.size - self.pos:
            raise ModelFileError(
                f"{what}: string length {n} at byte {start} reaches past the end of the file "
                f"(byte {self.src.size}); the file is truncated or corrupt",
                start,
            )
        p = self.take(n, what)
        return self.src.buf[p : p + n], start

    def name(self, what: str) -> str:
        raw, start = self.raw_string(what)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ModelFileError(
                f"{what} is not valid UTF-8 (byte {raw[exc.start]:#04x} at byte "
                f"{start + 8 + exc.start}): {raw[:60]!r}",
                start + 8 + exc.start,
            ) from None

    def value(self, vtype: int, what: str, depth: int = 0) -> object:
        if vtype == _STRING:
            raw, _ = self.raw_string(what)
            return raw.decode("utf-8", errors="replace")
        if vtype == _ARRAY:
            return self.array(what, depth)
        s = _SCALAR.get(vtype)
        if s is None:
            raise ModelFileError(
                f"{what}: unknown GGUF value type {vtype} at byte {self.pos - 4} (known: 0..12)",
                self.pos - 4,
            )
        p = self.take(s.size, what)
        return s.unpack_from(self.src.buf, p)[0]

    def array(self, what: str, depth: int) -> object:
        if depth > 8:
            raise ModelFileError(f"{what}: arrays nested too deeply", self.pos)
        etype_at = self.pos
        etype = self.u32(f"the element type of {what}")
        if etype not in _VALUE_TYPES:
            raise ModelFileError(
                f"{what}: unknown GGUF array element type {etype} at byte {etype_at} "
                f"(known: 0..12)",
                etype_at,
            )
        count_at = self.pos
        count = self.u64(f"the element count of {what}")
        s = _SCALAR.get(etype)
        min_size = s.size if s is not None else (8 if etype == _STRING else 12)
        if count * min_size > self.src.size - self.pos:
            raise ModelFileError(
                f"{what}: array of {count} {_VALUE_TYPES[etype][0]} elements at byte "
                f"{count_at} needs at least {count * min_size} bytes, but only "
                f"{self.src.size - self.pos} remain in the file; the file is truncated or "
                f"corrupt",
                count_at,
            )
        if count <= SMALL_ARRAY:
            return [self.value(etype, f"{what}[{i}]", depth + 1) for i in range(count)]
        start = self.pos
        if s is not None:
            self.take(count * s.size, what)
        elif etype == _STRING:
            self.skip_strings(count, what)
        else:
            for i in range(count):
                self.array(f"{what}[{i}]", depth + 1)
        return ArrayInfo(_VALUE_TYPES[etype][0], count, start)

    def skip_strings(self, count: int, what: str) -> None:
        """Hop over `count` strings without decoding them (the vocabulary fast path).

        Fast path: read ahead a generous guess of the array's size, then one unpack per
        string with no bounds test (struct raises past the buffer's end), a block of
        `_SKIP_BLOCK` strings at a time. A block that leaves the buffer (the guess was
        short, or the file is broken) is walked again with checks, from its own start: a
        corrupt length near the end of SmolLM2's 49,152 tokens costs one walk, not two."""
        src = self.src
        src.prefetch(self.pos + count * 32)
        unpack = _U64.unpack_from
        pos = self.pos
        done = 0
        while done < count:
            n = min(_SKIP_BLOCK, count - done)
            buf = src.buf
            block = pos
            try:
                for _ in range(n):
                    pos += 8 + unpack(buf, pos)[0]
            except (struct.error, OverflowError):  # past the buffer: a huge or corrupt length
                pos = len(buf) + 1
            if pos > len(buf):
                self.pos = block
                self._skip_strings_checked(n, what, done)
                pos = self.pos
            done += n
        self.pos = pos

    def _skip_strings_checked(self, count: int, what: str, first: int) -> None:
        """Walk `count` strings (elements `first`...) with bounds checks: grows the buffer
        as needed, or raises naming the element and its offset."""
        src = self.src
        unpack = _U64.unpack_from
        pos = prev = self.pos
        i = 0
        while i < count:
            buf = src.buf
            limit = len(buf) - 8
            while i < count and pos <= limit:
                prev = pos
                pos = prev + 8 + unpack(buf, prev)[0]
                i += 1
            if pos > len(buf):
                # The last string runs past the buffered bytes: read it properly, which grows
                # the buffer or raises with its offset.
                self.pos = prev
                self.raw_string(f"{what}[{first + i - 1}]")
                pos = self.pos
            elif i < count:
                self.pos = pos
                src.need(pos, 8, f"the length of {what}[{first + i}]")
        self.pos = pos


_SKIP_BLOCK = 4096  # strings per fast-path block of `_Reader.skip_strings`


def parse_header(src: Source) -> HeaderParts:
    r = _Reader(src)
    r.take(4, "the GGUF magic")
    version = r.u32("the GGUF version")
    if version not in (2, 3):
        if version == 1:
            why = "GGUF version 1 (from before August 2023) is not supported; convert the file with a current llama.cpp"
        elif int.from_bytes(version.to_bytes(4, "little"), "big") in (2, 3):
            why = "big-endian GGUF files are not supported; use a little-endian conversion"
        else:
            why = f"unknown GGUF version {version} (supported: 2 and 3)"
        raise ModelFileError(why, 4)
    n_tensors = r.u64("the tensor count")
    n_kv = r.u64("the metadata key/value count")
    # Every key/value takes at least 13 bytes and every tensor info at least 24: refuse
    # impossible counts before looping over them.
    if n_kv * 13 > src.size - r.pos:
        raise ModelFileError(
            f"metadata key/value count {n_kv} at byte 16 cannot fit in the "
            f"{src.size - r.pos} bytes that follow; the file is corrupt",
            16,
        )
    if n_tensors * 24 > src.size - r.pos:
        raise ModelFileError(
            f"tensor count {n_tensors} at byte 8 cannot fit in the {src.size - r.pos} "
            f"bytes that follow; the file is corrupt",
            8,
        )
    kv: dict[str, object] = {}
    alignment_at = 0
    for i in range(n_kv):
        key_at = r.pos
        key = r.name(f"metadata key {i}")
        if key in kv:
            raise ModelFileError(f"duplicate metadata key \"{key}\" at byte {key_at}", key_at)
        vtype = r.u32(f"the value type of metadata \"{key}\"")
        kv[key] = r.value(vtype, f"metadata \"{key}\"")
        if key == "general.alignment":
            alignment_at = key_at

    alignment = kv.get("general.alignment", DEFAULT_ALIGNMENT)
    if (
        not isinstance(alignment, int)
        or isinstance(alignment, bool)
        or alignment <= 0
        or alignment & (alignment - 1)
    ):
        raise ModelFileError(
            f"general.alignment must be a power of two, found {alignment!r}", alignment_at
        )

    types = ggml_types()
    buf_unpack = struct.unpack_from
    raw: list[tuple[str, tuple[int, ...], int, int, int]] = []
    seen: set[str] = set()
    for i in range(n_tensors):
        at = r.pos
        name = r.name(f"the name of tensor {i}")
        if name in seen:
            raise ModelFileError(f"duplicate tensor name \"{name}\" at byte {at}", at)
        seen.add(name)
        nd_at = r.pos
        nd = r.u32(f"the dimension count of tensor \"{name}\"")
        if nd > MAX_DIMS:
            raise ModelFileError(
                f"tensor \"{name}\": {nd} dimensions at byte {nd_at}, at most {MAX_DIMS} allowed",
                nd_at,
            )
        p = r.take(8 * nd, f"the dimensions of tensor \"{name}\"")
        dims = buf_unpack(f"<{nd}Q", src.buf, p)
        tt_at = r.pos
        tt = r.u32(f"the ggml type of tensor \"{name}\"")
        if tt not in types:
            raise ModelFileError(
                f"tensor \"{name}\": unknown ggml type {tt} at byte {tt_at} (known: "
                f"{', '.join(n for n, _, _ in types.values())}); the file may need a newer "
                f"version of the `gguf` package",
                tt_at,
            )
        off = r.u64(f"the data offset of tensor \"{name}\"")
        raw.append((name, dims, tt, off, at))

    data_start = -(-r.pos // alignment) * alignment
    infos: list[TensorInfo] = []
    counts: dict[str, int] = {}
    for name, dims, tt, off, at in raw:
        tname, block, tsize = types[tt]
        numel = 1
        for d in dims:
            numel *= d
        row = dims[0] if dims else 1  # a tensor of no dimensions is one value
        if row % block:
            raise ModelFileError(
                f"tensor \"{name}\": row length {row} is not a multiple of the {tname} block "
                f"size {block}",
                at,
            )
        nbytes = numel // block * tsize
        start = data_start + off
        if off % alignment:
            raise ModelFileError(
                f"tensor \"{name}\": data offset {off} is not a multiple of the alignment "
                f"{alignment}",
                at,
            )
        if start + nbytes > src.size:
            raise ModelFileError(
                f"tensor \"{name}\": data at bytes {start}..{start + nbytes} reaches past the "
                f"end of the file (byte {src.size}); the file is truncated or corrupt",
                at,
            )
        quant = None if tname in _FLOAT_TYPES or tname in _INT_TYPES else tname
        if quant is not None:
            counts[quant] = counts.get(quant, 0) + 1
        infos.append(
            TensorInfo(
                name, tuple(reversed(dims)), tname, quant, start, nbytes, tname not in _INT_TYPES
            )
        )
    ordered = sorted((t for t in infos if t.nbytes), key=lambda t: t.offset)
    for a, b in zip(ordered, ordered[1:], strict=False):
        if a.offset + a.nbytes > b.offset:
            raise ModelFileError(
                f"tensors \"{a.name}\" and \"{b.name}\" overlap (bytes {a.offset}.."
                f"{a.offset + a.nbytes} and {b.offset}..{b.offset + b.nbytes})",
                b.offset,
            )
    metadata: dict[str, object] = {
        "format": "gguf",
        "architecture": kv.get("general.architecture"),
        "quantization": max(counts, key=counts.__getitem__) if counts else None,
        "gguf.version": version,
    }
    for k, v in kv.items():
        metadata.setdefault(k, v)
    return {t.name: t for t in infos}, metadata



_TYPE_IDS = {name: k for k, (name, _) in _VALUE_TYPES.items()}


def metadata_array(header: ModelHeader, key: str) -> list[object]:
    """The value of a GGUF metadata array, read from the file if the header left it unread.

    `parse_header` skips arrays longer than `SMALL_ARRAY` (recording an `ArrayInfo`), so the
    header stays fast; a tokenizer asks for the vocabulary, merges and scores here. Numbers
    come back as Python ints/floats, strings decoded as UTF-8 (invalid bytes replaced). The
    file must still be the one the header was read from (same size and mtime)."""
    value = header.metadata.get(key)
    if isinstance(value, list):
        return value
    if not isinstance(value, ArrayInfo):
        found = "missing" if value is None else f"a {type(value).__name__}"
        raise ModelFileError(f"metadata \"{key}\" is not an array (found {found})", None, header.path)
    try:
        fd = os.open(header.path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise ModelFileError(f"cannot open the file: {exc.strerror or exc}", None, header.path) from None
    try:
        st = os.fstat(fd)
        if st.st_size != header.file_size or st.st_mtime_ns != header.mtime_ns:
            raise ModelFileError(
                "the file changed after its header was read; load it again", None, header.path
            )
        src = Source(fd, st.st_size, header.path, limit=st.st_size)
        r = _Reader(src)
        r.pos = value.offset
        etype = _TYPE_IDS[value.element_type]
        what = f"metadata \"{key}\""
        s = _SCALAR.get(etype)
        if s is not None:
            p = r.take(value.count * s.size, what)
            return list(struct.unpack_from(f"<{value.count}{s.format[1:]}", src.buf, p))
        src.prefetch(value.offset + value.count * 32)
        return [r.value(etype, f"{what}[{i}]", 1) for i in range(value.count)]
    except ModelFileError as exc:
        raise exc.with_path(header.path) from None
    finally:
        os.close(fd)


# --- dequantization (the loader calls `dequantize` for tensors with a quantization) ------

# Block quantizations dequantized with MLX ops (on the GPU when MLX has one); other types go
# through gguf.quants on the host.
MLX_QUANTS = ("Q4_0", "Q4_1", "Q8_0")


def dequantize(raw: Any, info: TensorInfo, path: str) -> LoadedTensor:
    """Quantized tensor `info` as float16; `raw`: its bytes (a uint8 NumPy view of the mapped
    file, or bytes)."""
    import mlx.core as mx  # lazy: MLX stays out of `import tl_core` and tl-lsp start
    import numpy as np  # lazy: NumPy stays out of `import tl_core` and tl-lsp start

    qtype = info.quantization
    raw = np.frombuffer(raw, np.uint8) if isinstance(raw, bytes | bytearray) else raw
    if qtype in MLX_QUANTS:
        # The blocks' rows are shaped by NumPy (a view: no MLX node); the graph built here is
        # kept small (22 MLX primitives for a Q4_1 tensor with its bound, 39 before): on a GPU
        # each primitive costs host time when evaluated, which dominated SmolLM2's load there.
        blocks = mx.array(raw.reshape(-1, _BLOCK_BYTES[qtype]))
        values, scales = _dequantize_mlx(blocks, qtype)
        out = values.reshape(info.shape).astype(mx.float16)
        # Left lazy: evaluated with its first use, together with the other tensors loaded by
        # then (an experiment on an H100, 2026-12-06 16:36 UTC: SmolLM2's GGUF loaded in
        # 0.19 s with an async_eval per tensor, 0.07 s without).
        peaks = mx.max(mx.abs(scales), axis=0)
        return LoadedTensor(out, QuantOverflow(peaks, lambda: _recount(raw, info),
                                               _BOUND_WEIGHTS[qtype]))
    import gguf  # lazy: the gguf package (and its NumPy) stays out of tl-lsp start

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
    return finish(src, src.astype(mx.float16))


_BLOCK_BYTES = {"Q4_0": 18, "Q4_1": 20, "Q8_0": 34}

# The largest magnitude a value of a block can have, per block scale column of
# `_dequantize_mlx` (|q| <= 128 for Q8_0, |q - 8| <= 8 for Q4_0, q <= 15 times d plus |m| for
# Q4_1).
_BOUND_WEIGHTS = {"Q8_0": (128.0,), "Q4_0": (8.0,), "Q4_1": (15.0, 1.0)}


@dataclass(frozen=True, slots=True)
class QuantOverflow:
    """The overflow count of a GGUF block-quantized tensor, decided when first read: 0 when
    the block scales bound every value below float16's largest finite value (nearly always),
    else counted by dequantizing the blocks again (counting as each tensor loads would need a
    float32 copy of it and two reductions). `bound`: a lazy MLX array of the largest magnitude
    of each scale column, weighted by `weights` (the bound is their weighted sum; NaN if a
    scale is NaN)."""

    bound: mx.array
    recount: Callable[[], int]
    weights: tuple[float, ...] = (1.0,)

    def item(self) -> int:
        peaks = self.bound.tolist()
        peaks = peaks if isinstance(peaks, list) else [peaks]
        bound = sum(w * p for w, p in zip(self.weights, peaks, strict=True))
        return 0 if bound < F16_MAX else self.recount()


def _recount(raw: Any, info: TensorInfo) -> int:
    import mlx.core as mx  # lazy: MLX stays out of `import tl_core` and tl-lsp start

    qtype = info.quantization or ""
    src, _ = _dequantize_mlx(mx.array(raw.reshape(-1, _BLOCK_BYTES[qtype])), qtype)
    return count_overflow(src, src.astype(mx.float16))


def _rows(info: TensorInfo) -> int:
    n = 1
    for d in info.shape[:-1]:
        n *= d
    return n


def _dequantize_mlx(blocks: mx.array, qtype: str) -> tuple[mx.array, mx.array]:
    """Q4_0 / Q4_1 / Q8_0 blocks (uint8 rows of one block each) -> their float32 values (a row
    per block) and the block scales as float32 (d; for Q4_1 the columns d and m), with MLX ops
    (on the GPU when MLX has one). Arithmetic in float32 in the same order as ggml and
    gguf.quants: Q8_0 d*q; Q4_0 d*(q-8); Q4_1 d*q + m; the low nibbles are elements 0..15 of
    a block, the high nibbles 16..31. The scales are read through one float16 view of the
    whole rows (every block size is even), no copy of their columns first."""
    import mlx.core as mx  # lazy: MLX stays out of `import tl_core` and tl-lsp start

    halves = blocks.view(mx.float16)
    if qtype == "Q8_0":
        d = halves[:, :1].astype(mx.float32)
        return d * blocks[:, 2:].view(mx.int8).astype(mx.float32), d
    if qtype == "Q4_0":
        d = halves[:, :1].astype(mx.float32)
        qs = blocks[:, 2:]
        nib = mx.concatenate([qs & 0x0F, qs >> 4], axis=1)
        return d * (nib.astype(mx.int8) - 8).astype(mx.float32), d
    dm = halves[:, :2].astype(mx.float32)
    qs = blocks[:, 4:]
    nib = mx.concatenate([qs & 0x0F, qs >> 4], axis=1)
    return dm[:, :1] * nib.astype(mx.float32) + dm[:, 1:], dm


def _magic(head: bytes) -> bool:
    return head[:4] == b"GGUF"


def _refuse(head: bytes) -> None:
    if not _magic(head):
        raise ModelFileError('not a GGUF file: it does not start with the bytes "GGUF"', 0)


FORMAT = ModelFormat(
    name="gguf",
    title="GGUF",
    extensions=(".gguf",),
    read_header=parse_header,
    magic=_magic,
    magic_text='the bytes "GGUF"',
    mismatch=_refuse,
    dequantize=dequantize,
)
