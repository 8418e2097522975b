"""`import "x.tl"`: resolve relative to the importing file, find cycles, collect declarations.

An imported file contributes its own `fn`, `struct` and top-level `tensor` declarations (not
those it imports itself). Imported files are parsed once per (path, size, mtime).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from tl_core.syntax import ast as A

_PARSED: dict[tuple[str, int, int], object] = {}


@dataclass(frozen=True)
class ImportedDecl:
    node: object
    path: str


@dataclass(frozen=True)
class ImportResult:
    resolved: str | None
    error: str | None = None
    declarations: tuple[ImportedDecl, ...] = field(default=())


def _parse_file(path: str) -> object | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    key = (path, st.st_size, st.st_mtime_ns)
    pr = _PARSED.get(key)
    if pr is None:
        from tl_core.syntax import parse

        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except (OSError, UnicodeDecodeError):
            return None
        pr = parse(text)
        if len(_PARSED) > 256:
            _PARSED.clear()
        _PARSED[key] = pr
    return pr


class ImportResolver:
    def __init__(self, doc_path: str | None, base_dir: str) -> None:
        self.doc = os.path.normpath(os.path.abspath(doc_path)) if doc_path else None
        self.base_dir = base_dir

    def resolve(self, written: str) -> ImportResult:
        full = os.path.normpath(os.path.join(self.base_dir, written))
        if not os.path.isfile(full):
            return ImportResult(None, f"cannot import '{written}': no such file (import paths "
                                      f"are relative to the importing file)")
        if self.doc is not None and full == self.doc:
            return ImportResult(full, f"import cycle: '{written}' is this file itself")
        cycle = self._find_cycle(full, [self.doc or "<this file>", full])
        if cycle:
            names = " -> ".join(os.path.basename(p) for p in cycle)
            return ImportResult(full, f"import cycle: {names}")
        pr = _parse_file(full)
        if pr is None:
            return ImportResult(full, f"cannot import '{written}': the file cannot be read "
                                      f"as UTF-8 text")
        decls = []
        for it in pr.program.items:  # type: ignore[attr-defined]
            if isinstance(it, (A.FnDecl, A.StructDecl, A.TensorDecl)):
                decls.append(ImportedDecl(it, full))
        return ImportResult(full, None, tuple(decls))

    def _find_cycle(self, path: str, chain: list[str], depth: int = 0) -> list[str] | None:
        if depth > 32:
            return None
        pr = _parse_file(path)
        if pr is None:
            return None
        base = os.path.dirname(path)
        for it in pr.program.items:  # type: ignore[attr-defined]
            if not isinstance(it, A.Import):
                continue
            target = os.path.normpath(os.path.join(base, it.path))
            if target == chain[0] or target in chain[1:]:
                return chain + [target]
            if os.path.isfile(target):
                found = self._find_cycle(target, chain + [target], depth + 1)
                if found:
                    return found
        return None
