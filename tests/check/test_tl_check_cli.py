"""`tl check` reports the checker's diagnostics (not only syntax errors)."""

from pathlib import Path

from tl_core.cli import main

GOLDEN = Path(__file__).resolve().parent / "golden"


def test_tl_check_reports_shape_error_and_exit_status(capsys):
    p = GOLDEN / "seed_linear_w_transposed.tl"
    assert main(["check", str(p)]) == 1
    out = capsys.readouterr().out
    assert f"{p}:11:25: error: forward(): shape variable D_in is 3" in out


def test_tl_check_clean_program(capsys):
    assert main(["check", str(GOLDEN / "seed_linear.tl")]) == 0
    assert capsys.readouterr().out == ""


def test_tl_check_warnings_do_not_fail(capsys):
    p = GOLDEN / "seed_models.tl"
    assert main(["check", str(p)]) == 0
    assert "warning: cannot open model 'path/to/model.safetensors'" in capsys.readouterr().out
