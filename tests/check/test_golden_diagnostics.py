"""Golden diagnostics: every program under golden/ is checked and its diagnostics (exact
messages and ranges) compared with the `.expected` file next to it.

Ranges are written 1-based, `line:col-end_line:end_col`, as an editor shows them. Programs
under golden/real/ are analysed as if they sat next to the real model files (SmolLM2 GGUF,
MiniLM SafeTensors from tests/model_files.py), so their `load_model` paths resolve there.
Regenerate an expectation only after reading the new output: `python -m tests.check.render`.
"""

from pathlib import Path

import pytest

from tests.check.render import GOLDEN, analysis_path, render

CASES = sorted(p for p in GOLDEN.rglob("*.tl") if p.with_suffix(".expected").exists())


def test_enough_golden_programs():
    assert len(CASES) >= 40
    real = [p for p in CASES if p.parent.name == "real"]
    assert len(real) >= 10
    clean = [p for p in CASES if not p.with_suffix(".expected").read_text().strip()]
    assert len(clean) >= 10  # correct programs, not only wrong ones


@pytest.mark.parametrize("case", CASES, ids=lambda p: str(p.relative_to(GOLDEN)))
def test_golden(case: Path):
    got = render(case.read_text(encoding="utf-8"), analysis_path(case))
    assert got == case.with_suffix(".expected").read_text(encoding="utf-8")
