"""Model files: headers (names, shapes, dtypes, metadata) and float16 loading.

Importing this package imports nothing heavy; MLX, `gguf` and `coremltools` load on use.
"""

from tl_core.models.errors import ModelFileError
from tl_core.models.formats import FORMATS
from tl_core.models.header import clear_cache, read_header
from tl_core.models.loader import (
    LoadedTensor,
    Model,
    load_model,
    load_tensor,
    model_from,
    save_model,
)
from tl_core.models.types import HEADER_LIMIT, ArrayInfo, ModelFormat, ModelHeader, TensorInfo

__all__ = [
    "FORMATS",
    "ModelFormat",
    "HEADER_LIMIT",
    "LoadedTensor",
    "Model",
    "load_model",
    "load_tensor",
    "model_from",
    "save_model",
    "ArrayInfo",
    "ModelFileError",
    "ModelHeader",
    "TensorInfo",
    "clear_cache",
    "read_header",
]
