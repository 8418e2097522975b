import { strict as assert } from "node:assert";
import { test } from "node:test";
import { cellAt, lineAfterChange, resultLine } from "../src/placement";

const doc = [
  "model = load_model(\"m.safetensors\")", // 0
  "// %% first cell", // 1
  "let x = 1", // 2
  "let y = x @ w", // 3
  "", // 4
  "// trailing comment", // 5
  "  // %% second", // 6
  "print(y)", // 7
  "", // 8
];

test("cells run from their marker to the line before the next marker", () => {
  assert.deepEqual(cellAt(doc, 0), { first: 0, last: 0 });
  assert.deepEqual(cellAt(doc, 1), { first: 1, last: 5 });
  assert.deepEqual(cellAt(doc, 3), { first: 1, last: 5 });
  assert.deepEqual(cellAt(doc, 5), { first: 1, last: 5 });
  assert.deepEqual(cellAt(doc, 6), { first: 6, last: 8 });
  assert.deepEqual(cellAt(doc, 99), { first: 6, last: 8 });
});

test("the result goes after the last line holding code", () => {
  assert.equal(resultLine(doc, { first: 1, last: 5 }), 3);
  assert.equal(resultLine(doc, { first: 6, last: 8 }), 7);
  assert.equal(resultLine(doc, { first: 0, last: 8 }), 7);
  assert.equal(resultLine(doc, { first: 2, last: 2 }), 2);
  // no code at all: the first line of the span
  assert.equal(resultLine(doc, { first: 4, last: 5 }), 4);
  // spans past the end are clamped
  assert.equal(resultLine(["a = 1"], { first: 0, last: 10 }), 0);
});

test("block comments are not code lines", () => {
  assert.equal(resultLine(["x = 1", "/* note", " * more */"], { first: 0, last: 2 }), 0);
});

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
