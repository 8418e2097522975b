-- TensorLogic for Neovim (0.7+): starts `tl-lsp --stdio` for *.tl buffers, adds
-- :TLRunCell, :TLRunSelection, :TLRunFile, :TLInterrupt, :TLRestartKernel, shows run
-- results as virtual text and a run's output in the "TensorLogic output" buffer as it is
-- printed. The server finds cells and formats results; this module only displays them. Works with the built-in client only (no plugins needed); with
-- nvim-lspconfig installed, `require("tensorlogic").lspconfig()` registers it there too.
--
--   require("tensorlogic").setup({
--     cmd = { "tl-lsp", "--stdio" },          -- the server command
--     settings = { tensorlogic = { device = "gpu", python = "python3" } },
--     on_attach = function(client, bufnr) end,
--   })
--
-- Who picks the executable: you. Without `cmd`, the server is the `tl-lsp` found in an
-- absolute directory of $PATH, never one in the project (`.` and relative $PATH entries are
-- skipped, a `.venv` is never looked for), so opening someone else's repository cannot
-- start a program of its choosing. This module reads no project-local settings.

local M = {}

local defaults = {
  cmd = nil, -- default: { <tl-lsp from an absolute $PATH directory>, "--stdio" }
  filetypes = { "tensorlogic" },
  root_markers = { ".git", "pyproject.toml" },
  -- sent as `initializationOptions` and answered to `workspace/configuration`
  settings = { tensorlogic = {} },
  on_attach = nil,
  on_exit = nil, -- function(code, signal, client_id) when the server process ends
  capabilities = nil,
  virtual_text = true, -- show run results at the end of the run's last code line
  output_window = true, -- open the output buffer in a split when a run starts
  output_height = 10,
  create_commands = true,
}

M.config = vim.deepcopy(defaults)
M.clients = {} -- root dir -> client id
M.last_result = {} -- bufnr -> last run result table
M.ns = vim.api.nvim_create_namespace("tensorlogic_run")
M.output_buf = nil -- the "TensorLogic output" buffer, made on the first run

--- The run output buffer (a scratch buffer; its last line is the line being printed).
function M.output_buffer()
  if M.output_buf and vim.api.nvim_buf_is_valid(M.output_buf) then
    if not vim.api.nvim_buf_is_loaded(M.output_buf) then
      vim.fn.bufload(M.output_buf) -- after :bdelete (a scratch buffer starts empty again)
    end
    return M.output_buf
  end
  local buf = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_name(buf, "TensorLogic output")
  M.output_buf = buf
  return buf
end

--- Append `text` (a piece of a run's log, as the server sends it) to the output buffer.
function M.append_output(text)
  local buf = M.output_buffer()
  local pieces = vim.split(text, "\n", { plain = true })
  local n = vim.api.nvim_buf_line_count(buf)
  pieces[1] = (vim.api.nvim_buf_get_lines(buf, n - 1, n, false)[1] or "") .. pieces[1]
  vim.api.nvim_buf_set_lines(buf, n - 1, n, false, pieces)
  local last = vim.api.nvim_buf_line_count(buf)
  for _, win in ipairs(vim.fn.win_findbuf(buf)) do
    vim.api.nvim_win_set_cursor(win, { last, 0 })
  end
end

--- Show the output buffer in a split at the bottom (when no window shows it), keeping the
--- cursor where it is.
function M.show_output()
  local buf = M.output_buffer()
  if #vim.fn.win_findbuf(buf) > 0 then
    return
  end
  local from = vim.api.nvim_get_current_win()
  vim.cmd("botright " .. tonumber(M.config.output_height or 10) .. "split")
  vim.api.nvim_win_set_buf(0, buf)
  vim.api.nvim_win_set_cursor(0, { vim.api.nvim_buf_line_count(buf), 0 })
  vim.api.nvim_set_current_win(from)
end

-- `tensorlogic/output {uri, text}`: the server streams each run's log (its head, what the
-- program prints as it prints it, and how it ended).
local handlers = {
  ["tensorlogic/output"] = function(_, params)
    if type(params) == "table" and type(params.text) == "string" then
      M.append_output(params.text)
    end
  end,
}
M.handlers = handlers

local function find_root(path)
  local dir = vim.fn.fnamemodify(path, ":p:h")
  for _, marker in ipairs(M.config.root_markers) do
    local found = vim.fn.finddir(marker, dir .. ";")
    if found ~= "" then -- a directory: ":p" ends in "/", so ":h" twice is its parent
      return vim.fn.fnamemodify(found, ":p:h:h")
    end
    found = vim.fn.findfile(marker, dir .. ";")
    if found ~= "" then
      return vim.fn.fnamemodify(found, ":p:h")
    end
  end
  return dir
end

M.find_root = find_root

--- `tl-lsp` in the absolute directories of $PATH (never `.`, an empty or a relative entry,
--- which would find a tl-lsp planted in the project), or nil.
local function tl_lsp_on_path()
  for dir in string.gmatch(vim.env.PATH or "", "[^:]+") do
    local candidate = dir .. "/tl-lsp"
    if dir:sub(1, 1) == "/" and vim.fn.executable(candidate) == 1 then
      return candidate
    end
  end
  return nil
end

--- The command that starts the server: `cmd` from setup() as given, else tl-lsp from
--- $PATH. Returns nil and a message when there is none.
function M.server_cmd()
  if M.config.cmd then
    return M.config.cmd
  end
  local found = tl_lsp_on_path()
  if found == nil then
    return nil, "tensorlogic: tl-lsp was not found in the absolute directories of $PATH; "
      .. "install tensorlogic-tools, or give setup() a cmd, e.g. "
      .. '{ "/path/.venv/bin/tl-lsp", "--stdio" }'
  end
  return { found, "--stdio" }
end

--- Start (or reuse) the client for the buffer's workspace and attach it. Returns the id.
function M.attach(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  local name = vim.api.nvim_buf_get_name(bufnr)
  local root = find_root(name ~= "" and name or vim.fn.getcwd() .. "/x")
  local id = M.clients[root]
  if id == nil or vim.lsp.get_client_by_id(id) == nil then
    local cmd, problem = M.server_cmd()
    if cmd == nil then
      vim.notify(problem, vim.log.levels.ERROR)
      return nil
    end
    local settings = M.config.settings or {}
    id = vim.lsp.start_client({
      name = "tl-lsp",
      cmd = cmd,
      root_dir = root,
      workspace_folders = { { uri = vim.uri_from_fname(root), name = root } },
      init_options = settings.tensorlogic or {},
      settings = settings,
      capabilities = M.config.capabilities,
      handlers = handlers,
      on_attach = M.config.on_attach,
      on_exit = function(code, signal, client_id)
        M.clients[root] = nil
        if M.config.on_exit then
          M.config.on_exit(code, signal, client_id)
        end
      end,
    })
    if id == nil then
      vim.notify("tensorlogic: could not start " .. table.concat(cmd, " "), vim.log.levels.ERROR)
      return nil
    end
    M.clients[root] = id
  end
  vim.lsp.buf_attach_client(bufnr, id)
  return id
end

--- The tl-lsp client attached to a buffer (nil when none).
function M.get_client(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  for _, client in pairs(vim.lsp.buf_get_clients(bufnr)) do
    if client.name == "tl-lsp" then
      return client
    end
  end
  return nil
end

--- Show a run result's label (made by the server) as virtual text after its line.
function M.show_result(bufnr, result)
  vim.api.nvim_buf_clear_namespace(bufnr, M.ns, 0, -1)
  local labels = type(result) == "table" and result.labels or nil
  if not M.config.virtual_text or type(labels) ~= "table" then
    return
  end
  local line = math.max(0, math.min(tonumber(labels.line) or 0, vim.api.nvim_buf_line_count(bufnr) - 1))
  vim.api.nvim_buf_set_extmark(bufnr, M.ns, line, 0, {
    virt_text = { { tostring(labels.inline), labels.error and "ErrorMsg" or "Comment" } },
    virt_text_pos = "eol",
  })
end

--- Run `command` with one argument table; `callback(err, result)` when it answers.
function M.execute(bufnr, command, arg, callback)
  local client = M.get_client(bufnr)
  if client == nil then
    local err = { message = "tensorlogic: no tl-lsp client attached to this buffer" }
    if callback then
      callback(err, nil)
    else
      vim.notify(err.message, vim.log.levels.ERROR)
    end
    return nil
  end
  local ok, request_id = client.request("workspace/executeCommand", {
    command = command,
    arguments = { arg },
  }, function(err, result)
    if callback then
      callback(err, result)
    end
  end, bufnr)
  return ok and request_id or nil
end

local function notify_error(err)
  vim.notify("tensorlogic: " .. tostring(err.message or err), vim.log.levels.ERROR)
end

local function report(bufnr)
  return function(err, result)
    if err then
      M.append_output("failed: " .. tostring(err.message or err) .. "\n")
      notify_error(err)
      return
    end
    M.last_result[bufnr] = result
    M.show_result(bufnr, result)
  end
end

-- Send a run command; the server picks the lines (cells included) and streams the output.
local function run(bufnr, command, arg, callback)
  if M.config.output_window then
    M.show_output()
  end
  return M.execute(bufnr, command, arg, callback or report(bufnr))
end

--- Run the cell holding `line` (0-based; default: the cursor's).
function M.run_cell(bufnr, line, callback)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  line = line or (vim.api.nvim_win_get_cursor(0)[1] - 1)
  return run(bufnr, "tensorlogic.runCell", { uri = vim.uri_from_bufnr(bufnr), line = line }, callback)
end

--- Run lines first..last (1-based, inclusive), as :'<,'>TLRunSelection does.
function M.run_selection(bufnr, first, last, callback)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  local uri = vim.uri_from_bufnr(bufnr)
  local range = {
    start = { line = first - 1, character = 0 },
    ["end"] = { line = last, character = 0 },
  }
  return run(bufnr, "tensorlogic.runSelection", { uri = uri, range = range }, callback)
end

function M.run_file(bufnr, callback)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  return run(bufnr, "tensorlogic.runFile", { uri = vim.uri_from_bufnr(bufnr) }, callback)
end

-- The default answer to commands without a run result: an error, else `done` (when given),
-- as a message.
local function acknowledge(done)
  return function(err)
    if err then
      notify_error(err)
    elseif done then
      vim.notify(done, vim.log.levels.INFO)
    end
  end
end

function M.interrupt(bufnr, callback)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  return M.execute(bufnr, "tensorlogic.interrupt", { uri = vim.uri_from_bufnr(bufnr) },
    callback or acknowledge(nil))
end

function M.restart_kernel(bufnr, callback)
  return M.execute(bufnr, "tensorlogic.restartKernel", {},
    callback or acknowledge("tensorlogic: kernel restarted"))
end

local function create_commands()
  vim.api.nvim_create_user_command("TLRunCell", function()
    M.run_cell(0)
  end, { desc = "TensorLogic: run the cell under the cursor" })
  vim.api.nvim_create_user_command("TLRunSelection", function(opts)
    M.run_selection(0, opts.line1, opts.line2)
  end, { range = true, desc = "TensorLogic: run the selected lines" })
  vim.api.nvim_create_user_command("TLRunFile", function()
    M.run_file(0)
  end, { desc = "TensorLogic: run the whole file" })
  vim.api.nvim_create_user_command("TLInterrupt", function()
    M.interrupt(0)
  end, { desc = "TensorLogic: interrupt the running cell" })
  vim.api.nvim_create_user_command("TLRestartKernel", function()
    M.restart_kernel(0)
  end, { desc = "TensorLogic: start a fresh kernel" })
end

--- Configure and enable: *.tl files get filetype `tensorlogic` and the server.
function M.setup(opts)
  M.config = vim.tbl_deep_extend("force", vim.deepcopy(defaults), opts or {})
  if vim.filetype and vim.filetype.add then
    vim.filetype.add({ extension = { tl = "tensorlogic" } })
  end
  local group = vim.api.nvim_create_augroup("tensorlogic", { clear = true })
  vim.api.nvim_create_autocmd({ "BufRead", "BufNewFile" }, {
    group = group,
    pattern = "*.tl",
    callback = function(args)
      -- Neovim's own detection calls *.tl "teal" (and 0.7's default filetype.vim ignores
      -- vim.filetype.add), so claim the extension here.
      local ft = vim.bo[args.buf].filetype
      if ft == "" or ft == "teal" then
        vim.bo[args.buf].filetype = "tensorlogic"
      end
    end,
  })
  vim.api.nvim_create_autocmd("FileType", {
    group = group,
    pattern = M.config.filetypes,
    callback = function(args)
      M.attach(args.buf)
    end,
  })
  if M.config.create_commands then
    create_commands()
  end
  return M
end

--- Register `tensorlogic` with nvim-lspconfig (when installed); then
--- `require("lspconfig").tensorlogic.setup({})` works as for any other server.
function M.lspconfig()
  local ok, configs = pcall(require, "lspconfig.configs")
  if not ok then
    return false
  end
  if not configs.tensorlogic then
    configs.tensorlogic = {
      default_config = {
        cmd = M.server_cmd(),
        filetypes = M.config.filetypes,
        root_dir = function(fname)
          return find_root(fname)
        end,
        settings = M.config.settings,
        init_options = (M.config.settings or {}).tensorlogic or {},
        handlers = handlers, -- the run output buffer
      },
    }
  end
  return true
end

return M
