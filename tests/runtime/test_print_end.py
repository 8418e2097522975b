"""`print(..., end: "")`: the keyword-only `end` (streamed text), in the registry, the checker
and the runtime."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tl_core.check import analyze
from tl_core.lang.builtins import BUILTINS
from tl_core.lang.registry import bind_arguments, signature_label
from tl_core.runtime import Session

ROOT = Path(__file__).resolve().parent.parent.parent
PROGRAM = 'print("a", 1, end: "")\nprint("b", end: "|")\nprint("c")\nprint()\nprint(end: "x")\n'


def test_signature_and_binding():
    b = BUILTINS["print"]
    assert signature_label(b) == 'print(...values: any, end: string = "\\n") -> void'
    assert bind_arguments(b, 2, []) == {"values": 0}  # positional values never fill `end`
    assert bind_arguments(b, 1, ["end"]) == {"values": 0, "end": "end"}


def test_chunks_arrive_per_print():
    chunks: list[str] = []
    r = Session(device="cpu").run(PROGRAM, on_output=chunks.append)
    assert r.errors == [] or [d.message for d in r.errors] == []
    assert chunks == ["a 1", "b|", "c\n", "\n", "x"]
    assert r.stdout == "a 1b|c\n\nx"


def test_tl_run_writes_it(tmp_path):
    prog = tmp_path / "p.tl"
    prog.write_text(PROGRAM)
    out = subprocess.run([sys.executable, "-m", "tl_core", "run", str(prog), "--device", "cpu"],
                         capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout == "a 1b|c\n\nx"


def test_checker_reports_a_non_string_end():
    a = analyze('print("a", end: 3)\n')
    assert [d.message for d in a.diagnostics] == [
        "print(): argument 'end' must be a string; found int"]
