"""No import cycles between the modules of tl_core and tl_lsp (issue 15).

Counted on grimp's graph (the library import-linter checks its contracts on), which sees
every import statement, function-local ones included, so a circle cannot hide behind an
import moved into a function. Imports under `if TYPE_CHECKING:` count too: they never run,
but a module that names a higher one's type in its annotations still depends on it (a
layering circle); the type moves down, or a Protocol at the bottom names what is used
(`tl_core.check.context.CheckContext`, `tl_core.runtime.context.RunContext`). A package's
`__init__` is a module like the others: a package that imports its submodule which imports
the package back is a cycle too.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

grimp = pytest.importorskip("grimp")

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("tl_core", "tl_lsp")


def module_graph(*packages: str, type_checking: bool = True) -> grimp.ImportGraph:
    """The import graph of `packages`, `if TYPE_CHECKING:` imports included (unless
    `type_checking` is False: only to show that they matter)."""
    return grimp.build_graph(*packages, cache_dir=None,
                             exclude_type_checking_imports=not type_checking)


def cycles(graph: grimp.ImportGraph, roots: tuple[str, ...] = PACKAGES) -> list[str]:
    """Import cycles among the modules of `roots`, each written as
    `a -> b (line 12 of a) -> a (line 40 of b)` (the lines of the import statements): for
    every import a -> b, grimp's shortest chain back from b to a, if any; a module already
    named in a cycle starts no other."""
    inside = sorted(m for m in graph.modules if m.split(".")[0] in roots)
    named: set[str] = set()
    out = []
    for a in inside:
        for b in sorted(graph.find_modules_directly_imported_by(a)):
            if a in named or b.split(".")[0] not in roots:
                continue
            back = graph.find_shortest_chain(importer=b, imported=a)
            if back is None:
                continue
            path = (a, *back)
            named.update(path)
            steps = [a]
            for x, y in zip(path, path[1:], strict=False):
                lines = sorted({d["line_number"]
                                for d in graph.get_import_details(importer=x, imported=y)})
                steps.append(f"{y} (line {', '.join(map(str, lines))} of {x})")
            out.append(" -> ".join(steps))
    return out


def test_no_import_cycles_in_tl_core_and_tl_lsp():
    found = cycles(module_graph(*PACKAGES))
    assert not found, ("import cycles (move the shared piece down a layer, or pass it in; "
                       "a function-local import does not hide one):\n" + "\n".join(found))


def test_a_planted_cycle_is_found_and_named():
    graph = module_graph(*PACKAGES)
    assert not cycles(graph)
    graph.add_import(importer="tl_core.syntax.span", imported="tl_core.diagnostics",
                     line_number=99, line_contents="from tl_core import diagnostics")
    assert cycles(graph) == ["tl_core.diagnostics -> tl_core.syntax.span (line 8 of "
                             "tl_core.diagnostics) -> tl_core.diagnostics (line 99 of "
                             "tl_core.syntax.span)"]


def test_a_cycle_through_a_function_local_import_is_found(tmp_path, monkeypatch):
    pkg = tmp_path / "circle_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "low.py").write_text(textwrap.dedent("""\
        def f():
            from circle_pkg import high  # hidden in a function

            return high.g
        """))
    (pkg / "high.py").write_text("from circle_pkg import low\n\ng = low.f\n")
    (pkg / "apart.py").write_text("from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n"
                                  "    from circle_pkg import high\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    found = cycles(module_graph("circle_pkg"), ("circle_pkg",))
    assert found == ["circle_pkg.high -> circle_pkg.low (line 1 of circle_pkg.high) -> "
                     "circle_pkg.high (line 2 of circle_pkg.low)"]
    sys.modules.pop("circle_pkg", None)


def test_a_cycle_through_a_type_checking_import_is_found(tmp_path, monkeypatch):
    pkg = tmp_path / "typed_circle"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "helper.py").write_text(textwrap.dedent("""\
        from __future__ import annotations

        from typing import TYPE_CHECKING

        if TYPE_CHECKING:
            from typed_circle.main import Main  # annotations only: never runs


        def helper(m: Main) -> int:
            return m.x
        """))
    (pkg / "main.py").write_text(textwrap.dedent("""\
        from typed_circle.helper import helper


        class Main:
            x = 1

            def go(self):
                return helper(self)
        """))
    monkeypatch.syspath_prepend(str(tmp_path))
    assert cycles(module_graph("typed_circle"), ("typed_circle",)) == [
        "typed_circle.helper -> typed_circle.main (line 6 of typed_circle.helper) -> "
        "typed_circle.helper (line 1 of typed_circle.main)"]
    # what the test saw before: leaving those imports out hides the circle
    assert cycles(module_graph("typed_circle", type_checking=False), ("typed_circle",)) == []
    sys.modules.pop("typed_circle", None)


def undocumented_local_imports(path: Path, root: Path = ROOT) -> list[str]:
    """The imports inside functions of `path` that do not say why they are there: a run of
    adjacent import statements needs a comment on one of its lines or on the line above it
    (e.g. `# lazy: keeps MLX out of the checker`). `if TYPE_CHECKING:` imports never run."""
    import ast

    lines = path.read_text(encoding="utf-8").splitlines()
    out: list[str] = []

    def commented(node: ast.stmt) -> bool:
        return any("#" in lines[i - 1] for i in range(node.lineno, node.end_lineno + 1))

    def visit(node: ast.AST, in_function: bool) -> None:
        for field in ("body", "orelse", "finalbody", "handlers"):
            body = getattr(node, field, None)
            if not isinstance(body, list):
                continue
            run: list[ast.stmt] = []
            for stmt in [*body, None]:
                if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                    run.append(stmt)
                    continue
                if run and in_function:
                    above = lines[run[0].lineno - 2].strip() if run[0].lineno > 1 else ""
                    if not above.startswith("#") and not any(map(commented, run)):
                        out.extend(f"{path.relative_to(root)}:{s.lineno}: {ast.unparse(s)}"
                                   for s in run)
                run = []
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            visit(child, in_function or isinstance(child, (ast.FunctionDef,
                                                             ast.AsyncFunctionDef)))

    visit(ast.parse("\n".join(lines)), False)
    return out


def test_every_function_local_import_says_why_it_is_lazy():
    found = [line for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))
             for line in undocumented_local_imports(p)]
    assert not found, ("imports inside functions without a comment saying why (move them to "
                       "the top, or add e.g. `# lazy: keeps MLX out of tl-lsp start`):\n"
                       + "\n".join(found))


def test_an_undocumented_local_import_is_found(tmp_path):
    p = tmp_path / "m.py"
    p.write_text(textwrap.dedent("""\
        from typing import TYPE_CHECKING

        if TYPE_CHECKING:
            import json


        def documented():
            # lazy: a reason
            import json
            import os

            return json, os


        def trailing():
            import json  # lazy: a reason
            import os

            return json, os


        def undocumented():
            x = 1
            import json
            import os

            return json, os, x


        class C:
            def method(self):
                if True:
                    from os import path
                return path
        """))
    assert undocumented_local_imports(p, tmp_path) == [
        "m.py:24: import json", "m.py:25: import os", "m.py:33: from os import path"]
