import { strict as assert } from "node:assert";
import { test } from "node:test";
import { formatStatus } from "../src/results";

// Run results are formatted by the server (tl_core/kernel/protocol.py, tested in
// tests/runtime/test_kernel_protocol.py); the extension shows its labels as they come.

test("status bar text per kernel state", () => {
  assert.equal(formatStatus("idle", "gpu"), "$(circle-filled) TensorLogic: idle · gpu");
  assert.equal(formatStatus("running", "cpu"), "$(sync~spin) TensorLogic: running on cpu");
  assert.equal(formatStatus("stopped", "gpu"), "$(circle-slash) TensorLogic: stopped · gpu");
  assert.equal(formatStatus("starting", "gpu"), "$(loading~spin) TensorLogic: starting · gpu");
});
