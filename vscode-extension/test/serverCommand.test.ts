import { strict as assert } from "node:assert";
import { test } from "node:test";
import { Env, isError, resolveServerCommand } from "../src/serverCommand";

function env(files: string[], pathDirs: string[] = ["/usr/bin"]): Env {
  return {
    isFile: (p) => files.includes(p),
    pathDirs,
    workspaceFolders: ["/ws"],
    home: "/home/me",
  };
}

test("server.path wins and runs with --stdio", () => {
  const r = resolveServerCommand(
    { serverPath: "/opt/tl/bin/tl-lsp", pythonPath: ".venv/bin/python" },
    env(["/opt/tl/bin/tl-lsp", "/ws/.venv/bin/python"]),
  );
  assert.deepEqual(r, {
    command: "/opt/tl/bin/tl-lsp",
    args: ["--stdio"],
    setting: "tensorlogic.server.path",
    python: "/ws/.venv/bin/python",
  });
});

test("pythonPath relative to the workspace runs python -m tl_lsp", () => {
  const r = resolveServerCommand({ serverPath: "", pythonPath: ".venv/bin/python" }, env(["/ws/.venv/bin/python"]));
  assert.deepEqual(r, {
    command: "/ws/.venv/bin/python",
    args: ["-m", "tl_lsp", "--stdio"],
    setting: "tensorlogic.pythonPath",
    python: "/ws/.venv/bin/python",
  });
});

test("a bare python name is found on PATH; ~ expands", () => {
  const r = resolveServerCommand({ serverPath: "", pythonPath: "python3" }, env(["/usr/bin/python3"]));
  assert.ok(!isError(r) && r.command === "/usr/bin/python3");
  const h = resolveServerCommand({ serverPath: "~/venv/bin/tl-lsp", pythonPath: "" }, env(["/home/me/venv/bin/tl-lsp"]));
  assert.ok(!isError(h) && h.command === "/home/me/venv/bin/tl-lsp");
});

test("missing executables are errors naming the setting", () => {
  const a = resolveServerCommand({ serverPath: "/nope/tl-lsp", pythonPath: "" }, env([]));
  assert.ok(isError(a));
  assert.equal(a.setting, "tensorlogic.server.path");
  assert.equal(
    a.message,
    'The TensorLogic language server was not found at "/nope/tl-lsp" (setting tensorlogic.server.path). Set it to a tl-lsp executable, or clear it and set tensorlogic.pythonPath.',
  );
  const b = resolveServerCommand({ serverPath: "", pythonPath: ".venv/bin/python" }, env([]));
  assert.ok(isError(b));
  assert.equal(b.setting, "tensorlogic.pythonPath");
  assert.match(b.message, /^Python was not found at "\.venv\/bin\/python"/);
});

test("defaults: tl-lsp on PATH, then the workspace .venv, else an error", () => {
  const onPath = resolveServerCommand({ serverPath: "", pythonPath: "" }, env(["/usr/bin/tl-lsp"]));
  assert.ok(!isError(onPath) && onPath.command === "/usr/bin/tl-lsp");
  const venv = resolveServerCommand({ serverPath: "", pythonPath: "" }, env(["/ws/.venv/bin/python"]));
  assert.ok(!isError(venv) && venv.args.join(" ") === "-m tl_lsp --stdio");
  const none = resolveServerCommand({ serverPath: "", pythonPath: "" }, env([]));
  assert.ok(isError(none));
  assert.equal(none.setting, "tensorlogic.pythonPath");
});
