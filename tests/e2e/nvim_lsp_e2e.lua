-- Driven by tests/e2e/test_nvim_lsp.py: real Neovim 0.7 headless + editors/nvim + tl-lsp.
-- Arguments come from environment variables; the outcome is a JSON file; the exit code is
-- 0 on success (`cquit 0`) and non-zero otherwise. Never hangs: a watchdog timer quits.
local env = vim.env
local out_path = env.TL_E2E_OUT
local results = { steps = {} }
local exited = false

local function write_out()
  local f = io.open(out_path, "w")
  f:write(vim.fn.json_encode(results))
  f:close()
end

local function finish(code)
  write_out()
  vim.cmd("cquit " .. code)
end

local function step(name, value)
  results.steps[#results.steps + 1] = name
  results[name] = value
end

local watchdog = vim.loop.new_timer()
watchdog:start(tonumber(env.TL_E2E_WATCHDOG_MS or "270000"), 0, vim.schedule_wrap(function()
  results.error = "watchdog: the test took too long (last step: " .. tostring(results.steps[#results.steps]) .. ")"
  for _, client in pairs(vim.lsp.get_active_clients()) do
    client.stop(true)
  end
  finish(3)
end))

local function wait(ms, what, predicate)
  local ok = vim.wait(ms, function()
    return exited or predicate()
  end, 20)
  if exited then
    error("the language server exited while waiting for " .. what)
  end
  if not ok then
    error("timed out waiting for " .. what)
  end
end

-- A request through client.request + vim.wait (never buf_request_sync: it blocks until its
-- timeout when the server dies).
local function request(client, bufnr, method, params, ms)
  local done, err, result = false, nil, nil
  client.request(method, params, function(e, r)
    err, result, done = e, r, true
  end, bufnr)
  wait(ms or 30000, method, function()
    return done
  end)
  if err then
    error(method .. " failed: " .. vim.inspect(err))
  end
  return result
end

local function main()
  vim.opt.runtimepath:prepend(env.TL_NVIM_RTP)
  local tl = require("tensorlogic")
  tl.setup({
    cmd = vim.fn.json_decode(env.TL_LSP_CMD),
    settings = { tensorlogic = { device = "cpu" } },
    on_attach = function(client)
      results.attached = client.name
    end,
    on_exit = function(code)
      exited = true
      results.server_exit_code = code
    end,
  })
  local got_diags = false
  local orig_diag = vim.lsp.handlers["textDocument/publishDiagnostics"]
  vim.lsp.handlers["textDocument/publishDiagnostics"] = function(e, r, ctx, c)
    if r and #r.diagnostics > 0 then
      got_diags = true
    end
    return orig_diag(e, r, ctx, c)
  end

  vim.cmd("edit " .. vim.fn.fnameescape(env.TL_E2E_FILE))
  local bufnr = vim.api.nvim_get_current_buf()
  vim.bo[bufnr].filetype = "tensorlogic" -- -u NONE: no filetype detection; also runs attach
  local client
  wait(30000, "client", function()
    client = tl.get_client(bufnr)
    return client ~= nil
  end)
  wait(30000, "initialize", function()
    return client.initialized == true
  end)
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
    for lnum, line in ipairs(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)) do
      local i = string.find(line, needle, 1, true)
      if i then
        vim.api.nvim_win_set_cursor(0, { lnum, i - 1 + (delta or 0) })
        return vim.lsp.util.make_position_params(0, client.offset_encoding)
      end
    end
    error("not in the buffer: " .. needle)
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

  local ran = nil
  tl.run_cell(bufnr, tonumber(env.TL_CELL_LINE), function(e, r)
    ran = { err = e, result = r }
  end)
  wait(200000, "run cell", function()
    return ran ~= nil
  end)
  if ran.err then
    error("run cell failed: " .. vim.inspect(ran.err))
  end
  step("run", ran.result)
  tl.show_result(bufnr, ran.result, tonumber(env.TL_CELL_LINE))
  local marks = vim.api.nvim_buf_get_extmarks(bufnr, tl.ns, 0, -1, { details = true })
  local virt = {}
  for _, m in ipairs(marks) do
    for _, chunk in ipairs(m[4].virt_text or {}) do
      virt[#virt + 1] = chunk[1]
    end
  end
  step("virtual_text", virt)

  -- :TLRunSelection over lines (1-based, inclusive), result shown by the module
  step("commands", vim.fn.exists(":TLRunCell") == 2 and vim.fn.exists(":TLRunSelection") == 2)
  tl.last_result[bufnr] = nil
  vim.cmd(string.format("%d,%dTLRunSelection", tonumber(env.TL_SEL_FIRST), tonumber(env.TL_SEL_LAST)))
  wait(120000, ":TLRunSelection", function()
    return tl.last_result[bufnr] ~= nil
  end)
  step("selection", tl.last_result[bufnr])

  -- a runaway cell stopped by :TLInterrupt
  local spun = nil
  tl.run_cell(bufnr, tonumber(env.TL_LOOP_LINE), function(e, r)
    spun = { err = e, result = r }
  end)
  vim.wait(1000, function()
    return spun ~= nil
  end, 20)
  step("loop_still_running", spun == nil)
  vim.cmd("TLInterrupt")
  wait(60000, ":TLInterrupt", function()
    return spun ~= nil
  end)
  if spun.err then
    error("interrupted run failed: " .. vim.inspect(spun.err))
  end
  step("interrupted", spun.result.interrupted)

  local stopping = client
  client.stop()
  vim.wait(10000, function()
    return stopping.is_stopped()
  end, 20)
  return 0
end

local ok, err = xpcall(main, debug.traceback)
if not ok then
  results.error = tostring(err)
  finish(1)
else
  finish(0)
end
