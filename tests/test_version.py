"""One version string: `tl_core.__version__`. Everything else that states a version reads
it or must equal it (the VS Code extension's manifest cannot read Python: compared here)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tl_core import __version__

ROOT = Path(__file__).resolve().parents[1]


def test_the_version_is_a_version():
    assert re.fullmatch(r"\d+\.\d+\.\d+", __version__)


def test_pyproject_reads_the_version_from_tl_core():
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"]
    assert "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "tl_core.__version__"}


def test_the_docs_do_not_repeat_the_version():
    """A version written into a document goes stale at the next release: docs name
    `tl_core.__version__` instead."""
    docs = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    stale = [str(p.relative_to(ROOT)) for p in docs
             if re.search(rf"(?<![\d.]){re.escape(__version__)}(?![\d.])", p.read_text())]
    assert not stale


def test_the_vscode_extension_has_the_same_version():
    manifest = json.loads((ROOT / "vscode-extension" / "package.json").read_text())
    assert manifest["version"] == __version__
    lock = json.loads((ROOT / "vscode-extension" / "package-lock.json").read_text())
    assert lock["version"] == __version__
    assert lock["packages"][""]["version"] == __version__


def test_the_commands_and_the_server_state_the_version():
    from tl_lsp.capabilities import initialize_result

    for cmd, name in (("tl_core", "tl"), ("tl_lsp", "tl-lsp")):
        out = subprocess.run([sys.executable, "-m", cmd, "--version"], capture_output=True,
                             text=True, cwd=ROOT, timeout=120)
        assert out.stdout.strip() == f"{name} {__version__}", out.stderr
    answer = initialize_result({"capabilities": {}})
    assert answer is not None
    assert answer["serverInfo"] == {"name": "tl-lsp", "version": __version__}


def test_no_other_version_literal_in_the_code():
    """A version written anywhere else in the Python code or the clients would drift."""
    pattern = re.compile(r"""["']\d+\.\d+\.\d+["']""")
    found = []
    for folder, glob in (("tl_core", "*.py"), ("tl_lsp", "*.py"), ("editors", "*.lua"),
                         ("vscode-extension/src", "*.ts")):
        for path in (ROOT / folder).rglob(glob):
            if path == ROOT / "tl_core" / "__init__.py":
                continue
            found += [f"{path.relative_to(ROOT)}: {m.group()}"
                      for m in pattern.finditer(path.read_text())]
    assert found == []
