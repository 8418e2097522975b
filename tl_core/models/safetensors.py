"""SafeTensors: the validated JSON header, and raw tensor bytes.

Layout: an 8-byte little-endian header length N, N bytes of UTF-8 JSON
(`{"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__":
{str: str}}`), then the data; offsets are relative to the end of the header.
"""

from __future__ import annotations

import json

from tl_core.limits import MAX_INT_DIGITS, int_text, shape_text
from tl_core.models.errors import ModelFileError
from tl_core.models.types import HEADER_LIMIT, HeaderParts, ModelFormat, Source, TensorInfo

# dtype -> (size in bits, is floating point). Names as the SafeTensors format writes them.
DTYPES: dict[str, tuple[int, bool]] = {
    "BOOL": (8, False),
    "U8": (8, False),
    "I8": (8, False),
    "U16": (16, False),
    "I16": (16, False),
    "U32": (32, False),
    "I32": (32, False),
    "U64": (64, False),
    "I64": (64, False),
    "F4": (4, True),
    "F6_E2M3": (6, True),
    "F6_E3M2": (6, True),
    "F8_E4M3": (8, True),
    "F8_E5M2": (8, True),
    "F8_E8M0": (8, True),
    "F16": (16, True),
    "BF16": (16, True),
    "F32": (32, True),
    "F64": (64, True),
}


def parse_header(src: Source) -> HeaderParts:
    src.need(0, 8, "the SafeTensors header length")
    n = int.from_bytes(src.buf[:8], "little")
    if n > HEADER_LIMIT:
        raise ModelFileError(
            f"SafeTensors header length is {n} bytes, over the header size limit of "
            f"{HEADER_LIMIT} bytes (100 MiB); the file is corrupt or not a SafeTensors file",
            0,
        )
    if 8 + n > src.size:
        raise ModelFileError(
            f"truncated file: the SafeTensors header length says {n} bytes, but only "
            f"{src.size - 8} bytes follow the length field; the file is incomplete "
            f"(download it again)",
            8,
        )
    src.need(8, n, "the SafeTensors JSON header")
    raw = src.buf[8 : 8 + n]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ModelFileError(
            f"SafeTensors header is not valid UTF-8 (byte {raw[exc.start]:#04x} at byte "
            f"{8 + exc.start})",
            8 + exc.start,
        ) from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        at = 8 + len(text[: exc.pos].encode("utf-8"))
        raise ModelFileError(
            f"SafeTensors header is not valid JSON: {exc.msg} at byte {at}", at
        ) from None
    except RecursionError:
        raise ModelFileError(
            "SafeTensors header is not valid: its JSON is nested too deeply", 8
        ) from None
    except ValueError:  # Python's int-string limit: a number of more than 4300 digits
        raise ModelFileError(
            "SafeTensors header is not valid: it holds an integer of more than "
            f"{MAX_INT_DIGITS} digits", 8
        ) from None
    if not isinstance(obj, dict):
        raise ModelFileError(
            f"SafeTensors header must be a JSON object, found {type(obj).__name__}", 8
        )
    data_start = 8 + n
    data_size = src.size - data_start

    def where(name: str) -> int:
        i = raw.find(json.dumps(name, ensure_ascii=False).encode("utf-8"))
        return 8 + i if i >= 0 else 8

    metadata: dict[str, object] = {"format": "safetensors", "quantization": None}
    file_meta = obj.pop("__metadata__", None)
    if file_meta is not None:
        if not isinstance(file_meta, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in file_meta.items()
        ):
            raise ModelFileError(
                "SafeTensors __metadata__ must be an object of string values",
                where("__metadata__"),
            )
        for k, v in file_meta.items():
            metadata.setdefault(k, v)
    metadata.setdefault("architecture", None)

    infos: list[TensorInfo] = []
    for name, entry in obj.items():
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            raise ModelFileError(
                f"tensor name {name!r} is not valid Unicode (it escapes a lone surrogate)",
                8,
            ) from None
        if not isinstance(entry, dict):
            raise ModelFileError(
                f"tensor \"{name}\": expected an object with dtype, shape and data_offsets",
                where(name),
            )
        dtype = entry.get("dtype")
        shape = entry.get("shape")
        offsets = entry.get("data_offsets")
        if not isinstance(dtype, str) or dtype not in DTYPES:
            raise ModelFileError(
                f"tensor \"{name}\": unknown dtype {dtype!r} (known: {', '.join(DTYPES)})",
                where(name),
            )
        if not isinstance(shape, list) or not all(_is_uint(d) for d in shape):
            raise ModelFileError(
                f"tensor \"{name}\": shape must be a list of non-negative integers, found "
                f"{_short(shape)}",
                where(name),
            )
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(_is_uint(o) for o in offsets)
            or offsets[0] > offsets[1]
        ):
            raise ModelFileError(
                f"tensor \"{name}\": data_offsets must be [begin, end] with 0 <= begin <= end, "
                f"found {offsets!r}",
                where(name),
            )
        begin, end = offsets
        if end > data_size:
            raise ModelFileError(
                f"tensor \"{name}\": data_offsets [{begin}, {end}] reach past the end of the "
                f"data (the data section holds {data_size} bytes); the file is truncated or "
                f"corrupt",
                where(name),
            )
        bits, is_float = DTYPES[dtype]
        numel = 1
        for d in shape:
            numel *= d
        if numel * bits != (end - begin) * 8:
            raise ModelFileError(
                f"tensor \"{name}\": shape {shape_text(shape)} of {dtype} needs "
                f"{_bits_as_bytes(numel * bits)} bytes, "
                f"but data_offsets [{begin}, {end}] hold {end - begin}",
                where(name),
            )
        infos.append(
            TensorInfo(name, tuple(shape), dtype, None, data_start + begin, end - begin, is_float)
        )
    infos.sort(key=lambda t: t.offset)
    prev: TensorInfo | None = None
    for t in infos:
        if prev is not None and t.nbytes and prev.offset + prev.nbytes > t.offset:
            raise ModelFileError(
                f"tensors \"{prev.name}\" and \"{t.name}\" overlap (bytes {prev.offset}.."
                f"{prev.offset + prev.nbytes} and {t.offset}..{t.offset + t.nbytes})",
                where(t.name),
            )
        if t.nbytes:
            prev = t
    return {t.name: t for t in infos}, metadata


def _is_uint(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 200 else text[:200] + "..."


def _bits_as_bytes(bits: int) -> str:
    """`6`, `1.5` (sub-byte types), or an abbreviated huge count."""
    whole, rest = divmod(bits, 8)
    return int_text(whole) + (f"{rest / 8:g}"[1:] if rest else "")


def _magic(head: bytes) -> bool:
    """An 8-byte little-endian header length, then the JSON header's "{"."""
    return head[8:9] == b"{"


def _refuse(head: bytes) -> None:
    """A .safetensors file whose byte 8 cannot start a JSON header. A list ("[") is a JSON
    header, if a wrong one, and a file too short to have a byte 8 gets the reader's message
    about where it ends."""
    if len(head) >= 9 and head[8:9] not in (b"{", b"["):
        raise ModelFileError(
            'not a SafeTensors file: byte 8 is not "{", the start of its JSON header', 8)


FORMAT = ModelFormat(
    name="safetensors",
    title="SafeTensors",
    extensions=(".safetensors",),
    read_header=parse_header,
    magic=_magic,
    magic_text='an 8-byte length, then "{"',
    mismatch=_refuse,
    writable=True,
)
