-- Driven by tests/e2e/test_nvim_features.py: the language features that need no typing
-- (symbols, tokens, folds, lenses, references and rename, formatting, inlay hints after a
-- run) and the module's :TLRunFile / :TLRestartKernel, in real Neovim 0.7 headless with
-- editors/nvim + tl-lsp. Each step's failure is kept in results.errors[step] and the next
-- step still runs. Arguments, outcome, exit code and watchdog: see nvim_e2e_lib.lua.
local lib = dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "nvim_e2e_lib.lua")
local env = vim.env
local step, request, try = lib.step, lib.request, lib.try

local function lines_of(bufnr)
  return vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)
end

-- The 5-integer groups of semanticTokens/full, decoded with the legend the server announced.
local function decode_tokens(data, legend)
  local out, line, char = {}, 0, 0
  for i = 1, #data, 5 do
    local dl, dc, len, typ, mods = data[i], data[i + 1], data[i + 2], data[i + 3], data[i + 4]
    line = line + dl
    char = dl == 0 and char + dc or dc
    local names = {}
    for bit, name in ipairs(legend.tokenModifiers) do
      if math.floor(mods / 2 ^ (bit - 1)) % 2 == 1 then
        names[#names + 1] = name
      end
    end
    out[#out + 1] = { line, char, len, legend.tokenTypes[typ + 1], names }
  end
  return out
end

local function main()
  vim.o.hidden = true -- later steps edit other files while the renamed buffer is unsaved
  local tl = lib.setup_module()
  local executed = nil -- answers to workspace/executeCommand sent by Neovim itself (code lens)
  local orig_exec = vim.lsp.handlers["workspace/executeCommand"]
  vim.lsp.handlers["workspace/executeCommand"] = function(e, r, ctx, c)
    executed = { err = e, result = r }
    return orig_exec(e, r, ctx, c)
  end

  local bufnr, client = lib.open(tl, env.TL_E2E_FILE)
  local uri = vim.uri_from_bufnr(bufnr)
  local doc = { textDocument = { uri = uri } }
  step("initialized", true)

  try("document_symbols", function()
    step("document_symbols", request(client, bufnr, "textDocument/documentSymbol", doc))
  end)
  try("workspace_symbols", function()
    local found = {}
    for _, query in ipairs(vim.fn.json_decode(env.TL_WS_QUERIES)) do
      found[query] = request(client, bufnr, "workspace/symbol", { query = query })
    end
    step("workspace_symbols", found)
  end)
  try("semantic_tokens", function()
    local full = request(client, bufnr, "textDocument/semanticTokens/full", doc)
    step("semantic_tokens", decode_tokens(full.data, client.server_capabilities.semanticTokensProvider.legend))
  end)
  try("folding_ranges", function()
    step("folding_ranges", request(client, bufnr, "textDocument/foldingRange", doc))
  end)
  try("code_lenses", function()
    step("code_lenses", request(client, bufnr, "textDocument/codeLens", doc))
    -- and as Neovim's own code-lens support keeps them
    vim.lsp.codelens.refresh()
    lib.wait(30000, "vim.lsp.codelens.get", function()
      return #vim.lsp.codelens.get(bufnr) > 0
    end)
    step("nvim_code_lenses", vim.lsp.codelens.get(bufnr))
  end)

  -- references of the variable under the cursor (a use; the position is Neovim's)
  local use = { env.TL_USE_NEEDLE, tonumber(env.TL_USE_DELTA) }
  try("references", function()
    local params = lib.cursor_at(bufnr, client, use[1], use[2])
    step("references_position", params.position)
    step("references", request(client, bufnr, "textDocument/references",
      vim.tbl_extend("force", params, { context = { includeDeclaration = true } })))
    step("references_no_declaration", request(client, bufnr, "textDocument/references",
      vim.tbl_extend("force", params, { context = { includeDeclaration = false } })))
  end)

  -- run the first cell through the module, the second through Neovim's code lens; then the
  -- inlay hints show the last run's results
  try("inlay_hints", function()
    step("first_cell", lib.run("run cell", function(callback)
      tl.run_cell(bufnr, 0, callback)
    end))
    vim.api.nvim_win_set_cursor(0, { tonumber(env.TL_LENS_LINE) + 1, 0 })
    vim.lsp.codelens.run()
    lib.wait(200000, "the code lens' run", function()
      return executed ~= nil
    end)
    step("lens_run", executed)
    local n = vim.api.nvim_buf_line_count(bufnr)
    step("inlay_hints", request(client, bufnr, "textDocument/inlayHint", {
      textDocument = { uri = uri },
      range = { start = { line = 0, character = 0 }, ["end"] = { line = n, character = 0 } },
    }))
  end)

  try("rename", function()
    local params = lib.cursor_at(bufnr, client, use[1], use[2])
    local edit = request(client, bufnr, "textDocument/rename",
      vim.tbl_extend("force", params, { newName = env.TL_NEW_NAME }))
    vim.lsp.util.apply_workspace_edit(edit, client.offset_encoding)
    step("after_rename", lines_of(bufnr))
  end)

  try("formatting", function()
    local fbuf = lib.open(tl, env.TL_FMT_FILE)
    local opts = { tabSize = 4, insertSpaces = true }
    local ranged = request(client, fbuf, "textDocument/rangeFormatting", {
      textDocument = { uri = vim.uri_from_bufnr(fbuf) },
      options = opts,
      range = vim.fn.json_decode(env.TL_FMT_RANGE),
    })
    vim.lsp.util.apply_text_edits(ranged, fbuf, client.offset_encoding)
    step("after_range_formatting", lines_of(fbuf))
    local edits = request(client, fbuf, "textDocument/formatting", {
      textDocument = { uri = vim.uri_from_bufnr(fbuf) },
      options = opts,
    })
    vim.lsp.util.apply_text_edits(edits, fbuf, client.offset_encoding)
    step("after_formatting", lines_of(fbuf))
  end)

  -- the module's commands as a user types them; what they print goes to the output buffer,
  -- run results to virtual text
  try("commands", function()
    local cbuf = lib.open(tl, env.TL_CMD_FILE)
    local function command(cmd)
      tl.last_result[cbuf] = nil
      vim.cmd(cmd)
      lib.wait(200000, cmd, function()
        return tl.last_result[cbuf] ~= nil
      end)
      local texts, rows = lib.virtual_text(tl, cbuf)
      return { result = tl.last_result[cbuf], virtual_text = texts, virtual_text_lines = rows }
    end
    vim.cmd("messages clear")
    step("run_file", command("TLRunFile"))
    vim.api.nvim_win_set_cursor(0, { tonumber(env.TL_CMD_CELL_LINE) + 1, 0 })
    step("cell_before_restart", command("TLRunCell"))
    step("messages_after_runs", vim.fn.execute("messages"))
    local out = tl.output_buffer()
    step("output_after_runs", vim.api.nvim_buf_get_lines(out, 0, -1, false))
    step("output_windows", #vim.fn.win_findbuf(out))
    vim.cmd("TLRestartKernel")
    lib.wait(30000, ":TLRestartKernel's message", function()
      return vim.fn.execute("messages"):find(env.TL_RESTART_MESSAGE, 1, true) ~= nil
    end)
    step("messages_after_restart", vim.fn.execute("messages"))
    step("cell_after_restart", command("TLRunCell"))
  end)

  lib.stop(client)
end

lib.main(main)
