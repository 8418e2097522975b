"""The TextMate grammar: built-in names in sync with the registry, scope assertions and
snapshots checked by vscode-tmgrammar-test (npm)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.vscode.node_tools import ROOT, ensure_node_modules

GRAMMAR = ROOT / "syntaxes" / "tensorlogic.tmLanguage.json"
HERE = Path(__file__).resolve().parent


def _run(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    bin_dir = ensure_node_modules()
    return subprocess.run(
        [str(bin_dir / tool), "-g", str(GRAMMAR), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )


def test_builtin_names_come_from_the_registry():
    from tl_core.lang.builtins import BUILTINS

    proc = subprocess.run(
        [sys.executable, str(ROOT / "syntaxes" / "gen_grammar.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    match = json.loads(GRAMMAR.read_text())["repository"]["builtins"]["match"]
    for name in ("softmax", "load_model", "get_tensor", "rms_norm"):
        assert name in BUILTINS
        assert f"|{name}|" in match or f"({name}|" in match or f"|{name})" in match


def test_scope_assertions():
    cases = sorted(str(p.relative_to(ROOT)) for p in (HERE / "cases").glob("*.test.tl"))
    assert len(cases) >= 6
    proc = _run("vscode-tmgrammar-test", "-c", *cases)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for case in cases:
        assert f"{case} run successfuly" in proc.stdout


def test_snapshots():
    snaps = sorted(str(p.relative_to(ROOT)) for p in (HERE / "snap").glob("*.tl"))
    assert snaps, "no snapshot sources"
    for source in snaps:
        assert Path(ROOT / (source + ".snap")).exists(), f"{source}.snap missing"
    proc = _run("vscode-tmgrammar-snap", "-s", "source.tl", *snaps)
    assert proc.returncode == 0, proc.stdout + proc.stderr
