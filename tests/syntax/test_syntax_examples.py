"""Every example program and every snippet of LANGUAGE.md section 9 parses without errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tl_core.syntax import ast as A
from tl_core.syntax import parse

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.tl")) + sorted((ROOT / "examples" / "syntax").glob("*.tl"))

SEED_MODELS = """model = load_model("path/to/model.safetensors")
model = load_model("path/to/llama-7b-q4.gguf")
weights = model.get_tensor("layer.0.weight")
bias = model.get_tensor("layer.0.bias")
save_model(model, "output.safetensors")
"""

SEED_LINEAR = """fn forward(input: float16[N, D_in],
                 weights: float16[D_in, D_out],
                 bias: float16[D_out]) -> float16[N, D_out] {
    // linear map: output = input @ weights + bias
    let output = input @ weights
    return output + bias
}

let X = tensor<float16>([
    [1.0, 2.0, 3.0],
    [4.0, 5.0, 6.0],
    [7.0, 8.0, 9.0],
    [10.0, 11.0, 12.0]
], device: gpu)
let W = tensor<float16>([
    [0.1, 0.2],
    [0.3, 0.4],
    [0.5, 0.6]
], device: gpu)
let b = tensor<float16>([0.01, 0.02], device: gpu)
let output = forward(X, W, b)
print("Output shape:", output.shape)
print("Output:", output)
"""

SIBLINGS = [
    "embedding_table[token_id, :]",
    "tensor<int>([1, 2, 3, 4], device: gpu)",
    "model.metadata.format",
]

SEED_LINES = SEED_MODELS.splitlines()


def test_there_are_enough_examples() -> None:
    assert len([p for p in EXAMPLES if p.parent.name == "examples"]) >= 15


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(ROOT)))
def test_example_parses_clean(path: Path) -> None:
    result = parse(path.read_text(encoding="utf-8"))
    assert [d.format(str(path)) for d in result.errors] == []
    assert result.program.items
    assert not any(isinstance(n, (A.ErrorStmt, A.ErrorExpr)) for n in A.walk(result.program))


@pytest.mark.parametrize("snippet", [SEED_MODELS, SEED_LINEAR, *SIBLINGS, *SEED_LINES])
def test_seed_snippet_parses(snippet: str) -> None:
    result = parse(snippet)
    assert result.errors == ()
    assert result.program.items


def test_seed_files_match_language_md() -> None:
    assert (ROOT / "examples" / "seed_linear.tl").read_text(encoding="utf-8") == SEED_LINEAR
    text = (ROOT / "examples" / "syntax" / "seed_models.tl").read_text(encoding="utf-8")
    assert SEED_MODELS in text


def test_seed_linear_tree() -> None:
    prog = parse(SEED_LINEAR).program
    fn = prog.items[0]
    assert isinstance(fn, A.FnDecl)
    assert fn.name == "forward"
    assert [p.name for p in fn.params] == ["input", "weights", "bias"]
    t = fn.params[0].type
    assert isinstance(t, A.TensorTypeExpr)
    assert t.dtype == "float16"
    assert [(d.kind, d.value) for d in t.dims] == [("var", "N"), ("var", "D_in")]
    assert isinstance(fn.ret, A.TensorTypeExpr)
    ret = fn.body.stmts[1]
    assert isinstance(ret, A.Return) and isinstance(ret.value, A.Binary) and ret.value.op == "+"
    let_x = prog.items[1]
    assert isinstance(let_x, A.Let) and isinstance(let_x.value, A.TensorCtor)
    ctor = let_x.value
    assert ctor.dtype == "float16"
    assert ctor.args[1].name == "device"
    assert isinstance(ctor.args[0].value, A.ArrayLiteral) and len(ctor.args[0].value.items) == 4
    call = prog.items[-1].expr
    assert isinstance(call, A.Call) and call.func.id == "print"
    # spans: the `fn` item starts at 0:0 and its name at 0:3
    assert (fn.span.line, fn.span.col, fn.name_span.col, fn.name_span.end_col) == (0, 0, 3, 10)


def test_comments_are_collected_with_unicode() -> None:
    text = "// 한국어 コメント 🚀\nlet x = 1 /* 블록 */\n"
    result = parse(text)
    assert result.errors == ()
    assert [c.text for c in result.comments] == ["// 한국어 コメント 🚀", "/* 블록 */"]
    c = result.comments[1].span
    assert (c.line, c.col, c.end_col) == (1, 10, 18)
