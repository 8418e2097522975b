"""Paths no file can have, named by a program (issue 17): a NUL character in a model,
tokenizer, import or save path, and an import through a symlink loop. The checker, hover and a
run each give a clear error; they gave "internal checker error: ValueError: embedded null
byte", and a run's import an internal error (ValueError, RuntimeError: Symlink loop)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tl_core import ide
from tl_core.check import analyze
from tl_core.runtime import Session

NUL = "the path contains a NUL character (\\0), which no file path can hold"


def check(text: str, base: Path) -> list[tuple[int, int, str]]:
    a = analyze(text, str(base / "prog.tl"))
    for at in range(0, len(text), 7):  # hover anywhere: no exception
        ide.hover_at(a, at)
    return [(d.span.line, d.span.col, d.message) for d in a.diagnostics]


def run(text: str, base: Path) -> list[tuple[int, int, str]]:
    r = Session(base_dir=base, device="cpu").run(text)
    return [(d.span.line, d.span.col, d.message) for d in r.errors]


@pytest.mark.parametrize(("call", "col", "checked", "ran"), [  # both point at the path
    ('load_model("a\\u{0}b.safetensors")', 19, "cannot open model 'a\0b.safetensors': " + NUL,
     "{base}/a\0b.safetensors: " + NUL),
    ('load_tokenizer("tok\\u{0}.json")', 23, "cannot load tokenizer 'tok\0.json': " + NUL,
     "Failed to load tokenizer 'tok\0.json': " + NUL),
])
def test_a_nul_in_a_file_path_is_a_clear_error(tmp_path: Path, call, col, checked, ran) -> None:
    text = f"let x = {call}\n"
    assert check(text, tmp_path) == [(0, col, checked)]
    assert run(text, tmp_path) == [(0, col, ran.format(base=tmp_path))]


def test_saving_to_a_path_with_a_nul_is_a_clear_error(tmp_path: Path) -> None:
    text = 'let m = model_from(w: ones([2]))\nsave_model(m, "out\\u{0}.safetensors")\n'
    assert run(text, tmp_path) == [(1, 0, f"{tmp_path}/out\0.safetensors: {NUL}")]
    assert list(tmp_path.iterdir()) == []


def test_an_import_path_with_a_nul_is_a_clear_error(tmp_path: Path) -> None:
    text = 'import "lib\\u{0}.tl"\nprint(1)\n'
    assert check(text, tmp_path) == [(0, 7, f"cannot import 'lib\0.tl': {NUL}")]
    assert run(text, tmp_path) == [(0, 7, f"cannot import \"lib\0.tl\": {NUL}")]


def test_an_import_through_a_symlink_loop_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "loop.tl").symlink_to("loop.tl")
    text = 'import "loop.tl"\nprint(1)\n'
    why = "too many levels of symbolic links (a symlink loop?)"
    assert check(text, tmp_path) == [(0, 7, f"cannot import 'loop.tl': {why}")]
    assert run(text, tmp_path) == [(0, 7, f"cannot import \"loop.tl\": {why}")]
