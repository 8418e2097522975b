"""The model-format registry (`tl_core.models.formats`): a new format is one module plus
tests. A tiny format declared here, and registered only for the test, is read, loaded,
inspected, completed, watched and named in the error messages with no other code changed."""

from __future__ import annotations

import argparse
import json
import re
import struct
from pathlib import Path

import numpy as np
import pytest

from tl_core import ide
from tl_core.check import analyze
from tl_core.commands import inspect
from tl_core.models import (
    FORMATS,
    ModelFileError,
    ModelFormat,
    clear_cache,
    load_model,
    model_from,
    read_header,
    save_model,
)
from tl_core.models import formats as registry
from tl_core.models.types import HeaderParts, Source, TensorInfo

ROOT = Path(__file__).resolve().parents[2]

# --- the format: b"TINY", a u32 count n, then n little-endian float32 values ("w") --------


def _read_tiny(src: Source) -> HeaderParts:
    src.need(4, 4, "the Tiny value count")
    (n,) = struct.unpack_from("<I", src.buf, 4)
    if 8 + 4 * n != src.size:
        raise ModelFileError(f"a Tiny file of {n} values is {8 + 4 * n} bytes, found "
                             f"{src.size}", 4)
    return {"w": TensorInfo("w", (n,), "F32", None, 8, 4 * n, True)}, {"format": "tiny"}


def _refuse_tiny(head: bytes) -> None:
    if head[:4] != b"TINY":
        raise ModelFileError('not a Tiny file: it does not start with the bytes "TINY"', 0)


TINY = ModelFormat(name="tiny", title="Tiny", extensions=(".tiny",), read_header=_read_tiny,
                   magic=lambda head: head[:4] == b"TINY", magic_text='the bytes "TINY"',
                   mismatch=_refuse_tiny)


def tiny_bytes(values: np.ndarray) -> bytes:
    return b"TINY" + struct.pack("<I", len(values)) + values.astype("<f4").tobytes()


@pytest.fixture
def tiny(monkeypatch):
    """The registry with TINY appended (as its module's line in `FORMATS` would)."""
    monkeypatch.setattr(registry, "FORMATS", (*registry.FORMATS, TINY))
    clear_cache()
    yield TINY
    clear_cache()


# --- the registry as the tools read it -------------------------------------------------------


def test_the_registry_lists_each_format_once():
    names = [f.name for f in FORMATS]
    assert names == ["gguf", "safetensors", "mlmodel", "mlpackage"]
    exts = registry.extensions()
    assert exts == (".gguf", ".safetensors", ".mlmodel", ".mlpackage")
    assert [f.name for f in FORMATS if f.writable] == ["safetensors"]
    assert [f.name for f in FORMATS if f.directory] == ["mlpackage"]


def test_a_registered_format_is_read_loaded_and_inspected(tiny, tmp_path, capsys):
    values = np.array([1.5, -2.0, 70000.0], np.float32)
    path = tmp_path / "m.tiny"
    path.write_bytes(tiny_bytes(values))
    header = read_header(path)
    assert header.format == "tiny" and list(header.tensors) == ["w"]
    loaded = load_model(path).get_tensor("w")
    with np.errstate(over="ignore"):
        expected = values.astype(np.float16)  # 70000 overflows float16: inf, counted
    assert np.array_equal(np.array(loaded.array), expected)
    assert loaded.overflow == 1
    # tl inspect: the registry's extensions in its help, the header in its table
    parser = argparse.ArgumentParser(prog="tl inspect")
    inspect.add_arguments(parser)
    assert ".tiny" in parser.format_help()
    assert inspect.main(parser.parse_args([str(path)])) == 0
    assert capsys.readouterr().out.startswith(f"{path}: tiny, 1 tensors, 3 parameters, 20 B\n")


def test_a_registered_format_is_watched_and_completed(tiny, tmp_path):
    from tl_lsp.server import watch_globs

    assert "**/*.tiny" in watch_globs()
    (tmp_path / "m.tiny").write_bytes(tiny_bytes(np.zeros(2, np.float32)))
    (tmp_path / "notes.txt").write_text("not a model")
    text = 'm = load_model("'
    a = analyze(text, str(tmp_path / "prog.tl"))
    assert [c.label for c in ide.complete_at(a, len(text))] == ["m.tiny"]
    text = 'm = load_model("m.tiny")\nw = get_tensor(m, "'
    a = analyze(text, str(tmp_path / "prog.tl"))
    assert [c.label for c in ide.complete_at(a, len(text))] == ["w"]


def test_a_registered_format_is_named_in_the_error_messages(tiny, tmp_path):
    (tmp_path / "x.bin").write_bytes(b"hello world, not a model")
    with pytest.raises(ModelFileError) as e:
        read_header(tmp_path / "x.bin")
    assert e.value.message == (
        'not a model file: it does not start like a GGUF file (the bytes "GGUF"), a '
        'SafeTensors file (an 8-byte length, then "{") or a Tiny file (the bytes "TINY"), '
        "and its extension is not .gguf, .safetensors, .mlmodel or .tiny")
    (tmp_path / "d").mkdir()
    with pytest.raises(ModelFileError) as e:
        read_header(tmp_path / "d")
    assert e.value.message == (
        "is a directory, not a model file (expected a .gguf, .safetensors, .mlmodel or .tiny "
        "file or a .mlpackage directory)")
    (tmp_path / "e.tiny").write_bytes(b"")
    with pytest.raises(ModelFileError) as e:
        read_header(tmp_path / "e.tiny")
    assert e.value.message == "empty file (0 bytes); expected a GGUF, SafeTensors, CoreML or " \
                              "Tiny model"
    (tmp_path / "f.tiny").write_bytes(b"GGUX" + bytes(20))
    with pytest.raises(ModelFileError) as e:
        read_header(tmp_path / "f.tiny")
    assert e.value.message == 'not a Tiny file: it does not start with the bytes "TINY"'


def test_a_read_only_format_is_not_saved_to(tiny, tmp_path):
    pytest.importorskip("mlx.core")
    m = model_from({"a": np.ones(2, np.float32)})
    with pytest.raises(ModelFileError) as e:
        save_model(m, tmp_path / "out.tiny")
    assert e.value.message == ("cannot save to a .tiny file: Tiny files are read-only sources; "
                               "save_model writes SafeTensors (use a .safetensors path)")
    assert list(tmp_path.iterdir()) == []


def test_magic_decides_before_the_extension(tmp_path):
    """A GGUF of 123 tensors has "{" at byte 8, as SafeTensors files do: GGUF's magic is
    tried first, whatever the file's name."""
    from tests.models.builders import write_gguf

    path = write_gguf(tmp_path / "m.safetensors",
                      {f"t{i}": (np.zeros(1, np.float32), None) for i in range(123)})
    assert path.read_bytes()[8:9] == b"{"
    assert read_header(path).format == "gguf"


@pytest.mark.parametrize("bad", [
    dict(name="x", title="X", extensions=(".x",)),  # a file format without a reader
    dict(name="x", title="X", extensions=(".x",), directory=True),  # a directory, no reader
    dict(name="x", title="X", extensions=("x",), read_header=_read_tiny),
    dict(name="x", title="X", extensions=(".X",), read_header=_read_tiny),
])
def test_an_incomplete_format_is_refused(bad):
    with pytest.raises(ValueError):
        ModelFormat(**bad)


def test_the_vscode_watcher_watches_the_registered_extensions():
    """The VS Code client creates its own watcher (synchronize.fileEvents): its glob names
    the documents' extension and every registered model extension."""
    source = (ROOT / "vscode-extension" / "src" / "extension.ts").read_text()
    found = re.search(r'createFileSystemWatcher\(\s*"\*\*/\*\.\{([^}]*)\}"', source)
    assert found is not None
    assert set(found.group(1).split(",")) == {"tl", *(e[1:] for e in registry.extensions())}


def test_builtin_docs_name_the_registered_extensions():
    """`load_model`'s path documentation (in `tl_core.lang`, which may not import models)."""
    from tl_core.lang.builtins import BUILTINS

    doc = next(p.doc for p in BUILTINS["load_model"].params if p.name == "path")
    assert set(re.findall(r"\.[a-z]+", doc)) >= set(registry.extensions()), json.dumps(doc)
