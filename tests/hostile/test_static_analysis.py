"""Static analysis reads, never runs, and is bounded (issue 17).

Opening, hovering, completing and checking a program never executes it, and reading the
files a program names (a FIFO, /dev/zero, 100 GB sparse files, a directory, a package of
thousands of files, a file outside the workspace) finishes with a clear diagnostic in bounded
time and memory: through the checker API (in a child process under a timeout and an
address-space limit) and through a real `tl-lsp`. Workspace-wide work (workspace symbols,
watched files, path completion) skips FIFOs, devices and sockets and bounds what it visits.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.hostile.bounded import GiB, children_of, rss_of, run_child
from tests.hostile.workspace import make_workspace, program
from tests.lsp.stdio_client import StdioClient
from tl_lsp.documents import scan_tl_files


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("hostile") / "ws"
    return root, make_workspace(root)


CHECK_CHILD = r"""
import json, sys
from tl_core import ide
from tl_core.check import analyze

text, path = open(sys.argv[1]).read(), sys.argv[2]
a = analyze(text, path)
answers = 0
for name in ("m0", "m1", "m2", "m5", "m7", "t0", "t2", "m", "r"):
    ide.hover_at(a, text.index(f"let {name} ") + 4)
    answers += 1
ide.hover_at(a, text.index("fn forever") + 3)
at = text.index("/etc/passwd") + 5  # path completion inside a string argument
ide.complete_at(a, at)
ide.signature_at(a, at)
ide.document_symbols(a)
print(json.dumps({"diagnostics": [[d.span.line, d.message] for d in a.diagnostics],
                  "answers": answers}))
"""


def test_checker_reads_named_files_bounded_and_never_runs(ws, tmp_path: Path) -> None:
    root, paths = ws
    text, expected = program(paths)
    src = tmp_path / "prog.tl"
    src.write_text(text)
    child = run_child(CHECK_CHILD, timeout=120, address_space=4 * GiB,
                      argv=[str(src), str(root / "prog.tl")])
    assert not child.hung, "the checker hung on a hostile file"
    assert child.rc == 0 and "Traceback" not in child.stderr, child.stderr
    got = child.json()
    assert got["answers"] == 9
    want = [[line, m] for line, m in enumerate(expected) if m]
    assert got["diagnostics"] == want
    assert child.maxrss < 1 * GiB  # the 100 GB files were never read
    assert "the program ran" not in child.stdout
    assert not (root / "written.safetensors").exists()


def test_import_graph_with_many_paths_is_searched_once(tmp_path: Path) -> None:
    """40 files, each importing the next two: 2^40 import paths, 40 files. The cycle search
    visited every path (it never finished); it must visit every file once."""
    n = 40
    for i in range(n):
        imports = "".join(f'import "f{j}.tl"\n' for j in (i + 1, i + 2) if j < n)
        (tmp_path / f"f{i}.tl").write_text(f"{imports}fn g{i}() -> int {{ return {i} }}\n")
    child = run_child(
        "import sys\nfrom tl_core.check import analyze\n"
        "print(len(analyze(open(sys.argv[1]).read(), sys.argv[1]).diagnostics))",
        timeout=60, argv=[str(tmp_path / "f0.tl")])
    assert not child.hung, "the import cycle search did not finish"
    assert child.rc == 0 and child.stdout.split() == ["0"], child.stderr


def test_workspace_scan_lists_only_regular_tl_files(ws) -> None:
    root, _ = ws
    found = sorted(os.path.relpath(p, root) for p in scan_tl_files([str(root)]))
    assert found == ["good.tl", "huge.tl"]  # not pipe.tl, zero.tl (/dev/zero), sock.tl


def test_workspace_scan_stops_at_its_bounds(tmp_path: Path) -> None:
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
    for i in range(300):
        (tmp_path / "a" / f"x{i}.txt").touch()
        (tmp_path / "b" / f"y{i}.tl").touch()
    assert len(scan_tl_files([str(tmp_path)], max_files=50)) == 50
    assert len(scan_tl_files([str(tmp_path)], max_entries=100)) < 100
    assert len(scan_tl_files([str(tmp_path)])) == 300


def test_path_completion_looks_at_a_bounded_number_of_entries(tmp_path: Path,
                                                              monkeypatch) -> None:
    from tl_core.check import analyze
    from tl_core.ide import completion

    (tmp_path / "a_many").mkdir()
    for i in range(500):
        (tmp_path / "a_many" / f"n{i}.txt").touch()
    (tmp_path / "z").mkdir()
    (tmp_path / "z" / "m.safetensors").touch()
    text = 'let m = load_model("")\n'
    a = analyze(text, str(tmp_path / "p.tl"))
    at = text.index('""') + 1
    labels = [c.label for c in completion.file_completions(a, "", a.line_index.span(at, at),
                                                              (".safetensors",))]
    assert labels == ["z/m.safetensors"]
    monkeypatch.setattr(completion, "WALK_ENTRIES", 100)  # the 500 files use it up
    assert completion.file_completions(a, "", a.line_index.span(at, at),
                                         (".safetensors",)) == []


def test_language_server_reads_bounded_never_runs(ws) -> None:
    root, paths = ws
    text, expected = program(paths)
    uri = (root / "prog.tl").as_uri()
    client = StdioClient(cwd=str(root))
    timer = client.kill_after(240)
    try:
        client.initialize(root)
        client.open(uri, text)
        diags = client.wait_notification(
            "textDocument/publishDiagnostics",
            lambda p: p["uri"] == uri and p["diagnostics"], timeout=180)["diagnostics"]
        got = sorted((d["range"]["start"]["line"], d["message"]) for d in diags)
        assert got == [(line, m) for line, m in enumerate(expected) if m]
        lines = text.splitlines()
        for name in ("m0", "m1", "m5", "m7", "t0", "t2", "m"):
            line = next(i for i, s in enumerate(lines) if s.startswith(f"let {name} "))
            pos = {"line": line, "character": 4}
            client.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": pos})
        line = next(i for i, s in enumerate(lines) if "/etc/passwd" in s)
        pos = {"line": line, "character": lines[line].index("/etc/") + 5}
        client.request("textDocument/completion",
                       {"textDocument": {"uri": uri}, "position": pos})
        client.request("textDocument/signatureHelp",
                       {"textDocument": {"uri": uri}, "position": pos})
        symbols = client.request("workspace/symbol", {"query": "helper_in"})
        assert [s["name"] for s in symbols] == ["helper_in_good"]
        assert client.request("workspace/symbol", {"query": "hidden_in_huge"}) == []
        # watched-file events for special files, and a burst of them (a checkout)
        changes = [{"uri": Path(p).as_uri(), "type": 2}
                   for p in (paths["fifo"], str(root / "zero.tl"), paths["sock"], paths["zeros"])]
        changes += [{"uri": (root / f"gone{i}.safetensors").as_uri(), "type": 3}
                    for i in range(5000)]
        client.notify("workspace/didChangeWatchedFiles", {"changes": changes})
        again = client.wait_notification(
            "textDocument/publishDiagnostics",
            lambda p: p["uri"] == uri and p["diagnostics"], timeout=180)["diagnostics"]
        assert len(again) == len(diags)
        assert client.request("tensorlogic/documentText", {"uri": uri})["text"] == text
        assert rss_of(client.proc.pid) < 1.5 * GiB  # peak: nothing large was read
        assert children_of(client.proc.pid) == []  # no kernel, no program started
        assert not (root / "written.safetensors").exists()
    finally:
        timer.cancel()
        client.close()
    assert client.proc.returncode == 0




def test_reading_a_coreml_header_imports_neither_coremltools_nor_torch(tmp_path) -> None:
    """coremltools' package imports torch and its converters (9-14 s, hundreds of MB, in
    the language server for one hover); the header reader needs only its protobuf modules."""
    from tests.hostile.corpus import small_mlmodel

    path = tmp_path / "m.mlmodel"
    path.write_bytes(small_mlmodel())
    child = run_child(
        "import sys\nfrom tl_core.models import read_header\n"
        "h = read_header(sys.argv[1])\n"
        "print(sorted(h.tensors), 'torch' in sys.modules, 'coremltools' in sys.modules)",
        argv=[str(path)])
    assert child.rc == 0, child.stderr
    assert child.stdout.split("]")[1].split() == ["False", "False"]
    assert child.stdout.startswith("['fc.bias', 'fc.weight']")
