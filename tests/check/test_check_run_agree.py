"""`tl check` and `tl run` give the same verdict, in the same words, on import cycles and on
source files that are not UTF-8 (issue 18); the kernel's Session agrees too."""

from __future__ import annotations

import pytest

from tests.runtime.test_runtime_cli import tl
from tl_core.check import analyze
from tl_core.diagnostics import Severity
from tl_core.runtime import Session

FILES = {
    "a.tl": 'import "b.tl"\nprint(1)\n',
    "b.tl": 'import "a.tl"\nfn fb() -> int { return 2 }\n',
    "a2.tl": 'import "b2.tl"\nprint(1)\n',
    "b2.tl": 'import "c2.tl"\n',
    "c2.tl": 'import "b2.tl"\nfn fc() -> int { return 3 }\n',
    "self.tl": 'import "self.tl"\nprint(1)\n',
    "iu.tl": 'import "u.tl"\nprint(1)\n',
    "diamond.tl": 'import "l.tl"\nimport "r.tl"\nprint(fl() + fr())\n',
    "l.tl": 'import "d.tl"\nfn fl() -> int { return fd() }\n',
    "r.tl": 'import "d.tl"\nfn fr() -> int { return fd() * 10 }\n',
    "d.tl": "fn fd() -> int { return 4 }\n",
}
UTF8_ERROR = ("this file is not valid UTF-8: byte 0xe9 here is not part of a UTF-8 character; "
              "save the file as UTF-8")


@pytest.fixture
def project(tmp_path):
    for name, text in FILES.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "u.tl").write_bytes(b'let s = "caf\xe9"\nprint(s)\n')
    return tmp_path


@pytest.mark.parametrize(("name", "error"), [
    ("a.tl", "a.tl:1:8: error: import cycle: a.tl -> b.tl -> a.tl"),
    ("a2.tl", "a2.tl:1:8: error: import cycle: a2.tl -> b2.tl -> c2.tl -> b2.tl"),
    ("self.tl", "self.tl:1:8: error: import cycle: 'self.tl' is this file itself"),
    ("u.tl", f"u.tl:1:13: error: {UTF8_ERROR}"),
    ("iu.tl", "iu.tl:1:8: error: cannot import 'u.tl': the file cannot be read as UTF-8 text"),
])
def test_check_and_run_report_the_same_error(project, name, error):
    checked = tl("check", name, cwd=project)
    ran = tl("run", name, "--device", "cpu", cwd=project)
    assert (checked.returncode, checked.stdout) == (1, error + "\n")
    assert (ran.returncode, ran.stdout, ran.stderr) == (1, "", error + "\n")


def test_a_diamond_is_not_a_cycle(project):
    assert tl("check", "diamond.tl", cwd=project).stdout == ""
    ran = tl("run", "diamond.tl", "--device", "cpu", cwd=project)
    assert (ran.returncode, ran.stdout) == (0, "44\n")


@pytest.mark.parametrize("name", ["a.tl", "a2.tl", "self.tl", "iu.tl"])
def test_session_with_the_documents_path_agrees_with_the_checker(project, name):
    path = project / name
    text = path.read_text()
    (checked,) = [d for d in analyze(text, str(path)).diagnostics
                  if d.severity == Severity.ERROR]
    r = Session(project, "cpu", path=path).run(text)
    (ran,) = [d for d in r.errors if d.severity == Severity.ERROR]
    assert (ran.span.line, ran.span.col, ran.message) == \
        (checked.span.line, checked.span.col, checked.message)


def test_a_non_model_file_is_not_quoted_in_the_diagnostic(tmp_path):
    (tmp_path / "secret").write_bytes(b"root:$6$saltsalt$hash:19000:0:99999:7:::\n")
    a = analyze('let m = load_model("secret")\n', str(tmp_path / "doc.tl"))
    (d,) = a.diagnostics
    assert "root" not in d.message and "salt" not in d.message
    assert "not a model file" in d.message
