// Drives code-server (a real VS Code in the browser) with Playwright and Debian's Chromium.
// Usage: node vscode_driver.js CONFIG.json   (written by tests/e2e/test_vscode_e2e.py)
// Prints one JSON object on the last line of stdout: {checks: {name: {ok, detail}}}.
// Every check runs even when an earlier one failed; a screenshot is saved after each.
"use strict";

const fs = require("fs");
const path = require("path");
const { chromium } = require("playwright-core");

const cfg = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const checks = {};
const log = (...a) => console.error(new Date().toISOString().slice(11, 19), ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// Monaco renders spaces as no-break spaces; compare text as a person reads it.
const text = async (locator) =>
  (await locator.count()) ? (await locator.first().innerText()).replace(/\u00a0/g, " ") : "";

async function poll(fn, timeoutMs, everyMs = 250) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    try {
      last = await fn();
      if (last && last.ok) {
        return last;
      }
    } catch (e) {
      last = { ok: false, detail: String(e && e.message ? e.message : e) };
    }
    await sleep(everyMs);
  }
  return last || { ok: false, detail: "timed out" };
}

async function shot(page, name) {
  try {
    await page.screenshot({ path: path.join(cfg.artifacts, `${name}.png`) });
  } catch (e) {
    log("screenshot failed", name, e.message);
  }
}

async function check(page, name, fn) {
  log("check", name);
  let result;
  try {
    result = await fn();
  } catch (e) {
    result = { ok: false, detail: String(e && e.stack ? e.stack : e) };
  }
  checks[name] = { ok: !!result.ok, detail: String(result.detail ?? "").slice(0, 2000) };
  log(name, result.ok ? "OK" : "FAILED", checks[name].detail.slice(0, 300));
  await shot(page, name);
  return result.ok;
}

async function runCommand(page, title) {
  await page.keyboard.press("F1");
  const input = page.locator(".quick-input-widget input");
  await input.waitFor({ state: "visible", timeout: 15000 });
  await input.fill(">" + title);
  await sleep(500);
  await page.keyboard.press("Enter");
  await sleep(300);
}

async function goToLine(page, line, column) {
  // Ctrl+G opens "go to line"; `line:column` is 1-based
  await page.keyboard.press("Control+G");
  const input = page.locator(".quick-input-widget input");
  await input.waitFor({ state: "visible", timeout: 15000 });
  await input.fill(`:${line}:${column}`);
  await page.keyboard.press("Enter");
  await sleep(300);
}

/** Text of the editor line that starts with `prefix` (a Locator), from Monaco's view lines. */
function editorLine(page, prefix) {
  return page
    .locator(".editor-instance .monaco-editor .view-lines .view-line")
    .filter({ hasText: prefix })
    .first();
}

async function main() {
  const context = await chromium.launchPersistentContext(cfg.profile, {
    executablePath: cfg.chromium,
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const page = context.pages()[0] || (await context.newPage());
  page.on("pageerror", (e) => log("pageerror", e.message));
  try {
    const url = `${cfg.url}/?folder=${encodeURIComponent(cfg.workspace)}`;
    log("open", url);
    await page.goto(url, { waitUntil: "domcontentloaded", timeout: 120000 });
    await page.locator(".monaco-workbench").waitFor({ state: "visible", timeout: 120000 });
    await shot(page, "00-workbench");

    await openProgram(page);
    await shot(page, "01-opened");
    await (cfg.scenario === "restricted" ? restricted(page) : trusted(page));
    await shot(page, "99-final");
  } catch (e) {
    checks.driver = { ok: false, detail: String(e && e.stack ? e.stack : e) };
    await shot(page, "driver-error");
  } finally {
    await context.close();
  }
}

/** Open the program by clicking it in the explorer; focus its editor. */
async function openProgram(page) {
  const row = page
    .locator(".explorer-folders-view .monaco-list-row")
    .filter({ hasText: cfg.programName });
  await row.first().waitFor({ state: "visible", timeout: 60000 });
  await row.first().click();
  await page.locator(".editor-instance .monaco-editor .view-lines").first().waitFor({
    state: "visible",
    timeout: 60000,
  });
  await page.locator(".editor-instance .monaco-editor").first().click({ position: { x: 200, y: 10 } });
}

/** The editor knows the language, the server's diagnostics and hover arrive (both sessions). */
async function languageFeatures(page) {
  await check(page, "language_mode", async () =>
    poll(async () => {
      const t = (await page.locator('[id="status.editor.mode"]').innerText()).trim();
      return { ok: t === "TensorLogic", detail: `status bar language mode: ${JSON.stringify(t)}` };
    }, 60000),
  );

  await check(page, "problems_shape_error", async () => {
    await page.keyboard.press("Control+Shift+M");
    return poll(async () => {
      const shown = await text(page.locator(".markers-panel"));
      const ok = cfg.problemPatterns.every((p) => new RegExp(p).test(shown));
      return { ok, detail: `Problems panel: ${JSON.stringify(shown.slice(0, 800))}` };
    }, 90000, 1000);
  });

  await check(page, "hover_shape", async () => {
    const [line, col] = cfg.hoverAt;
    return poll(async () => {
      await page.keyboard.press("Escape");
      await goToLine(page, line, col);
      // hover with the mouse over the cursor's token
      const cursor = page.locator(".editor-instance .monaco-editor .cursor").first();
      const box = await cursor.boundingBox();
      if (box) {
        await page.mouse.move(box.x + 4, box.y + box.height / 2);
        await page.mouse.move(box.x + 5, box.y + box.height / 2);
      }
      const hover = page.locator(".monaco-hover:visible, .monaco-resizable-hover:visible");
      try {
        await hover.first().waitFor({ state: "visible", timeout: 4000 });
      } catch {
        // fall back to the keyboard: "Show or Focus Hover"
        await page.keyboard.press("Control+K");
        await page.keyboard.press("Control+I");
        await hover.first().waitFor({ state: "visible", timeout: 4000 }).catch(() => {});
      }
      const shown = await text(hover);
      return {
        ok: new RegExp(cfg.hoverPattern).test(shown),
        detail: `hover: ${JSON.stringify(shown.slice(0, 500))}`,
      };
    }, 45000, 1000);
  });
  await page.keyboard.press("Escape");
}

/** The status bar items of this extension ("TensorLogic: ..."). */
async function tlStatus(page) {
  const items = await page.locator(".statusbar-item").allInnerTexts();
  return items.map((t) => t.trim()).filter((t) => t.includes("TensorLogic:"));
}

/** The inline results (decorations' `::after` text) that contain `needle`. */
function inlineResults(page, needle) {
  return page.evaluate((n) => {
    const out = [];
    for (const el of document.querySelectorAll(".editor-instance .view-lines .view-line span")) {
      const c = getComputedStyle(el, "::after").content;
      if (c && c.includes(n)) {
        out.push(c);
      }
    }
    return out;
  }, needle);
}

const outputText = (page) => text(page.locator(".output-view .monaco-editor .view-lines"));
const runLenses = (page) =>
  page.locator(".editor-instance .codelens-decoration a").filter({ hasText: "Run cell" });
const marks = () => (fs.existsSync(cfg.marks) ? fs.readdirSync(cfg.marks).sort() : []);

/** Run cell from a line inside the first cell with Ctrl+Enter; poll the output channel. */
async function runFirstCell(page) {
  await page.keyboard.press("Escape");
  const [runLine, runCol] = cfg.runAt;
  await goToLine(page, runLine, runCol);
  await page.keyboard.press("Control+Enter");
}

/**
 * Restricted Mode: the server starts from PATH (the language works), nothing planted in the
 * workspace runs, runs are refused with the reason and no lens offers one. Then trust the
 * workspace: its own setting is used and the cell runs.
 */
async function restricted(page) {
  await languageFeatures(page);

  await check(page, "restricted_status_bar", async () =>
    poll(async () => {
      const shown = await tlStatus(page);
      return {
        ok: shown.some((t) => t.includes(cfg.restrictedStatus)),
        detail: `status bar: ${JSON.stringify(shown)}`,
      };
    }, 30000),
  );

  await check(page, "restricted_no_run_lens", async () => {
    // the server is up (diagnostics came): lenses would be drawn by now
    await sleep(3000);
    const n = await runLenses(page).count();
    return { ok: n === 0, detail: `${n} "Run cell" lenses` };
  });

  await check(page, "restricted_run_refused", async () => {
    await runFirstCell(page);
    const toasts = page.locator(".notifications-toasts .notification-toast");
    const seen = await poll(async () => {
      const all = (await toasts.allInnerTexts()).filter((t) => t.includes("Restricted Mode"));
      return { ok: all.some((t) => t.includes(cfg.restrictedMessage)), detail: JSON.stringify(all) };
    }, 20000);
    await shot(page, "restricted-notification");
    const shown = await outputText(page);
    const ran = shown.includes("[run ");
    return {
      ok: seen.ok && !ran,
      detail: `notifications: ${seen.detail}; output: ${JSON.stringify(shown.slice(-400))}`,
    };
  });

  await check(page, "restricted_nothing_from_workspace_ran", async () => {
    const m = marks();
    return { ok: m.length === 0, detail: `programs from the workspace that ran: ${JSON.stringify(m)}` };
  });

  // Trust the folder in the Workspace Trust editor.
  await check(page, "trust_granted", async () => {
    await page.keyboard.press("Escape");
    await runCommand(page, "Workspaces: Manage Workspace Trust");
    const button = page
      .locator(".workspace-trust-editor .monaco-button")
      .filter({ hasText: /^Trust( Folder)?$/ })
      .first();
    await button.waitFor({ state: "visible", timeout: 20000 });
    await shot(page, "trust-editor");
    await button.click();
    // the trust editor is a modal here: close it, back to the program
    await sleep(1000);
    await shot(page, "trust-clicked");
    const modal = page.locator(".monaco-modal-editor-block");
    if (await modal.count()) {
      const close = modal
        .locator('.codicon-close, .codicon-close-all, [aria-label^="Close"]')
        .first();
      if (await close.count()) {
        await close.click();
      } else {
        await runCommand(page, "View: Close Editor");
      }
      await modal.waitFor({ state: "detached", timeout: 10000 }).catch(() => {});
    }
    await shot(page, "trust-closed");
    await openProgram(page);
    return poll(async () => {
      const shown = await tlStatus(page);
      return {
        ok: shown.length > 0 && !shown.some((t) => t.includes(cfg.restrictedStatus)),
        detail: `status bar: ${JSON.stringify(shown)}`,
      };
    }, 20000);
  });

  await check(page, "trusted_uses_workspace_setting_and_runs", async () => {
    const lens = await poll(async () => {
      const n = await runLenses(page).count();
      return { ok: n > 0, detail: `${n} "Run cell" lenses` };
    }, 60000, 1000);
    await runFirstCell(page);
    const ran = await poll(async () => {
      const shown = await outputText(page);
      return {
        ok: cfg.outputPatterns.every((p) => new RegExp(p).test(shown)),
        detail: `output: ${JSON.stringify(shown.slice(-600))}`,
      };
    }, 150000, 1000);
    const m = marks();
    return {
      ok: lens.ok && ran.ok && JSON.stringify(m) === JSON.stringify(["workspace-tl-lsp"]),
      detail: `${lens.detail}; ${ran.detail}; programs from the workspace that ran: ${JSON.stringify(m)}`,
    };
  });
}

/** Every feature in a trusted workspace. */
async function trusted(page) {
  await languageFeatures(page);

  await check(page, "completion_tensor_names", async () => {
    await page.keyboard.press("Control+End");
    await page.keyboard.press("End");
    await page.keyboard.press("Enter");
    await page.keyboard.type(cfg.completionPrefix, { delay: 30 });
    const widget = page.locator(".suggest-widget.visible, .editor-widget.suggest-widget.visible");
    const result = await poll(async () => {
      if (!(await widget.count()) || !(await widget.first().isVisible())) {
        await page.keyboard.press("Control+Space");
        await sleep(1500);
      }
      const shown = await text(widget);
      const ok = cfg.completionNames.every((n) => shown.includes(n));
      return { ok, detail: `suggestions: ${JSON.stringify(shown.slice(0, 800))}` };
    }, 45000, 1000);
    await shot(page, "04b-completion-list");
    await page.keyboard.press("Escape");
    return result;
  });

  // Run the first cell with Ctrl+Enter, from a line inside it.
  await runFirstCell(page);

  await check(page, "run_cell_output", async () =>
    poll(async () => {
      const shown = await text(page.locator(".output-view .monaco-editor .view-lines"));
      // the channel picker must show "TensorLogic" (not the server's log channel)
      const channel = await page
        .locator(".output-view select, .panel select.monaco-select-box")
        .first()
        .evaluate((s) => s.options[s.selectedIndex].text)
        .catch((e) => `? (${e.message.split("\n")[0]})`);
      const ok =
        channel === "TensorLogic" && cfg.outputPatterns.every((p) => new RegExp(p).test(shown));
      return {
        ok,
        detail: `output channel ${JSON.stringify(channel)}: ${JSON.stringify(shown.slice(0, 800))}`,
      };
    }, 150000, 1000),
  );

  await check(page, "run_cell_inline", async () =>
    poll(async () => {
      const found = await page.evaluate(() => {
        const out = [];
        for (const el of document.querySelectorAll(".editor-instance .view-lines .view-line span")) {
          const c = getComputedStyle(el, "::after").content;
          if (c && c !== "none" && c !== "normal" && c.includes("⇒")) {
            const line = el.closest(".view-line");
            out.push({ after: c, line: line ? line.innerText : "" });
          }
        }
        return out;
      });
      const ok = found.some(
        (f) => new RegExp(cfg.inlinePattern).test(f.after) && f.line.includes(cfg.inlineLineText),
      );
      return { ok, detail: `inline decorations: ${JSON.stringify(found).slice(0, 800)}` };
    }, 60000, 1000),
  );
  // Code lenses come from the server; clicking one runs this extension's command.
  await check(page, "code_lens_run_cell_runtime_error", async () => {
    await page.keyboard.press("Escape");
    await runLenses(page).last().click();
    return poll(async () => {
      const shown = await text(page.locator(".output-view .monaco-editor .view-lines"));
      const problems = await page.locator(".markers-panel").count();
      const inlineErrors = await inlineResults(page, "⇒ error:");
      const ok =
        new RegExp(cfg.lensOutputPattern).test(shown) &&
        inlineErrors.some((c) => new RegExp(cfg.lensInlinePattern).test(c));
      return {
        ok,
        detail: `output: ${JSON.stringify(shown.slice(-400))}; inline: ${JSON.stringify(inlineErrors)} (${problems})`,
      };
    }, 60000, 1000);
  });

  await check(page, "status_bar_kernel", async () =>
    poll(async () => {
      const shown = await tlStatus(page);
      return {
        ok: shown.some((t) => new RegExp(cfg.statusPattern).test(t)),
        detail: `status bar: ${JSON.stringify(shown)}`,
      };
    }, 30000),
  );

  // A picture for the README: hover over Y with the inline result below it.
  if (cfg.readmeShot) {
    await page.keyboard.press("Escape");
    await goToLine(page, cfg.hoverAt[0], cfg.hoverAt[1]);
    const cursor = page.locator(".editor-instance .monaco-editor .cursor").first();
    const box = await cursor.boundingBox();
    if (box) {
      await page.mouse.move(box.x + 4, box.y + box.height / 2);
      await page.mouse.move(box.x + 5, box.y + box.height / 2);
      await page
        .locator(".monaco-hover:visible, .monaco-resizable-hover:visible")
        .first()
        .waitFor({ state: "visible", timeout: 5000 })
        .catch(() => {});
    }
    await page.screenshot({ path: cfg.readmeShot, clip: cfg.readmeClip });
  }

  await check(page, "inline_cleared_on_edit", async () => {
    const inlineLines = () => inlineResults(page, "⇒");
    const before = await inlineLines();
    await page.keyboard.press("Escape");
    await goToLine(page, cfg.runResultLine, 2);
    await page.keyboard.type(" ");
    // the result of the edited line goes; results on other lines stay
    const edited = (c) => new RegExp(cfg.inlinePattern).test(c);
    const after = await poll(async () => {
      const now = await inlineLines();
      const others = before.filter((c) => !edited(c));
      const ok = !now.some(edited) && others.every((c) => now.includes(c));
      return { ok, detail: JSON.stringify(now) };
    }, 10000);
    await page.keyboard.press("Control+Z");
    return {
      ok: before.some(edited) && after.ok,
      detail: `before the edit: ${JSON.stringify(before)}; after: ${after.detail}`,
    };
  });


  await check(page, "run_selection", async () => {
    await page.keyboard.press("Escape");
    await goToLine(page, cfg.selectionLine, 1);
    await page.keyboard.press("Home");
    await page.keyboard.press("Shift+End");
    await page.keyboard.press("Shift+Enter");
    return poll(async () => {
      const shown = await outputText(page);
      const ok = shown.includes(`[run ${cfg.programName}:${cfg.selectionLine}-${cfg.selectionLine}]`);
      return { ok, detail: `output: ${JSON.stringify(shown.slice(-600))}` };
    }, 60000, 1000);
  });

  // The highest `tick N` the output channel shows (it scrolls with the output).
  const lastTick = async () => {
    const ticks = [...(await outputText(page)).matchAll(/tick (\d+)/g)].map((m) => Number(m[1]));
    return ticks.length ? Math.max(...ticks) : 0;
  };
  const isRunning = async () => (await tlStatus(page)).some((t) => t.includes("running on cpu"));
  let shownBeforeInterrupt = 0;
  await check(page, "output_streams", async () => {
    await page.keyboard.press("Escape");
    await goToLine(page, cfg.spinLine, 1);
    const before = await lastTick();
    await page.keyboard.press("Control+Enter");
    // the loop never ends by itself: every print seen here came while it ran
    const first = await poll(async () => {
      const n = await lastTick();
      return { ok: n > before && (await isRunning()), detail: `tick ${n}`, n };
    }, 90000, 200);
    const more = await poll(async () => {
      const n = await lastTick();
      return { ok: n > first.n && (await isRunning()), detail: `tick ${n}`, n };
    }, 30000, 200);
    shownBeforeInterrupt = more.n;
    await shot(page, "09a-output-streams");
    return {
      ok: first.ok && more.ok,
      detail: `while running: first ${first.detail}, then ${more.detail}`,
    };
  });

  await check(page, "interrupt", async () => {
    await page.keyboard.press("Control+Alt+C");
    const stopped = await poll(async () => {
      const shown = await outputText(page);
      const ok =
        /\(interrupted after [0-9.]+ m?s on cpu\)/.test(shown) &&
        shown.includes("[interrupt] stopped the running code");
      return { ok, detail: `output: ${JSON.stringify(shown.slice(-600))}` };
    }, 30000, 500);
    // what it printed stays, and nothing after the loop ran
    const kept = (await lastTick()) >= shownBeforeInterrupt && shownBeforeInterrupt > 0;
    const running = await isRunning();
    return {
      ok: stopped.ok && kept && !running,
      detail: `${stopped.detail}; last tick ${await lastTick()} (before the interrupt ${shownBeforeInterrupt}); still running: ${running}`,
    };
  });

  await check(page, "restart_kernel", async () => {
    await page.keyboard.press("Escape");
    await runCommand(page, "TensorLogic: Restart Kernel");
    return poll(async () => {
      const shown = await outputText(page);
      const bar = await tlStatus(page);
      const ok =
        shown.includes("[kernel] restarted: variables are cleared") &&
        bar.some((t) => t.includes("idle · cpu"));
      return { ok, detail: `status: ${JSON.stringify(bar)}; output: ${JSON.stringify(shown.slice(-300))}` };
    }, 60000, 1000);
  });

  // A server that cannot start: one notification, whose button opens the setting.
  await check(page, "server_failure_notification", async () => {
    // tensorlogic.pythonPath is machine-scoped: in code-server it lives in the remote
    // machine's settings file, which VS Code watches
    const settings = JSON.parse(fs.readFileSync(cfg.machineSettingsFile, "utf8"));
    settings["tensorlogic.pythonPath"] = "/nonexistent/bin/python";
    fs.writeFileSync(cfg.machineSettingsFile, JSON.stringify(settings, null, 2));
    const toasts = page.locator(".notifications-toasts .notification-toast");
    const seen = await poll(async () => {
      const all = (await toasts.allInnerTexts()).filter((t) => t.includes("/nonexistent/bin/python"));
      return { ok: all.length > 0, detail: JSON.stringify(all), count: all.length };
    }, 30000);
    if (!seen.ok) {
      return { ok: false, detail: `no notification; toasts: ${seen.detail}` };
    }
    await sleep(2000); // a second notification would show up by now
    const texts = (await toasts.allInnerTexts()).filter((t) => t.includes("TensorLogic") || t.includes("tensorlogic"));
    await shot(page, "notification");
    await toasts.filter({ hasText: "/nonexistent/bin/python" }).first()
      .locator(".monaco-button", { hasText: "Open Setting" }).first().click();
    const opened = await poll(async () => {
      const search = page.locator(".settings-editor .suggest-input-container .view-lines");
      const q = await text(search);
      // the setting itself must be listed, with the bad value
      const item = page
        .locator(".settings-editor .setting-item-contents")
        .filter({ hasText: "Python Path" });
      const value = (await item.count())
        ? await item.first().locator("input").first().inputValue()
        : "";
      return {
        ok: q.includes("tensorlogic.pythonPath") && value === "/nonexistent/bin/python",
        detail: `settings search: ${JSON.stringify(q)}, Python Path field: ${JSON.stringify(value)}`,
      };
    }, 20000);
    return {
      ok: texts.length === 1 && opened.ok,
      detail: `notifications: ${JSON.stringify(texts)}; ${opened.detail}`,
    };
  });
}

main()
  .catch((e) => {
    checks.driver = { ok: false, detail: String(e && e.stack ? e.stack : e) };
  })
  .finally(() => {
    process.stdout.write("\n" + JSON.stringify({ checks }) + "\n");
  });
