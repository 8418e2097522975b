"""editors/nvim's Lua module in real headless Neovim, without a server: root detection,
filetype, user commands, and the run-result summary used for virtual text."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.usefixtures("nvim_bin"),  # fails when Neovim is missing (tests/e2e/conftest.py)
]

LUA = """
local ok, err = xpcall(function()
  vim.opt.runtimepath:prepend(vim.env.TL_NVIM_RTP)
  local tl = require("tensorlogic").setup({ cmd = { "false" } })
  vim.cmd("noautocmd edit " .. vim.env.TL_DIR .. "/proj/sub/x.tl")
  vim.cmd("doautocmd BufRead")
  local out = {
    root_file = tl.find_root(vim.env.TL_DIR .. "/proj/sub/x.tl"),
    root_dir = tl.find_root(vim.env.TL_DIR .. "/repo/deep/y.tl"),
    filetype = vim.bo.filetype,
    commands = vim.fn.exists(":TLRunCell") + vim.fn.exists(":TLRunSelection")
      + vim.fn.exists(":TLRunFile") + vim.fn.exists(":TLInterrupt") + vim.fn.exists(":TLRestartKernel"),
    lspconfig = tl.lspconfig(),
    summary = tl.summary({ value = { kind = "tensor", shape = { 4, 2 }, dtype = "float16" },
      stdout = "a\\nlast line\\n", elapsed_ms = 12.5, device = "cpu", errors = {} }),
    summary_error = tl.summary({ stdout = "", elapsed_ms = 1, device = "gpu",
      errors = { { message = "float16[4, 3] @ float16[2, 3]: inner dimensions 3 and 2 differ" } } }),
  }
  local f = io.open(vim.env.TL_OUT, "w")
  f:write(vim.fn.json_encode(out))
  f:close()
end, debug.traceback)
if not ok then
  io.stderr:write(tostring(err))
  vim.cmd("cquit 1")
end
vim.cmd("cquit 0")
"""


def test_module_setup_roots_commands_and_summary(tmp_path: Path):
    (tmp_path / "proj" / "sub").mkdir(parents=True)
    (tmp_path / "proj" / "pyproject.toml").write_text("")
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    (tmp_path / "repo" / "deep").mkdir()
    script = tmp_path / "t.lua"
    script.write_text(LUA)
    out = tmp_path / "out.json"
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "TL_NVIM_RTP": str(ROOT / "editors" / "nvim"),
        "TL_DIR": str(tmp_path),
        "TL_OUT": str(out),
    }
    proc = subprocess.run(
        ["nvim", "--headless", "--clean", "-u", "NONE", "-c", f"luafile {script}"],
        env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    got = json.loads(out.read_text())
    assert got["root_file"] == str(tmp_path / "proj")
    assert got["root_dir"] == str(tmp_path / "repo")
    assert got["filetype"] == "tensorlogic"
    assert got["commands"] == 10  # five commands, each `exists() == 2`
    assert got["lspconfig"] is False  # nvim-lspconfig is not installed here
    assert got["summary"] == "= float16[4, 2]  » last line  (12.5 ms cpu)"
    assert got["summary_error"] == (
        "✗ float16[4, 3] @ float16[2, 3]: inner dimensions 3 and 2 differ  (1.0 ms gpu)"
    )
