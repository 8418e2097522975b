"""Session: persistent variables, running a selection, half statements, interrupts."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tl_core.runtime import Session
from tl_core.runtime.session import blank_outside

DOC = """\
fn double(x: float16[N]) -> float16[N] { return x * 2.0 }
// %%
let a = ones([3])
// %%
let b = double(a)
print(b)
"""


def test_variables_persist_between_runs():
    s = Session(device="cpu")
    assert s.run("let a = 2").errors == ()
    r = s.run("print(a + 1)")
    assert r.stdout == "3\n"


def test_selection_defines_every_fn_and_runs_only_the_selection():
    s = Session(device="cpu")
    start = DOC.index("let a")
    r = s.run(DOC, (start, DOC.index("// %%", start)))
    assert r.errors == () and r.stdout == ""
    start = DOC.index("let b")
    r = s.run(DOC, (start, len(DOC)))
    assert r.errors == ()
    assert r.stdout == "tensor([2, 2, 2], float16[3], cpu)\n"


def test_selected_expression_gives_its_value():
    s = Session(device="cpu")
    s.run("let a = ones([2])")
    text = "let c = a + 41.0\n"
    r = s.run(text, (8, 16))  # `a + 41.0`
    assert r.value is not None and r.value.text == "[42, 42]"
    assert r.value.line == 0


def test_half_a_statement_is_a_clean_syntax_error():
    s = Session(device="cpu")
    text = "let x = reshape(ones([4]), [2, 2])\n"
    r = s.run(text, (0, 20))
    assert r.stdout == ""
    assert r.errors and all(d.code == "syntax" or d.severity.value == "error"
                            for d in r.errors)
    assert (r.errors[0].span.line, r.errors[0].span.start) == (0, 20)
    assert r.errors[0].message == "expected ')' to close the call started at 1:16, found end of file"
    # and the session still works
    assert s.run("1 + 1").value.text == "2"


def test_syntax_errors_in_the_document_stop_a_whole_run():
    r = Session(device="cpu").run("print(0)\nlet x = (1 +\nprint(1)")
    assert r.stdout == "" and r.errors


def test_blank_outside_keeps_offsets():
    text = "ab\ncd\nef"
    assert blank_outside(text, 3, 5) == "  \ncd"


def test_runtime_error_keeps_output_before_it():
    r = Session(device="cpu").run('print("one")\nlet z = ones([2]) @ ones([3])\nprint("two")')
    assert r.stdout == "one\n"
    assert r.errors[0].span.line == 1 and r.errors[0].severity.value == "error"
    assert not r.ok


@pytest.mark.parametrize("body", ["loop { }", "let i = 0\nwhile true { i = i + 1 }",
                                  "for i in range(100000000) { let y = ones([2]) + 1.0 }"])
def test_interrupt_stops_a_running_cell_within_a_second(body):
    s = Session(device="cpu")
    results = []
    t = threading.Thread(target=lambda: results.append(s.run(body)))
    t.start()
    time.sleep(0.3)
    s.interrupt()
    t.join(timeout=10)  # it stops at the next statement; no wall-clock assertion here
    assert not t.is_alive()
    r = results[0]
    assert r.interrupted
    assert [d.message for d in r.errors] == ["interrupted"]
    assert s.run("1 + 1").value.text == "2"  # still usable


SEED_TEXT = (Path(__file__).resolve().parent.parent.parent / "examples" / "seed_linear.tl"
             ).read_text(encoding="utf-8")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, len(SEED_TEXT)), st.integers(0, len(SEED_TEXT)))
def test_any_selection_runs_or_reports_never_raises(a, b):
    s = Session(device="cpu")
    r = s.run(SEED_TEXT, (min(a, b), max(a, b)))
    assert isinstance(r.stdout, str)
    for d in r.errors:
        assert 0 <= d.span.start <= len(SEED_TEXT)


def test_value_is_null_after_calls_returning_nothing():
    s = Session(device="cpu")
    assert s.run('print("x")').value is None
    assert s.run("let m = model_from(w: ones([2]))\nm.metadata").value.kind == "record"
    assert s.run("ones([2]).shape").value.kind == "list"


def test_imports_reload_on_every_run(tmp_path):
    lib = tmp_path / "lib.tl"
    lib.write_text("tensor k: float16[1] = [1.0]\n")
    s = Session(base_dir=tmp_path, device="cpu")
    assert s.run('import "lib.tl"\nk').value.text == "[1]"
    lib.write_text("tensor k: float16[1] = [2.0]\n")
    assert s.run('import "lib.tl"\nk').value.text == "[2]"


def test_redefining_a_function_recompiles_its_callers():
    s = Session(device="cpu")
    outer = "fn outer(x: float16[N]) -> float16[N] { return inner(x) * 2.0 }\n"
    r = s.run(outer + "fn inner(x: float16[N]) -> float16[N] { return x + 1.0 }\n"
              "outer(ones([2]))")
    assert r.value.text == "[4, 4]"
    assert s.interpreter.fns["outer"].compiled is not None
    r = s.run(outer + "fn inner(x: float16[N]) -> float16[N] { return x + 10.0 }\n"
              "outer(ones([2]))")
    assert r.value.text == "[22, 22]"
