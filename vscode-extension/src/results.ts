// Formatting of run results (the result of the server's run commands, see docs/kernel.md).
// Pure functions: no `vscode` import, so node's test runner tests them directly.

export interface Position {
  line: number;
  character: number;
}

export interface Range {
  start: Position;
  end: Position;
}

export interface RunError {
  range?: Range;
  message: string;
  severity?: string; // "error" | "warning"
  code?: string;
}

export interface ValueSummary {
  kind: string; // tensor | int | float | bool | string | list | model | shape | none
  text?: string;
  shape?: number[] | null;
  dtype?: string | null;
  device?: string | null;
  line?: number | null;
}

export interface RunResult {
  stdout?: string;
  value?: ValueSummary | null;
  elapsed_ms?: number;
  device?: string;
  errors?: RunError[];
  interrupted?: boolean;
}

const INLINE_MAX = 80;

/** `0.8 ms`, `12 ms`, `1.25 s`. */
export function formatDuration(ms: number | undefined): string {
  const v = typeof ms === "number" && isFinite(ms) && ms >= 0 ? ms : 0;
  if (v < 10) {
    return `${v.toFixed(1)} ms`;
  }
  if (v < 1000) {
    return `${Math.round(v)} ms`;
  }
  return `${(v / 1000).toFixed(2)} s`;
}

/** `float16[4, 2]` for a tensor value, or null. */
export function tensorType(value: ValueSummary | null | undefined): string | null {
  if (!value || value.kind !== "tensor" || !Array.isArray(value.shape)) {
    return null;
  }
  return `${value.dtype ?? "float16"}[${value.shape.join(", ")}]`;
}

function oneLine(text: string, max = INLINE_MAX): string {
  const flat = text.replace(/\s*\n\s*/g, " ").trim();
  return flat.length > max ? flat.slice(0, max - 1) + "…" : flat;
}

export function firstError(result: RunResult): RunError | undefined {
  return (result.errors ?? []).find((e) => (e.severity ?? "error") === "error");
}

/**
 * The text shown after the last run line, e.g. `⇒ float16[4, 2] on gpu · 0.8 ms`.
 * Errors win over values: `⇒ error: <message>`; an interrupted run says so.
 */
export function formatInline(result: RunResult): string {
  const time = formatDuration(result.elapsed_ms);
  const device = result.device ?? "?";
  if (result.interrupted) {
    return `⇒ interrupted · ${time}`;
  }
  const err = firstError(result);
  if (err) {
    return `⇒ error: ${oneLine(err.message)}`;
  }
  const value = result.value;
  const tensor = tensorType(value);
  if (tensor) {
    return `⇒ ${tensor} on ${value?.device ?? device} · ${time}`;
  }
  if (value && value.kind !== "none" && value.text !== undefined) {
    return `⇒ ${oneLine(value.text, 60)} · ${time}`;
  }
  // no value: the last line the run printed, if any
  const printed = (result.stdout ?? "").split("\n").filter((l) => l.trim() !== "");
  if (printed.length > 0) {
    return `⇒ ${oneLine(printed[printed.length - 1], 60)} · ${time}`;
  }
  return `⇒ done on ${device} · ${time}`;
}

export function isErrorResult(result: RunResult): boolean {
  return firstError(result) !== undefined;
}

/**
 * The block written to the "TensorLogic" output channel for one run:
 *
 *     [run linear.tl:3-9] 12.5 ms on cpu
 *     <printed output>
 *     = <value>
 *     linear.tl:10:14: error: <message>
 */
export function formatOutput(
  name: string,
  firstLine: number,
  lastLine: number,
  result: RunResult,
): string {
  const lines = [
    `[run ${name}:${firstLine + 1}-${lastLine + 1}] ` +
      `${(result.elapsed_ms ?? 0).toFixed(1)} ms on ${result.device ?? "?"}`,
  ];
  const stdout = (result.stdout ?? "").replace(/\n+$/, "");
  if (stdout) {
    lines.push(stdout);
  }
  const value = result.value;
  if (value && value.kind !== "none" && value.text !== undefined) {
    const tensor = tensorType(value);
    lines.push(`= ${value.text}${tensor ? `  (${tensor} on ${value.device ?? result.device})` : ""}`);
  }
  for (const err of result.errors ?? []) {
    const start = err.range?.start ?? { line: 0, character: 0 };
    lines.push(
      `${name}:${start.line + 1}:${start.character + 1}: ${err.severity ?? "error"}: ${err.message}`,
    );
  }
  if (result.interrupted) {
    lines.push("(interrupted)");
  }
  return lines.join("\n");
}

export type KernelState = "stopped" | "starting" | "idle" | "running";

/** Status-bar text: `$(circle-outline) TL: idle · gpu`. */
export function formatStatus(state: KernelState, device: string): string {
  switch (state) {
    case "running":
      return `$(sync~spin) TensorLogic: running on ${device}`;
    case "idle":
      return `$(circle-filled) TensorLogic: idle · ${device}`;
    case "starting":
      return `$(loading~spin) TensorLogic: starting · ${device}`;
    default:
      return `$(circle-slash) TensorLogic: stopped · ${device}`;
  }
}
