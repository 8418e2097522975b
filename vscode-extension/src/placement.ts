// Where run results appear and when they go away. Pure functions over lines of text, no
// `vscode` import, so node's test runner tests them directly.

export const CELL_MARKER = /^\s*\/\/\s*%%/;

export interface LineSpan {
  first: number; // 0-based, inclusive
  last: number; // 0-based, inclusive
}

/** The cell holding `line`: from its `// %%` marker (or the top) to the line before the next. */
export function cellAt(lines: readonly string[], line: number): LineSpan {
  const n = lines.length;
  const at = Math.max(0, Math.min(line, n - 1));
  let first = 0;
  for (let i = at; i >= 0; i--) {
    if (CELL_MARKER.test(lines[i])) {
      first = i;
      break;
    }
  }
  let last = n - 1;
  for (let i = at + 1; i < n; i++) {
    if (CELL_MARKER.test(lines[i])) {
      last = i - 1;
      break;
    }
  }
  return { first, last: Math.max(first, last) };
}

function isCodeLine(text: string): boolean {
  const t = text.trim();
  return t !== "" && !t.startsWith("//") && !t.startsWith("/*") && !t.startsWith("*");
}

/**
 * The line the inline result goes after: the last line of the run span holding code (blank
 * lines, comments and the next cell's marker are skipped). Falls back to the span's first
 * line when it holds no code at all.
 */
export function resultLine(lines: readonly string[], span: LineSpan): number {
  const last = Math.min(span.last, lines.length - 1);
  for (let i = last; i >= span.first; i--) {
    if (isCodeLine(lines[i])) {
      return i;
    }
  }
  return Math.max(0, Math.min(span.first, lines.length - 1));
}

/** One content change, as VS Code reports it (range in the old text, replacement text). */
export interface LineChange {
  startLine: number;
  endLine: number;
  text: string;
}

/**
 * Where a result shown after `line` moves to after `change`, or null when the change edits
 * that line (then the result is stale and is cleared). Lines above the change keep their
 * number; lines below shift by the number of lines added or removed.
 */
export function lineAfterChange(line: number, change: LineChange): number | null {
  if (line < change.startLine) {
    return line;
  }
  if (line <= change.endLine) {
    return null;
  }
  const added = change.text.split("\n").length - 1;
  const removed = change.endLine - change.startLine;
  return line + added - removed;
}
