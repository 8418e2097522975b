from tl_core.lang.dtypes import canonical_dtype
from tl_core.lang.types import (
    BOOL,
    INT,
    UNKNOWN,
    DimVar,
    FnType,
    ListType,
    ModelType,
    ShapeType,
    TensorType,
    dim_value,
    tensor,
)


def test_tensor_printing_in_language_syntax():
    assert str(tensor("N", 3)) == "float16[N, 3]"
    assert str(TensorType("float16", (DimVar("N", 4), 3))) == "float16[N=4, 3]"
    assert TensorType("float16", (DimVar("N", 4), 3)).plain() == "float16[N, 3]"
    assert str(tensor("?", 2, dtype="int64")) == "int64[?, 2]"
    assert str(TensorType("float32", None)) == "float32"
    assert str(TensorType("float16", ())) == "float16[]"


def test_resolved_replaces_bound_variables():
    t = TensorType("float16", (DimVar("N", 4), DimVar("D")))
    assert str(t.resolved()) == "float16[4, D]"


def test_other_types_print():
    assert str(INT) == "int" and str(BOOL) == "bool" and str(UNKNOWN) == "?"
    assert str(ModelType("m.safetensors")) == "Model"
    assert str(ShapeType((4, 2))) == "shape[4, 2]"
    assert str(ListType(INT)) == "list[int]"
    f = FnType((("x", tensor("N")),), tensor("N"), "f")
    assert str(f) == "fn f(x: float16[N]) -> float16[N]"


def test_dims_and_dtypes():
    assert dim_value(3) == 3 and dim_value(DimVar("N", 2)) == 2 and dim_value(DimVar("N")) is None
    assert canonical_dtype("f32") == "float32" and canonical_dtype("int") == "int64"
    assert canonical_dtype("nope") is None


def test_model_type_equality_ignores_header():
    assert ModelType("a", header=object()) == ModelType("a", header=None)
    hash(ModelType("a", header={"x": 1}))
