"""Unit tests for every query of tl_core.ide, on complete and on half-typed documents."""

from pathlib import Path

from tl_core import ide
from tl_core.check import analyze

GOLDEN = Path(__file__).resolve().parent.parent / "check" / "golden"
SEED = (GOLDEN / "seed_linear.tl").read_text()


def at(text: str, marker: str, delta: int = 0) -> int:
    return text.index(marker) + delta


def seed():
    return analyze(SEED, "/tmp/seed.tl")


# -- hover ---------------------------------------------------------------------

def test_seed_hover_on_output_is_float16_4_2():
    a = seed()
    h = ide.hover_at(a, at(SEED, "let output = forward", 5))
    assert h is not None and "float16[4, 2]" in h.markdown
    assert SEED[h.span.start:h.span.end] == "output"
    use = ide.hover_at(a, at(SEED, "output.shape", 1))
    assert "output: float16[4, 2]" in use.markdown


def test_hover_symbolic_inside_fn_and_on_function_and_builtin():
    a = seed()
    h = ide.hover_at(a, at(SEED, "let output = input", 5))
    assert "output: float16[N, D_out]" in h.markdown
    h = ide.hover_at(a, at(SEED, "forward(X", 2))
    assert "fn forward(input: float16[N, D_in], weights: float16[D_in, D_out], " \
           "bias: float16[D_out]) -> float16[N, D_out]" in h.markdown
    assert "forward(input: float16[N=4, D_in=3], weights: float16[D_in=3, D_out=2], " \
           "bias: float16[D_out=2]) -> float16[N=4, D_out=2]" in h.markdown
    h = ide.hover_at(a, at(SEED, "print(", 1))
    assert 'print(...values: any, end: string = "\\n") -> void' in h.markdown
    assert "Print values" in h.markdown


def test_hover_on_expression_gives_its_type():
    text = "let a = ones([4, 3])\nlet b = ones([3, 2])\nprint((a @ b).shape)\n"
    a = analyze(text)
    h = ide.hover_at(a, at(text, "@"))
    assert h is not None and "float16[4, 2]" in h.markdown


def test_hover_model_and_tensor_string(model_dir):
    text = 'm = load_model("tiny.safetensors")\nw = m.get_tensor("layer.0.weight")\n'
    a = analyze(text, str(model_dir / "prog.tl"))
    h = ide.hover_at(a, at(text, "m.get", 0))
    md = h.markdown
    assert "**safetensors**" in md and "tensors: 4" in md and "parameters: 21" in md
    assert "file size:" in md and "architecture: toy" in md
    h = ide.hover_at(a, at(text, "layer.0.weight", 3))
    assert '"layer.0.weight": float16[2, 3]' in h.markdown
    assert "source dtype: F32" in h.markdown and "(24 bytes)" in h.markdown
    h = ide.hover_at(a, at(text, "tiny.safe", 2))
    assert "tensors: 4" in h.markdown


def test_hover_says_which_dtype_an_integer_tensor_loads_as(model_dir):
    """An I64 tensor loads as int64 (issue 16): the tensor's name, the variable holding it
    and get_tensor's own documentation say so (the doc said integers cannot be loaded)."""
    from tl_core.models.types import LOADED_INTEGER_DTYPES

    text = 'm = load_model("tiny.safetensors")\nids = m.get_tensor("embed.ids")\nprint(ids)\n'
    a = analyze(text, str(model_dir / "prog.tl"))
    h = ide.hover_at(a, at(text, "embed.ids", 2)).markdown
    assert '"embed.ids": int64[5]' in h and "source dtype: I64" in h
    assert "ids: int64[5]" in ide.hover_at(a, at(text, "ids =", 1)).markdown
    doc = ide.hover_at(a, at(text, "get_tensor", 1)).markdown
    assert "cannot be loaded" not in doc
    for dtype in set(LOADED_INTEGER_DTYPES.values()):
        assert f"`{dtype}`" in doc, dtype


def test_hover_get_tensor_real_gguf_quantization():
    from tests.model_files import smollm2_path

    p = smollm2_path()
    text = f'model = load_model("{p.name}")\nq = model.get_tensor("blk.0.attn_q.weight")\n'
    a = analyze(text, str(p.parent / "x.tl"))
    h = ide.hover_at(a, at(text, "blk.0.attn_q", 2))
    assert "float16[576, 576]" in h.markdown and "Q4_1" in h.markdown
    h = ide.hover_at(a, at(text, "model =", 1))
    assert "**gguf**" in h.markdown and "tensors: 272" in h.markdown
    assert "general.architecture: llama" in h.markdown


def test_hover_shows_constant_values():
    text = 'let n = 4\nlet m = n * 2\nlet s = "gguf"\nprint(m, s)\n'
    a = analyze(text)
    assert "m: int = 8" in ide.hover_at(a, at(text, "let m", 4)).markdown
    assert 's: string = "gguf"' in ide.hover_at(a, at(text, "let s", 4)).markdown


def test_hover_on_keyword_argument_name():
    text = "let x = ones([2, 3])\nlet y = softmax(x, dim: 0)\nlet z = tensor<float16>([1.0], device: gpu)\n"
    a = analyze(text)
    h = ide.hover_at(a, at(text, "dim:", 1))
    assert "dim: int = -1" in h.markdown and "the axis that sums to 1" in h.markdown
    h = ide.hover_at(a, at(text, "device:", 1))
    assert "device: device = gpu" in h.markdown
    text = SEED + "let o2 = forward(X, W, bias: b)\n"
    h = ide.hover_at(analyze(text), at(text, "bias: b", 1))
    assert "param bias: float16[D_out]" in h.markdown


def test_hover_never_raises_on_garbage():
    text = "let = = ( [ fn {"
    a = analyze(text)
    for i in range(len(text) + 1):
        ide.hover_at(a, i)


# -- completion ------------------------------------------------------------------

def labels(items):
    return [c.label for c in items]


def test_complete_tensor_names_while_typing(model_dir):
    text = 'm = load_model("tiny.safetensors")\nw = m.get_tensor("layer.0.'
    a = analyze(text, str(model_dir / "prog.tl"))
    assert a.parse.errors  # the document does not parse
    items = ide.complete_at(a, len(text))
    assert sorted(labels(items)) == ["layer.0.bias", "layer.0.weight"]
    w = next(c for c in items if c.label == "layer.0.weight")
    assert w.detail == "float16[2, 3] · F32"
    sp = w.replace_span
    assert text[sp.start:sp.end] == "layer.0."


def test_complete_tensor_names_function_form_and_integer_detail(model_dir):
    text = 'm = load_model("tiny.safetensors")\nw = get_tensor(m, "'
    a = analyze(text, str(model_dir / "prog.tl"))
    items = ide.complete_at(a, len(text))
    assert set(labels(items)) == {"layer.0.weight", "layer.0.bias", "layer.1.weight",
                                  "embed.ids"}
    ids = next(c for c in items if c.label == "embed.ids")
    assert "integer" in ids.detail


def test_complete_strings_by_parameter_kind_not_position(model_dir):
    """A tensor name by keyword, and no tensor names in a string that fills another kind
    (`save_model`'s path is a plain string, `get_tensor`'s first slot is the model)."""
    text = 'm = load_model("tiny.safetensors")\nw = get_tensor(m, name: "layer.1'
    a = analyze(text, str(model_dir / "prog.tl"))
    assert labels(ide.complete_at(a, len(text))) == ["layer.1.weight"]
    for text in ('m = load_model("tiny.safetensors")\nsave_model(m, "',
                 'm = load_model("tiny.safetensors")\nw = get_tensor("'):
        a = analyze(text, str(model_dir / "prog.tl"))
        assert ide.complete_at(a, len(text)) == [], text


def test_complete_real_smollm2_dotted_prefix():
    from tests.model_files import smollm2_path

    p = smollm2_path()
    text = f'model = load_model("{p.name}")\nx = model.get_tensor("blk.0.'
    a = analyze(text, str(p.parent / "x.tl"))
    items = ide.complete_at(a, len(text))
    names = labels(items)
    assert len(names) == 9 and all(n.startswith("blk.0.") for n in names)
    q = next(c for c in items if c.label == "blk.0.attn_q.weight")
    assert q.detail == "float16[576, 576] · Q4_1"


def test_complete_load_model_paths(model_dir):
    text = 'm = load_model("'
    a = analyze(text, str(model_dir / "prog.tl"))
    items = ide.complete_at(a, len(text))
    assert labels(items) == ["sub/other.safetensors", "tiny.safetensors"]
    assert all(c.kind == "file" for c in items)
    text = 'm = load_model("sub/'
    a = analyze(text, str(model_dir / "prog.tl"))
    assert labels(ide.complete_at(a, len(text))) == ["sub/other.safetensors"]


def test_complete_members_after_dot(model_dir):
    text = 'm = load_model("tiny.safetensors")\nx = ones([2, 3])\nprint(x.'
    a = analyze(text, str(model_dir / "prog.tl"))
    items = ide.complete_at(a, len(text))
    assert labels(items) == ["shape", "T", "dtype", "ndim", "size"]
    assert items[0].detail == "shape[2, 3]" and items[1].detail == "float16[3, 2]"
    text2 = text[:-2] + "m."
    a = analyze(text2, str(model_dir / "prog.tl"))
    # the model's own groups first (navigation: m.layer[0].weight), then its methods, fields
    assert labels(ide.complete_at(a, len(text2))) == ["embed", "layer", "get_tensor", "names",
                                                       "save_model", "metadata", "path"]
    text3 = text[:-2] + "m.metadata."
    a = analyze(text3, str(model_dir / "prog.tl"))
    assert "format" in labels(ide.complete_at(a, len(text3)))
    assert "architecture" in labels(ide.complete_at(a, len(text3)))


def test_complete_metadata_keys_in_brackets():
    from tests.model_files import smollm2_path

    p = smollm2_path()
    text = f'model = load_model("{p.name}")\nmeta = model.metadata\nn = meta["llama.attention.'
    a = analyze(text, str(p.parent / "x.tl"))
    items = ide.complete_at(a, len(text))
    assert "llama.attention.head_count" in labels(items)
    assert all(c.label.startswith("llama.attention.") for c in items)
    hc = next(c for c in items if c.label == "llama.attention.head_count")
    assert hc.detail == "9"
    text2 = text + 'head_count"]\n'
    a = analyze(text2, str(p.parent / "x.tl"))
    h = ide.hover_at(a, at(text2, "llama.attention.head", 3))
    assert h is not None and h.markdown.endswith("\n\n9")


def test_complete_general_scope_builtins_keywords_snippets():
    text = "fn f(x: float16[N]) -> float16[N] {\n    let inner = x\n    \n}\nlet top = 1\n"
    a = analyze(text)
    items = ide.complete_at(a, at(text, "x\n    \n", 6))
    by = {(c.label, c.kind): c for c in items}
    assert ("x", "parameter") in by and ("inner", "variable") in by
    assert ("f", "function") in by
    assert ("top", "variable") not in by  # declared later in the file
    assert by[("softmax", "function")].detail == "softmax(x: tensor, dim: int = -1) -> tensor"
    assert ("return", "keyword") in by and ("tensor", "keyword") in by  # tensor: contextual
    snip = by[("fn", "snippet")]
    assert snip.is_snippet and "${1:name}" in snip.insert_text
    assert ("for", "snippet") in by and ("main", "snippet") in by
    rs = by[("x", "parameter")].replace_span
    assert rs.start == rs.end == at(text, "x\n    \n", 6)


def test_complete_with_prefix_filters_by_first_letter_and_replaces_it():
    text = "let inner = 1\nlet x = in"
    a = analyze(text)
    items = ide.complete_at(a, len(text))
    assert {c.label[0].lower() for c in items} == {"i"}
    assert "inner" in labels(items) and "in" in labels(items)
    rs = items[0].replace_span
    assert text[rs.start:rs.end] == "in"


def test_complete_types_in_type_positions():
    for text in ("fn f(x: ", "fn f(x: float16[N]) -> ", "let y: ", "let z = ones([2]) as ",
                 "let t = tensor<"):
        a = analyze(text)
        items = ide.complete_at(a, len(text))
        assert "float16" in labels(items) and "softmax" not in labels(items), text
    text = "let x = softmax(ones([2]), dim: "
    assert "float16" not in labels(ide.complete_at(analyze(text), len(text)))


def test_complete_nothing_in_comments():
    text = "// a comment with sof"
    a = analyze(text)
    assert ide.complete_at(a, len(text)) == []


# -- signature help --------------------------------------------------------------

def test_signature_builtin_active_param_and_keyword():
    text = "let x = ones([2, 2])\nlet y = softmax(x, "
    a = analyze(text)
    s = ide.signature_at(a, len(text))
    assert s.signatures[0].label == "softmax(x: tensor, dim: int = -1) -> tensor"
    assert s.active_param == 1
    assert s.signatures[0].params[1] == ("dim: int = -1", "the axis that sums to 1")
    text2 = "let x = ones([2, 2])\nlet y = sum(x, keepdim: "
    s = ide.signature_at(analyze(text2), len(text2))
    assert s.active_param == 2


def test_signature_user_fn_nested_and_lists():
    text = SEED + "\nlet z = forward(X, relu(W), "
    a = analyze(text)
    s = ide.signature_at(a, len(text))
    assert s.signatures[0].label.startswith("forward(input: float16[N, D_in]")
    assert s.active_param == 2
    inner = "let q = concat([ones([2]), "
    s = ide.signature_at(analyze(inner), len(inner))
    assert s.signatures[0].label.startswith("concat(") and s.active_param == 0
    s = ide.signature_at(analyze("let q = foo(1, "), len("let q = foo(1, "))
    assert s is None


def test_signature_method_get_tensor_and_variadic():
    text = 'm = load_model("x.safetensors")\nw = m.get_tensor('
    s = ide.signature_at(analyze(text), len(text))
    assert s.signatures[0].label.startswith("get_tensor(") and s.active_param == 1
    text = 'print(1, 2, 3, '
    s = ide.signature_at(analyze(text), len(text))
    assert s.active_param == 0  # the one variadic parameter


# -- definition, references, rename -------------------------------------------------

def test_definition_and_references():
    a = seed()
    d = ide.definition_at(a, at(SEED, "forward(X", 1))
    assert len(d) == 1 and d[0].span.line == 0 and SEED[d[0].span.start:d[0].span.end] == "forward"
    refs = ide.references(a, at(SEED, "output.shape", 1))
    assert [r.span.line for r in refs] == [20, 21, 22]
    refs = ide.references(a, at(SEED, "output.shape", 1), include_declaration=False)
    assert [r.span.line for r in refs] == [21, 22]
    assert ide.definition_at(a, at(SEED, "print(", 1)) == []


def test_definition_through_import():
    p = GOLDEN / "imports" / "use_lib.tl"
    text = p.read_text()
    a = analyze(text, str(p))
    d = ide.definition_at(a, at(text, "scale(", 1))
    assert d[0].path == str(GOLDEN / "imports" / "lib.tl") and d[0].span.line == 1
    d = ide.definition_at(a, at(text, '"lib.tl"', 2))
    assert d[0].path == str(GOLDEN / "imports" / "lib.tl")


def test_rename_edits_and_validation():
    a = seed()
    off = at(SEED, "let W", 4)
    assert SEED[ide.prepare_rename(a, off).start:][:1] == "W"
    r = ide.rename(a, off, "weights2")
    assert r.error is None
    assert [(e.span.line, e.new_text) for e in r.edits] == [(14, "weights2"), (20, "weights2")]
    assert ide.rename(a, off, "for").error == "'for' is a keyword and cannot be used as a name"
    assert ide.rename(a, off, "2x").error.startswith("'2x' is not a valid name")
    assert "already defined" in ide.rename(a, off, "X").error
    fn = at(SEED, "forward(X", 1)
    assert "built-in" in ide.rename(a, fn, "softmax").error
    r = ide.rename(a, fn, "linear_map")
    assert len(r.edits) == 2 and r.error is None
    assert ide.prepare_rename(a, at(SEED, "print(", 1)) is None


# -- outline answers ------------------------------------------------------------------

def test_document_symbols_models_with_tensors(model_dir):
    text = ('fn f(x: float16[N]) -> float16[N] {\n    return x\n}\n'
            'm = load_model("tiny.safetensors")\nlet y = ones([2])\n'
            'main {\n    let z = y\n}\nstruct P { a: float16[2] }\n')
    a = analyze(text, str(model_dir / "p.tl"))
    syms = ide.document_symbols(a)
    assert [(s.name, s.kind) for s in syms] == [("f", "function"), ("m", "model"),
                                                ("y", "variable"), ("main", "main"),
                                                ("P", "struct")]
    m = syms[1]
    from tl_core.models import read_header

    assert [c.name for c in m.children] == list(read_header(model_dir / "tiny.safetensors").tensors)
    w = next(c for c in m.children if c.name == "layer.0.weight")
    assert w.detail == "float16[2, 3] F32" and w.kind == "tensor"
    assert syms[0].detail == "(x: float16[N]) -> float16[N]"
    assert [c.name for c in syms[3].children] == ["z"]
    assert [c.name for c in syms[4].children] == ["a"]


def test_a_fn_symbol_holds_its_parameters_and_locals():
    text = ("fn scale(t: float16[N], k: float16[N]) -> float16[N] {\n"
            "    let s = t * k\n    return s\n}\n")
    (fn,) = ide.document_symbols(analyze(text))
    assert [(c.name, c.kind, c.detail) for c in fn.children] == [
        ("t", "variable", "float16[N]"), ("k", "variable", "float16[N]"),
        ("s", "variable", "float16[N]")]
    assert fn.children[0].selection_span.start == text.index("t:")


def test_inlay_hints_only_without_written_type():
    text = "let a = ones([2, 3])\nlet b: float16[2, 3] = a\nc = a @ ones([3, 4])\n"
    a = analyze(text)
    hints = ide.inlay_hints(a, 0, len(text))
    assert [(text[:h.offset].splitlines()[-1], h.label) for h in hints] == [
        ("let a", ": float16[2, 3]"), ("c", ": float16[2, 4]")]
    assert ide.inlay_hints(a, 30, len(text)) == [hints[1]]


def test_semantic_tokens():
    a = seed()
    toks = {(SEED[t.span.start:t.span.end], t.type, t.modifiers) for t in ide.semantic_tokens(a)}
    assert ("fn", "keyword", ()) in toks
    assert ("forward", "function", ("declaration",)) in toks
    assert ("forward", "function", ()) in toks
    assert ("input", "parameter", ("declaration",)) in toks
    assert ("float16", "type", ()) in toks
    assert ("print", "function", ("defaultLibrary",)) in toks
    assert ("// linear map: output = input @ weights + bias", "comment", ()) in toks
    assert ("shape", "property", ()) in toks
    assert all(t.type in ide.SEMANTIC_TOKEN_TYPES for t in ide.semantic_tokens(a))


def test_folding_ranges_and_cells():
    text = "// %% first\nlet a = 1\n\n// %% second\nfn f() -> int {\n    return 1\n}\n/* a\nb */\n"
    a = analyze(text)
    folds = ide.folding_ranges(a)
    assert ide.Fold(4, 5, None) in folds
    assert ide.Fold(0, 1, "region") in folds and ide.Fold(3, 8, "region") in folds
    assert ide.Fold(7, 8, "comment") in folds


def test_code_lenses():
    text = "let a = 1\n// %% cell two\nprint(a)\n  // %% indented\n"
    lenses = ide.code_lenses(analyze(text))
    assert [(x.title, x.command, x.arguments) for x in lenses] == [
        ("Run file", "tensorlogic.runFile", ()),
        ("Run cell", "tensorlogic.runCell", ({"line": 1},)),
        ("Run cell", "tensorlogic.runCell", ({"line": 3},)),
    ]


def test_format_document_idempotent_and_keeps_comments():
    text = "let   a=ones([2,3]) // keep me\nprint( a )\n"
    a = analyze(text)
    edits = ide.format_document(a)
    try:
        from tl_core.syntax.format import format_text
    except ImportError:
        assert edits == []
        return
    assert len(edits) == 1
    new = edits[0].new_text
    assert new == format_text(text) and "// keep me" in new
    assert ide.format_document(analyze(new)) == []


def test_queries_work_on_broken_documents():
    text = SEED + "\nfn broken(x: float16[N] {\n    let y = x @\n"
    a = analyze(text)
    assert a.parse.errors
    assert "float16[4, 2]" in ide.hover_at(a, at(text, "let output = forward", 5)).markdown
    assert ide.document_symbols(a)
    assert ide.semantic_tokens(a)
    ide.folding_ranges(a)
    ide.inlay_hints(a, 0, len(text))
    ide.code_lenses(a)
    for off in range(len(SEED), len(text) + 1):
        ide.complete_at(a, off)
        ide.signature_at(a, off)
        ide.hover_at(a, off)
        ide.definition_at(a, off)
        ide.references(a, off)
        ide.prepare_rename(a, off)


def test_tests_and_benches_inside_main_are_in_the_outline():
    text = "main {\n    let a = 1\n    test t { assert(a == 1) }\n    bench b { }\n}\n"
    (main,) = ide.document_symbols(analyze(text))
    assert [(c.name, c.kind) for c in main.children] == [("a", "variable"), ("t", "test"),
                                                         ("b", "bench")]
