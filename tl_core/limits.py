"""Size limits that the parser, the checker and the runtime share (plain Python, no MLX).

- `MAX_INT_DIGITS`: the longest integer literal (Python's own int-string limit, so that a
  literal can always be read and printed).
- `MAX_SOURCE_BYTES`: the largest source file read from disk.
- `MAX_DIM`: the largest dimension a tensor can have (MLX stores shapes as int32).
- `size_problem`: a tensor whose bytes exceed the memory of where it would live.

Every message names the value, the limit and what to do; `int_text` keeps a message short
when the value itself is huge.
"""

from __future__ import annotations

import math
import os

MAX_INT_DIGITS = 4300
MAX_DIM = 2**31 - 1
MAX_RANK = 64  # NumPy's limit on dimensions (model tensors pass through NumPy)
# The largest .tl file any tool reads from disk (programs, imports, workspace files): 64 MiB
# is far beyond any real program and bounds what a hostile file name costs to read.
MAX_SOURCE_BYTES = 64 * 1024 * 1024

# Bytes per element of each element type (complex16 is two float16 halves).
ITEMSIZE = {"float16": 2, "bfloat16": 2, "float32": 4, "float64": 8, "complex16": 4,
            "int16": 2, "int32": 4, "int64": 8, "bool": 1, "uint8": 1, "int8": 1,
            "uint16": 2, "uint32": 4, "uint64": 8, "complex64": 8}

_UNITS = ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


def int_text(v: int) -> str:
    """`v` in digits, abbreviated when printing it whole would drown the message (or exceed
    Python's int-string limit): `100000...000 (201 digits)`."""
    if v.bit_length() <= 128:
        return str(v)
    if v.bit_length() < 13000:  # under 4,300 digits: str() may convert it
        s = str(v)
        return f"{s[:6]}...{s[-3:]} ({len(s.lstrip('-'))} digits)"
    return f"a number of about {int(v.bit_length() * math.log10(2)) + 1} digits"


def shape_text(dims: tuple[int, ...] | list[int]) -> str:
    """`[2, 3]`; a long or huge shape abbreviated (`[1, 1, ...] (100 dimensions)`)."""
    shown = ", ".join(int_text(d) if isinstance(d, int) else repr(d)[:40] for d in dims[:8])
    if len(dims) > 8:
        return f"[{shown}, ...] ({len(dims)} dimensions)"
    return f"[{shown}]"


def literal_problem(text: str) -> str | None:
    """Why an integer literal (its digits) cannot be read, or None."""
    if len(text) <= MAX_INT_DIGITS:
        return None
    return (f"this integer literal has {len(text)} digits; the limit is {MAX_INT_DIGITS} "
            f"digits (write a float such as 1e400, or compute the value)")


def dim_problem(d: int) -> str | None:
    """Why `d` cannot be a tensor dimension, or None (negative sizes are the caller's)."""
    if d <= MAX_DIM:
        return None
    return (f"dimension {int_text(d)} is too large: a dimension can be at most {MAX_DIM} "
            f"(2^31 - 1)")


def format_bytes(n: int) -> str:
    """`1.8 TiB`; past 1024 EiB, a power of ten."""
    if n < 1024:
        return f"{n} bytes"
    if n.bit_length() > 70:
        return f"about 10^{int((n.bit_length() - 1) * math.log10(2))} bytes"
    k = min(len(_UNITS) - 1, (n.bit_length() - 1) // 10)
    return f"{n / 1024 ** k:.1f} {_UNITS[k]}"


def tensor_bytes(dims: tuple[int, ...], dtype: str) -> tuple[int, int]:
    """(elements, bytes) of a tensor."""
    n = 1
    for d in dims:
        n *= d
    return n, n * ITEMSIZE.get(dtype, 4)


def size_problem(dims: tuple[int, ...], dtype: str, memory: int, where: str) -> str | None:
    """Why a `dtype[dims]` tensor cannot be made on a device with `memory` bytes, or None.
    `where` names the device: "the gpu", "this machine"."""
    for d in dims:
        p = dim_problem(d)
        if p is not None:
            return p
    n, nbytes = tensor_bytes(dims, dtype)
    if nbytes <= memory:
        return None
    return (f"{dtype}{shape_text(dims)} needs {format_bytes(nbytes)} ({n} elements of "
            f"{ITEMSIZE.get(dtype, 4)} bytes), more than the {format_bytes(memory)} of "
            f"memory of {where}")


def host_memory() -> int:
    """Bytes of memory this process may use on this machine: its physical memory, or less
    where the process's address-space limit (RLIMIT_AS, `ulimit -v`) or its cgroup's
    `memory.max` says so (an allocation past those fails inside MLX and takes the process
    down); 0 when the system does not say."""
    sizes = []
    try:
        sizes.append(int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES")))
    except (ValueError, OSError, AttributeError):
        pass
    try:
        import resource  # lazy: Unix only (no `resource` on Windows)

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY and soft > 0:
            sizes.append(soft)
    except (ImportError, ValueError, OSError):
        pass
    try:
        with open("/sys/fs/cgroup/memory.max") as f:
            text = f.read().strip()
        if text.isdigit():
            sizes.append(int(text))
    except OSError:
        pass
    return min(sizes) if sizes else 0
