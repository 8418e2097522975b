"""CoreML: `.mlmodel` (neural-network spec) and `.mlpackage` (ML program) without macOS.

Both go through `coremltools`' protobuf spec (`coremltools.proto`), which works on any OS;
`.mlpackage` weights stored in the package's blob file are checked here (bounded reads of
each blob's metadata record) and loaded with coremltools' blob reader.

Tensor names:
- neural network layers: `<layer name>.<param>`: inner product, convolution, embedding,
  embeddingND, batched matmul `.weight`/`.bias`; batch-norm `.weight` (gamma), `.bias`
  (beta), `.running_mean`, `.running_var`; layer normalization `.weight`/`.bias`; load
  constant `.data`. Shapes as CoreML stores them (inner product `[out, in]`, convolution
  `[out, in/groups, kh, kw]`, embedding `[out, vocabulary]`).
- ML programs: every floating-point tensor `const` op, named by its output name (the
  converter's name, e.g. `linear_0_weight_to_fp16`).
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import json
import logging
import mmap
import os
import stat
import struct
import sys
import threading
from collections import OrderedDict
from typing import Any

from tl_core.models.errors import ModelFileError
from tl_core.models.types import (
    HEADER_LIMIT,
    HeaderParts,
    ModelFormat,
    ModelHeader,
    Source,
    TensorInfo,
)
from tl_core.source import open_regular

# A .mlmodel keeps its weights inside the spec, so its "header" is the whole file: it is
# parsed from a read-only mapping of the file (no copy on the heap; a sparse or corrupt file
# costs only the pages protobuf touches before it stops), up to protobuf's limit of 2 GiB.
MLMODEL_LIMIT = 2 * 1024 * 1024 * 1024 - 1
# The most files `package_stamp` looks at in a package's Data folder (a real package holds
# two or three): a hostile tree is refused instead of walked.
PACKAGE_FILES_LIMIT = 4096

_BLOB_SENTINEL = 0xDEADBEEF
_BLOB_META = struct.Struct("<IIQQ")  # sentinel, dtype, size in bytes, data offset
_BLOB_VERSION = 2  # of the weight file's format (its header: blob count, version; 64 bytes)
_BLOB_DTYPES = {"F16": (1, "<f2"), "F32": (2, "<f4")}  # ours -> (MIL storage's code, numpy)
_MIL_FLOATS = {"FLOAT16": ("F16", 2), "FLOAT32": ("F32", 4), "FLOAT64": ("F64", 8),
               "BFLOAT16": ("BF16", 2)}
_PROTO_LOCK = threading.Lock()  # the language server reads headers from worker threads
_SPECS: OrderedDict[tuple[str, int, int], Any] = OrderedDict()  # keyed cache of parsed specs


_PROTO_PACKAGE = "tl_core.models._coreml_proto"


def _proto() -> tuple[Any, Any]:
    """coremltools' Model_pb2 and MIL_pb2: the generated protobuf modules of its `proto`
    folder, imported as a package of their own so that `coremltools/__init__` (which imports
    torch and its converters: 9-14 s and hundreds of MB in a language server, for a hover)
    does not run. Where coremltools is already imported, its own modules are used."""
    if "coremltools.proto.Model_pb2" in sys.modules or "coremltools" in sys.modules:
        logger = logging.getLogger("coremltools")
        old = logger.level
        logger.setLevel(logging.ERROR)
        try:
            # lazy: coremltools (with protobuf) only for a .mlpackage
            from coremltools.proto import MIL_pb2, Model_pb2
        finally:
            logger.setLevel(old)
        return Model_pb2, MIL_pb2
    with _PROTO_LOCK:
        if _PROTO_PACKAGE not in sys.modules:
            spec = importlib.util.find_spec("coremltools")  # finds it without running it
            if spec is None or spec.origin is None:
                raise ModelFileError("reading CoreML files needs coremltools (pip install "
                                     "coremltools)", None)
            package = importlib.util.module_from_spec(
                importlib.machinery.ModuleSpec(_PROTO_PACKAGE, None, is_package=True))
            package.__path__ = [os.path.join(os.path.dirname(spec.origin), "proto")]
            sys.modules[_PROTO_PACKAGE] = package

        return (importlib.import_module(f"{_PROTO_PACKAGE}.Model_pb2"),
                importlib.import_module(f"{_PROTO_PACKAGE}.MIL_pb2"))


def _parse_mapped(fd: int, size: int) -> Any:
    """The spec in the first `size` bytes of the open file `fd`, parsed from a mapping."""
    if size == 0:
        return _parse_spec(b"")
    try:
        mm = mmap.mmap(fd, size, access=mmap.ACCESS_READ)
    except (OSError, ValueError) as exc:
        raise ModelFileError(f"cannot map the file: {exc}", 0) from None
    view = memoryview(mm)
    try:
        return _parse_spec(view)  # protobuf copies what it keeps
    finally:
        view.release()
        mm.close()


def _parse_spec(data: bytes | memoryview) -> Any:
    model_pb2, _ = _proto()
    from google.protobuf.message import DecodeError  # lazy: protobuf comes with coremltools

    spec = model_pb2.Model()
    try:
        spec.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise ModelFileError(
            f"not a valid CoreML model: the protobuf spec cannot be decoded ({exc})", 0
        ) from None
    if spec.WhichOneof("Type") is None:
        raise ModelFileError("not a valid CoreML model: the spec holds no model", 0)
    return spec


def parse_mlmodel(src: Source) -> HeaderParts:
    if src.size > MLMODEL_LIMIT:
        raise ModelFileError(
            f"CoreML .mlmodel of {src.size} bytes is over protobuf's 2 GiB limit", 0
        )
    spec = _parse_mapped(src.fd, src.size)
    st = os.fstat(src.fd)
    _remember(src.path, st, spec)
    tensors = {name: info for name, (info, _) in _nn_weights(spec).items()}
    return tensors, _metadata(spec, "mlmodel")


def read_mlpackage_header(path: str, st: os.stat_result) -> ModelHeader:
    spec_path = _package_spec_path(path)
    spec_st = _regular(spec_path, "the package's model spec")
    if spec_st.st_size > HEADER_LIMIT:
        raise ModelFileError(
            f"the package's model spec {spec_path} is {spec_st.st_size} bytes, over the "
            f"header size limit of {HEADER_LIMIT} bytes",
            0,
        )
    spec = _read_spec(spec_path, HEADER_LIMIT)
    _remember(spec_path, spec_st, spec)
    if spec.WhichOneof("Type") == "mlProgram":
        tensors = {
            name: info
            for name, (info, _) in _program_weights(spec, os.path.dirname(spec_path)).items()
        }
    else:
        tensors = {name: info for name, (info, _) in _nn_weights(spec).items()}
    size, mtime = package_stamp(path)
    return ModelHeader(path, "mlpackage", tensors, _metadata(spec, "mlpackage"), size, mtime)


def package_stamp(path: str) -> tuple[int, int]:
    """(total size, latest mtime) of the files of a package: its cache key. Looks at most at
    `PACKAGE_FILES_LIMIT` entries (symlinks not followed), however large the tree."""
    size, mtime, seen = 0, 0, 0
    stats = []
    try:
        stats.append(os.stat(os.path.join(path, "Manifest.json")))
    except OSError:
        pass
    todo = [os.path.join(path, "Data")]
    while todo:
        try:
            entries = os.scandir(todo.pop())
        except OSError:
            continue
        with entries:
            for entry in entries:  # one entry at a time: a huge folder is not listed whole
                seen += 1
                if seen > PACKAGE_FILES_LIMIT:
                    raise ModelFileError(
                        f"the package holds more than {PACKAGE_FILES_LIMIT} files and "
                        f"folders; a CoreML package holds a few (is this a package?)",
                        0,
                        path,
                    )
                try:
                    if entry.is_dir(follow_symlinks=False):
                        todo.append(entry.path)
                    else:
                        stats.append(entry.stat())
                except OSError:
                    continue
    for s in stats:
        size += s.st_size
        mtime = max(mtime, s.st_mtime_ns)
    return size, mtime


def load_array(header: ModelHeader, info: TensorInfo) -> Any:
    """The float values of one CoreML tensor as a numpy array of `info.shape`."""
    import numpy as np  # lazy: numpy only to read values (a header read needs none)

    if header.format == "mlpackage":
        spec_path = _package_spec_path(header.path)
        spec = _spec_for(spec_path)
        if spec.WhichOneof("Type") == "mlProgram":
            _, source = _program_weights(spec, os.path.dirname(spec_path))[info.name]
            return _shaped(_mil_values(source, info), info)
    else:
        spec = _spec_for(header.path)
    _, weights = _nn_weights(spec)[info.name]
    if weights.HasField("quantization"):
        raise ModelFileError(
            f"tensor \"{info.name}\" holds quantized CoreML weights ({info.dtype}), which "
            f"cannot be loaded; convert the model with float weights",
            None,
            header.path,
        )
    if len(weights.float16Value):
        arr = _from_bytes(weights.float16Value, "<f2", info)
    elif len(weights.rawValue):
        arr = _from_bytes(weights.rawValue, "<f4", info)
    else:
        arr = np.asarray(weights.floatValue, dtype=np.float32)
    return _shaped(arr, info)


def _from_bytes(data: bytes, dtype: str, info: TensorInfo) -> Any:
    import numpy as np  # lazy: as in load_array

    size = np.dtype(dtype).itemsize
    if len(data) % size:
        raise ModelFileError(
            f"tensor \"{info.name}\": {len(data)} bytes of values, not a whole number of "
            f"{size}-byte {info.dtype} values; the file is corrupt",
            None,
        )
    return np.frombuffer(data, dtype)


def _shaped(arr: Any, info: TensorInfo) -> Any:
    """`arr` in `info.shape`, or an error when a corrupt spec's value count differs."""
    numel = 1
    for d in info.shape:
        numel *= d
    if arr.size != numel:
        raise ModelFileError(
            f"tensor \"{info.name}\": {arr.size} values for the shape {list(info.shape)}, "
            f"which holds {numel}; the file is corrupt",
            None,
        )
    return arr.reshape(info.shape)


# --- internals -------------------------------------------------------------------------------


def _regular(path: str, what: str) -> os.stat_result:
    try:
        st = os.stat(path)
    except OSError as exc:
        raise ModelFileError(f"{what} {path} cannot be read: {exc.strerror}", 0) from None
    if not stat.S_ISREG(st.st_mode):
        raise ModelFileError(f"{what} {path} is not a regular file", 0)
    return st


def _package_spec_path(path: str) -> str:
    manifest = os.path.join(path, "Manifest.json")
    rel = "com.apple.CoreML/model.mlmodel"
    if os.path.exists(manifest):
        st = _regular(manifest, "the package manifest")
        if st.st_size > 1024 * 1024:
            raise ModelFileError("the package manifest is over 1 MiB", 0)
        try:
            with open(manifest, "rb") as f:
                doc = json.loads(f.read())
            root = doc["rootModelIdentifier"]
            rel = doc["itemInfoEntries"][root]["path"]
        except (ValueError, KeyError, TypeError):
            raise ModelFileError(
                "the package manifest (Manifest.json) is not valid: expected JSON with "
                "rootModelIdentifier and itemInfoEntries",
                0,
            ) from None
    full = os.path.normpath(os.path.join(path, "Data", rel))
    if not full.startswith(os.path.normpath(path) + os.sep):
        raise ModelFileError(f"the package manifest points outside the package: {rel}", 0)
    return full


def _remember(path: str, st: os.stat_result, spec: Any) -> None:
    _SPECS[(os.path.realpath(path), st.st_size, st.st_mtime_ns)] = spec
    while len(_SPECS) > 2:
        _SPECS.popitem(last=False)


def _spec_for(path: str) -> Any:
    st = _regular(path, "the CoreML spec")
    key = (os.path.realpath(path), st.st_size, st.st_mtime_ns)
    spec = _SPECS.get(key)
    if spec is None:
        spec = _read_spec(path, MLMODEL_LIMIT)
        _remember(path, st, spec)
    return spec


def _read_spec(path: str, limit: int) -> Any:
    """The spec of the regular file `path` (at most `limit` bytes), parsed from a mapping."""
    try:
        fd, st = open_regular(path)
    except OSError as exc:
        raise ModelFileError(f"the CoreML spec {path} cannot be read: {exc.strerror}", 0) \
            from None
    try:
        if st.st_size > limit:
            raise ModelFileError(f"the CoreML spec {path} is {st.st_size} bytes, over the "
                                 f"limit of {limit} bytes", 0)
        return _parse_mapped(fd, st.st_size)
    finally:
        os.close(fd)


def _metadata(spec: Any, fmt: str) -> dict[str, object]:
    d = spec.description.metadata
    md: dict[str, object] = {
        "format": fmt,
        "architecture": spec.WhichOneof("Type"),
        "quantization": None,
        "coreml.specification_version": spec.specificationVersion,
    }
    for key in ("shortDescription", "author", "license", "versionString"):
        value = getattr(d, key)
        if value:
            md[f"coreml.{key}"] = value
    for key, value in d.userDefined.items():
        md.setdefault(key, value)
    return md


_NN_PARAMS: dict[str, tuple[tuple[str, str], ...]] = {
    "innerProduct": (("weights", "weight"), ("bias", "bias")),
    "convolution": (("weights", "weight"), ("bias", "bias")),
    "embedding": (("weights", "weight"), ("bias", "bias")),
    "embeddingND": (("weights", "weight"), ("bias", "bias")),
    "batchedMatmul": (("weights", "weight"), ("bias", "bias")),
    "batchnorm": (("gamma", "weight"), ("beta", "bias"), ("mean", "running_mean"),
                  ("variance", "running_var")),
    "layerNormalization": (("gamma", "weight"), ("beta", "bias")),
    "loadConstant": (("data", "data"),),
    "loadConstantND": (("data", "data"),),
}


def _nn_shape(kind: str, p: Any, field: str) -> tuple[int, ...]:
    if kind == "innerProduct":
        return (p.outputChannels, p.inputChannels) if field == "weights" else (p.outputChannels,)
    if kind == "convolution":
        if field == "bias":
            return (p.outputChannels,)
        groups = p.nGroups or 1
        if p.isDeconvolution:
            return (p.kernelChannels, p.outputChannels // groups, *p.kernelSize)
        return (p.outputChannels, p.kernelChannels, *p.kernelSize)
    if kind == "embedding":
        return (p.outputChannels, p.inputDim) if field == "weights" else (p.outputChannels,)
    if kind == "embeddingND":
        return (p.embeddingSize, p.vocabSize) if field == "weights" else (p.embeddingSize,)
    if kind == "batchedMatmul":
        first, second = p.weightMatrixFirstDimension, p.weightMatrixSecondDimension
        return (first, second) if field == "weights" else (second,)
    if kind == "batchnorm":
        return (p.channels,)
    if kind == "layerNormalization":
        return tuple(p.normalizedShape)
    return tuple(p.shape)  # loadConstant / loadConstantND


def _nn_weights(spec: Any) -> dict[str, tuple[TensorInfo, Any]]:
    kind = spec.WhichOneof("Type")
    out: dict[str, tuple[TensorInfo, Any]] = {}
    if kind == "pipeline" or kind in ("pipelineClassifier", "pipelineRegressor"):
        models = getattr(spec, kind).pipeline.models if kind != "pipeline" else spec.pipeline.models
        for sub in models:
            out.update(_nn_weights(sub))
        return out
    if kind not in ("neuralNetwork", "neuralNetworkClassifier", "neuralNetworkRegressor"):
        return out
    for layer in getattr(spec, kind).layers:
        lkind = layer.WhichOneof("layer")
        params = _NN_PARAMS.get(lkind)
        if params is None:
            continue
        p = getattr(layer, lkind)
        for field, suffix in params:
            if field == "bias" and lkind != "batchnorm" and lkind != "layerNormalization":
                if not getattr(p, "hasBias", False):
                    continue
            w = getattr(p, field)
            shape = _nn_shape(lkind, p, field)
            name = f"{layer.name}.{suffix}"
            info = _weight_info(name, w, shape)
            if info is None:
                continue
            if name in out:
                raise ModelFileError(f"duplicate tensor name \"{name}\" in the CoreML spec", 0)
            out[name] = (info, w)
    return out


def _weight_info(name: str, w: Any, shape: tuple[int, ...]) -> TensorInfo | None:
    numel = 1
    for d in shape:
        numel *= d
    if w.HasField("quantization"):
        q = w.quantization
        bits = q.numberOfBits
        kind = q.WhichOneof("QuantizationType") or "quantized"
        return TensorInfo(name, shape, f"Q{bits}", f"coreml-{kind}-{bits}bit", 0,
                          len(w.rawValue), True)
    if len(w.float16Value):
        dtype, size, count = "F16", 2, len(w.float16Value) // 2
    elif len(w.rawValue):
        dtype, size, count = "F32", 4, len(w.rawValue) // 4
    elif len(w.floatValue):
        dtype, size, count = "F32", 4, len(w.floatValue)
    else:
        return None  # an empty parameter (e.g. no bias)
    if count != numel:
        raise ModelFileError(
            f"tensor \"{name}\": the spec holds {count} values, but its shape "
            f"{list(shape)} needs {numel}",
            0,
        )
    return TensorInfo(name, shape, dtype, None, 0, numel * size, True)


def _program_weights(spec: Any, model_dir: str) -> dict[str, tuple[TensorInfo, Any]]:
    _, mil = _proto()
    out: dict[str, tuple[TensorInfo, Any]] = {}
    blobs: dict[str, int] = {}
    program = spec.mlProgram
    names = sorted(program.functions, key=lambda n: (n != "main", n))
    for fname in names:
        fn = program.functions[fname]
        block = fn.block_specializations.get(fn.opset)
        if block is None and len(fn.block_specializations):
            block = next(iter(fn.block_specializations.values()))
        if block is not None:
            _walk_block(block, mil, model_dir, out, blobs)
    return out


def _walk_block(block: Any, mil: Any, model_dir: str, out: dict, blobs: dict) -> None:
    for op in block.operations:
        for inner in op.blocks:
            _walk_block(inner, mil, model_dir, out, blobs)
        if op.type != "const" or "val" not in op.attributes or not op.outputs:
            continue
        value = op.attributes["val"]
        if value.type.WhichOneof("type") != "tensorType":
            continue
        tt = value.type.tensorType
        if tt.dataType not in mil.DataType.values():
            raise ModelFileError(
                f"constant \"{op.outputs[0].name}\": unknown MIL data type {tt.dataType}; the "
                f"file is corrupt or from a newer CoreML version",
                None,
            )
        dtype = _MIL_FLOATS.get(mil.DataType.Name(tt.dataType))
        if dtype is None or tt.rank < 1:
            continue
        shape = []
        for dim in tt.dimensions:
            if dim.WhichOneof("dimension") != "constant":
                break
            shape.append(dim.constant.size)
        else:
            name = op.outputs[0].name
            info = _mil_info(name, tuple(shape), dtype, value, model_dir, blobs)
            out.setdefault(name, (info, value))


def _mil_info(name: str, shape: tuple[int, ...], dtype: tuple[str, int], value: Any,
              model_dir: str, blobs: dict) -> TensorInfo:
    numel = 1
    for d in shape:
        numel *= d
    nbytes = numel * dtype[1]
    if value.WhichOneof("value") != "blobFileValue":
        return TensorInfo(name, shape, dtype[0], None, 0, nbytes, True)
    blob = value.blobFileValue
    path = _blob_path(blob.fileName, model_dir)
    size = blobs.get(path)
    if size is None:
        size = blobs[path] = _regular(path, "the weight blob").st_size
        with open(path, "rb") as f:
            head = f.read(8)
        version = struct.unpack("<I", head[4:8])[0] if len(head) == 8 else None
        if version != _BLOB_VERSION:
            raise ModelFileError(
                f"{path} is not a weight file of version {_BLOB_VERSION} "
                + (f"(found version {version})" if version is not None
                   else f"(it is {len(head)} bytes long)"),
                4 if version is not None else 0,
            )
    meta_at = blob.offset
    if meta_at + _BLOB_META.size > size:
        raise ModelFileError(
            f"tensor \"{name}\": blob metadata at byte {meta_at} of {path} is past its end "
            f"(byte {size})",
            meta_at,
        )
    with open(path, "rb") as f:
        f.seek(meta_at)
        sentinel, blob_dtype, data_size, data_at = _BLOB_META.unpack(f.read(_BLOB_META.size))
    if sentinel != _BLOB_SENTINEL:
        raise ModelFileError(
            f"tensor \"{name}\": no blob metadata at byte {meta_at} of {path} "
            f"(expected the sentinel 0xdeadbeef, found {sentinel:#x})",
            meta_at,
        )
    expected = _BLOB_DTYPES.get(dtype[0], (None,))[0]
    if expected is not None and blob_dtype != expected:
        raise ModelFileError(
            f"tensor \"{name}\": blob at byte {meta_at} of {path} has data type code "
            f"{blob_dtype}, expected {expected} ({dtype[0]})",
            meta_at + 4,
        )
    if data_size != nbytes or data_at + data_size > size:
        raise ModelFileError(
            f"tensor \"{name}\": blob at byte {meta_at} of {path} holds {data_size} bytes at "
            f"byte {data_at}, expected {nbytes} bytes inside the file ({size} bytes)",
            meta_at,
        )
    return TensorInfo(name, shape, dtype[0], None, data_at, nbytes, True, path)


def _blob_path(file_name: str, model_dir: str) -> str:
    rel = file_name.removeprefix("@model_path/")
    full = os.path.normpath(os.path.join(model_dir, rel))
    if not full.startswith(os.path.normpath(model_dir) + os.sep):
        raise ModelFileError(f"weight blob path points outside the package: {file_name}", 0)
    return full


def _mil_values(value: Any, info: TensorInfo) -> Any:
    import numpy as np  # lazy: numpy only to read values

    if value.WhichOneof("value") == "blobFileValue":
        # read here, not with coremltools' reader: its C++ raised RuntimeError on a corrupt
        # file; the header checked the blob's version, sentinel, type, size and range
        code = _BLOB_DTYPES.get(info.dtype)
        if code is None or info.data_file is None:
            raise ModelFileError(
                f"tensor \"{info.name}\": {info.dtype} blobs cannot be loaded", None)
        fd = os.open(info.data_file, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        try:
            data = os.pread(fd, info.nbytes, info.offset)
        finally:
            os.close(fd)
        if len(data) != info.nbytes:
            raise ModelFileError(
                f"tensor \"{info.name}\": {info.data_file} ended before its {info.nbytes} "
                f"bytes at byte {info.offset} (was it changed after its header was read?)",
                info.offset,
            )
        return np.frombuffer(data, code[1])
    tv = value.immediateValue.tensor
    kind = tv.WhichOneof("value")
    if kind == "floats":
        return np.asarray(tv.floats.values, dtype=np.float32)
    if kind == "doubles":
        return np.asarray(tv.doubles.values, dtype=np.float64)
    if kind == "bytes":
        dt = {"F16": "<f2", "F32": "<f4", "F64": "<f8"}.get(info.dtype)
        if dt is None:
            raise ModelFileError(f"tensor \"{info.name}\": {info.dtype} cannot be loaded", None)
        return _from_bytes(tv.bytes.values, dt, info)
    raise ModelFileError(f"tensor \"{info.name}\": unsupported immediate value {kind}", None)


# A protobuf spec has no magic bytes: an .mlmodel is known by its extension; a package is a
# directory, known by its extension or its Manifest.json.
MLMODEL = ModelFormat(
    name="mlmodel",
    title="CoreML",
    extensions=(".mlmodel",),
    read_header=parse_mlmodel,
    load_array=load_array,
)
MLPACKAGE = ModelFormat(
    name="mlpackage",
    title="CoreML",
    extensions=(".mlpackage",),
    directory=True,
    read_directory=read_mlpackage_header,
    stamp=package_stamp,
    marker="Manifest.json",
    load_array=load_array,
)
