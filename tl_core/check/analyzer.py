"""`analyze(text, path)`: parse, resolve names, infer types and shapes -> Analysis.

Never raises: an internal error in the checker becomes one diagnostic instead of a crash,
and what was gathered up to that point is kept.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable

from tl_core.check import memo as M
from tl_core.check.checker import Checker
from tl_core.check.model import Analysis, Binding, Ref, Scope
from tl_core.diagnostics import Diagnostic, Severity
from tl_core.syntax import parse
from tl_core.syntax.span import LineIndex, Span

__all__ = ["Analysis", "Binding", "Ref", "Scope", "analyze"]


def analyze(text: str, path: str | None = None, parse_result: object = None,
            use_cache: bool | None = None,
            checkpoint: Callable[[], None] | None = None,
            records: dict | None = None, line_index: LineIndex | None = None) -> Analysis:
    """Check `text` (the document at `path`; relative model and import paths resolve
    against its directory, or the working directory when `path` is None).

    `records`: the check cache of the document (its `DocumentHost`'s, tl_core/host.py).
    Items unchanged since the analysis that filled it are not checked again: their
    recorded effects are replayed (`tl_core.check.memo`; `TL_NO_CHECK_CACHE=1` turns that
    off), and the records of this analysis replace them. Should anything go wrong on that
    path, the document is checked from scratch. Without `records` nothing is kept.

    `checkpoint` is called between top-level items; it may raise `Cancelled`
    (tl_core/check/cancel.py), which stops the analysis and commits nothing.
    `line_index`: the text's `LineIndex` when the caller has it (an editor keeps one per
    text, updated by each edit: `LineIndex.after_edit`).
    """
    li = line_index if line_index is not None and line_index.text is text else LineIndex(text)
    if parse_result is None:
        parse_result = parse(text)
    pr = parse_result
    if use_cache is None:
        use_cache = M.enabled()
    if use_cache and records is not None:
        try:
            return _analyze(text, path, pr, li, M.ItemMemo(records), checkpoint)
        except Exception:  # noqa: BLE001 - fall back to a check without the cache
            pass
    return _analyze(text, path, pr, li, None, checkpoint)


def _analyze(text: str, path: str | None, pr: object, li: LineIndex, memo: object,
             checkpoint: Callable[[], None] | None = None) -> Analysis:
    base = os.path.dirname(os.path.abspath(path)) if path else os.getcwd()
    checker = Checker(text, path, base, li)
    checker.memo = memo
    checker.checkpoint = checkpoint
    # The checker allocates many small objects and frees none of them until the Analysis
    # goes: cyclic GC passes over the (large) syntax tree would only cost time.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        try:
            checker.check_program(pr.program)  # type: ignore[attr-defined]
            if checkpoint is not None:
                checkpoint()  # before the commit, the end's ~2 ms (finish, the check cache)
        except Exception as exc:  # noqa: BLE001 - the checker must never take the editor down
            if memo is not None:
                raise
            checker.diags.append(Diagnostic(Span(0, 0, 0, 0, 0, 0),
                                            f"internal checker error: {type(exc).__name__}: "
                                            f"{exc}", Severity.WARNING, "internal"))
    finally:
        if gc_was_enabled:
            gc.enable()
    if memo is not None:
        memo.commit()  # type: ignore[attr-defined]
    diags = tuple(pr.errors) + tuple(checker.finish())  # type: ignore[attr-defined]
    return Analysis(text=text, path=path, parse=pr, diagnostics=diags, line_index=li,
                    _types=checker.types, _bindings=checker.all_bindings,
                    _refs=checker.refs, _scopes=checker.scopes,
                    _functions=checker.functions, imports=checker.imports,
                    _point_types=checker.point_types, _call_bindings=checker.call_bindings,
                    _pending=checker.pending, _pending_runs=checker.pending_runs,
                    dependencies=frozenset(checker.files))
