import { strict as assert } from "node:assert";
import { test } from "node:test";
import { Env, isError, PathSetting, resolveServerCommand, ServerSettings } from "../src/serverCommand";

function env(files: string[], pathDirs: string[] = ["/usr/bin"]): Env {
  return {
    isFile: (p) => files.includes(p),
    pathDirs,
    workspaceFolders: ["/ws"],
    home: "/home/me",
  };
}

const user = (value: string): PathSetting => ({ value, origin: "user" });
const workspace = (value: string): PathSetting => ({ value, origin: "workspace" });

function settings(
  serverPath: PathSetting | string,
  pythonPath: PathSetting | string,
  trusted = true,
): ServerSettings {
  return {
    serverPath: typeof serverPath === "string" ? user(serverPath) : serverPath,
    pythonPath: typeof pythonPath === "string" ? user(pythonPath) : pythonPath,
    trusted,
  };
}

test("server.path wins and runs with --stdio", () => {
  const r = resolveServerCommand(
    settings("/opt/tl/bin/tl-lsp", ".venv/bin/python"),
    env(["/opt/tl/bin/tl-lsp", "/ws/.venv/bin/python"]),
  );
  assert.deepEqual(r, {
    command: "/opt/tl/bin/tl-lsp",
    args: ["--stdio"],
    setting: "tensorlogic.server.path",
    python: "/ws/.venv/bin/python",
  });
});

test("pythonPath relative to the workspace, from the user's settings, runs python -m tl_lsp", () => {
  const r = resolveServerCommand(settings("", ".venv/bin/python"), env(["/ws/.venv/bin/python"]));
  assert.deepEqual(r, {
    command: "/ws/.venv/bin/python",
    args: ["-m", "tl_lsp", "--stdio"],
    setting: "tensorlogic.pythonPath",
    python: "/ws/.venv/bin/python",
  });
});

test("a bare python name is found on PATH; ~ expands", () => {
  const r = resolveServerCommand(settings("", "python3"), env(["/usr/bin/python3"]));
  assert.ok(!isError(r) && r.command === "/usr/bin/python3");
  const h = resolveServerCommand(settings("~/venv/bin/tl-lsp", ""), env(["/home/me/venv/bin/tl-lsp"]));
  assert.ok(!isError(h) && h.command === "/home/me/venv/bin/tl-lsp");
});

test("missing executables are errors naming the setting", () => {
  const a = resolveServerCommand(settings("/nope/tl-lsp", ""), env([]));
  assert.ok(isError(a));
  assert.equal(a.setting, "tensorlogic.server.path");
  assert.equal(
    a.message,
    'The TensorLogic language server was not found at "/nope/tl-lsp" (setting tensorlogic.server.path). Set it to a tl-lsp executable, or clear it and set tensorlogic.pythonPath.',
  );
  const b = resolveServerCommand(settings("", ".venv/bin/python"), env([]));
  assert.ok(isError(b));
  assert.equal(b.setting, "tensorlogic.pythonPath");
  assert.equal(
    b.message,
    'Python was not found at ".venv/bin/python" in the workspace folder (setting tensorlogic.pythonPath). Set it to a Python that has tensorlogic-tools installed (for example .venv/bin/python).',
  );
});

test("defaults: tl-lsp on PATH, then the workspace .venv, else an error", () => {
  const onPath = resolveServerCommand(settings("", ""), env(["/usr/bin/tl-lsp"]));
  assert.ok(!isError(onPath) && onPath.command === "/usr/bin/tl-lsp");
  const venv = resolveServerCommand(settings("", ""), env(["/ws/.venv/bin/python"]));
  assert.ok(!isError(venv) && venv.args.join(" ") === "-m tl_lsp --stdio");
  const none = resolveServerCommand(settings("", ""), env([]));
  assert.ok(isError(none));
  assert.equal(none.setting, "tensorlogic.pythonPath");
  assert.equal(
    none.message,
    "The TensorLogic language server (tl-lsp) was not found on PATH. Install tensorlogic-tools, or set tensorlogic.pythonPath to a Python that has it.",
  );
});

test("a tl-lsp planted in the workspace folder is never started; PATH's is", () => {
  const planted = ["/ws/tl-lsp", "/ws/python3", "/ws/bin/tl-lsp"];
  const withPath = resolveServerCommand(settings("", ""), env([...planted, "/usr/bin/tl-lsp"]));
  assert.ok(!isError(withPath) && withPath.command === "/usr/bin/tl-lsp");
  const only = resolveServerCommand(settings("", ""), env(planted));
  assert.ok(isError(only));
  // bare names in the settings: PATH only
  const server = resolveServerCommand(settings("tl-lsp", ""), env(planted));
  assert.ok(isError(server));
  assert.equal(
    server.message,
    'The TensorLogic language server was not found at "tl-lsp" on PATH (setting tensorlogic.server.path). Set it to a tl-lsp executable, or clear it and set tensorlogic.pythonPath.',
  );
  const python = resolveServerCommand(settings("", "python3"), env(planted));
  assert.ok(isError(python) && python.message.startsWith('Python was not found at "python3" on PATH'));
  const py = resolveServerCommand(settings("", "python3"), env([...planted, "/usr/bin/python3"]));
  assert.ok(!isError(py) && py.command === "/usr/bin/python3");
});

test("relative PATH entries (., empty, bin) are not searched", () => {
  const files = ["tl-lsp", "bin/tl-lsp", "/ws/tl-lsp"];
  const r = resolveServerCommand(settings("", ""), env(files, [".", "bin", "", "/usr/bin"]));
  assert.ok(isError(r));
  const ok = resolveServerCommand(settings("", ""), env([...files, "/usr/bin/tl-lsp"], [".", "/usr/bin"]));
  assert.ok(!isError(ok) && ok.command === "/usr/bin/tl-lsp");
});

test("a relative path from the workspace's settings is refused; an absolute one is used", () => {
  const files = ["/ws/.venv/bin/python", "/ws/evil.sh", "/usr/bin/tl-lsp"];
  const r = resolveServerCommand(settings(workspace("./evil.sh"), ""), env(files));
  assert.ok(isError(r));
  assert.equal(r.setting, "tensorlogic.server.path");
  assert.equal(
    r.message,
    'The relative path "./evil.sh" in this workspace\'s settings is not used (setting tensorlogic.server.path): a workspace may not choose the program that starts. Set it in your user settings, or give an absolute path.',
  );
  const p = resolveServerCommand(settings("", workspace(".venv/bin/python")), env(files));
  assert.ok(isError(p) && p.setting === "tensorlogic.pythonPath");
  const abs = resolveServerCommand(settings("", workspace("/ws/.venv/bin/python")), env(files));
  assert.ok(!isError(abs) && abs.command === "/ws/.venv/bin/python");
});

test("Restricted Mode: workspace values are ignored, PATH's tl-lsp starts", () => {
  const files = ["/ws/.venv/bin/python", "/ws/evil", "/usr/bin/tl-lsp"];
  const r = resolveServerCommand(
    settings(workspace("/ws/evil"), workspace("/ws/.venv/bin/python"), false),
    env(files),
  );
  assert.deepEqual(r, { command: "/usr/bin/tl-lsp", args: ["--stdio"], setting: "tensorlogic.server.path" });
});

test("Restricted Mode: an absolute path from the user's settings starts", () => {
  const r = resolveServerCommand(settings("", "/opt/py/bin/python", false), env(["/opt/py/bin/python"]));
  assert.ok(!isError(r) && r.command === "/opt/py/bin/python" && r.python === "/opt/py/bin/python");
});

test("Restricted Mode: never the workspace's .venv, not even through a relative user setting", () => {
  const files = ["/ws/.venv/bin/python"];
  const none = resolveServerCommand(settings("", "", false), env(files));
  assert.ok(isError(none));
  assert.equal(
    none.message,
    "The TensorLogic language server (tl-lsp) was not found on PATH, and this workspace is not trusted (Restricted Mode), so only a tl-lsp on PATH or an absolute path in your user settings is used (never the workspace's .venv). Install tensorlogic-tools, set an absolute tensorlogic.pythonPath in your user settings, or trust the workspace.",
  );
  const rel = resolveServerCommand(settings("", ".venv/bin/python", false), env(files));
  assert.ok(isError(rel));
  assert.equal(
    rel.message,
    'The relative path ".venv/bin/python" (setting tensorlogic.pythonPath) would start a program from the workspace folder, but this workspace is not trusted (Restricted Mode), so only a tl-lsp on PATH or an absolute path in your user settings is used. Trust the workspace, or give an absolute path.',
  );
});
