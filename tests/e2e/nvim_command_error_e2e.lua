-- Driven by tests/e2e/test_nvim_features.py: a module command the server refuses (here
-- :TLRestartKernel with a kernel Python that does not exist) shows its error in :messages.
-- Arguments, outcome, exit code and watchdog: see nvim_e2e_lib.lua.
local lib = dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "nvim_e2e_lib.lua")

lib.main(function()
  local tl = lib.setup_module()
  local _, client = lib.open(tl, vim.env.TL_E2E_FILE)
  vim.cmd("messages clear")
  vim.cmd(vim.env.TL_COMMAND)
  lib.wait(30000, "a message", function()
    return vim.fn.execute("messages") ~= ""
  end)
  lib.step("messages", vim.fn.execute("messages"))
  lib.stop(client)
end)
