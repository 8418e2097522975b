// Which command starts the language server. Pure (file checks are injected), no `vscode`
// import, so node's test runner tests it directly.
//
// Who may pick the executable: the user. A workspace (a repository someone else wrote) must
// not be able to make the extension start a program of its own choosing:
// - a bare name (`tl-lsp`, `python3`) is looked up only in the absolute directories of PATH,
//   never in the workspace folder (nor in `.` or a relative PATH entry);
// - a relative path (`.venv/bin/python`) is resolved against the workspace folder only when
//   it comes from the user's own settings (user or remote machine settings), and only in a
//   trusted workspace;
// - in Restricted Mode (an untrusted workspace) workspace values of the settings are ignored
//   and the workspace's `.venv` is never used: only a `tl-lsp` on PATH or an absolute path
//   from the user's settings starts.

import * as path from "path";

export type SettingName = "tensorlogic.server.path" | "tensorlogic.pythonPath";

/** A path setting's effective value, and whether the user's own settings gave it. */
export interface PathSetting {
  value: string;
  /** "user": user or (remote) machine settings; "workspace": workspace or folder settings. */
  origin: "user" | "workspace";
}

export interface ServerSettings {
  serverPath: PathSetting; // tensorlogic.server.path
  pythonPath: PathSetting; // tensorlogic.pythonPath
  /** Workspace Trust: false in Restricted Mode. */
  trusted: boolean;
}

export interface ServerCommand {
  command: string;
  args: string[];
  /** The setting the command came from, for the "open setting" button. */
  setting: SettingName;
  /** The python that should run the kernel (sent to the server), when known. */
  python?: string;
}

export interface ServerCommandError {
  message: string;
  setting: SettingName;
}

export interface Env {
  isFile(p: string): boolean;
  pathDirs: string[];
  workspaceFolders: string[];
  home: string;
}

const RESTRICTED =
  "this workspace is not trusted (Restricted Mode), so only a tl-lsp on PATH or an absolute path in your user settings is used";

/** Where a setting's value points, or why it is not used. */
function locate(
  name: SettingName,
  s: PathSetting,
  trusted: boolean,
  env: Env,
): { found: string } | ServerCommandError {
  let v = s.value.trim();
  const notFound = (where: string): ServerCommandError => ({
    message:
      name === "tensorlogic.server.path"
        ? `The TensorLogic language server was not found at "${s.value}"${where} (setting tensorlogic.server.path). Set it to a tl-lsp executable, or clear it and set tensorlogic.pythonPath.`
        : `Python was not found at "${s.value}"${where} (setting tensorlogic.pythonPath). Set it to a Python that has tensorlogic-tools installed (for example .venv/bin/python).`,
    setting: name,
  });
  if (v.startsWith("~/")) {
    v = path.join(env.home, v.slice(2));
  }
  if (path.isAbsolute(v)) {
    return env.isFile(v) ? { found: v } : notFound("");
  }
  if (!v.includes("/") && !v.includes(path.sep)) {
    const found = onPath(v, env);
    return found ? { found } : notFound(" on PATH");
  }
  if (s.origin === "workspace") {
    return {
      message: `The relative path "${s.value}" in this workspace's settings is not used (setting ${name}): a workspace may not choose the program that starts. Set it in your user settings, or give an absolute path.`,
      setting: name,
    };
  }
  if (!trusted) {
    return {
      message: `The relative path "${s.value}" (setting ${name}) would start a program from the workspace folder, but ${RESTRICTED}. Trust the workspace, or give an absolute path.`,
      setting: name,
    };
  }
  const found = env.workspaceFolders.map((f) => path.join(f, v)).find((c) => env.isFile(c));
  return found ? { found } : notFound(" in the workspace folder");
}

/** A bare name in the absolute PATH directories (never `.` or a relative entry). */
function onPath(name: string, env: Env): string | undefined {
  return env.pathDirs
    .filter((d) => path.isAbsolute(d))
    .map((d) => path.join(d, name))
    .find((c) => env.isFile(c));
}

/**
 * `tensorlogic.server.path` wins (a `tl-lsp` executable); else `tensorlogic.pythonPath` runs
 * `python -m tl_lsp --stdio`; else `tl-lsp` from PATH; else, in a trusted workspace only, a
 * `.venv` in a workspace folder. In Restricted Mode the settings' workspace values are ignored.
 */
export function resolveServerCommand(
  s: ServerSettings,
  env: Env,
): ServerCommand | ServerCommandError {
  const usable = (p: PathSetting): PathSetting | undefined =>
    p.value.trim() && (s.trusted || p.origin === "user") ? p : undefined;
  const serverPath = usable(s.serverPath);
  const pythonPath = usable(s.pythonPath);
  let python: { found: string } | ServerCommandError | undefined;
  if (pythonPath) {
    python = locate("tensorlogic.pythonPath", pythonPath, s.trusted, env);
  }
  if (serverPath) {
    const server = locate("tensorlogic.server.path", serverPath, s.trusted, env);
    if (!("found" in server)) {
      return server;
    }
    return {
      command: server.found,
      args: ["--stdio"],
      setting: "tensorlogic.server.path",
      python: python && "found" in python ? python.found : undefined,
    };
  }
  if (python) {
    if (!("found" in python)) {
      return python;
    }
    return {
      command: python.found,
      args: ["-m", "tl_lsp", "--stdio"],
      setting: "tensorlogic.pythonPath",
      python: python.found,
    };
  }
  const server = onPath("tl-lsp", env);
  if (server) {
    return { command: server, args: ["--stdio"], setting: "tensorlogic.server.path" };
  }
  if (s.trusted) {
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
  }
  return {
    message: s.trusted
      ? "The TensorLogic language server (tl-lsp) was not found on PATH. Install tensorlogic-tools, or set tensorlogic.pythonPath to a Python that has it."
      : `The TensorLogic language server (tl-lsp) was not found on PATH, and ${RESTRICTED} (never the workspace's .venv). Install tensorlogic-tools, set an absolute tensorlogic.pythonPath in your user settings, or trust the workspace.`,
    setting: "tensorlogic.pythonPath",
  };
}

export function isError(r: ServerCommand | ServerCommandError): r is ServerCommandError {
  return (r as ServerCommandError).message !== undefined;
}
