"""Fixtures for the runtime tests."""

from __future__ import annotations

from pathlib import Path

import pytest


class StubContext:
    """The op context without an interpreter: collects output and warnings."""

    device = "cpu"

    def __init__(self, base: Path | None = None) -> None:
        self.out: list[str] = []
        self.warnings: list[str] = []
        self.base = base or Path.cwd()

    def write(self, text: str) -> None:
        self.out.append(text)

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def resolve_path(self, path: str) -> Path:
        return self.base / path

    def format(self, value: object) -> str:
        from tl_core.runtime.printing import format_value

        return format_value(value, self.device)

    def load_model(self, path: Path) -> object:
        from tl_core.models import load_model

        return load_model(path)


@pytest.fixture
def ctx(tmp_path: Path) -> StubContext:
    return StubContext(tmp_path)
