"""Model files: headers (names, shapes, dtypes, metadata) and float16 loading.

Importing this package imports nothing heavy; MLX, `gguf` and `coremltools` load on use.
"""

from tl_core.models.errors import ModelFileError
from tl_core.models.header import (
    HEADER_LIMIT,
    ArrayInfo,
    ModelHeader,
    TensorInfo,
    clear_cache,
    read_header,
)

__all__ = [
    "HEADER_LIMIT",
    "ArrayInfo",
    "ModelFileError",
    "ModelHeader",
    "TensorInfo",
    "clear_cache",
    "read_header",
]
