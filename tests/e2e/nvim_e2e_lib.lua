-- Shared by the Neovim 0.7 drivers (nvim_lsp_e2e.lua, nvim_features_e2e.lua): load with
--   local lib = dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "nvim_e2e_lib.lua")
-- Arguments come from environment variables; the outcome is a JSON file (TL_E2E_OUT); the
-- exit code is 0 on success (`cquit 0`) and non-zero otherwise. Never hangs: a watchdog
-- timer stops the servers and quits.
local env = vim.env
local M = { results = { steps = {}, errors = {} }, exited = false }
local results = M.results

local function write_out()
  local f = io.open(env.TL_E2E_OUT, "w")
  f:write(vim.fn.json_encode(results))
  f:close()
end

function M.finish(code)
  write_out()
  vim.cmd("cquit " .. code)
end

function M.step(name, value)
  results.steps[#results.steps + 1] = name
  results[name] = value
end

local watchdog = vim.loop.new_timer()
watchdog:start(tonumber(env.TL_E2E_WATCHDOG_MS or "270000"), 0, vim.schedule_wrap(function()
  results.error = "watchdog: the test took too long (last step: " .. tostring(results.steps[#results.steps]) .. ")"
  for _, client in pairs(vim.lsp.get_active_clients()) do
    client.stop(true)
  end
  M.finish(3)
end))

function M.wait(ms, what, predicate)
  local ok = vim.wait(ms, function()
    return M.exited or predicate()
  end, 20)
  if M.exited then
    error("the language server exited while waiting for " .. what)
  end
  if not ok then
    error("timed out waiting for " .. what)
  end
end

-- A request through client.request + vim.wait (never buf_request_sync: it blocks until its
-- timeout when the server dies).
function M.request(client, bufnr, method, params, ms)
  local done, err, result = false, nil, nil
  client.request(method, params, function(e, r)
    err, result, done = e, r, true
  end, bufnr)
  M.wait(ms or 30000, method, function()
    return done
  end)
  if err then
    error(method .. " failed: " .. vim.inspect(err))
  end
  return result
end

-- `start(callback)` starts a run through the module (tl.run_cell, ...); its result once it
-- answers (an error answer is raised).
function M.run(what, start, ms)
  local ran = nil
  start(function(e, r)
    ran = { err = e, result = r }
  end)
  M.wait(ms or 200000, what, function()
    return ran ~= nil
  end)
  if ran.err then
    error(what .. " failed: " .. vim.inspect(ran.err))
  end
  return ran.result
end

-- editors/nvim's module, set up as a user would, against TL_LSP_CMD on the CPU (plus the
-- JSON object TL_SETTINGS in `settings.tensorlogic`, when set).
function M.setup_module()
  vim.opt.runtimepath:prepend(env.TL_NVIM_RTP)
  local tl = require("tensorlogic")
  local settings = vim.tbl_extend("force", { device = "cpu" }, vim.fn.json_decode(env.TL_SETTINGS or "{}"))
  tl.setup({
    cmd = vim.fn.json_decode(env.TL_LSP_CMD),
    settings = { tensorlogic = settings },
    on_attach = function(client)
      results.attached = client.name
    end,
    on_exit = function(code)
      M.exited = true
      results.server_exit_code = code
    end,
  })
  return tl
end

-- Edit `path`, give it the filetype (-u NONE: no detection; this also attaches the module's
-- client) and wait for the client to be initialized. Returns bufnr, client.
function M.open(tl, path)
  vim.cmd("edit " .. vim.fn.fnameescape(path))
  local bufnr = vim.api.nvim_get_current_buf()
  vim.bo[bufnr].filetype = "tensorlogic"
  local client
  M.wait(30000, "client", function()
    client = tl.get_client(bufnr)
    return client ~= nil
  end)
  M.wait(30000, "initialize", function()
    return client.initialized == true
  end)
  return bufnr, client
end

-- Put the cursor of the current window on the first `needle` in the buffer (plus `delta`
-- bytes) and return Neovim's own position params for it.
function M.cursor_at(bufnr, client, needle, delta)
  for lnum, line in ipairs(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)) do
    local i = string.find(line, needle, 1, true)
    if i then
      vim.api.nvim_win_set_cursor(0, { lnum, i - 1 + (delta or 0) })
      return vim.lsp.util.make_position_params(0, client.offset_encoding)
    end
  end
  error("not in the buffer: " .. needle)
end

-- The texts of the module's virtual text (run results) in a buffer, and their (0-based) lines.
function M.virtual_text(tl, bufnr)
  local virt, rows = {}, {}
  for _, m in ipairs(vim.api.nvim_buf_get_extmarks(bufnr, tl.ns, 0, -1, { details = true })) do
    for _, chunk in ipairs(m[4].virt_text or {}) do
      virt[#virt + 1] = chunk[1]
      rows[#rows + 1] = m[2]
    end
  end
  return virt, rows
end

-- One named step whose failure is recorded (results.errors[name]) without stopping the
-- others; a server that exited stops everything.
function M.try(name, fn)
  local ok, err = xpcall(fn, debug.traceback)
  if not ok then
    results.errors[name] = tostring(err)
    if M.exited then
      error(err, 0)
    end
  end
end

function M.stop(client)
  client.stop()
  vim.wait(10000, function()
    return client.is_stopped()
  end, 20)
end

-- Run `main` and always quit: 0 when it returned, 1 on an error (kept in results.error).
function M.main(main)
  local ok, err = xpcall(main, debug.traceback)
  if not ok then
    results.error = tostring(err)
    M.finish(1)
  else
    M.finish(0)
  end
end

return M
