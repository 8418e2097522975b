"""`tl inspect FILE`: the format, a metadata summary and the tensor table of a model file.

Reads the header only (no tensor data); imports nothing heavy at import time.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

VALUE_WIDTH = 72


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="a .safetensors, .gguf, .mlmodel or .mlpackage")
    parser.add_argument("--json", action="store_true", help="print the header as JSON")


def main(args: argparse.Namespace) -> int:
    from tl_core.models import ModelFileError, read_header

    try:
        header = read_header(args.file)
    except ModelFileError as err:
        print(f"{err.path or args.file}: error: {err.message}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(to_json(header), indent=2, ensure_ascii=False))
    else:
        sys.stdout.write(render(header))
    return 0


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
        f"{header.path}: {header.format}, {len(tensors)} tensors, "
        f"{_count(params)} parameters, {human_size(header.file_size)}",
        "",
        "metadata:",
    ]
    width = max((len(k) for k in header.metadata), default=0)
    for key, value in header.metadata.items():
        lines.append(f"  {key.ljust(width)}  {_short(value)}")
    lines += ["", "tensors:"]
    rows = [("name", "shape", "dtype", "size")]
    for t in tensors:
        dtype = t.dtype if t.is_float else f"{t.dtype} (integer: not loadable)"
        rows.append((t.name, "[" + ", ".join(map(str, t.shape)) + "]", dtype, human_size(t.nbytes)))
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
    text = text.replace("\n", "\\n")
    return text if len(text) <= VALUE_WIDTH else text[: VALUE_WIDTH - 1] + "…"


def _json_value(value: object) -> object:
    from tl_core.models import ArrayInfo

    if isinstance(value, ArrayInfo):
        return {"array": value.element_type, "count": value.count}
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    return str(value)
