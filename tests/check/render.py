"""Render diagnostics of golden programs (`python -m tests.check.render [files]` prints them
so a person can review them before writing `.expected`)."""

from __future__ import annotations

import sys
from pathlib import Path

GOLDEN = Path(__file__).resolve().parent / "golden"


def analysis_path(case: Path) -> str:
    """The path the program is analysed under (next to the real model for golden/real/)."""
    if case.parent.name == "real":
        from tests.model_files import minilm_path, smollm2_path

        model = smollm2_path() if case.name.startswith("smollm2") else minilm_path()
        return str(model.parent / case.name)
    return str(case)


def render(text: str, path: str) -> str:
    from tl_core.check import analyze

    a = analyze(text, path)
    lines = []
    for d in a.diagnostics:
        s = d.span
        lines.append(f"{s.line + 1}:{s.col + 1}-{s.end_line + 1}:{s.end_col + 1} "
                     f"{d.severity.value} [{d.code}] {d.message}")
    return "".join(line + "\n" for line in lines)


if __name__ == "__main__":
    files = [Path(f) for f in sys.argv[1:]] or sorted(GOLDEN.rglob("*.tl"))
    write = "--write" in sys.argv
    for f in files:
        if f.name == "--write":
            continue
        out = render(f.read_text(encoding="utf-8"), analysis_path(f.resolve()))
        print(f"== {f}")
        print(out, end="")
        if write:
            f.with_suffix(".expected").write_text(out, encoding="utf-8")
