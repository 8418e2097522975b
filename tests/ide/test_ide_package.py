"""tl_core.ide's facade: the same names as its feature modules, loaded on first use."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import tl_core.ide as ide

ROOT = Path(__file__).resolve().parents[2]


def test_every_exported_name_is_the_feature_modules_own():
    assert sorted(ide.__all__) == sorted(ide._HOMES)
    for name, home in ide._HOMES.items():
        module = __import__(f"tl_core.ide.{home}", fromlist=[name])
        assert getattr(ide, name) is getattr(module, name), name


def test_cells_load_no_checker():
    """The server imports the cell rule at start, the kernel runs cells: neither may pay for
    the checker or the other features."""
    code = ("import sys, tl_core.ide.cells; "
            "print(sorted(m for m in sys.modules if m.startswith('tl_core')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True, timeout=60)
    assert out.stdout.strip() == str(["tl_core", "tl_core.ide", "tl_core.ide.cells",
                                      "tl_core.syntax", "tl_core.syntax.result",
                                      "tl_core.syntax.span"])


def private_reads(path: Path, private: set[str]) -> list[str]:
    """`x._name` reads in `path` of a name in `private` (on anything but `self`)."""
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [f"{path.relative_to(ROOT)}:{n.lineno}: {ast.unparse(n)}" for n in ast.walk(tree)
            if isinstance(n, ast.Attribute) and n.attr in private and
            ast.unparse(n.value) != "self"]


def test_the_editor_layers_read_only_what_an_analysis_answers():
    """The IDE, the host and the server read an Analysis through its public answers
    (`functions`, `script_scope`, `occurrences`, ...), never its private parts (the lock,
    the reused items' records, the containers placing fills)."""
    import dataclasses

    from tl_core.check.model import Analysis

    private = {f.name for f in dataclasses.fields(Analysis) if f.name.startswith("_")}
    private |= {n for n in vars(Analysis) if n.startswith("_") and not n.startswith("__")}
    assert {"_functions", "_lock", "_pending", "_refs", "_scopes", "_place"} <= private
    files = [*sorted((ROOT / "tl_core" / "ide").glob("*.py")), ROOT / "tl_core" / "host.py",
             *sorted((ROOT / "tl_lsp").glob("*.py"))]
    found = [line for p in files for line in private_reads(p, private)]
    assert found == []
    planted = ROOT / "tl_core" / "ide" / "outline.py"
    assert private_reads(planted, private | {"functions"}) != []  # (it reads `a.functions`)
