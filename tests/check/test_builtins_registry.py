import re
import subprocess
import sys

import pytest

from tl_core.lang.builtins import BUILTINS
from tl_core.lang.registry import (
    CATEGORIES,
    KINDS,
    REQUIRED,
    BindError,
    bind_arguments,
    signature_label,
)

SECTION_7 = """load_model save_model get_tensor model_from load_model_f32 tensor zeros ones full
arange rand randn shape len reshape transpose permute flatten squeeze unsqueeze concat split
slice slice_last broadcast_to matmul add sub mul div pow exp log sqrt abs sin cos tan tanh
sigmoid relu gelu silu softmax sum mean max min argmax argmin linear rms_norm layer_norm
embedding causal_mask apply_attention_mask rope einsum learnable print assert assert_eq env
str range range_i names load_tokenizer tokenize detokenize detokenize_single chat_prompt
temperature_sample top_k top_p seed chunk floor ceil round gather scatter to_int get
string_length string_substring assert_about_eq positional_encoding padding_mask combine_masks
precompute_rope_cos precompute_rope_sin fused_add_relu fused_mul_relu fused_affine
fused_gelu_linear load_model_f16 input KVCache::new KVCache::new_f16 KVCache::new_f32 set
append get_k get_v int_to_tokenids attention_with_cache dropout batch_norm apply_mask
Tensor::create_cache f16::from_array f32::from_array append_token detokenize_incremental
cleanup load_weight_cache_f16 load_weight_cache_f32 load_weight_cache_gguf_f16
load_weight_cache_gguf_f32 cndl_matmul cndl_transpose cndl_reshape cndl_softmax
cndl_log_softmax cndl_gelu cndl_silu cndl_relu cndl_tanh cndl_layer_norm cndl_rms_norm
cndl_embedding cndl_rope cndl_load_safetensor cndl_load_gguf_tensor cndl_list_safetensors
cndl_list_gguf_tensors cndl_load_model_safetensor cndl_save_model_safetensor
cndl_save_safetensor save load new_tensor_buffer TensorBuffer::zeros TensorBuffer::ones
TensorBuffer::alloc rank norm""".split()


def test_every_section_7_builtin_is_registered():
    assert sorted(SECTION_7) == sorted(BUILTINS)


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_entry_is_complete(name):
    """Every entry has all its parts: signature, argument kinds, purity, shape rule, docs
    and the runtime implementation (registered by tl_core.runtime.ops)."""
    import tl_core.runtime.interpreter  # noqa: F401 - loads every implementation

    b = BUILTINS[name]
    assert b.name == name
    assert len(b.doc) > 30 and "\n" not in b.doc
    assert b.category in CATEGORIES
    assert callable(b.shape_rule)
    assert isinstance(b.pure, bool)
    assert b.returns
    assert callable(b.impl())  # LookupError when it has none
    for p in b.params:
        assert re.fullmatch(r"[A-Za-z_]+", p.name)
        assert p.kind in KINDS
    names = [p.name for p in b.params]
    assert len(set(names)) == len(names)
    # required parameters come before optional ones
    req = [p.default is REQUIRED for p in b.params]
    assert req == sorted(req, reverse=True)


def test_signature_labels():
    assert signature_label(BUILTINS["softmax"]) == "softmax(x: tensor, dim: int = -1) -> tensor"
    assert signature_label(BUILTINS["einsum"]) == \
        "einsum(spec: spec, ...operands: tensor) -> tensor"
    assert signature_label(BUILTINS["linear"]) == \
        "linear(x: tensor, W: tensor, b: tensor = none) -> tensor"
    assert signature_label(BUILTINS["model_from"]) == "model_from(**tensors: tensor) -> Model"
    assert signature_label(BUILTINS["assert"]) == \
        'assert(cond: bool, msg: string = "") -> void'


def test_bind_positional_and_keyword():
    assert bind_arguments(BUILTINS["softmax"], 1, ["dim"]) == {"x": 0, "dim": "dim"}
    assert bind_arguments(BUILTINS["softmax"], 2, []) == {"x": 0, "dim": 1}
    assert bind_arguments(BUILTINS["einsum"], 3, []) == {"spec": 0, "operands": 1}
    assert bind_arguments(BUILTINS["print"], 0, []) == {}
    assert bind_arguments(BUILTINS["model_from"], 0, ["layer.0.weight", "b"]) == \
        {"layer.0.weight": "layer.0.weight", "b": "b"}


def test_bind_errors_have_exact_messages():
    with pytest.raises(BindError) as e:
        bind_arguments(BUILTINS["softmax"], 3, [])
    assert e.value.message == ("softmax() takes at most 2 arguments but 3 were given; "
                               "signature: softmax(x: tensor, dim: int = -1) -> tensor")
    assert e.value.position == 2
    with pytest.raises(BindError) as e:
        bind_arguments(BUILTINS["softmax"], 1, ["axis"])
    assert e.value.message == "softmax() has no parameter named 'axis'; parameters: x, dim"
    assert e.value.keyword == "axis"
    with pytest.raises(BindError) as e:
        bind_arguments(BUILTINS["reshape"], 0, [])
    assert e.value.message == ("reshape() missing required arguments 'x', 'shape'; "
                               "signature: reshape(x: tensor, shape: shape) -> tensor")
    with pytest.raises(BindError) as e:
        bind_arguments(BUILTINS["softmax"], 1, ["x"])
    assert e.value.message == "softmax() got argument 'x' twice (by position and by name)"
    with pytest.raises(BindError) as e:
        bind_arguments(BUILTINS["einsum"], 0, [])
    assert e.value.message.startswith("einsum() missing required arguments 'spec', 'operands'")


def test_impl_is_lazy_and_registry_import_is_light():
    code = ("import sys, tl_core.lang.builtins, tl_core.lang.rules, tl_core.check; "
            "print(any(m in sys.modules for m in ('mlx', 'gguf', 'coremltools')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_model_strings_are_declared_by_kind_not_by_name():
    """The checker and the IDE find model files and tensor names through these kinds."""
    assert [p.kind for p in BUILTINS["load_model"].params] == ["model_path"]
    assert [p.kind for p in BUILTINS["load_model_f32"].params] == ["model_path"]
    assert [p.kind for p in BUILTINS["get_tensor"].params] == ["model", "tensor_name"]
    # labels read as plain strings
    assert signature_label(BUILTINS["get_tensor"]) == \
        "get_tensor(model: model, name: string) -> tensor"


def test_purity_replaces_the_impure_list():
    impure = {n for n, b in BUILTINS.items() if not b.pure}
    assert {"print", "rand", "randn", "load_model", "get_tensor", "env", "len"} <= impure
    assert {"save", "load", "new_tensor_buffer", "TensorBuffer::alloc"} <= impure
    assert not ({"softmax", "matmul", "rope", "linear", "exp"} & impure)


def test_implements_rejects_unknown_names_and_second_implementations():
    from tl_core.lang.builtins import implements

    with pytest.raises(KeyError, match="no built-in of that name"):
        implements("no_such_builtin")(lambda ctx: None)
    import tl_core.runtime.ops  # noqa: F401

    with pytest.raises(ValueError, match="already has an implementation"):
        implements("softmax")(lambda ctx, x, dim=-1: x)


def test_lang_imports_no_mlx_check_or_runtime():
    code = ("import sys, tl_core.lang.builtins, tl_core.lang.keywords, tl_core.lang.dtypes; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'mlx' or "
            "m.startswith(('tl_core.check', 'tl_core.runtime'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"
