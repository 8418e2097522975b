"""Real Neovim 0.7 (headless) with editors/nvim's Lua module against the real tl-lsp.

Opens a .tl file that loads a generated SafeTensors model, waits for diagnostics, hovers a
variable (shape text), completes inside `get_tensor("` (the model's real names), and runs a
cell through workspace/executeCommand (printed output and virtual text).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.lsp.lsp_util import pos_of, write_model

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("nvim_lsp_e2e.lua")

# the marks of every test that runs Neovim against the server (test_nvim_features.py too)
NVIM_E2E = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.usefixtures("nvim_bin"),  # fails when Neovim is missing (tests/e2e/conftest.py)
]
pytestmark = NVIM_E2E

PROGRAM = """\
// 모델을 읽는다 😀
model = load_model("tiny.safetensors")
/* 가중치 😀 */ weight = model.get_tensor("layer.0.weight")
name = model.get_tensor("")
let oops = undefined_thing + 1
let again = weight
// %%
m2 = load_model("tiny.safetensors")
let x = tensor<float16>([[1.0, 2.0, 3.0]], device: cpu)
print("from nvim:", (x @ m2.get_tensor("layer.0.weight")).shape)
// %%
let spin = 0
loop {
    spin = spin + 1
    if spin % 5000 == 0 {
        print("tick", spin)
    }
}
print("the loop ended")
"""

TENSORS = {"layer.0.weight": (3, 2), "layer.0.bias": (2,), "layer.1.weight": (2, 2)}


def run_nvim(
    tmp_path: Path, env_extra: dict[str, str], script: Path = SCRIPT
) -> tuple[int, dict, str]:
    """Headless Neovim running the Lua driver `script` (see nvim_e2e_lib.lua) in `tmp_path`:
    its exit code, its JSON outcome and its output."""
    out = tmp_path / "result.json"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "TL_E2E_OUT": str(out),
        "TL_NVIM_RTP": str(ROOT / "editors" / "nvim"),
        "TL_LSP_CMD": json.dumps([sys.executable, "-m", "tl_lsp", "--stdio"]),
        **env_extra,
    }
    proc = subprocess.run(
        ["nvim", "--headless", "--clean", "-u", "NONE", "-c", f"luafile {script}"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=330,
        stdin=subprocess.DEVNULL,
    )
    result = json.loads(out.read_text()) if out.exists() else {}
    return proc.returncode, result, proc.stdout + proc.stderr


def test_neovim_diagnostics_hover_completion_and_run_cell(tmp_path: Path):
    write_model(tmp_path / "tiny.safetensors", TENSORS)
    tl = tmp_path / "model.tl"
    tl.write_text(PROGRAM, encoding="utf-8")
    hover = pos_of(PROGRAM, "weight = model")
    complete = pos_of(PROGRAM, 'get_tensor("")', len('get_tensor("'))
    code, result, output = run_nvim(
        tmp_path,
        {
            "TL_E2E_FILE": str(tl),
            "TL_HOVER_LINE": str(hover.line),
            "TL_HOVER_COL": str(hover.character),
            "TL_COMPLETE_LINE": str(complete.line),
            "TL_COMPLETE_COL": str(complete.character),
            "TL_CELL_LINE": str(PROGRAM.split("\n").index("// %%") + 1),
            "TL_SEL_FIRST": str(PROGRAM.split("\n").index("// %%") + 2),  # 1-based lines
            "TL_SEL_LAST": str(PROGRAM.split("\n").index("// %%") + 4),
            "TL_CURSOR_NEEDLE": "weight = model",
            "TL_LOOP_LINE": str(PROGRAM.split("\n").index("let spin = 0")),
            "TL_USE_NEEDLE": "let again = weight",
        },
    )
    assert code == 0, f"nvim exited {code}: {result.get('error')}\n{output}"
    assert result["attached"] == "tl-lsp"
    assert any("undefined_thing" in d["message"] and d["lnum"] == 4 for d in result["diagnostics"])
    assert "float16[3, 2]" in result["hover"]
    assert set(TENSORS) <= set(result["completion"])
    run = result["run"]
    assert "from nvim:" in run["stdout"] and "[1, 2]" in run["stdout"]
    assert run["errors"] == []
    # the server's label, at the cell's last code line
    assert result["virtual_text"] == [run["labels"]["inline"]]
    lines = PROGRAM.split("\n")
    assert result["virtual_text_lines"] == [
        next(i for i, ln in enumerate(lines) if ln.startswith('print("from nvim:"'))
    ]
    assert re.fullmatch(r"⇒ from nvim: \[1, 2\] · [0-9.]+ m?s", run["labels"]["inline"])
    assert result["commands"] is True
    assert "from nvim:" in result["selection"]["stdout"]
    # positions Neovim computed itself agree with ours, and rename edits apply in Neovim
    assert result["cursor_position"] == {"line": hover.line, "character": hover.character}
    assert result["cursor_hover"] == result["hover"]
    weight_line = PROGRAM.split("\n")[hover.line]
    assert [d["range"]["start"] for d in result["definition"]] == [
        {"line": hover.line, "character": hover.character}
    ], weight_line
    lines = result["after_rename"]
    assert lines[hover.line] == weight_line.replace("weight =", "renamed =")
    assert "let again = renamed" in lines
    # streaming: the loop's prints reached the output buffer while it ran; the interrupt
    # stopped it (it never ended) and kept what it printed, in the result and the buffer
    assert result["output_grew_while_running"] is True
    assert result["interrupted"] is True and result["output_kept"] is True
    stopped = result["interrupt_result"]
    assert "tick 5000\n" in stopped["stdout"] and "the loop ended" not in stopped["stdout"]
    shown = "\n".join(result["output_after_interrupt"])
    assert shown.endswith(stopped["labels"]["log"])  # head, every print, how it ended
    assert re.search(r"\n\(interrupted after [0-9.]+ m?s on cpu\)\n$", shown), shown[-300:]
