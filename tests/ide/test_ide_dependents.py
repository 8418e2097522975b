"""Analysis.dependencies (the files the checker looked at) and tl_core.ide.dependents
(which documents a changed file may change)."""

from __future__ import annotations

import os
from pathlib import Path

from tl_core.check.analyzer import analyze
from tl_core.ide.dependents import dependents

LIB = """fn weights() -> float16[2, 3] {
    let m = load_model("tiny.safetensors")
    return m.get_tensor("layer.0.weight")
}
"""


def test_the_model_files_the_check_resolved(model_dir: Path):
    main = model_dir / "main.tl"
    text = ('// not a dependency: other.safetensors, named in a comment\n'
            'let m = load_model("tiny.safetensors")\n'
            'let s = load_model("sub/other.safetensors")\n'
            'let gone = load_model("missing.gguf")\n'
            'let t = load_tokenizer("tok.json")\n'
            'let p = "x.gguf"\n')
    a = analyze(text, str(main))
    assert a.dependencies == {str(model_dir / n) for n in (
        "tiny.safetensors", "sub/other.safetensors", "missing.gguf", "tok.json")}
    assert dependents([("main", a)], [str(model_dir / "tiny.safetensors")]) == ["main"]
    # a missing file: creating it changes the check
    assert dependents([("main", a)], [str(model_dir / "missing.gguf")]) == ["main"]
    # a file whose name the text holds but the check never opened (the old guess said yes)
    b = analyze('// tiny.safetensors\nlet x = 1\n', str(model_dir / "b.tl"))
    assert b.dependencies == frozenset()
    assert dependents([("b", b)], [str(model_dir / "tiny.safetensors")]) == []


def test_the_dependencies_survive_the_per_item_cache(model_dir: Path):
    """Items that read a file are checked again after each edit (never reused), so an
    analysis after an edit elsewhere still depends on the model."""
    path = str(model_dir / "cached.tl")
    text = 'let m = load_model("tiny.safetensors")\nlet x = 1\n'
    analyze(text, path, use_cache=True)
    again = analyze(text.replace("x = 1", "x = 2"), path, use_cache=True)
    assert str(model_dir / "tiny.safetensors") in again.dependencies


def test_dependency_on_a_model_file_from_an_imported_module(model_dir: Path):
    """main.tl imports lib.tl, which loads the model. main's check reads lib.tl (its
    declarations) and not the model (it never checks lib's bodies), so a change of the
    model re-checks lib.tl, and saving lib.tl re-checks main.tl."""
    (model_dir / "lib.tl").write_text(LIB)
    main = analyze('import "lib.tl"\nlet w = weights()\n', str(model_dir / "main.tl"))
    lib = analyze(LIB, str(model_dir / "lib.tl"))
    assert main.diagnostics == () and lib.diagnostics == ()
    assert main.dependencies == {str(model_dir / "lib.tl")}
    assert lib.dependencies == {str(model_dir / "tiny.safetensors")}
    docs = [("main", main), ("lib", lib), ("fresh", None)]
    # a document without an analysis yet counts: one may be being made from the old file
    assert dependents(docs, [str(model_dir / "tiny.safetensors")]) == ["lib", "fresh"]
    assert dependents(docs, [str(model_dir / "lib.tl")]) == ["main", "fresh"]
    # imports searched for cycles count too
    (model_dir / "lib.tl").write_text('import "deeper.tl"\n' + LIB)
    (model_dir / "deeper.tl").write_text("fn f() -> int { return 1 }\n")
    main2 = analyze('import "lib.tl"\n', str(model_dir / "main.tl"))
    assert str(model_dir / "deeper.tl") in main2.dependencies


def test_paths_compare_through_symbolic_links(model_dir: Path):
    os.symlink(model_dir / "tiny.safetensors", model_dir / "link.safetensors")
    a = analyze('let m = load_model("link.safetensors")\n', str(model_dir / "l.tl"))
    assert dependents([("l", a)], [str(model_dir / "tiny.safetensors")]) == ["l"]
    assert dependents([("l", a)], [str(model_dir / "." / "link.safetensors")]) == ["l"]
    assert dependents([("l", a)], [str(model_dir / "notes.txt")]) == []
