"""Shape rules tested directly on types (no parser)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tl_core.lang import shapes as S
from tl_core.lang.builtins import BUILTINS
from tl_core.lang.shapes import ArgInfo, IndexItem, RuleArgs, ShapeError
from tl_core.lang.types import INT, ListType, ModelType, ShapeType, TensorType, tensor


def call(_name, **named):
    b = BUILTINS[_name]
    args = {}
    rest = ()
    for k, v in named.items():
        if k == "rest":
            rest = tuple(v)
            continue
        args[k] = v if isinstance(v, ArgInfo) else ArgInfo(v.__class__ is TensorType and v or INT, v)
    return b.shape_rule(RuleArgs(_name, args, rest))


def T(*dims):
    return ArgInfo(tensor(*dims))


def V(value):
    return ArgInfo(INT, value)


# -- broadcasting ------------------------------------------------------------

def test_broadcast_basic_and_error():
    assert str(S.broadcast(tensor(4, 3), tensor(3))) == "float16[4, 3]"
    assert str(S.broadcast(tensor("N", "D"), tensor("D"))) == "float16[N, D]"
    assert str(S.broadcast(tensor(4, 1), tensor(1, 5))) == "float16[4, 5]"
    assert str(S.broadcast(tensor("N", 3), tensor(4, 1))) == "float16[4, 3]"
    with pytest.raises(ShapeError) as e:
        S.broadcast(tensor(4, 3), tensor(2), "+")
    assert e.value.message == \
        "float16[4, 3] + float16[2]: dimensions 3 and 2 cannot be broadcast together"


def test_broadcast_unknown_rank_stays_unknown():
    assert S.broadcast(TensorType("float16", None), tensor(2)).dims is None


@settings(deadline=None)  # no wall-clock limit: it failed at 264 ms on a loaded machine
@given(st.lists(st.integers(1, 4), max_size=3), st.lists(st.integers(1, 4), max_size=3))
def test_broadcast_matches_numpy(a, b):
    try:
        expected = np.broadcast_shapes(tuple(a), tuple(b))
    except ValueError:
        with pytest.raises(ShapeError):
            S.broadcast(tensor(*a), tensor(*b))
        return
    assert S.broadcast(tensor(*a), tensor(*b)).dims == tuple(expected)


# -- matmul --------------------------------------------------------------------

def test_matmul_2d_1d_batched():
    assert str(S.matmul(tensor(4, 3), tensor(3, 2))) == "float16[4, 2]"
    assert str(S.matmul(tensor(3), tensor(3, 2))) == "float16[2]"
    assert str(S.matmul(tensor(4, 3), tensor(3))) == "float16[4]"
    assert str(S.matmul(tensor(3), tensor(3))) == "float16[]"
    assert str(S.matmul(tensor(5, 4, 3), tensor(3, 2))) == "float16[5, 4, 2]"
    assert str(S.matmul(tensor(5, 1, 4, 3), tensor(6, 3, 2))) == "float16[5, 6, 4, 2]"
    assert str(S.matmul(tensor("N", "D_in"), tensor("D_in", "D_out"))) == "float16[N, D_out]"


def test_matmul_error_and_transpose_hint():
    with pytest.raises(ShapeError) as e:
        S.matmul(tensor(4, 3), tensor(2, 3), "X", "W")
    assert e.value.full_message() == ("float16[4, 3] @ float16[2, 3]: inner dimensions 3 and "
                                      "2 differ; did you mean transpose(W)?")
    with pytest.raises(ShapeError) as e:
        S.matmul(tensor(3, 4), tensor(3, 2), "X", "W")
    assert e.value.hint == "did you mean transpose(X)?"
    with pytest.raises(ShapeError) as e:
        S.matmul(tensor(2, 5, 3), tensor(4, 3, 2))
    assert e.value.message == ("float16[2, 5, 3] @ float16[4, 3, 2]: batch dimensions 2 and 4 "
                               "cannot be broadcast together")


@given(st.lists(st.integers(1, 3), min_size=1, max_size=4),
       st.lists(st.integers(1, 3), min_size=1, max_size=4))
def test_matmul_matches_numpy(a, b):
    try:
        expected = np.matmul(np.zeros(a), np.zeros(b)).shape
    except ValueError:
        with pytest.raises(ShapeError):
            S.matmul(tensor(*a), tensor(*b))
        return
    assert S.matmul(tensor(*a), tensor(*b)).dims == tuple(expected)


# -- reshape and friends ----------------------------------------------------------

def test_reshape():
    assert str(call("reshape", x=T(4, 3), shape=V([2, 6]))) == "float16[2, 6]"
    assert str(call("reshape", x=T(4, 3), shape=V([-1, 2]))) == "float16[6, 2]"
    assert str(call("reshape", x=T("N", 3), shape=V([-1]))) == "float16[?]"
    with pytest.raises(ShapeError) as e:
        call("reshape", x=T(4, 3), shape=V([5, 2]))
    assert e.value.message == "cannot reshape float16[4, 3] (12 elements) to [5, 2] (10 elements)"
    assert e.value.param == "shape"
    with pytest.raises(ShapeError) as e:
        call("reshape", x=T(4, 3), shape=V([-1, -1]))
    assert e.value.message == "reshape allows at most one -1 dimension; found 2 in [-1, -1]"
    with pytest.raises(ShapeError) as e:
        call("reshape", x=T(4, 3), shape=V([5, -1]))
    assert e.value.message == ("cannot reshape float16[4, 3] (12 elements) to [5, -1]: 12 is "
                               "not divisible by 5")


def test_reshape_with_shape_value():
    r = call("reshape", x=T(2, 6), shape=ArgInfo(ShapeType((4, 3))))
    assert str(r) == "float16[4, 3]"


def test_transpose_permute_flatten_squeeze_unsqueeze():
    assert str(call("transpose", x=T(4, 3))) == "float16[3, 4]"
    with pytest.raises(ShapeError) as e:
        call("transpose", x=T(2, 3, 4))
    assert e.value.message == ("transpose needs a 2-D tensor; found float16[2, 3, 4]; use "
                               "permute(x, dims) for other ranks")
    assert str(call("permute", x=T(2, 3, 4), dims=V([2, 0, 1]))) == "float16[4, 2, 3]"
    with pytest.raises(ShapeError) as e:
        call("permute", x=T(2, 3, 4), dims=V([0, 0, 1]))
    assert e.value.message == ("permute: [0, 0, 1] is not a permutation of the 3 dimensions "
                               "of float16[2, 3, 4]")
    assert str(call("flatten", x=T(2, 3, 4))) == "float16[24]"
    assert str(call("squeeze", x=T(1, 3, 1))) == "float16[3]"
    assert str(call("squeeze", x=T(1, 1))) == "float16[1]"  # the original's (UPSTREAM.md 4.4)
    assert str(call("squeeze", x=T(1, 3), dim=V(0))) == "float16[3]"
    with pytest.raises(ShapeError) as e:
        call("squeeze", x=T(2, 3), dim=V(0))
    assert e.value.message == "squeeze: dimension 0 of float16[2, 3] has size 2, not 1"
    assert str(call("unsqueeze", x=T(2, 3), dim=V(-1))) == "float16[2, 3, 1]"
    assert str(call("unsqueeze", x=T(2, 3), dim=V(0))) == "float16[1, 2, 3]"


def test_dim_out_of_range():
    with pytest.raises(ShapeError) as e:
        call("softmax", x=T(2, 3), dim=V(2))
    assert e.value.message == "dim 2 is out of range for float16[2, 3] (2 dimensions); valid: -2 to 1"


def test_concat_and_split():
    lst = ArgInfo(ListType(tensor(2, 3)), [tensor(2, 3), tensor(4, 3)])
    assert str(call("concat", a=lst, b=V(0))) == "float16[6, 3]"
    assert str(call("concat", a=lst)) == "float16[6, 3]"
    assert str(call("concat", a=T(2, 3), b=T(2, 5), dim=V(1))) == "float16[2, 8]"
    assert str(call("concat", a=T(2, 3), b=T(4, 3))) == "float16[6, 3]"
    bad = ArgInfo(ListType(tensor(2, 3)), [tensor(2, 3), tensor(4, 2)])
    with pytest.raises(ShapeError) as e:
        call("concat", a=bad, b=V(0))
    assert e.value.message == ("concat: tensor 2 is float16[4, 2] but tensor 1 is "
                               "float16[2, 3]; shapes must match except in dimension 0")
    assert e.value.param == "a"
    with pytest.raises(ShapeError) as e:
        call("concat", a=T(2, 3), b=T(4, 2), dim=V(0))
    assert e.value.param == "b"
    # split by piece size, chunk by count (UPSTREAM.md 4.10-4.11): every piece
    r = call("split", x=T(6, 4), size=V(3), dim=V(0))
    assert str(r) == "list[float16[3, 4]]" and r.length == 2
    r = call("split", x=T(5, 4), size=V(2))
    assert str(r) == "list[float16[?, 4]]" and r.length == 3
    r = call("chunk", x=T(4, 7), chunks=V(3), dim=V(1))
    assert str(r) == "list[float16[4, ?]]" and r.length == 3
    with pytest.raises(ShapeError) as e:
        call("split", x=T(5, 4), size=V(0))
    assert e.value.message == "split: the piece size must be positive; found 0"


def test_slice_reductions_creation():
    assert str(call("slice", x=T(10, 4), a=V(2), b=V(5))) == "float16[3, 4]"
    assert str(call("slice", x=T(10, 4), a=V(1), b=V(3), dim=V(1))) == "float16[10, 2]"
    assert str(call("slice", x=T(10, 4), a=V(2), b=V(1), c=V(3))) == "float16[2]"
    with pytest.raises(ShapeError) as e:
        call("slice", x=T(10, 4), a=V(10), b=V(1), c=V(3))
    assert e.value.message == "row 10 is out of range for float16[10, 4] (10 rows)"
    assert str(call("slice_last", x=T(7, 4), dim=V(0))) == "float16[4]"
    assert str(call("sum", x=T(4, 3))) == "float16[]"
    assert str(call("sum", x=T(4, 3), dim=V(1))) == "float16[4]"
    assert str(call("mean", x=T(4, 3), dim=V(0), keepdim=ArgInfo(INT, True))) == "float16[1, 3]"
    assert str(call("argmax", x=T(4, 3), dim=V(-1))) == "int64[4]"
    assert str(call("zeros", shape=V([2, 3]))) == "float16[2, 3]"
    assert str(call("full", shape=V([2]), value=V(1.5))) == "float16[2]"
    assert str(call("arange", a=V(5))) == "float32[5]"  # the original's (UPSTREAM.md 3.4)
    assert str(call("causal_mask", n=V(4))) == "float16[4, 4]"
    assert str(call("broadcast_to", x=T(3), shape=V([2, 3]))) == "float16[2, 3]"
    with pytest.raises(ShapeError):
        call("broadcast_to", x=T(4), shape=V([2, 3]))


def test_nn_rules():
    assert str(call("linear", x=T(4, 3), W=T(2, 3))) == "float16[4, 2]"
    assert str(call("linear", x=T(4, 3), W=T(2, 3), b=T(2))) == "float16[4, 2]"
    with pytest.raises(ShapeError) as e:
        call("linear", x=T(4, 3), W=ArgInfo(tensor(3, 2), text="W"))
    assert e.value.full_message() == (
        "linear: x is float16[4, 3] but W is float16[3, 2]; W must be [out, in] with in = 3 "
        "(PyTorch nn.Linear convention); W looks like [in, out]; did you mean x @ W?")
    assert str(call("rms_norm", x=T(5, 8), w=T(8))) == "float16[5, 8]"
    with pytest.raises(ShapeError) as e:
        call("layer_norm", x=T(5, 8), w=T(8), b=T(4))
    assert e.value.param == "b"
    assert str(call("embedding", table=T(100, 16), ids=ArgInfo(tensor(7, dtype="int64")))) == \
        "float16[7, 16]"
    with pytest.raises(ShapeError):
        call("rope", x=T(4, 7))


def test_einsum():
    r = call("einsum", spec=ArgInfo(INT, "ij,jk->ik"), rest=[T(4, 3), T(3, 2)])
    assert str(r) == "float16[4, 2]"
    r = call("einsum", spec=ArgInfo(INT, "ij,ij"), rest=[T(4, 3), T(4, 3)])
    assert str(r) == "float16[]"
    r = call("einsum", spec=ArgInfo(INT, "bij,bjk->bik"), rest=[T(5, 4, 3), T(5, 3, 2)])
    assert str(r) == "float16[5, 4, 2]"
    with pytest.raises(ShapeError) as e:
        call("einsum", spec=ArgInfo(INT, "ij,jk->ik"), rest=[T(4, 3), T(2, 2)])
    assert e.value.message == "einsum index 'j' is 3 in operand 1 but 2 in operand 2"
    with pytest.raises(ShapeError) as e:
        call("einsum", spec=ArgInfo(INT, "ij,jk->ik"), rest=[T(4, 3)])
    assert e.value.message == 'einsum spec "ij,jk->ik" has 2 operands but 1 was given'
    with pytest.raises(ShapeError) as e:
        call("einsum", spec=ArgInfo(INT, "ijk,jk->ik"), rest=[T(4, 3), T(3, 2)])
    assert e.value.message == ('einsum operand 1 is float16[4, 3] (2 dimensions) but its '
                               'subscripts "ijk" name 3')
    with pytest.raises(ShapeError) as e:
        call("einsum", spec=ArgInfo(INT, "ij,jk->iz"), rest=[T(4, 3), T(3, 2)])
    assert e.value.message == 'einsum spec "ij,jk->iz": output index \'z\' does not appear in any operand'


def test_indexing():
    x = tensor(4, 3)
    assert str(S.index(x, [IndexItem("int", 0)])) == "float16[3]"
    assert str(S.index(x, [IndexItem("slice"), IndexItem("int", 1)])) == "float16[4]"
    assert str(S.index(x, [IndexItem("slice", start=1, stop=3, has_start=True,
                                     has_stop=True)])) == "float16[2, 3]"
    ids = tensor(5, dtype="int64")
    assert str(S.index(tensor(100, 16), [IndexItem("tensor", type=ids), IndexItem("slice")])) \
        == "float16[5, 16]"
    with pytest.raises(ShapeError) as e:
        S.index(x, [IndexItem("int", 0)] * 3)
    assert e.value.message == "float16[4, 3] has 2 dimensions but 3 indices were given"
    with pytest.raises(ShapeError) as e:
        S.index(x, [IndexItem("int", 4)])
    assert e.value.message == "index 4 is out of range for dimension 0 of float16[4, 3] (size 4)"


@given(st.integers(1, 6), st.one_of(st.none(), st.integers(-8, 8)),
       st.one_of(st.none(), st.integers(-8, 8)))
def test_slice_lengths_match_python(n, a, b):
    it = IndexItem("slice", start=a, stop=b, has_start=a is not None, has_stop=b is not None)
    assert S.index(tensor(n), [it]).dims == (len(range(n)[a:b]),)


def _Info(name, shape, dtype="F32", is_float=True):
    from tl_core.models.types import TensorInfo

    return TensorInfo(name, shape, dtype, None, 0, 0, is_float)


class _Header:
    path = "/x/model.safetensors"
    tensors = {"layer.0.weight": _Info("layer.0.weight", (2, 3)),
               "layer.0.bias": _Info("layer.0.bias", (2,)),
               "ids": _Info("ids", (4,), "I64", False),
               "mask": _Info("mask", (4,), "U8", False),
               "c": _Info("c", (2,), "C64", False)}


def test_get_tensor_rule():
    m = ArgInfo(ModelType("m", _Header()))
    r = call("get_tensor", model=m, name=ArgInfo(INT, "layer.0.weight"))
    assert str(r) == "float16[2, 3]"
    with pytest.raises(ShapeError) as e:
        call("get_tensor", model=m, name=ArgInfo(INT, "layer.0.weigth"))
    assert e.value.full_message() == ("model 'model.safetensors' has no tensor named "
                                      "'layer.0.weigth'; did you mean 'layer.0.weight' or 'layer.0.bias'?")
    # integer tensors load as integers (narrow ones widened to int32)
    assert str(call("get_tensor", model=m, name=ArgInfo(INT, "ids"))) == "int64[4]"
    assert str(call("get_tensor", model=m, name=ArgInfo(INT, "mask"))) == "int32[4]"
    with pytest.raises(ShapeError) as e:
        call("get_tensor", model=m, name=ArgInfo(INT, "c"))
    assert e.value.message == "tensor 'c' is C64 [2]: this dtype cannot be loaded"
    # a model without a header stays unknown
    assert call("get_tensor", model=ArgInfo(ModelType()), name=ArgInfo(INT, "x")).dims is None
