import { strict as assert } from "node:assert";
import { test } from "node:test";
import {
  formatDuration,
  formatInline,
  formatOutput,
  formatStatus,
  isErrorResult,
  RunResult,
  tensorType,
} from "../src/results";

const tensorResult: RunResult = {
  stdout: "Output shape: [4, 2]\n",
  value: {
    kind: "tensor",
    text: "tensor([[2.21, 2.82], ...])",
    shape: [4, 2],
    dtype: "float16",
    device: "gpu",
    line: 9,
  },
  elapsed_ms: 0.84,
  device: "gpu",
  errors: [],
  interrupted: false,
};

test("durations: one decimal under 10 ms, whole ms, then seconds", () => {
  assert.equal(formatDuration(0.84), "0.8 ms");
  assert.equal(formatDuration(9.96), "10.0 ms");
  assert.equal(formatDuration(12.5), "13 ms");
  assert.equal(formatDuration(1250), "1.25 s");
  assert.equal(formatDuration(undefined), "0.0 ms");
  assert.equal(formatDuration(-3), "0.0 ms");
});

test("tensor values show dtype, shape, device and time", () => {
  assert.equal(formatInline(tensorResult), "⇒ float16[4, 2] on gpu · 0.8 ms");
  assert.equal(tensorType(tensorResult.value), "float16[4, 2]");
  const scalarShape = { ...tensorResult, value: { ...tensorResult.value!, shape: [] } };
  assert.equal(formatInline(scalarShape), "⇒ float16[] on gpu · 0.8 ms");
});

test("non-tensor values show their text, cut to one short line", () => {
  const r: RunResult = { value: { kind: "int", text: "42" }, elapsed_ms: 3, device: "cpu" };
  assert.equal(formatInline(r), "⇒ 42 · 3.0 ms");
  const long: RunResult = {
    value: { kind: "string", text: "x".repeat(100) + "\nsecond line" },
    elapsed_ms: 3,
  };
  const text = formatInline(long);
  assert.equal(text, "⇒ " + "x".repeat(59) + "… · 3.0 ms");
});

test("no value: the last printed line, else done on the device", () => {
  assert.equal(
    formatInline({ stdout: "a\nY shape: [2, 2]\n\n", value: null, elapsed_ms: 1.4, device: "cpu" }),
    "⇒ Y shape: [2, 2] · 1.4 ms",
  );
  assert.equal(formatInline({ value: null, elapsed_ms: 1.5, device: "cpu" }), "⇒ done on cpu · 1.5 ms");
  assert.equal(formatInline({ value: { kind: "none" }, elapsed_ms: 1.5, device: "cpu" }), "⇒ done on cpu · 1.5 ms");
});

test("errors win over values; warnings do not", () => {
  const r: RunResult = {
    ...tensorResult,
    errors: [
      { message: "overflow in 3 values", severity: "warning" },
      {
        message: "float16[4, 3] @ float16[2, 3]: inner dimensions 3 and 2 differ",
        severity: "error",
        range: { start: { line: 9, character: 13 }, end: { line: 9, character: 25 } },
      },
    ],
  };
  assert.equal(formatInline(r), "⇒ error: float16[4, 3] @ float16[2, 3]: inner dimensions 3 and 2 differ");
  assert.ok(isErrorResult(r));
  const warnOnly = { ...tensorResult, errors: [{ message: "w", severity: "warning" }] };
  assert.equal(formatInline(warnOnly), "⇒ float16[4, 2] on gpu · 0.8 ms");
  assert.ok(!isErrorResult(warnOnly));
});

test("interrupted runs say so", () => {
  assert.equal(formatInline({ interrupted: true, elapsed_ms: 800, device: "gpu" }), "⇒ interrupted · 800 ms");
});

test("output channel block: header, stdout, value, errors with 1-based positions", () => {
  const r: RunResult = {
    ...tensorResult,
    elapsed_ms: 12.5,
    errors: [
      {
        message: "unknown tensor \"w\"",
        severity: "error",
        range: { start: { line: 9, character: 13 }, end: { line: 9, character: 16 } },
      },
    ],
  };
  assert.equal(
    formatOutput("linear.tl", 2, 8, r),
    [
      "[run linear.tl:3-9] 12.5 ms on gpu",
      "Output shape: [4, 2]",
      "= tensor([[2.21, 2.82], ...])  (float16[4, 2] on gpu)",
      'linear.tl:10:14: error: unknown tensor "w"',
    ].join("\n"),
  );
  assert.equal(
    formatOutput("a.tl", 0, 0, { stdout: "", value: null, elapsed_ms: 1, device: "cpu", interrupted: true }),
    "[run a.tl:1-1] 1.0 ms on cpu\n(interrupted)",
  );
});

test("status bar text per kernel state", () => {
  assert.equal(formatStatus("idle", "gpu"), "$(circle-filled) TensorLogic: idle · gpu");
  assert.equal(formatStatus("running", "cpu"), "$(sync~spin) TensorLogic: running on cpu");
  assert.equal(formatStatus("stopped", "gpu"), "$(circle-slash) TensorLogic: stopped · gpu");
  assert.equal(formatStatus("starting", "gpu"), "$(loading~spin) TensorLogic: starting · gpu");
});
