"""The checker's contract: examples check clean, the seed programs, never raising."""

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tl_core.check import analyze
from tl_core.diagnostics import Severity
from tl_core.lang.types import ModelType, TensorType

ROOT = Path(__file__).resolve().parent.parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"
EXAMPLES = sorted((ROOT / "examples").rglob("*.tl"))


def errors(a):
    return [d for d in a.diagnostics if d.severity == Severity.ERROR]


def test_examples_exist():
    assert len(EXAMPLES) >= 5


@pytest.mark.parametrize("p", EXAMPLES, ids=lambda p: str(p.relative_to(ROOT / "examples")))
def test_example_checks_without_errors(p):
    """LANGUAGE.md: every program in examples/ must parse, check without error, and run."""
    a = analyze(p.read_text(encoding="utf-8"), str(p))
    assert [d.format(str(p)) for d in errors(a)] == []


def test_seed_program_types():
    text = (GOLDEN / "seed_linear.tl").read_text()
    a = analyze(text)
    assert a.diagnostics == ()
    out = next(b for b in a.bindings if b.name == "output" and b.scope.kind == "script")
    assert str(out.type) == "float16[4, 2]"
    inner = next(b for b in a.bindings if b.name == "output" and b.scope.kind == "fn")
    assert str(inner.type) == "float16[N, D_out]"


def test_seed_with_w_as_2x3_errors_on_w_naming_d_in():
    text = (GOLDEN / "seed_linear_w_transposed.tl").read_text()
    a = analyze(text)
    [d] = errors(a)
    assert text[d.span.start:d.span.end] == "W"
    assert d.span.line == text.splitlines().index("let output = forward(X, W, b)")
    assert "D_in" in d.message and "3" in d.message and "2" in d.message
    assert "argument 'input'" in d.message
    assert d.related and text[d.related[0].span.start:d.related[0].span.end] == "X"


def test_seed_models_snippet_has_no_errors():
    a = analyze((GOLDEN / "seed_models.tl").read_text())
    assert errors(a) == []
    assert all(d.code == "model-file" for d in a.diagnostics)


def test_model_type_holds_header(tmp_path):
    import numpy as np
    from safetensors.numpy import save_file

    save_file({"w": np.zeros((3, 4), np.float32)}, str(tmp_path / "m.safetensors"))
    a = analyze('m = load_model("m.safetensors")\nw = m.get_tensor("w")\n',
                str(tmp_path / "p.tl"))
    m = next(b for b in a.bindings if b.name == "m")
    assert isinstance(m.type, ModelType) and list(m.type.header.tensors) == ["w"]
    w = next(b for b in a.bindings if b.name == "w")
    assert w.type == TensorType("float16", (3, 4))


def test_corrupt_model_file_is_an_error_on_the_path(tmp_path):
    (tmp_path / "bad.safetensors").write_bytes(b"\xff" * 16)
    text = 'm = load_model("bad.safetensors")\n'
    a = analyze(text, str(tmp_path / "p.tl"))
    [d] = a.diagnostics
    assert d.severity == Severity.ERROR and d.code == "model-file"
    assert text[d.span.start:d.span.end] == '"bad.safetensors"'
    assert d.message.startswith("cannot open model 'bad.safetensors': ")


def test_fn_visible_before_declaration_and_unknown_stays_unknown():
    text = ("let y = double(ones([3]))\n"
            "fn double(x: float16[N]) -> float16[N] {\n    return x * 2.0\n}\n"
            "let z = double(randn(env(\"SHAPE\")))\nlet w = z @ z\n")
    a = analyze(text)
    assert a.diagnostics == ()


TOKENS = st.sampled_from(["let", "x", "=", "(", ")", "[", "]", "{", "}", "fn", "@", "+", ",",
                          "1", "2.0", '"s"', "\n", "ones", "softmax", ".", "shape", ":",
                          "return", "for", "in", "range", "import", "load_model", "->",
                          "float16", "N", "if", "else", "break", "main", "tensor", "<", ">"])


@settings(max_examples=150, deadline=None)
@given(st.lists(TOKENS, max_size=40))
def test_analyze_never_raises(tokens):
    text = " ".join(tokens)
    a = analyze(text)
    assert a.text == text
    assert not any(d.code == "internal" for d in a.diagnostics), a.diagnostics
