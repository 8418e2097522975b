"""CoreML `.mlmodel` (neural network spec) and `.mlpackage` (ML program) headers."""

from __future__ import annotations

import os

from tl_core.models.errors import ModelFileError
from tl_core.models.header import ModelHeader, Source, TensorInfo


def parse_mlmodel(src: Source) -> tuple[dict[str, TensorInfo], dict[str, object]]:
    raise ModelFileError("CoreML .mlmodel files are not supported yet", None)


def read_mlpackage_header(path: str, st: os.stat_result) -> ModelHeader:
    raise ModelFileError("CoreML .mlpackage directories are not supported yet", None)
