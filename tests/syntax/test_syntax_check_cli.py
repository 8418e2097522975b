"""`tl check FILE...`: the text and JSON outputs and the exit status."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tl_core.cli import main

ROOT = Path(__file__).resolve().parents[2]


def run(capsys, *argv: str) -> tuple[int, str, str]:  # noqa: ANN001
    code = main(["check", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_clean_file_exits_0(capsys, tmp_path) -> None:  # noqa: ANN001
    p = tmp_path / "ok.tl"
    p.write_text("let x = 1\nprint(x)\n", encoding="utf-8")
    code, out, _ = run(capsys, str(p))
    assert code == 0
    assert out == ""


def test_syntax_error_line(capsys, tmp_path) -> None:  # noqa: ANN001
    p = tmp_path / "bad.tl"
    p.write_text("let x = (1 + 2\nlet y = 3\nprint(x, y)\n", encoding="utf-8")
    code, out, _ = run(capsys, str(p))
    assert code == 1
    assert f"{p}:2:1: error: expected ')' to close the parentheses started at 1:9, found 'let'" in out.splitlines()


def test_json_format(capsys, tmp_path) -> None:  # noqa: ANN001
    bad = tmp_path / "bad.tl"
    bad.write_text("let = 1\n", encoding="utf-8")
    ok = tmp_path / "ok.tl"
    ok.write_text("let z = 2\nprint(z)\n", encoding="utf-8")
    code, out, _ = run(capsys, "--format", "json", str(bad), str(ok))
    assert code == 1
    data = json.loads(out)
    assert data["ok"] is False
    first, second = data["files"]
    assert first["path"] == str(bad) and second["diagnostics"] == []
    (d,) = first["diagnostics"]
    assert d == {"line": 1, "column": 5, "end_line": 1, "end_column": 6, "start": 4, "end": 5,
                 "severity": "error", "code": "syntax", "message": "expected a name, found '='",
                 "related": []}


def test_missing_file(capsys, tmp_path) -> None:  # noqa: ANN001
    code, out, _ = run(capsys, str(tmp_path / "nope.tl"))
    assert code == 1
    assert out.strip() == f"{tmp_path / 'nope.tl'}: error: no such file"


def test_undecodable_bytes_do_not_crash(capsys, tmp_path) -> None:  # noqa: ANN001
    p = tmp_path / "bytes.tl"
    p.write_bytes(b"let x = \xff\xfe 1\n")
    code, out, _ = run(capsys, str(p))
    assert code == 1
    assert "unexpected character" in out


def test_examples_check_clean(capsys) -> None:  # noqa: ANN001
    files = sorted(str(p) for p in (ROOT / "examples").glob("*.tl"))
    code, out, _ = run(capsys, *files)
    assert [line for line in out.splitlines() if ": error:" in line] == []
    assert code == 0


def test_check_module_imports_nothing_heavy() -> None:
    code = ("import sys, tl_core.commands.check, tl_core.cli; "
            "print(sorted(m for m in ('mlx', 'coremltools', 'gguf', 'lark') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=ROOT)
    assert out.stdout.strip() == "[]"


def test_help_lists_check(capsys) -> None:  # noqa: ANN001
    try:
        main(["check", "--help"])
    except SystemExit as exc:
        assert exc.code == 0
    out = capsys.readouterr().out
    assert "--format" in out and "FILE" in out
