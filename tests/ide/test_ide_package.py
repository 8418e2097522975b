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
