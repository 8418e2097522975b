// When run results shown inline go away. Pure functions over lines of text, no
// `vscode` import, so node's test runner tests them directly.

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
