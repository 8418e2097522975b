// The shapes of run results (the server's run commands, see docs/kernel.md) and the status
// bar text. The server formats results (`labels`); this only names their fields. No `vscode`
// import, so node's test runner tests it directly.

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

/** What a run shows, made by the server (tl_core/kernel/protocol.py, `Labels`). */
export interface RunLabels {
  inline: string; // shown after `line`, e.g. `⇒ float16[4, 2] on gpu · 0.8 ms`
  line: number;
  error: boolean;
  head: string;
  tail: string;
  log: string; // the whole block of the output log (shown on hover of the inline text)
}

export interface RunResult {
  stdout?: string;
  value?: ValueSummary | null;
  elapsed_ms?: number;
  device?: string;
  errors?: RunError[];
  interrupted?: boolean;
  lines?: { first: number; last: number };
  labels?: RunLabels;
}

/** `tensorlogic/output`: a piece of a run's log, as it comes. */
export interface RunOutput {
  uri: string;
  text: string;
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
