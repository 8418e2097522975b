"""Shared fixtures of the real-editor tests."""

from __future__ import annotations

import shutil

import pytest


@pytest.fixture(scope="session")
def nvim_bin() -> str:
    """The `nvim` on PATH. Missing is a failure, not a skip: `make test` installs it."""
    found = shutil.which("nvim")
    if found is None:
        pytest.fail(
            "Neovim (nvim) is not on PATH: run scripts/system-deps.sh (`make test` does), "
            "or install Debian's neovim"
        )
    return found
