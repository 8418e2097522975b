import { strict as assert } from "node:assert";
import { test } from "node:test";
import { lineAfterChange } from "../src/placement";

// Cells and the line a result goes after come from the server (tl_core).

test("edits above move the result, edits of its line clear it, edits below keep it", () => {
  // two lines inserted at line 0
  assert.equal(lineAfterChange(5, { startLine: 0, endLine: 0, text: "a\nb\n" }), 7);
  // lines 1-3 replaced by one line
  assert.equal(lineAfterChange(5, { startLine: 1, endLine: 3, text: "x" }), 3);
  // typing on the result line
  assert.equal(lineAfterChange(5, { startLine: 5, endLine: 5, text: "z" }), null);
  // a multi-line deletion that covers the result line
  assert.equal(lineAfterChange(5, { startLine: 4, endLine: 6, text: "" }), null);
  // edits below
  assert.equal(lineAfterChange(5, { startLine: 6, endLine: 8, text: "q\n" }), 5);
});
