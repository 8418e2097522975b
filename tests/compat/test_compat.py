"""The compatibility corpus: programs written as for the original TensorLogic (tutorials,
built-in probes, SmolLM2 demos on the real GGUF) under programs/, each run and its output
checked against tests/compat/expected.py (formulas, NumPy, the gguf package)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.compat.expected import CASES
from tests.compat.reference import compare
from tl_core.check import analyze
from tl_core.diagnostics import Severity
from tl_core.runtime import Session

PROGRAMS = Path(__file__).resolve().parent / "programs"
FILES = sorted(PROGRAMS.glob("*.tl"))


def test_the_corpus_is_whole():
    assert len(FILES) >= 40
    assert {p.stem for p in FILES} == set(CASES)
    kinds = {p.stem.split("_")[0] for p in FILES}
    assert kinds == {"tut", "probe", "smol"}


def base_dir(name: str) -> Path:
    if CASES[name].model:
        from tests.model_files import smollm2_path

        return smollm2_path().parent
    return PROGRAMS


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_program_checks_and_runs_with_the_expected_output(path: Path, tmp_path: Path):
    name = path.stem
    c = CASES[name]
    text = path.read_text(encoding="utf-8")
    base = tmp_path if c.writes else base_dir(name)
    where = base / path.name  # model paths resolve next to the model
    errors = [d.message for d in analyze(text, str(where)).diagnostics
              if d.severity == Severity.ERROR]
    assert errors == []
    r = Session(base_dir=base, device="cpu", path=where).run(text)
    assert [d.message for d in r.errors if d.severity == Severity.ERROR] == []
    got = r.stdout
    if c.select is not None:
        got = "".join(line + "\n" for line in got.splitlines() if c.select(line))
    problem = compare(got, c.expected(), c.rtol, c.atol)
    assert problem is None, problem


def test_compare_reads_numbers_as_numbers_and_words_as_words():
    assert compare("x = 2\n", "x = 2.0\n", 0, 0) is None
    assert compare("tiny 1e-07", "tiny 0.0000001", 1e-9, 0) is None
    assert compare("tensor([1., -inf], float32[2], cpu)", "tensor([1.0, -inf], float32[2], cpu)",
                   0, 0) is None
    assert compare("x = 2.1", "x = 2.0", 1e-3, 1e-3) is not None
    assert compare("y = 2", "x = 2", 1, 1) is not None
    assert compare("x = 2 3", "x = 2", 1, 1) is not None
    assert compare("tensor([1.], float16[1], cpu)", "tensor([1.], float32[1], cpu)", 1, 1)
