"""`tl inspect FILE`: the format, a metadata summary and the tensor table of a model file.

Reads the header only (no tensor data); imports nothing heavy at import time.
"""

from __future__ import annotations

import argparse
import json
import sys
import unicodedata
from typing import Any

from tl_core.models import ArrayInfo, ModelFileError, read_header
from tl_core.models.formats import extensions, or_list

VALUE_WIDTH = 72


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help=f"a {or_list(extensions())} model")
    parser.add_argument("--json", action="store_true", help="print the header as JSON")


def main(args: argparse.Namespace) -> int:
    try:
        header = read_header(args.file)
    except ModelFileError as err:
        print(safe(f"{err.path or args.file}: error: {err.message}"), file=sys.stderr)
        return 1
    if args.json:
        print(safe(json.dumps(to_json(header), indent=2, ensure_ascii=False), json_escape=True))
    else:
        sys.stdout.write(render(header))
    return 0


# Characters a terminal may act on (ESC sequences that clear the screen or write the
# clipboard, C1 controls, bidirectional overrides, line separators) and lone surrogates,
# which no terminal encoding can write. Everything a model file names passes through `safe`.
_UNSAFE_CATEGORIES = ("Cc", "Cf", "Cs", "Zl", "Zp")
_NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def safe(text: str, json_escape: bool = False) -> str:
    """`text` with every unsafe character escaped (`\\x1b`, `\\u202e`, `\\udcff`); with
    `json_escape`, as JSON escapes (`\\u001b`), so JSON output stays valid JSON."""
    if text.isascii() and text.isprintable():
        return text
    out = []
    for c in text:
        if c.isprintable() or (json_escape and c == "\n") or \
                unicodedata.category(c) not in _UNSAFE_CATEGORIES:
            out.append(c)
        elif json_escape:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(_NAMED.get(c) or (f"\\x{ord(c):02x}" if ord(c) < 0x100 else
                                         f"\\u{ord(c):04x}"))
    return "".join(out)


def to_json(header: Any) -> dict[str, object]:
    return {
        "path": header.path,
        "format": header.format,
        "file_size": header.file_size,
        "metadata": {k: _json_value(v) for k, v in header.metadata.items()},
        "tensors": [
            {
                "name": t.name,
                "shape": list(t.shape),
                "dtype": t.dtype,
                "quantization": t.quantization,
                "offset": t.offset,
                "nbytes": t.nbytes,
                "is_float": t.is_float,
            }
            for t in header.tensors.values()
        ],
    }


def render(header: Any) -> str:
    tensors = list(header.tensors.values())
    params = sum(t.numel for t in tensors)
    lines = [
        f"{safe(header.path)}: {header.format}, {len(tensors)} tensors, "
        f"{_count(params)} parameters, {human_size(header.file_size)}",
        "",
        "metadata:",
    ]
    keys = {key: safe(key) for key in header.metadata}
    width = max((len(k) for k in keys.values()), default=0)
    for key, value in header.metadata.items():
        lines.append(f"  {keys[key].ljust(width)}  {_short(value)}")
    lines += ["", "tensors:"]
    rows = [("name", "shape", "dtype", "size")]
    for t in tensors:
        dtype = safe(t.dtype) if t.is_float else f"{safe(t.dtype)} (integer: not loadable)"
        rows.append((safe(t.name), "[" + ", ".join(map(str, t.shape)) + "]", dtype,
                     human_size(t.nbytes)))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for r in rows:
        lines.append(
            f"  {r[0].ljust(widths[0])}  {r[1].ljust(widths[1])}  {r[2].ljust(widths[2])}  {r[3]}"
        )
    return "\n".join(lines) + "\n"


def human_size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        n /= 1024
        if n < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}"
    return f"{n} B"  # unreachable


def _count(n: int) -> str:
    for div, suffix in ((10**9, "B"), (10**6, "M"), (10**3, "k")):
        if n >= div:
            return f"{n / div:.1f}{suffix}"
    return str(n)


def _short(value: object) -> str:
    if isinstance(value, (str, list)):
        text = json.dumps(_json_value(value), ensure_ascii=False)
    else:
        text = str(value)
    text = safe(text)
    return text if len(text) <= VALUE_WIDTH else text[: VALUE_WIDTH - 1] + "…"


def _json_value(value: object) -> object:
    if isinstance(value, ArrayInfo):
        return {"array": value.element_type, "count": value.count}
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    return str(value)
