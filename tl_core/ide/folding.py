"""Folding ranges: multi-line constructs, comment runs, cells and the imports.

`folding_ranges` answers from per-segment caches (`tl_core.ide.tokens`) after an edit;
`folding_ranges_plain` computes the list from scratch and is their oracle and fallback.
"""

from __future__ import annotations

from collections.abc import Callable

from tl_core.check.model import Analysis
from tl_core.ide import tokens
from tl_core.ide.cells import CELL_MARKER, is_marker, regions
from tl_core.ide.gcpause import without_gc
from tl_core.ide.lex import all_tokens
from tl_core.ide.results import Fold
from tl_core.syntax import ast as A


@without_gc
def folding_ranges(a: Analysis, pause: Callable[[], None] | None = None,
                   marker: str = CELL_MARKER,
                   caches: tokens.TokenCaches | None = None) -> list[Fold]:
    """`pause`: called between steps (see tl_core.ide.tokens.semantic_tokens); `marker`:
    the cell marker (`tl_core.ide.cells`); `caches`: the document's (its
    `DocumentHost.tokens`), else none are kept."""
    try:
        fast = tokens.folding_ranges(a, pause, marker, caches)
    except Exception:  # noqa: BLE001 - the plain version answers
        fast = None
    return fast if fast is not None else folding_ranges_plain(a, marker)


@without_gc
def folding_ranges_plain(a: Analysis, marker: str = CELL_MARKER) -> list[Fold]:
    """Folding ranges computed from scratch (the oracle of `folding_ranges`)."""
    out: list[Fold] = []
    seen: set[tuple[int, int]] = set()

    def add(s: int, e: int, kind: str | None = None) -> None:
        if e > s and (s, e) not in seen:
            seen.add((s, e))
            out.append(Fold(s, e, kind))

    ends: set[int] = set()
    for it in a.program.items:  # type: ignore[attr-defined]
        for n in A.walk(it):
            if isinstance(n, (A.FnDecl, A.MainBlock, A.TestDecl, A.BenchDecl, A.If, A.For,
                              A.While, A.Loop, A.Block, A.ArrayLiteral, A.StructDecl,
                              A.ImplDecl, A.LearnBlock, A.EmbeddingDecl, A.Call, A.TensorCtor,
                              A.Match)):
                sp = n.span
                if sp.end_line > sp.line:
                    end = sp.end_line - 1 if a.line_index.line_text(sp.end_line).strip() \
                        .startswith(("}", "]", ")")) else sp.end_line
                    # a construct and its body block end on the same line: fold once, from
                    # the construct's first line (walk visits the outer one first)
                    if end in ends:
                        continue
                    ends.add(end)
                    add(sp.line, end)
    # comments: block comments and runs of // lines
    run_start = None
    last_line = -2
    for t in all_tokens(a):
        if t.kind != "comment":
            continue
        line, _ = a.line_index.position(t.start)
        end_line, _ = a.line_index.position(t.end)
        if t.text.startswith("/*"):
            add(line, end_line, "comment")
            continue
        if is_marker(a.line_index.line_text(line), marker):
            continue
        if line == last_line + 1 and run_start is not None:
            last_line = line
            continue
        if run_start is not None:
            add(run_start, last_line, "comment")
        run_start = line
        last_line = line
    if run_start is not None:
        add(run_start, last_line, "comment")
    # cells
    for line, end in regions(a.line_index, marker):
        add(line, end, "region")
    # imports
    imps = [it.span.line for it in a.program.items if isinstance(it, A.Import)]  # type: ignore[attr-defined]
    if len(imps) > 1:
        add(imps[0], imps[-1], "imports")
    out.sort(key=lambda f: (f.start_line, -f.end_line))
    return out
