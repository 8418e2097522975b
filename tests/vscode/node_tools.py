"""Node tooling for the VS Code extension, shared by the grammar, unit and e2e tests.

`ensure_node_modules()` runs `npm ci` in vscode-extension/ once (node_modules is ignored by
git) and `build_vsix()` packages the extension with esbuild + vsce. Both are idempotent and
serialised with a file lock, so parallel test processes never race.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXT = ROOT / "vscode-extension"
BIN = EXT / "node_modules" / ".bin"
VSIX = EXT / "tensorlogic.vsix"


class NodeToolError(RuntimeError):
    pass


def _lock():
    EXT.joinpath("node_modules").mkdir(exist_ok=True)
    lock = open(EXT / "node_modules" / ".tl-lock", "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    return lock


def _run(cmd: list[str], what: str) -> None:
    env = dict(os.environ)
    env.pop("NODE_OPTIONS", None)
    proc = subprocess.run(cmd, cwd=EXT, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise NodeToolError(
            f"{what} failed (`{' '.join(cmd)}` exited {proc.returncode}):\n"
            f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        )


def ensure_node_modules() -> Path:
    """Install the extension's npm dependencies (exact versions from package-lock.json)."""
    if shutil.which("npm") is None:
        raise NodeToolError("npm not found on PATH: the VS Code extension needs Node.js >= 20")
    stamp = EXT / "node_modules" / ".tl-installed"
    lock_file = EXT / "package-lock.json"
    with _lock():
        if stamp.exists() and stamp.read_text() == lock_file.read_text():
            return BIN
        _run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], "npm ci")
        stamp.write_text(lock_file.read_text())
    return BIN


def build_vsix() -> Path:
    """Build vscode-extension/tensorlogic.vsix if any of its sources is newer than it."""
    ensure_node_modules()
    sources = [
        *EXT.joinpath("src").rglob("*.ts"),
        *(EXT / name for name in ("package.json", "language-configuration.json")),
        *EXT.joinpath("snippets").glob("*"),
        *EXT.joinpath("images").glob("*"),
        ROOT / "syntaxes" / "tensorlogic.tmLanguage.json",
    ]
    with _lock():
        newest = max(p.stat().st_mtime for p in sources)
        if VSIX.exists() and VSIX.stat().st_mtime >= newest:
            return VSIX
        _run(["npm", "run", "package"], "building the .vsix")
        if not VSIX.exists():
            raise NodeToolError(f"`npm run package` finished but {VSIX} is missing")
    return VSIX
