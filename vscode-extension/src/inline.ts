// Inline run results: a decoration after the last run line, moved with edits above it and
// cleared by the next edit of that line.

import * as vscode from "vscode";
import { lineAfterChange } from "./placement";

interface Shown {
  line: number;
  text: string;
  error: boolean;
  detail: string;
}

export class InlineResults implements vscode.Disposable {
  private readonly ok = vscode.window.createTextEditorDecorationType({
    after: {
      margin: "0 0 0 1.5em",
      color: new vscode.ThemeColor("editorCodeLens.foreground"),
      fontStyle: "italic",
    },
  });
  private readonly failed = vscode.window.createTextEditorDecorationType({
    after: {
      margin: "0 0 0 1.5em",
      color: new vscode.ThemeColor("errorForeground"),
      fontStyle: "italic",
    },
  });
  private readonly byDoc = new Map<string, Shown[]>();
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor() {
    this.subscriptions.push(
      vscode.workspace.onDidChangeTextDocument((e) => this.onChange(e)),
      vscode.window.onDidChangeVisibleTextEditors(() => this.refreshAll()),
      vscode.workspace.onDidCloseTextDocument((d) => this.byDoc.delete(d.uri.toString())),
    );
  }

  /** Show `text` after `line` of `doc`, replacing what that line showed before. */
  show(doc: vscode.TextDocument, line: number, text: string, error: boolean, detail: string): void {
    const key = doc.uri.toString();
    const shown = (this.byDoc.get(key) ?? []).filter((s) => s.line !== line);
    shown.push({ line, text, error, detail });
    this.byDoc.set(key, shown);
    this.refresh(key);
  }

  clear(doc?: vscode.TextDocument): void {
    if (doc) {
      this.byDoc.delete(doc.uri.toString());
      this.refresh(doc.uri.toString());
    } else {
      const keys = [...this.byDoc.keys()];
      this.byDoc.clear();
      keys.forEach((k) => this.refresh(k));
    }
  }

  /** The lines that show a result now (for tests and the status bar). */
  lines(doc: vscode.TextDocument): number[] {
    return (this.byDoc.get(doc.uri.toString()) ?? []).map((s) => s.line);
  }

  private onChange(e: vscode.TextDocumentChangeEvent): void {
    const key = e.document.uri.toString();
    let shown = this.byDoc.get(key);
    if (!shown || e.contentChanges.length === 0) {
      return;
    }
    // Ranges refer to the text before the event: apply the lowest change last.
    const changes = [...e.contentChanges].sort((a, b) => b.range.start.line - a.range.start.line);
    for (const c of changes) {
      const change = { startLine: c.range.start.line, endLine: c.range.end.line, text: c.text };
      shown = shown
        .map((s) => ({ ...s, line: lineAfterChange(s.line, change) }))
        .filter((s): s is Shown => s.line !== null);
    }
    this.byDoc.set(key, shown);
    this.refresh(key);
  }

  private refreshAll(): void {
    const keys = new Set(vscode.window.visibleTextEditors.map((e) => e.document.uri.toString()));
    keys.forEach((k) => this.refresh(k));
  }

  private refresh(key: string): void {
    const shown = this.byDoc.get(key) ?? [];
    for (const editor of vscode.window.visibleTextEditors) {
      if (editor.document.uri.toString() !== key) {
        continue;
      }
      const doc = editor.document;
      const options = (error: boolean): vscode.DecorationOptions[] =>
        shown
          .filter((s) => s.error === error && s.line < doc.lineCount)
          .map((s) => {
            const end = doc.lineAt(s.line).range.end;
            const hover = new vscode.MarkdownString();
            hover.appendCodeblock(s.detail, "text");
            return {
              range: new vscode.Range(end, end),
              hoverMessage: hover,
              renderOptions: { after: { contentText: s.text } },
            };
          });
      editor.setDecorations(this.ok, options(false));
      editor.setDecorations(this.failed, options(true));
    }
  }

  dispose(): void {
    this.subscriptions.forEach((d) => d.dispose());
    this.ok.dispose();
    this.failed.dispose();
  }
}
