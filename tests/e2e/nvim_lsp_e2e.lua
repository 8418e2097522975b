-- Driven by tests/e2e/test_nvim_lsp.py: real Neovim 0.7 headless + editors/nvim + tl-lsp.
-- Arguments, outcome, exit code and watchdog: see nvim_e2e_lib.lua.
local lib = dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "nvim_e2e_lib.lua")
local env = vim.env
local step, wait, request = lib.step, lib.wait, lib.request

local function main()
  local tl = lib.setup_module()
  local got_diags = false
  local orig_diag = vim.lsp.handlers["textDocument/publishDiagnostics"]
  vim.lsp.handlers["textDocument/publishDiagnostics"] = function(e, r, ctx, c)
    if r and #r.diagnostics > 0 then
      got_diags = true
    end
    return orig_diag(e, r, ctx, c)
  end

  local bufnr, client = lib.open(tl, env.TL_E2E_FILE)
  step("initialized", true)

  wait(60000, "diagnostics", function()
    return got_diags and #vim.diagnostic.get(bufnr) > 0
  end)
  local msgs = {}
  for _, d in ipairs(vim.diagnostic.get(bufnr)) do
    msgs[#msgs + 1] = { message = d.message, lnum = d.lnum, col = d.col }
  end
  step("diagnostics", msgs)

  local uri = vim.uri_from_bufnr(bufnr)
  local hline, hcol = tonumber(env.TL_HOVER_LINE), tonumber(env.TL_HOVER_COL)
  local hover = request(client, bufnr, "textDocument/hover", {
    textDocument = { uri = uri },
    position = { line = hline, character = hcol },
  })
  step("hover", hover and hover.contents and hover.contents.value or vim.NIL)

  local cline, ccol = tonumber(env.TL_COMPLETE_LINE), tonumber(env.TL_COMPLETE_COL)
  local completion = request(client, bufnr, "textDocument/completion", {
    textDocument = { uri = uri },
    position = { line = cline, character = ccol },
    context = { triggerKind = 2, triggerCharacter = '"' },
  })
  local labels = {}
  for _, item in ipairs(completion and (completion.items or completion) or {}) do
    labels[#labels + 1] = item.label
  end
  step("completion", labels)

  -- Positions made by Neovim itself (UTF-16 from byte columns): the cursor on `weight`,
  -- after Korean text on its line; then definition from its use, and a rename applied.
  local function cursor_at(needle, delta)
    return lib.cursor_at(bufnr, client, needle, delta)
  end
  local params = cursor_at(env.TL_CURSOR_NEEDLE)
  step("cursor_position", params.position)
  local h2 = request(client, bufnr, "textDocument/hover", params)
  step("cursor_hover", h2 and h2.contents and h2.contents.value or vim.NIL)
  local defs = request(client, bufnr, "textDocument/definition", cursor_at(env.TL_USE_NEEDLE, 12))
  step("definition", defs)
  local edit = request(client, bufnr, "textDocument/rename",
    vim.tbl_extend("force", cursor_at(env.TL_CURSOR_NEEDLE), { newName = "renamed" }))
  vim.lsp.util.apply_workspace_edit(edit, client.offset_encoding)
  step("after_rename", vim.api.nvim_buf_get_lines(bufnr, 0, -1, false))

  local ran = lib.run("run cell", function(callback)
    tl.run_cell(bufnr, tonumber(env.TL_CELL_LINE), callback)
  end)
  step("run", ran)
  tl.show_result(bufnr, ran)
  step("virtual_text", (lib.virtual_text(tl, bufnr)))
  step("virtual_text_lines", select(2, lib.virtual_text(tl, bufnr)))

  -- :TLRunSelection over lines (1-based, inclusive), result shown by the module
  step("commands", vim.fn.exists(":TLRunCell") == 2 and vim.fn.exists(":TLRunSelection") == 2)
  tl.last_result[bufnr] = nil
  vim.cmd(string.format("%d,%dTLRunSelection", tonumber(env.TL_SEL_FIRST), tonumber(env.TL_SEL_LAST)))
  wait(120000, ":TLRunSelection", function()
    return tl.last_result[bufnr] ~= nil
  end)
  step("selection", tl.last_result[bufnr])

  -- a cell printing in an endless loop: its output grows in the output buffer while it
  -- runs, and :TLInterrupt stops it, keeping what it printed
  local out = tl.output_buffer()
  local function out_text()
    return table.concat(vim.api.nvim_buf_get_lines(out, 0, -1, false), "\n")
  end
  local function last_tick()
    local n = 0
    for t in out_text():gmatch("tick (%d+)") do
      n = math.max(n, tonumber(t))
    end
    return n
  end
  local spun = nil
  local before = last_tick()
  tl.run_cell(bufnr, tonumber(env.TL_LOOP_LINE), function(e, r)
    spun = { err = e, result = r }
  end)
  wait(120000, "the loop's first print", function()
    return last_tick() > before or spun ~= nil
  end)
  local first = last_tick()
  wait(60000, "the loop's next print", function()
    return last_tick() > first or spun ~= nil
  end)
  step("output_grew_while_running", spun == nil and last_tick() > first and first > before)
  local shown = last_tick()
  vim.cmd("TLInterrupt")
  wait(60000, ":TLInterrupt", function()
    return spun ~= nil
  end)
  if spun.err then
    error("interrupted run failed: " .. vim.inspect(spun.err))
  end
  step("interrupted", spun.result.interrupted)
  step("interrupt_result", spun.result)
  local log = spun.result.labels.log
  pcall(wait, 10000, "the run's log in the output buffer", function()
    local text = out_text()
    return text:sub(-#log) == log
  end)
  step("output_kept", last_tick() >= shown)
  step("output_after_interrupt", vim.api.nvim_buf_get_lines(out, 0, -1, false))

  lib.stop(client)
  return 0
end

lib.main(main)
