"""Completion and hover of model navigation (`model.blk[0].attn_q.weight`) on the real
SmolLM2 GGUF and MiniLM SafeTensors headers."""

from __future__ import annotations

from tests.model_files import minilm_path, smollm2_path
from tl_core import ide
from tl_core.check import analyze

SMOL = f'model = load_model("{smollm2_path().name}")\n'
BERT = f'bert = load_model("{minilm_path().name}")\n'


def smol(text: str):
    return analyze(text, str(smollm2_path().parent / "x.tl"))


def bert(text: str):
    return analyze(text, str(minilm_path().parent / "x.tl"))


def complete(a, offset=None):
    items = ide.complete_at(a, len(a.text) if offset is None else offset)
    return {c.label: c for c in items}, [c.label for c in items]


def test_after_model_dot_the_header_s_top_names_come_first():
    by, order = complete(smol(SMOL + "x = model."))
    assert order[:3] == ["blk", "output_norm", "token_embd"]
    assert by["blk"].detail == "[0..29]: 30 numbered groups"
    assert by["token_embd"].detail == ".weight: float16[49152, 576] · Q8_0"
    assert by["output_norm"].detail == ".weight: float16[576] · F32"
    assert {"get_tensor", "names", "metadata", "path"} <= set(order)


def test_after_a_layer_the_layer_s_children_with_shape_and_dtype():
    for text in (SMOL + "x = model.blk[0].",
                 SMOL + "x = rms_norm(model.blk[0].",  # inside a call, unfinished
                 SMOL + "x = model.blk[0].\nprint(1)\n"):
        offset = text.index("blk[0].") + len("blk[0].")
        by, order = complete(smol(text), offset)
        assert order == ["attn_k", "attn_norm", "attn_output", "attn_q", "attn_v", "ffn_down",
                         "ffn_gate", "ffn_norm", "ffn_up"], text
        assert by["attn_k"].detail == ".weight: float16[192, 576] · Q4_1"
        assert by["ffn_down"].detail == ".weight: float16[576, 1536] · Q4_1"


def test_the_last_step_lists_the_tensor_even_where_the_line_does_not_parse():
    text = SMOL + "x = model.blk[2].attn_q..shape\n"
    offset = text.index("attn_q.") + len("attn_q.")
    by, order = complete(smol(text), offset)
    assert order == ["weight"] and by["weight"].detail == "float16[576, 576] · Q4_1"
    assert by["weight"].doc == "tensor `blk.2.attn_q.weight`"


def test_an_index_known_only_at_run_time_lists_what_every_layer_has():
    text = SMOL + "for i in range(30) {\n    x = model.blk[i].ffn_up."
    by, order = complete(smol(text))
    assert order == ["weight"] and by["weight"].detail == "float16[1536, 576] · Q4_1"
    assert by["weight"].doc == "tensor `blk.{i}.ffn_up.weight` (30 layers)"


def test_safetensors_dotted_names():
    by, order = complete(bert(BERT + "x = bert.encoder.layer[5].attention.self."))
    assert order == ["key", "query", "value"]
    assert by["query"].detail == "group: bias, weight"
    by, order = complete(bert(BERT + "x = bert.embeddings."))
    assert by["position_ids"].detail == "int64[1, 512] · I64"


def test_hover_on_each_step():
    text = SMOL + "q = model.blk[0].attn_q.weight\nlayer = model.blk[4]\nk = layer.attn_k.weight\n"
    a = smol(text)
    h = ide.hover_at(a, text.index("weight") + 1)
    assert h.markdown.startswith('```tensorlogic\n"blk.0.attn_q.weight": float16[576, 576]\n```')
    assert "- source dtype: Q4_1" in h.markdown
    assert text[h.span.start:h.span.end] == "weight"
    h = ide.hover_at(a, text.index("attn_q") + 1)
    assert "model.blk[0].attn_q: model group 'blk.0.attn_q'" in h.markdown
    assert "- `weight`: float16[576, 576] · Q4_1" in h.markdown
    h = ide.hover_at(a, text.index("blk") + 1)
    assert "- numbered [0..29]: index with `model.blk[i]`" in h.markdown
    h = ide.hover_at(a, text.index("layer =") + 1)
    assert "layer: model group 'blk.4'" in h.markdown
    assert "- `attn_k`: .weight: float16[192, 576] · Q4_1" in h.markdown
    h = ide.hover_at(a, text.index("k = layer") + 1)
    assert "k: float16[192, 576]" in h.markdown


def test_hover_on_a_step_of_every_layer():
    text = SMOL + "for i in range(30) {\n    print(model.blk[i].ffn_down.weight)\n}\n"
    a = smol(text)
    h = ide.hover_at(a, text.index("weight") + 2)
    assert h.markdown.startswith('```tensorlogic\n"blk.{i}.ffn_down.weight": float16[576, 1536]')
    assert "- in 30 layers: `blk.0.ffn_down.weight` ... `blk.29.ffn_down.weight`" in h.markdown


def test_a_variable_given_several_layers_holds_every_layer():
    text = SMOL + "layer = model.blk[0]\nfor i in range(3) {\n    layer = model.blk[i]\n}\n" \
                  "w = layer.attn_q.weight\n"
    a = smol(text)
    assert [d.message for d in a.diagnostics] == []
    h = ide.hover_at(a, text.index("w = layer") + 5)
    assert "layer: model group 'blk.*'" in h.markdown
    h = ide.hover_at(a, text.index("w = layer"))
    assert "w: float16[576, 576]" in h.markdown
