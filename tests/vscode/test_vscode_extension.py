"""The VS Code extension without an editor: its own unit tests (node's test runner), the
TypeScript type check, and the packaged .vsix."""

from __future__ import annotations

import json
import re
import subprocess
import zipfile

from tests.vscode.node_tools import EXT, build_vsix, ensure_node_modules


def _npm(*args: str) -> subprocess.CompletedProcess[str]:
    ensure_node_modules()
    return subprocess.run(["npm", *args], cwd=EXT, capture_output=True, text=True)


def test_extension_unit_tests_pass():
    proc = _npm("test")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    passed = int(re.search(r"^# pass (\d+)$", out, re.M).group(1))
    assert passed >= 13, out  # result formatting is tested in tests/runtime/test_kernel_protocol.py
    assert re.search(r"^# fail 0$", out, re.M), out


def test_extension_typechecks():
    proc = _npm("run", "typecheck")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_vsix_contents():
    vsix = build_vsix()
    with zipfile.ZipFile(vsix) as z:
        names = set(z.namelist())
        for needed in (
            "extension/dist/extension.js",
            "extension/dist/tensorlogic.tmLanguage.json",
            "extension/language-configuration.json",
            "extension/snippets/tensorlogic.json",
            "extension/images/icon.png",
            "extension/package.json",
        ):
            assert needed in names, f"{needed} missing from {vsix}: {sorted(names)}"
        assert not any("node_modules" in n for n in names)
        manifest = json.loads(z.read("extension/package.json"))
        grammar = json.loads(z.read("extension/dist/tensorlogic.tmLanguage.json"))
        snippets = json.loads(z.read("extension/snippets/tensorlogic.json"))
    assert grammar["scopeName"] == "source.tl"
    (language,) = manifest["contributes"]["languages"]
    assert language["id"] == "tensorlogic" and language["extensions"] == [".tl"]
    commands = {c["command"] for c in manifest["contributes"]["commands"]}
    assert {
        "tensorlogic.runSelection",
        "tensorlogic.runCell",
        "tensorlogic.runFile",
        "tensorlogic.interrupt",
        "tensorlogic.restartKernel",
    } <= commands
    keys = {(k["command"], k["key"]) for k in manifest["contributes"]["keybindings"]}
    assert ("tensorlogic.runSelection", "shift+enter") in keys
    assert ("tensorlogic.runCell", "ctrl+enter") in keys
    settings = set(manifest["contributes"]["configuration"]["properties"])
    assert settings == {
        "tensorlogic.server.path",
        "tensorlogic.pythonPath",
        "tensorlogic.device",
        "tensorlogic.trace.server",
    }
    assert sorted(s["prefix"] for s in snippets.values()) == ["fn", "for", "forward", "load", "main"]
    # Workspace Trust: limited support; a workspace's values of the path settings wait for trust
    trust = manifest["capabilities"]["untrustedWorkspaces"]
    assert trust["supported"] == "limited"
    assert sorted(trust["restrictedConfigurations"]) == [
        "tensorlogic.pythonPath",
        "tensorlogic.server.path",
    ]


def test_language_configuration():
    conf = json.loads((EXT / "language-configuration.json").read_text())
    assert conf["comments"] == {"lineComment": "//", "blockComment": ["/*", "*/"]}
    assert {"open": '"', "close": '"', "notIn": ["string", "comment"]} in conf["autoClosingPairs"]
    # no cell rule of its own: cells fold by the server's folding ranges (tl_core)
    assert "folding" not in conf
    word = re.compile(conf["wordPattern"])
    assert word.fullmatch("D_in") and word.fullmatch("2.5E+3")
