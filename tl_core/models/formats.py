"""The model-format registry: every format the tools read, and the questions asked of them.

Each format is one module that declares a `ModelFormat` (`tl_core.models.types`): its
extensions, magic bytes, header reader, loader and writability. `FORMATS` lists them;
`read_header` (format detection), the loader (`load_array`, `save_model`'s read-only
refusal), the language server's file watcher, path completion after `load_model("`,
`tl inspect` and the error messages below all read it. Adding a format: one module and
its line here, plus tests.

The order is the detection order: magic bytes are tried first to last (GGUF before
SafeTensors: a GGUF of 123 tensors has "{" at byte 8), and messages list formats in it.
Importing this imports the format modules, which import nothing heavy (`gguf`'s tables and
`coremltools`' protobuf modules load on first use).
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from tl_core.models import coreml, gguf, safetensors
from tl_core.models.errors import ModelFileError
from tl_core.models.types import ModelFormat

FORMATS: tuple[ModelFormat, ...] = (gguf.FORMAT, safetensors.FORMAT, coreml.MLMODEL,
                                    coreml.MLPACKAGE)


def named(name: str) -> ModelFormat | None:
    """The format whose `ModelHeader.format` is `name` (None for "memory": `model_from`)."""
    return next((f for f in FORMATS if f.name == name), None)


def extensions() -> tuple[str, ...]:
    """Every model-file extension, files' and directories' (".gguf", ..., ".mlpackage")."""
    return tuple(e for f in FORMATS for e in f.extensions)


def watch_globs() -> list[str]:
    """Glob patterns of model files for an editor's file watcher (a directory format's
    pattern matches the files inside it, whose change changes the model)."""
    return [f"**/*{e}/**" if f.directory else f"**/*{e}" for f in FORMATS for e in f.extensions]


def for_path(path: str) -> ModelFormat | None:
    """The format `path`'s extension names (case-insensitive), if any."""
    lower = path.rstrip("/").lower()
    return next((f for f in FORMATS if lower.endswith(f.extensions)), None)


def directory_format(path: str) -> ModelFormat | None:
    """The directory format of directory `path`: by extension, or by its marker file."""
    f = for_path(path)
    if f is not None and f.directory:
        return f
    return next((f for f in FORMATS if f.directory and f.marker
                 and os.path.isfile(os.path.join(path, f.marker))), None)


def detect(head: bytes, path: str) -> ModelFormat:
    """The file format of a regular file from its first bytes, else from its extension.
    Raises `ModelFileError` for a file whose extension names a format its bytes do not
    fit, or that is no format's. Never quotes the bytes: the file may be anything (a key,
    a password file)."""
    for f in FORMATS:
        if f.magic is not None and not f.directory and f.magic(head):
            return f
    f = for_path(path)
    if f is not None and not f.directory:
        if f.mismatch is not None:
            f.mismatch(head)
        return f
    raise ModelFileError(
        f"not a model file: it does not start like "
        f"{or_list(f'a {f.title} file ({f.magic_text})' for f in FORMATS if f.magic)}, "
        f"and its extension is not {or_list(_extensions(directory=False))}",
        0,
    )


def expected_text() -> str:
    """What a model path may name: "a .gguf, ... or .mlmodel file or a .mlpackage directory"."""
    text = f"a {or_list(_extensions(directory=False))} file"
    dirs = _extensions(directory=True)
    return f"{text} or a {or_list(dirs)} directory" if dirs else text


def titles_text() -> str:
    """The formats' names for messages: "GGUF, SafeTensors or CoreML"."""
    return or_list(dict.fromkeys(f.title for f in FORMATS))


def read_only_problem(path: str) -> str | None:
    """Why `save_model` may not write `path` (its extension names a read-only format), else
    None; the message names a writable format's extension instead."""
    f = for_path(path)
    if f is None or f.writable:
        return None
    ext = next(e for e in f.extensions if path.rstrip("/").lower().endswith(e))
    target = next(t for t in FORMATS if t.writable)
    return (f"cannot save to a {ext} file: {f.title} files are read-only sources; save_model "
            f"writes {target.title} (use a {target.extensions[0]} path)")


def or_list(items: Iterable[str]) -> str:
    """"a", "a or b", "a, b or c"."""
    words = list(items)
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _extensions(*, directory: bool) -> list[str]:
    return [e for f in FORMATS if f.directory == directory for e in f.extensions]
