"""editors/nvim's Lua module in real headless Neovim, without a server: root detection,
filetype, user commands, the run output buffer and the virtual text of results, and which server it
starts by default (never a tl-lsp planted in the project)."""

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


def run_lua(tmp_path: Path, body: str, path: str, cwd: Path, **env: str) -> dict:
    """Run `body` (Lua, ending in `out = {...}`) in headless Neovim with editors/nvim on the
    runtime path; return `out` (written as JSON). Neovim exits 1 on a Lua error."""
    script = tmp_path / "t.lua"
    script.write_text(
        "local ok, err = xpcall(function()\n"
        "  vim.opt.runtimepath:prepend(vim.env.TL_NVIM_RTP)\n"
        f"{body}\n"
        '  local f = io.open(vim.env.TL_OUT, "w")\n'
        "  f:write(vim.fn.json_encode(out))\n"
        "  f:close()\n"
        "end, debug.traceback)\n"
        'if not ok then io.stderr:write(tostring(err)) vim.cmd("cquit 1") end\n'
        'vim.cmd("cquit 0")\n'
    )
    out = tmp_path / "out.json"
    env = {
        "PATH": path,
        "HOME": str(tmp_path),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "TL_NVIM_RTP": str(ROOT / "editors" / "nvim"),
        "TL_OUT": str(out),
        **env,
    }
    proc = subprocess.run(
        ["nvim", "--headless", "--clean", "-u", "NONE", "-c", f"luafile {script}"],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(out.read_text())


LUA = """
  local tl = require("tensorlogic").setup({ cmd = { "false" } })
  vim.cmd("noautocmd edit " .. vim.env.TL_DIR .. "/proj/sub/x.tl")
  vim.cmd("doautocmd BufRead")
  out = {
    root_file = tl.find_root(vim.env.TL_DIR .. "/proj/sub/x.tl"),
    root_dir = tl.find_root(vim.env.TL_DIR .. "/repo/deep/y.tl"),
    filetype = vim.bo.filetype,
    commands = vim.fn.exists(":TLRunCell") + vim.fn.exists(":TLRunSelection")
      + vim.fn.exists(":TLRunFile") + vim.fn.exists(":TLInterrupt") + vim.fn.exists(":TLRestartKernel"),
    lspconfig = tl.lspconfig(),
  }
  -- the run log as the server streams it: pieces that end mid-line continue that line
  for _, piece in ipairs({ "[run x.tl:1-2]\\n", "tick 1\\ntick", " 2\\n", "", "(done)\\n" }) do
    tl.append_output(piece)
  end
  out.output = vim.api.nvim_buf_get_lines(tl.output_buffer(), 0, -1, false)
  -- after :bdelete the buffer takes output again
  vim.cmd("bdelete! " .. tl.output_buffer())
  tl.append_output("[run x.tl:3-3]\\n")
  out.output_after_bdelete = vim.api.nvim_buf_get_lines(tl.output_buffer(), 0, -1, false)
  -- a result's label, at its line, in the error colour when it reports an error
  local buf = vim.api.nvim_get_current_buf()
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, { "a", "b", "c" })
  tl.show_result(buf, { labels = { inline = "⇒ error: boom", line = 1, error = true } })
  local marks = vim.api.nvim_buf_get_extmarks(buf, tl.ns, 0, -1, { details = true })
  out.virtual_text = { line = marks[1][2], text = marks[1][4].virt_text[1][1],
    hl = marks[1][4].virt_text[1][2], count = #marks }"""


def test_module_setup_roots_commands_output_and_results(tmp_path: Path):
    (tmp_path / "proj" / "sub").mkdir(parents=True)
    (tmp_path / "proj" / "pyproject.toml").write_text("")
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    (tmp_path / "repo" / "deep").mkdir()
    got = run_lua(tmp_path, LUA, "/usr/bin:/bin", tmp_path, TL_DIR=str(tmp_path))
    assert got["root_file"] == str(tmp_path / "proj")
    assert got["root_dir"] == str(tmp_path / "repo")
    assert got["filetype"] == "tensorlogic"
    assert got["commands"] == 10  # five commands, each `exists() == 2`
    assert got["lspconfig"] is False  # nvim-lspconfig is not installed here
    assert got["output"] == ["[run x.tl:1-2]", "tick 1", "tick 2", "(done)", ""]
    assert got["output_after_bdelete"] == ["[run x.tl:3-3]", ""]
    assert got["virtual_text"] == {"line": 1, "text": "⇒ error: boom", "hl": "ErrorMsg",
                                   "count": 1}


PLANTED_LUA = """
  local tl = require("tensorlogic").setup({})
  local cmd, problem
  if tl.server_cmd then
    cmd, problem = tl.server_cmd()
  end
  local messages = {}
  vim.notify = function(msg) table.insert(messages, msg) end
  vim.cmd("edit x.tl")  -- starts the server, if there is one to start
  vim.wait(1500, function() return false end)
  out = { cmd = cmd or vim.NIL, problem = problem or vim.NIL, messages = messages }"""


def _plant(path: Path, mark: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\ntouch {mark}\nsleep 5\n")
    path.chmod(0o755)


def _run_planted(tmp_path: Path, path: str) -> dict:
    return run_lua(tmp_path, PLANTED_LUA, path, tmp_path / "repo")


def test_default_server_is_never_a_tl_lsp_in_the_project(tmp_path: Path):
    # a repository with its own tl-lsp (and one in bin/), opened with `.`, `bin` and an
    # empty entry on PATH: none of them may start
    repo, marks = tmp_path / "repo", tmp_path / "marks"
    marks.mkdir()
    _plant(repo / "tl-lsp", marks / "planted")
    _plant(repo / "bin" / "tl-lsp", marks / "planted-bin")
    got = _run_planted(tmp_path, ".:bin::/usr/bin:/bin")
    assert sorted(p.name for p in marks.iterdir()) == []
    assert got["cmd"] is None
    assert got["problem"] == (
        "tensorlogic: tl-lsp was not found in the absolute directories of $PATH; install "
        'tensorlogic-tools, or give setup() a cmd, e.g. { "/path/.venv/bin/tl-lsp", "--stdio" }'
    )
    assert got["messages"] == [got["problem"]]


def test_default_server_is_the_tl_lsp_on_the_users_path(tmp_path: Path):
    repo, marks = tmp_path / "repo", tmp_path / "marks"
    marks.mkdir()
    _plant(repo / "tl-lsp", marks / "planted")
    _plant(tmp_path / "user-bin" / "tl-lsp", marks / "users")
    got = _run_planted(tmp_path, f".:{tmp_path / 'user-bin'}:/usr/bin:/bin")
    assert sorted(p.name for p in marks.iterdir()) == ["users"]
    assert got["cmd"] == [str(tmp_path / "user-bin" / "tl-lsp"), "--stdio"]
