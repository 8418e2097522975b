// The TensorLogic extension: starts `tl-lsp --stdio`, sends the run commands to it, shows
// their results in the "TensorLogic" output channel, inline, and in the status bar.
// Everything the language knows lives in the server; this file only configures and displays.

import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as vscode from "vscode";
import {
  CloseAction,
  ErrorAction,
  ExecuteCommandRequest,
  LanguageClient,
  LanguageClientOptions,
  RevealOutputChannelOn,
  ServerOptions,
  State,
} from "vscode-languageclient/node";
import { InlineResults } from "./inline";
import { formatStatus, KernelState, RunOutput, RunResult } from "./results";
import { isError, PathSetting, resolveServerCommand, ServerCommand } from "./serverCommand";

const LANGUAGE = "tensorlogic";

/** Why nothing runs in Restricted Mode (shown for the run commands and in the status bar). */
const RESTRICTED_RUN =
  "Running TensorLogic code is disabled in Restricted Mode: this workspace is not trusted, and a run executes its code on your machine. Trust the workspace to run code.";

/**
 * The server announces the run commands in `executeCommandProvider`; the stock client would
 * register each of them as a VS Code command that only forwards to the server. This extension
 * registers those ids itself (so code lenses and keybindings show results), so that one
 * feature is left out.
 */
class TensorLogicClient extends LanguageClient {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  public registerFeature(feature: any): void {
    if (feature?.registrationType?.method === ExecuteCommandRequest.method) {
      return;
    }
    super.registerFeature(feature);
  }
}

let client: TensorLogicClient | undefined;
let output: vscode.OutputChannel;
let inline: InlineResults;
let status: vscode.StatusBarItem;
let kernelState: KernelState = "stopped";
let kernelDevice = "gpu";
let runsInFlight = 0;

function config(): vscode.WorkspaceConfiguration {
  return vscode.workspace.getConfiguration(LANGUAGE);
}

function updateStatus(state?: KernelState, device?: string): void {
  if (state) {
    kernelState = state;
  }
  if (device) {
    kernelDevice = device;
  }
  if (!vscode.workspace.isTrusted) {
    status.text = "$(shield) TensorLogic: Restricted Mode";
    status.tooltip = `${RESTRICTED_RUN} Click to manage Workspace Trust.`;
    status.command = "workbench.trust.manage";
  } else {
    status.text = formatStatus(kernelState, kernelDevice);
    status.tooltip =
      kernelState === "running"
        ? "TensorLogic kernel is running code: click to interrupt"
        : "TensorLogic kernel: click to show the output";
    status.command = kernelState === "running" ? "tensorlogic.interrupt" : "tensorlogic.showOutput";
  }
  const editor = vscode.window.activeTextEditor;
  if (editor && editor.document.languageId === LANGUAGE) {
    status.show();
  } else {
    status.hide();
  }
}

async function notifyServerProblem(message: string, setting: string): Promise<void> {
  output.appendLine(`[server] ${message}`);
  const choice = await vscode.window.showErrorMessage(message, "Open Setting", "Show Output");
  if (choice === "Open Setting") {
    // The server settings are machine-scoped: in a remote window (code-server, SSH) they
    // live in the remote machine's settings, which the plain Settings editor hides.
    if (vscode.env.remoteName) {
      await vscode.commands.executeCommand("workbench.action.openRemoteSettings", {
        query: setting,
      });
    } else {
      await vscode.commands.executeCommand("workbench.action.openSettings", setting);
    }
  } else if (choice === "Show Output") {
    output.show(true);
  }
}

/** Runs `<server> --version`: a Python without tensorlogic-tools fails here, clearly. */
function preflight(cmd: ServerCommand): Promise<string | undefined> {
  const args = cmd.args.filter((a) => a !== "--stdio").concat("--version");
  return new Promise((resolve) => {
    execFile(cmd.command, args, { timeout: 30000 }, (err, stdout, stderr) => {
      if (!err) {
        resolve(undefined);
        return;
      }
      const detail = (stderr || stdout || String(err.message)).trim().split("\n").slice(-1)[0];
      resolve(
        `The TensorLogic language server could not start: \`${cmd.command} ${args.join(" ")}\` failed (${detail}).`,
      );
    });
  });
}

/** A path setting and where it came from: the workspace's value wins over the user's. */
function pathSetting(key: string): PathSetting {
  const i = config().inspect<string>(key);
  const workspace = i?.workspaceValue;
  if (typeof workspace === "string" && workspace.trim()) {
    return { value: workspace, origin: "workspace" };
  }
  return { value: i?.globalValue ?? "", origin: "user" };
}

/** In Restricted Mode: says why, with a button to trust the workspace; true when it did. */
function refuseUntrusted(): boolean {
  if (vscode.workspace.isTrusted) {
    return false;
  }
  output.appendLine(`[restricted] ${RESTRICTED_RUN}`);
  void vscode.window
    .showWarningMessage(RESTRICTED_RUN, "Manage Workspace Trust")
    .then((choice) => {
      if (choice) {
        void vscode.commands.executeCommand("workbench.trust.manage");
      }
    });
  return true;
}

function serverCommand() {
  const folders = (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath);
  return resolveServerCommand(
    {
      serverPath: pathSetting("server.path"),
      pythonPath: pathSetting("pythonPath"),
      trusted: vscode.workspace.isTrusted,
    },
    {
      isFile: (p) => {
        try {
          return fs.statSync(p).isFile();
        } catch {
          return false;
        }
      },
      pathDirs: (process.env.PATH ?? "").split(path.delimiter).filter(Boolean),
      workspaceFolders: folders,
      home: os.homedir(),
    },
  );
}

async function startClient(context: vscode.ExtensionContext): Promise<void> {
  const resolved = serverCommand();
  // Notifications are not awaited: activation must not wait for a click.
  if (isError(resolved)) {
    void notifyServerProblem(resolved.message, resolved.setting);
    return;
  }
  const problem = await preflight(resolved);
  if (problem) {
    void notifyServerProblem(problem, resolved.setting);
    return;
  }
  const serverOptions: ServerOptions = {
    command: resolved.command,
    args: resolved.args,
    options: { env: { ...process.env, PYTHONUNBUFFERED: "1" } },
  };
  let failures = 0;
  const clientOptions: LanguageClientOptions = {
    documentSelector: [
      { scheme: "file", language: LANGUAGE },
      { scheme: "untitled", language: LANGUAGE },
    ],
    synchronize: {
      configurationSection: LANGUAGE,
      fileEvents: vscode.workspace.createFileSystemWatcher(
        "**/*.{tl,safetensors,gguf,mlmodel,mlpackage}",
      ),
    },
    initializationOptions: {
      // the kernel runs under the same Python as the server
      python: resolved.python,
      device: config().get<string>("device", "gpu"),
    },
    revealOutputChannelOn: RevealOutputChannelOn.Never,
    middleware: {
      // the server's lenses run code ("Run cell"): none in Restricted Mode
      provideCodeLenses: (document, token, next) =>
        vscode.workspace.isTrusted ? next(document, token) : [],
    },
    errorHandler: {
      error: () => ({ action: ErrorAction.Continue, handled: true }),
      closed: () => {
        failures += 1;
        updateStatus("stopped");
        if (failures <= 3) {
          return { action: CloseAction.Restart, handled: true };
        }
        void notifyServerProblem(
          "The TensorLogic language server stopped 4 times and will not be restarted. See the TensorLogic Language Server output for why.",
          resolved.setting,
        );
        return { action: CloseAction.DoNotRestart, handled: true };
      },
    },
  };
  client = new TensorLogicClient(
    LANGUAGE,
    "TensorLogic Language Server",
    serverOptions,
    clientOptions,
  );
  try {
    await client.start();
    // A run's log as it comes (the server formats it): its head, what the program prints
    // while it runs, then how it ended.
    client.onNotification("tensorlogic/output", (p: RunOutput) => {
      if (p && typeof p.text === "string") {
        output.append(p.text);
      }
    });
  } catch (err) {
    client = undefined;
    void notifyServerProblem(
      `The TensorLogic language server could not start: ${err instanceof Error ? err.message : String(err)}`,
      resolved.setting,
    );
  }
}

async function stopClient(): Promise<void> {
  const c = client;
  client = undefined;
  if (c) {
    try {
      await c.stop(2000);
    } catch {
      // already gone
    }
  }
}

let restarts: Promise<void> = Promise.resolve();
let restartTimer: ReturnType<typeof setTimeout> | undefined;

/** Stop and start the server; restarts run one after the other. */
function restartClient(context: vscode.ExtensionContext): Promise<void> {
  restarts = restarts.then(async () => {
    await stopClient();
    await startClient(context);
  });
  return restarts;
}

/**
 * Restart once, after a short pause: granting trust and the workspace settings it unlocks
 * arrive as separate events, and a start between them would use the settings of before.
 */
function scheduleRestart(context: vscode.ExtensionContext): void {
  if (restartTimer) {
    clearTimeout(restartTimer);
  }
  restartTimer = setTimeout(() => {
    restartTimer = undefined;
    void restartClient(context);
  }, 500);
}

async function editorFor(uri: string | undefined): Promise<vscode.TextEditor | undefined> {
  const active = vscode.window.activeTextEditor;
  if (!uri) {
    return active && active.document.languageId === LANGUAGE ? active : undefined;
  }
  const visible = vscode.window.visibleTextEditors.find((e) => e.document.uri.toString() === uri);
  if (visible) {
    return visible;
  }
  const doc = await vscode.workspace.openTextDocument(vscode.Uri.parse(uri));
  return vscode.window.showTextDocument(doc, { preserveFocus: true });
}

type RunKind = "runSelection" | "runCell" | "runFile";

/**
 * Send a run command. The server picks the lines (the cell rule lives there), streams the
 * run's log to the output channel and answers with ready-made labels; this only shows them.
 * `line` is where a failure of the command itself is shown.
 */
async function run(kind: RunKind, editor: vscode.TextEditor, args: object, line: number) {
  if (refuseUntrusted()) {
    return;
  }
  if (!client || client.state !== State.Running) {
    void notifyServerProblem(
      "The TensorLogic language server is not running, so code cannot run. Check the setting, then run 'TensorLogic: Restart Language Server'.",
      "tensorlogic.pythonPath",
    );
    return;
  }
  const doc = editor.document;
  runsInFlight += 1;
  updateStatus("running");
  output.show(true);
  try {
    const result = (await client.sendRequest(ExecuteCommandRequest.type, {
      command: `tensorlogic.${kind}`,
      arguments: [args],
    })) as RunResult | null;
    runsInFlight -= 1;
    const labels = result?.labels;
    if (labels) {
      inline.show(doc, labels.line, labels.inline, labels.error, labels.log);
    }
    updateStatus(runsInFlight > 0 ? "running" : "idle", result?.device);
  } catch (err) {
    runsInFlight -= 1;
    const message = err instanceof Error ? err.message : String(err);
    output.appendLine(`failed: ${message}`);
    inline.show(doc, line, `⇒ failed: ${message}`, true, message);
    updateStatus(runsInFlight > 0 ? "running" : "stopped");
  }
}

/** Command arguments: `{uri, range|line}` from a code lens, or nothing from a keybinding. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function lensArgs(args: any[]): { uri?: string; line?: number } {
  const a = args[0];
  if (a && typeof a === "object" && !(a instanceof vscode.Uri)) {
    return a;
  }
  if (a instanceof vscode.Uri) {
    return { uri: a.toString() };
  }
  return {};
}

async function runSelection(): Promise<void> {
  const editor = await editorFor(undefined);
  if (!editor) {
    return;
  }
  const sel = editor.selection;
  // nothing selected: run the current line
  const range = sel.isEmpty ? editor.document.lineAt(sel.active.line).range : sel;
  return run(
    "runSelection",
    editor,
    {
      uri: editor.document.uri.toString(),
      range: {
        start: { line: range.start.line, character: range.start.character },
        end: { line: range.end.line, character: range.end.character },
      },
    },
    sel.active.line,
  );
}

/** The cell holding `line` (from a code lens) or the cursor: the server finds its lines. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function runCell(...args: any[]): Promise<void> {
  const a = lensArgs(args);
  const editor = await editorFor(a.uri);
  if (!editor) {
    return;
  }
  const line = typeof a.line === "number" ? a.line : editor.selection.active.line;
  return run("runCell", editor, { uri: editor.document.uri.toString(), line }, line);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function runFile(...args: any[]): Promise<void> {
  const a = lensArgs(args);
  const editor = await editorFor(a.uri);
  if (!editor) {
    return;
  }
  const line = a.uri ? 0 : editor.selection.active.line;
  return run("runFile", editor, { uri: editor.document.uri.toString() }, line);
}

async function simpleCommand(command: string, args: object): Promise<unknown> {
  if (!client || client.state !== State.Running) {
    vscode.window.showWarningMessage("The TensorLogic language server is not running.");
    return undefined;
  }
  return client.sendRequest(ExecuteCommandRequest.type, { command, arguments: [args] });
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  output = vscode.window.createOutputChannel("TensorLogic");
  inline = new InlineResults();
  status = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Right, 100);
  kernelDevice = config().get<string>("device", "gpu");
  context.subscriptions.push(output, inline, status);
  updateStatus("stopped");

  context.subscriptions.push(
    vscode.commands.registerCommand("tensorlogic.runSelection", runSelection),
    vscode.commands.registerCommand("tensorlogic.runCell", runCell),
    vscode.commands.registerCommand("tensorlogic.runFile", runFile),
    vscode.commands.registerCommand("tensorlogic.interrupt", async () => {
      const editor = await editorFor(undefined);
      const r = (await simpleCommand("tensorlogic.interrupt", {
        uri: editor?.document.uri.toString(),
      })) as { interrupted?: boolean } | undefined;
      if (r) {
        output.appendLine(r.interrupted ? "[interrupt] stopped the running code" : "[interrupt] nothing was running");
      }
    }),
    vscode.commands.registerCommand("tensorlogic.restartKernel", async () => {
      if (refuseUntrusted()) {
        return;
      }
      updateStatus("starting");
      try {
        const r = await simpleCommand("tensorlogic.restartKernel", {});
        output.appendLine(r ? "[kernel] restarted: variables are cleared" : "[kernel] not restarted");
        updateStatus(r ? "idle" : "stopped");
        inline.clear();
      } catch (err) {
        output.appendLine(`[kernel] restart failed: ${err instanceof Error ? err.message : err}`);
        updateStatus("stopped");
      }
    }),
    vscode.commands.registerCommand("tensorlogic.restartServer", () => restartClient(context)),
    vscode.commands.registerCommand("tensorlogic.showOutput", () => output.show(true)),
    vscode.window.onDidChangeActiveTextEditor(() => updateStatus()),
    // trusted now: the workspace's settings and .venv may be used, lenses and runs come back
    vscode.workspace.onDidGrantWorkspaceTrust(() => {
      updateStatus();
      scheduleRestart(context);
    }),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration("tensorlogic.device")) {
        updateStatus(undefined, config().get<string>("device", "gpu"));
      }
      if (
        e.affectsConfiguration("tensorlogic.server.path") ||
        e.affectsConfiguration("tensorlogic.pythonPath")
      ) {
        scheduleRestart(context);
      }
    }),
  );
  restarts = startClient(context);
  await restarts;
}

export async function deactivate(): Promise<void> {
  if (restartTimer) {
    clearTimeout(restartTimer);
  }
  await stopClient();
}
