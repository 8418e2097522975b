"""Real Neovim 0.7 (headless) with editors/nvim's Lua module against the real tl-lsp: the
language features so far tested only through pytest-lsp, with Neovim making the positions
and applying the edits, and the module's :TLRunFile and :TLRestartKernel.

One Neovim session (nvim_features_e2e.lua) answers every test here; each step's failure is
kept apart, so each test reports its own feature.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.e2e.test_nvim_lsp import NVIM_E2E, run_nvim
from tests.lsp.lsp_util import pos_of, write_model

SCRIPT = Path(__file__).with_name("nvim_features_e2e.lua")

pytestmark = NVIM_E2E

PROGRAM = """\
// %%
model = load_model("tiny.safetensors")
/* 가중치 😀 */ w = model.get_tensor("layer.0.weight")
let x = tensor<float16>([[1.0, 2.0, 3.0]], device: cpu)
let y = x @ w
print("y:", y.shape)

fn scale(t: float16[N, D], k: float16[D]) -> float16[N, D] {
    let s = t * k
    return s + t
}
// %%
let z = scale(y, model.get_tensor("layer.0.bias"))
print("z:", z.shape, w.shape)
x + x
"""
LINES = PROGRAM.split("\n")

LIB = "fn helper_in_lib(a: float16[N]) -> float16[N] {\n    return a\n}\n"

UNFORMATTED = """\
let a   =   1
let  b=a*2
/* 한국어 😀 */ let c =   b+a
fn   twice(t:float16[N])->float16[N]{
return t+t
}
"""

COMMANDS = """\
// %%
let kept = tensor<float16>([[1.0, 2.0]], device: cpu)
print("kept:", kept.shape)
// %%
print("again:", kept)
kept * 2.0
"""

TENSORS = {"layer.0.weight": (3, 2), "layer.0.bias": (2,)}

_end = pos_of(UNFORMATTED, "😀", 1)  # rangeFormatting's range ends just after the emoji
FMT_END = {"line": _end.line, "character": _end.character}


@pytest.fixture(scope="module")
def nvim(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("nvim_features")
    write_model(root / "tiny.safetensors", TENSORS)
    files = {"features.tl": PROGRAM, "lib.tl": LIB, "fmt.tl": UNFORMATTED, "cmds.tl": COMMANDS}
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    code, result, output = run_nvim(
        root,
        {
            "TL_E2E_FILE": str(root / "features.tl"),
            "TL_WS_QUERIES": json.dumps(["scale", "helper", "bias"]),
            "TL_USE_NEEDLE": "x @ w",
            "TL_USE_DELTA": "4",  # bytes: on `w`
            "TL_LENS_LINE": str(LINES.index("// %%", 1)),
            "TL_NEW_NAME": "weights",
            "TL_FMT_FILE": str(root / "fmt.tl"),
            "TL_FMT_RANGE": json.dumps({"start": {"line": 1, "character": 0}, "end": FMT_END}),
            "TL_CMD_FILE": str(root / "cmds.tl"),
            "TL_CMD_CELL_LINE": str(COMMANDS.split("\n").index('print("again:", kept)')),
            "TL_RESTART_MESSAGE": "tensorlogic: kernel restarted",
        },
        script=SCRIPT,
    )
    assert code == 0, f"nvim exited {code}: {result.get('error')}\n{output}"
    result["root"] = root
    return result


def answer(nvim: dict, step: str, group: str | None = None):
    """What the driver recorded as `step`; its group of steps (`try` in the driver, named
    like the step by default) ran without an error."""
    error = (nvim["errors"] or {}).get(group or step)
    assert not error, error
    assert step in nvim["steps"], nvim["steps"]
    return nvim[step]


def rng(line: int, start: int, end: int) -> dict:
    return {"start": {"line": line, "character": start}, "end": {"line": line, "character": end}}


def uri(nvim: dict, name: str = "features.tl") -> str:
    return (nvim["root"] / name).as_uri()


# UTF-16 columns of `w`: after `/* 가중치 😀 */ ` (12 code units: the emoji is two) on
# line 2, in `let y = x @ w` and in `print("z:", z.shape, w.shape)`
W_DECL, W_USE, W_PRINT = rng(2, 13, 14), rng(4, 12, 13), rng(13, 21, 22)


def test_references_and_rename_applied_by_neovim(nvim: dict):
    answer(nvim, "references")
    assert nvim["references_position"] == {"line": 4, "character": 12}  # Neovim's own
    assert nvim["references"] == [{"uri": uri(nvim), "range": r} for r in (W_DECL, W_USE, W_PRINT)]
    assert nvim["references_no_declaration"] == [
        {"uri": uri(nvim), "range": r} for r in (W_USE, W_PRINT)
    ]
    renamed = (
        PROGRAM.replace("😀 */ w =", "😀 */ weights =")
        .replace("x @ w\n", "x @ weights\n")
        .replace(" w.shape", " weights.shape")
    )
    assert renamed.count("weights") == 3
    assert answer(nvim, "after_rename", "rename") == renamed.split("\n")[:-1]


def test_document_symbols_and_workspace_symbols(nvim: dict):
    symbols = answer(nvim, "document_symbols")
    assert [(s["name"], s["kind"], s["detail"], s["selectionRange"]) for s in symbols] == [
        ("model", 2, "safetensors, 2 tensors", rng(1, 0, 5)),  # Module
        ("w", 13, "float16[3, 2]", W_DECL),  # Variable
        ("x", 13, "float16[1, 3]", rng(3, 4, 5)),
        ("y", 13, "float16[1, 2]", rng(4, 4, 5)),
        ("scale", 12, "(t: float16[N, D], k: float16[D]) -> float16[N, D]", rng(7, 3, 8)),
        ("z", 13, "float16[1, 2]", rng(12, 4, 5)),
    ]
    assert symbols[1]["range"] == {  # the whole statement, after the comment
        "start": {"line": 2, "character": 13},
        "end": {"line": 2, "character": 51},
    }
    assert symbols[4]["range"] == {
        "start": {"line": 7, "character": 0},
        "end": {"line": 10, "character": 1},
    }
    assert [(c["name"], c["kind"], c["detail"]) for c in symbols[0]["children"]] == [
        ("layer.0.bias", 8, "float16[2] F16"),  # Field
        ("layer.0.weight", 8, "float16[3, 2] F16"),
    ]
    found = answer(nvim, "workspace_symbols")
    assert found == {
        "scale": [
            {
                "name": "scale",
                "kind": 12,
                "location": {"uri": uri(nvim), "range": rng(7, 3, 8)},
            }
        ],
        "helper": [  # lib.tl: in the workspace, never opened
            {
                "name": "helper_in_lib",
                "kind": 12,
                "location": {"uri": uri(nvim, "lib.tl"), "range": rng(0, 3, 16)},
            }
        ],
        "bias": [
            {
                "name": "layer.0.bias",
                "kind": 8,
                "containerName": "model",
                "location": {"uri": uri(nvim), "range": rng(1, 0, 5)},
            }
        ],
    }


def test_document_symbols_of_a_fn_hold_its_parameters_and_locals(nvim: dict):
    scale = next(s for s in answer(nvim, "document_symbols") if s["name"] == "scale")
    assert [(c["name"], c["kind"]) for c in scale.get("children", [])] == [
        ("t", 13),
        ("k", 13),
        ("s", 13),
    ]


def test_formatting_and_range_formatting_applied_by_neovim(nvim: dict):
    # lines 1-2 only: the range starts on line 1 and ends on line 2 after Korean text and an
    # emoji (UTF-16 column 9)
    assert FMT_END == {"line": 2, "character": 9}
    assert answer(nvim, "after_range_formatting", "formatting") == [
        "let a   =   1",
        "let b = a * 2",
        "/* 한국어 😀 */ let c = b + a",
        "fn   twice(t:float16[N])->float16[N]{",
        "return t+t",
        "}",
    ]
    assert answer(nvim, "after_formatting", "formatting") == [
        "let a = 1",
        "let b = a * 2",
        "/* 한국어 😀 */ let c = b + a",
        "fn twice(t: float16[N]) -> float16[N] {",
        "    return t + t",
        "}",
    ]


def test_code_lenses_run_cells_and_inlay_hints_stay_static(nvim: dict):
    def lens(title: str, command: str, row: int, **extra) -> dict:
        return {
            "range": rng(row, 0, 5),
            "command": {
                "title": title,
                "command": command,
                "arguments": [{"uri": uri(nvim), **extra}],
            },
        }

    lenses = [
        lens("Run file", "tensorlogic.runFile", 0),
        lens("Run cell", "tensorlogic.runCell", 0, line=0),
        lens("Run cell", "tensorlogic.runCell", 11, line=11),
    ]
    assert answer(nvim, "code_lenses") == lenses
    assert answer(nvim, "nvim_code_lenses") == lenses  # as vim.lsp.codelens keeps them

    answer(nvim, "inlay_hints")
    assert nvim["first_cell"]["stdout"] == "y: [1, 2]\n" and nvim["first_cell"]["errors"] == []
    # the second cell, run by vim.lsp.codelens.run() on its "Run cell" lens
    ran = nvim["lens_run"]
    assert "err" not in ran
    assert ran["result"]["stdout"] == "z: [1, 2] [3, 2]\n" and ran["result"]["errors"] == []
    # run results are the command's labels (shown as virtual text), not inlay hints
    assert ran["result"]["labels"]["line"] == 14
    assert ran["result"]["labels"]["inline"].startswith("⇒ float16[1, 3] on cpu · ")
    hints = nvim["inlay_hints"]

    def hint(line: int, char: int, label: str | None, kind: int | None = 1) -> dict:
        h = {"position": {"line": line, "character": char}, "paddingLeft": True}
        if label is not None:
            h["label"] = label
        if kind is not None:
            h["kind"] = kind
        return h

    assert hints == [
        hint(1, 5, ": Model"),  # static types
        hint(2, 14, ": float16[3, 2]"),
        hint(3, 5, ": float16[1, 3]"),
        hint(4, 5, ": float16[1, 2]"),
        hint(8, 9, ": float16[N, D]"),
        hint(12, 5, ": float16[1, 2]"),
    ]


def test_semantic_tokens_and_folding_ranges(nvim: dict):
    tokens = {(t[0], t[1]): (t[2], t[3], t[4]) for t in answer(nvim, "semantic_tokens")}
    assert len(tokens) == len(nvim["semantic_tokens"]) == 56
    assert {pos: tokens.get(pos) for pos in EXPECTED_TOKENS} == EXPECTED_TOKENS
    assert answer(nvim, "folding_ranges") == [
        {"startLine": 0, "endLine": 10, "kind": "region"},  # the first cell
        {"startLine": 7, "endLine": 9},  # the fn body
        {"startLine": 11, "endLine": 14, "kind": "region"},
    ]


# (line, UTF-16 column) -> (length, type, modifiers), decoded with the server's legend
EXPECTED_TOKENS = {
    (0, 0): (5, "comment", []),
    (1, 0): (5, "variable", ["declaration"]),
    (1, 8): (10, "function", ["defaultLibrary"]),
    (2, 0): (12, "comment", []),  # `/* 가중치 😀 */`: 11 code points, 12 UTF-16 units
    (2, 13): (1, "variable", ["declaration"]),
    (2, 23): (10, "method", ["defaultLibrary"]),
    (2, 34): (16, "string", []),
    (3, 15): (7, "type", []),
    (3, 51): (3, "variable", ["readonly", "defaultLibrary"]),
    (4, 10): (1, "operator", []),
    (5, 14): (5, "property", []),
    (7, 0): (2, "keyword", []),
    (7, 3): (5, "function", ["declaration"]),
    (7, 9): (1, "parameter", ["declaration"]),
    (8, 12): (1, "parameter", []),
    (12, 8): (5, "function", []),
}


def test_module_run_file_and_restart_kernel_commands(nvim: dict):
    run = answer(nvim, "run_file", "commands")
    assert run["result"]["stdout"] == (
        "kept: [1, 2]\nagain: tensor([[1, 2]], float16[1, 2], cpu)\n"
    )
    # virtual text at the file's last line; the run's log in the output buffer
    (text,) = run["virtual_text"]
    assert run["virtual_text_lines"] == [COMMANDS.count("\n") - 1]
    assert re.fullmatch(r"⇒ float16\[1, 2\] on cpu · [0-9.]+ m?s", text), text
    before = nvim["cell_before_restart"]  # the second cell reads `kept` from the first
    assert before["result"]["errors"] == [] and before["result"]["value"]["text"] == "[[2, 4]]"
    assert before["virtual_text_lines"] == [5]  # the cell's last line
    # both runs' logs (after the earlier runs'), as the server streamed them, in one output
    # buffer shown in a window
    logs = run["result"]["labels"]["log"] + before["result"]["labels"]["log"]
    assert "\n".join(nvim["output_after_runs"]).endswith("\n" + logs)
    assert logs.startswith("[run cmds.tl:1-6]\nkept: [1, 2]\nagain: tensor(")
    assert nvim["output_windows"] == 1
    assert "kept:" not in nvim["messages_after_runs"]  # output is not a message any more
    assert nvim["messages_after_restart"] == (
        nvim["messages_after_runs"] + "\ntensorlogic: kernel restarted"
    )
    after = answer(nvim, "cell_after_restart", "commands")
    # the variable is gone with the old kernel: reading it is an error, shown as virtual text
    assert [e["message"] for e in after["result"]["errors"]] == ["undefined name 'kept'"]
    (text,) = after["virtual_text"]
    assert after["virtual_text_lines"] == [5]
    assert text == "⇒ error: undefined name 'kept'"


def test_module_command_errors_show_as_messages(tmp_path: Path):
    """:TLRestartKernel when the kernel cannot start: the server's error as a message."""
    (tmp_path / "cmds.tl").write_text(COMMANDS, encoding="utf-8")
    code, result, output = run_nvim(
        tmp_path,
        {
            "TL_E2E_FILE": str(tmp_path / "cmds.tl"),
            "TL_SETTINGS": json.dumps({"python": "/nonexistent/python3"}),
            "TL_COMMAND": "TLRestartKernel",
        },
        script=SCRIPT.with_name("nvim_command_error_e2e.lua"),
    )
    assert code == 0, f"nvim exited {code}: {result.get('error')}\n{output}"
    assert result["messages"].split("\n")[-1] == (
        "tensorlogic: tensorlogic.restartKernel failed: KernelDied: cannot start the kernel"
        " with '/nonexistent/python3': No such file or directory; set `tensorlogic.python` to a"
        " Python that has tensorlogic-tools installed"
    )
