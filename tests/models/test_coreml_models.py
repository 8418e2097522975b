"""CoreML .mlmodel (neural network) and .mlpackage (ML program) through coremltools' spec."""

from __future__ import annotations

import logging
import shutil
import struct

import numpy as np
import pytest

from tl_core.models import ModelFileError, clear_cache, load_model, read_header

logging.getLogger("coremltools").setLevel(logging.ERROR)

W = np.arange(12, dtype=np.float32).reshape(3, 4) / 4
BIG = np.linspace(-3, 3, 64 * 32, dtype=np.float32).reshape(64, 32)


@pytest.fixture(scope="module")
def mlmodel(tmp_path_factory):
    from coremltools.models import datatypes
    from coremltools.models.neural_network import NeuralNetworkBuilder
    from coremltools.models.utils import save_spec

    b = NeuralNetworkBuilder([("x", datatypes.Array(4))], [("y", datatypes.Array(3))])
    b.add_inner_product("fc1", W=W, b=np.ones(3, np.float32), input_channels=4,
                        output_channels=3, has_bias=True, input_name="x", output_name="y")
    b.add_embedding("emb", W=np.ones((5, 10), np.float32), b=None, input_dim=10,
                    output_channels=5, has_bias=False, input_name="x", output_name="e")
    b.add_convolution("conv", kernel_channels=2, output_channels=3, height=2, width=2,
                      stride_height=1, stride_width=1, border_mode="valid", groups=1,
                      W=np.ones((2, 2, 2, 3), np.float32), b=np.zeros(3, np.float32),
                      has_bias=True, input_name="x", output_name="c")
    b.add_batchnorm("bn", channels=3, gamma=np.full(3, 2.0), beta=np.zeros(3), mean=np.zeros(3),
                    variance=np.ones(3), input_name="c", output_name="bno")
    b.add_load_constant("const", "k", constant_value=np.ones((1, 2, 3)), shape=[1, 2, 3])
    path = tmp_path_factory.mktemp("cm") / "t.mlmodel"
    save_spec(b.spec, str(path))
    return path


@pytest.fixture(scope="module")
def mlpackage(tmp_path_factory):
    import coremltools as ct
    from coremltools.converters.mil import Builder as mb

    @mb.program(input_specs=[mb.TensorSpec(shape=(1, 32))])
    def prog(x):
        h = mb.linear(x=x, weight=mb.const(val=BIG, name="big"), name="h")
        return mb.linear(x=h, weight=mb.const(val=np.ones((3, 64), np.float32), name="small"),
                         bias=mb.const(val=np.ones(3, np.float32), name="b"), name="out")

    m = ct.convert(prog, convert_to="mlprogram", compute_precision=ct.precision.FLOAT16,
                   skip_model_load=True)
    path = tmp_path_factory.mktemp("cm") / "t.mlpackage"
    m.save(str(path))
    return path


def test_mlmodel_names_and_shapes(mlmodel):
    h = read_header(mlmodel)
    assert h.format == "mlmodel"
    assert {n: t.shape for n, t in h.tensors.items()} == {
        "fc1.weight": (3, 4), "fc1.bias": (3,), "emb.weight": (5, 10),
        "conv.weight": (3, 2, 2, 2), "conv.bias": (3,),
        "bn.weight": (3,), "bn.bias": (3,), "bn.running_mean": (3,), "bn.running_var": (3,),
        "const.data": (1, 2, 3),
    }
    assert h.metadata["architecture"] == "neuralNetwork"


def test_mlmodel_values(mlmodel):
    m = load_model(mlmodel)
    assert np.array_equal(np.array(m.get_tensor("fc1.weight").array), W.astype(np.float16))
    assert np.array_equal(np.array(m.get_tensor("bn.weight").array), np.full(3, 2, np.float16))


def test_mlpackage_blob_and_immediate_weights(mlpackage):
    h = read_header(mlpackage)
    assert h.format == "mlpackage"
    assert h.metadata["architecture"] == "mlProgram"
    by_shape = {t.shape: t for t in h.tensors.values()}
    big = by_shape[(64, 32)]
    assert big.dtype == "F16" and big.data_file and big.data_file.endswith("weight.bin")
    m = load_model(mlpackage)
    assert np.array_equal(np.array(m.get_tensor(big.name).array), BIG.astype(np.float16))
    small = by_shape[(3, 64)]
    assert np.array_equal(np.array(m.get_tensor(small.name).array), np.ones((3, 64), np.float16))


def test_mlpackage_corrupt_blob_metadata(mlpackage, tmp_path):
    copy = tmp_path / "c.mlpackage"
    shutil.copytree(mlpackage, copy)
    blob = copy / "Data" / "com.apple.CoreML" / "weights" / "weight.bin"
    data = bytearray(blob.read_bytes())
    meta_at = 64  # the first blob's metadata record follows the 64-byte file header
    data[meta_at:meta_at + 4] = b"\0\0\0\0"
    blob.write_bytes(bytes(data))
    clear_cache()
    with pytest.raises(ModelFileError) as e:
        read_header(copy)
    assert "expected the sentinel 0xdeadbeef, found 0x0" in e.value.message
    assert e.value.offset == meta_at


def test_garbage_mlmodel(tmp_path):
    p = tmp_path / "g.mlmodel"
    p.write_bytes(b"\xff" * 64)
    with pytest.raises(ModelFileError) as e:
        read_header(p)
    assert e.value.message.startswith("not a valid CoreML model")
    assert e.value.offset == 0


def test_plain_directory_is_not_a_package(tmp_path):
    with pytest.raises(ModelFileError) as e:
        read_header(tmp_path)
    assert e.value.message.startswith("is a directory")


def test_mlmodel_float16_and_quantized_weights(tmp_path):
    from coremltools.models import datatypes
    from coremltools.models.neural_network import NeuralNetworkBuilder
    from coremltools.models.utils import save_spec

    b = NeuralNetworkBuilder([("x", datatypes.Array(4))], [("y", datatypes.Array(3))])
    b.add_inner_product("q", W=np.arange(12, dtype=np.uint8).tobytes(), b=None,
                        input_channels=4, output_channels=3, has_bias=False, input_name="x",
                        output_name="y", quantization_type="linear", nbits=8,
                        quant_scale=[0.5], quant_bias=[0.0])
    b.add_inner_product("h", W=np.ones((3, 4), np.float32), b=None, input_channels=4,
                        output_channels=3, has_bias=False, input_name="x", output_name="z")
    w = b.spec.neuralNetwork.layers[1].innerProduct.weights
    w.ClearField("floatValue")
    w.float16Value = (W * 2).astype(np.float16).tobytes()
    path = tmp_path / "q.mlmodel"
    save_spec(b.spec, str(path))
    h = read_header(path)
    q = h.tensors["q.weight"]
    assert (q.shape, q.dtype, q.quantization) == ((3, 4), "Q8", "coreml-linearQuantization-8bit")
    assert h.tensors["h.weight"].dtype == "F16"
    m = load_model(path)
    assert np.array_equal(np.array(m.get_tensor("h.weight").array), (W * 2).astype(np.float16))
    with pytest.raises(ModelFileError) as e:
        m.get_tensor("q.weight")
    assert e.value.message == (
        'tensor "q.weight" holds quantized CoreML weights (Q8), which cannot be loaded; '
        "convert the model with float weights"
    )


# --- corrupt packages: each a ModelFileError (they were ValueError / RuntimeError) ---------


def _corrupt_copy(mlpackage, tmp_path, edit_spec=None, edit_blob=None):
    """A copy of the package with its spec or weight blob edited; its header cache cleared."""
    from tl_core.models.coreml import _proto

    copy = tmp_path / "c.mlpackage"
    shutil.copytree(mlpackage, copy)
    inner = copy / "Data" / "com.apple.CoreML"
    if edit_spec is not None:
        model_pb2, _ = _proto()
        spec = model_pb2.Model()
        spec.ParseFromString((inner / "model.mlmodel").read_bytes())
        ops = {op.outputs[0].name: op for fn in spec.mlProgram.functions.values()
               for block in fn.block_specializations.values() for op in block.operations
               if op.type == "const"}
        edit_spec(ops)
        (inner / "model.mlmodel").write_bytes(spec.SerializeToString())
    if edit_blob is not None:
        blob = inner / "weights" / "weight.bin"
        data = bytearray(blob.read_bytes())
        edit_blob(data)
        blob.write_bytes(bytes(data))
    clear_cache()
    return copy


def _blob_const(ops):
    return next(op for op in ops.values()
                if op.attributes["val"].WhichOneof("value") == "blobFileValue")


def _immediate_const(ops):
    return next(op for op in ops.values()
                if op.attributes["val"].WhichOneof("value") == "immediateValue"
                and op.attributes["val"].type.tensorType.rank == 1)


def test_unknown_mil_data_type_is_a_clear_error(mlpackage, tmp_path):
    def edit(ops):
        op = _blob_const(ops)
        op.attributes["val"].type.tensorType.dataType = 42
        edit.name = op.outputs[0].name

    copy = _corrupt_copy(mlpackage, tmp_path, edit_spec=edit)
    with pytest.raises(ModelFileError) as e:
        read_header(copy)
    assert e.value.message == (f'constant "{edit.name}": unknown MIL data type 42; the file is '
                               f"corrupt or from a newer CoreML version")


def test_immediate_value_count_differs_from_its_shape(mlpackage, tmp_path):
    def edit(ops):
        op = _immediate_const(ops)
        op.attributes["val"].type.tensorType.dimensions[0].constant.size = 35
        edit.name = op.outputs[0].name

    copy = _corrupt_copy(mlpackage, tmp_path, edit_spec=edit)
    m = load_model(copy)
    with pytest.raises(ModelFileError) as e:
        m.get_tensor(edit.name)
    assert e.value.message == (f'tensor "{edit.name}": 3 values for the shape [35], which '
                               f"holds 35; the file is corrupt")


def test_immediate_bytes_of_a_partial_value(mlpackage, tmp_path):
    def edit(ops):
        op = _immediate_const(ops)
        tensor = op.attributes["val"].immediateValue.tensor
        tensor.bytes.values = tensor.bytes.values[:-1]
        edit.name, edit.size = op.outputs[0].name, len(tensor.bytes.values)

    copy = _corrupt_copy(mlpackage, tmp_path, edit_spec=edit)
    with pytest.raises(ModelFileError) as e:
        load_model(copy).get_tensor(edit.name)
    assert e.value.message == (f'tensor "{edit.name}": {edit.size} bytes of values, not a whole '
                               f"number of 2-byte F16 values; the file is corrupt")


@pytest.mark.parametrize("at,value,message", [
    (4, 3, "is not a weight file of version 2 (found version 3)"),
    (64 + 4, 2, "has data type code 2, expected 1 (F16)"),  # the first blob's type: F32
])
def test_corrupt_weight_blob_is_a_clear_error(mlpackage, tmp_path, at, value, message):
    """coremltools' blob reader raised RuntimeError ("Storage Reader expects file format
    version 2.", "Metadata data type does not match requested type.") from get_tensor."""
    copy = _corrupt_copy(mlpackage, tmp_path,
                         edit_blob=lambda data: struct.pack_into("<I", data, at, value))
    with pytest.raises(ModelFileError) as e:
        load_model(copy)
    assert message in e.value.message
    assert e.value.offset == at
