"""Every program in examples/*.tl and examples/syntax/*.tl runs without a runtime error, and
the SmolLM2 example matches a NumPy float32 implementation of the same block on the same
weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.runtime import smollm2_ref
from tl_core.runtime import Session

ROOT = Path(__file__).resolve().parent.parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.tl"))
NEEDS_SMOLLM2 = {"smollm2_embed.tl", "chat_smollm2.tl"}  # chat: tests/runtime/test_chat_example.py


def run_example(path: Path) -> Session:
    s = Session(base_dir=path.parent, device="cpu")
    r = s.run(path.read_text(encoding="utf-8"))
    errs = [d.format(str(path)) for d in r.errors if d.severity.value == "error"]
    assert errs == [], "\n".join(errs)
    return s


def test_there_are_examples():
    assert EXAMPLES


@pytest.mark.parametrize("path", [p for p in EXAMPLES if p.name not in NEEDS_SMOLLM2],
                         ids=lambda p: p.name)
def test_example_runs(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_example(path)


# seed_models.tl holds the seed's placeholder paths: test_runtime_interpreter runs that
# snippet on small files at those paths
SYNTAX = sorted(p for p in (ROOT / "examples" / "syntax").glob("*.tl")
                if p.name != "seed_models.tl")


@pytest.mark.parametrize("path", SYNTAX, ids=lambda p: p.name)
def test_syntax_example_runs(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_example(path)


@pytest.mark.slow
def test_smollm2_block_matches_numpy(monkeypatch):
    from tests.model_files import smollm2_path
    from tl_core.models import load_model

    path = smollm2_path()
    monkeypatch.setenv("TL_SMOLLM2", str(path))
    s = run_example(smollm2_ref.EXAMPLE)
    import mlx.core as mx

    out = np.array(s.interpreter.globals.vars["out"].astype(mx.float32))
    model = load_model(path)
    meta = model.metadata
    ref = smollm2_ref.reference_block(
        smollm2_ref.weights_f32(model), smollm2_ref.IDS, meta["llama.attention.head_count"],
        meta["llama.attention.head_count_kv"], meta["llama.attention.layer_norm_rms_epsilon"],
        meta["llama.rope.freq_base"])
    assert out.shape == (len(smollm2_ref.IDS), 576)
    assert smollm2_ref.relative_error(out, ref) < 1e-2
