// Which command starts the language server. Pure (file checks are injected), no `vscode`
// import, so node's test runner tests it directly.

import * as path from "path";

export interface ServerSettings {
  serverPath: string; // tensorlogic.server.path
  pythonPath: string; // tensorlogic.pythonPath
}

export interface ServerCommand {
  command: string;
  args: string[];
  /** The setting the command came from, for the "open setting" button. */
  setting: "tensorlogic.server.path" | "tensorlogic.pythonPath";
  /** The python that should run the kernel (sent to the server), when known. */
  python?: string;
}

export interface ServerCommandError {
  message: string;
  setting: "tensorlogic.server.path" | "tensorlogic.pythonPath";
}

export interface Env {
  isFile(p: string): boolean;
  pathDirs: string[];
  workspaceFolders: string[];
  home: string;
}

function expand(p: string, env: Env): string[] {
  let v = p.trim();
  if (v.startsWith("~/")) {
    v = path.join(env.home, v.slice(2));
  }
  if (path.isAbsolute(v)) {
    return [v];
  }
  const candidates = env.workspaceFolders.map((f) => path.join(f, v));
  if (!v.includes("/") && !v.includes(path.sep)) {
    candidates.push(...env.pathDirs.map((d) => path.join(d, v)));
  }
  return candidates;
}

function locate(p: string, env: Env): string | undefined {
  return expand(p, env).find((c) => env.isFile(c));
}

/**
 * `tensorlogic.server.path` wins (a `tl-lsp` executable); else `tensorlogic.pythonPath` runs
 * `python -m tl_lsp --stdio`; else `tl-lsp` from PATH; else a `.venv` in a workspace folder.
 * Relative paths resolve against the workspace folders (then PATH for bare names).
 */
export function resolveServerCommand(
  s: ServerSettings,
  env: Env,
): ServerCommand | ServerCommandError {
  if (s.serverPath.trim()) {
    const found = locate(s.serverPath, env);
    if (!found) {
      return {
        message: `The TensorLogic language server was not found at "${s.serverPath}" (setting tensorlogic.server.path). Set it to a tl-lsp executable, or clear it and set tensorlogic.pythonPath.`,
        setting: "tensorlogic.server.path",
      };
    }
    const python = s.pythonPath.trim() ? locate(s.pythonPath, env) : undefined;
    return { command: found, args: ["--stdio"], setting: "tensorlogic.server.path", python };
  }
  if (s.pythonPath.trim()) {
    const found = locate(s.pythonPath, env);
    if (!found) {
      return {
        message: `Python was not found at "${s.pythonPath}" (setting tensorlogic.pythonPath). Set it to a Python that has tensorlogic-tools installed (for example .venv/bin/python).`,
        setting: "tensorlogic.pythonPath",
      };
    }
    return {
      command: found,
      args: ["-m", "tl_lsp", "--stdio"],
      setting: "tensorlogic.pythonPath",
      python: found,
    };
  }
  const onPath = locate("tl-lsp", env);
  if (onPath) {
    return { command: onPath, args: ["--stdio"], setting: "tensorlogic.server.path" };
  }
  for (const folder of env.workspaceFolders) {
    const venvPython = path.join(folder, ".venv", "bin", "python");
    if (env.isFile(venvPython)) {
      return {
        command: venvPython,
        args: ["-m", "tl_lsp", "--stdio"],
        setting: "tensorlogic.pythonPath",
        python: venvPython,
      };
    }
  }
  return {
    message:
      "The TensorLogic language server (tl-lsp) was not found on PATH. Install tensorlogic-tools, or set tensorlogic.pythonPath to a Python that has it.",
    setting: "tensorlogic.pythonPath",
  };
}

export function isError(r: ServerCommand | ServerCommandError): r is ServerCommandError {
  return (r as ServerCommandError).message !== undefined;
}
