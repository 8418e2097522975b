"""CPU time of a hover right after an edit, and how long the analysis runs without a place
to step aside (issue 18). Thread CPU time, so a machine shared with other jobs moves these
numbers far less than the wall-clock ones of `bench/lsp.py --typing-only`.

- hover handler: the server's `hover` handler called in-process right after each edit of
  the 10,000-line file of bench/lsp.py (typed a character at a time before a `let z` line,
  a hover at a name at least 2,000 characters away), while the analysis of that edit runs
  on the analysis thread: the CPU time of the handler's own thread (p50 / p90);
- analysis stretches: the analysis of each such edit through a `DocumentHost` (cyclic GC
  off, as in the server), timed between the calls where it can give way to a request (its
  checkpoints, and the pauses of its re-parse where the host takes one): the first stretch
  (a hover sent right after the edit lands in it), the longest per analysis, all of them.

    .venv/bin/python bench/hover_cpu.py [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import dataclasses
import gc
import inspect
import pstats
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.lsp import TYPED, load, pct, program  # noqa: E402

URI = "file:///tmp/bench-hover.tl"


def line_col(text: str, offset: int) -> tuple[int, int]:
    """LSP position of `offset` (the lines touched here hold ASCII only)."""
    return text.count("\n", 0, offset), offset - (text.rfind("\n", 0, offset) + 1)


async def hover_cpu(n: int, profile: bool) -> list[float]:
    from lsprotocol import types as lsp

    from tl_lsp import server as S

    ls = S.create_server()
    ls.config = dataclasses.replace(ls.config, warm_delay_ms=60_000, progress_delay_ms=60_000)
    ls.text_document_publish_diagnostics = lambda params: None  # type: ignore[method-assign]
    ls.capability = lambda dotted: None  # type: ignore[method-assign]
    text = program(10000)
    await S.did_open(ls, lsp.DidOpenTextDocumentParams(
        lsp.TextDocumentItem(uri=URI, language_id="tensorlogic", version=1, text=text)))
    await ls.docs.get(URI).diag_task
    S.warm_up_requests()
    await asyncio.to_thread(ls.docs.get(URI).host.prepare, True)
    rnd = random.Random(18)
    doc = lsp.TextDocumentIdentifier(uri=URI)
    prof = cProfile.Profile(time.thread_time)
    out: list[float] = []
    version = 1
    typed_before: set[int] = set()  # lines left with a statement half typed: not hovered
    while len(out) < n:
        i = rnd.randrange(50, 950)
        typed_before.add(i)
        at = text.index(f"let z{i} =")
        for ch in TYPED.format(k=len(out), i=i)[:8]:  # within the line: every edit re-checks
            version += 1
            line, col = line_col(text, at)
            here = lsp.Range(start=lsp.Position(line, col), end=lsp.Position(line, col))
            await S.did_change(ls, lsp.DidChangeTextDocumentParams(
                lsp.VersionedTextDocumentIdentifier(uri=URI, version=version),
                [lsp.TextDocumentContentChangePartial(range=here, text=ch)]))
            text = text[:at] + ch + text[at:]
            at += 1
            while True:
                j = rnd.randrange(1000)
                h = text.index(f"z{j} = f") + 1
                if abs(h - at) > 2000 and j not in typed_before:
                    break
            line, col = line_col(text, h)
            await asyncio.sleep(0.002)  # the analysis of the edit is under way
            t0 = time.thread_time()
            if profile:
                prof.enable()
            answer = await S.hover(ls, lsp.HoverParams(text_document=doc,
                                                       position=lsp.Position(line, col)))
            if profile:
                prof.disable()
            out.append((time.thread_time() - t0) * 1000)
            if answer is None:
                raise SystemExit(f"no hover at {line}:{col}")
            await asyncio.sleep(0.1)  # 10 edits per second: the analysis ends
            if len(out) >= n:
                break
    ls.docs.shutdown()
    if profile:
        pstats.Stats(prof).sort_stats("tottime").print_stats(15)
    return out


def stretches(edits: int) -> tuple[list[float], list[float], list[float], list[float]]:
    from tl_core.host import DocumentHost

    text = program(10000)
    host = DocumentHost("/tmp/bench-hover.tl")
    host.analyze(text)
    host.prepare(True)
    pauses = "pause" in inspect.signature(host.analyze).parameters  # (older trees: none)
    firsts: list[float] = []
    longest: list[float] = []
    every: list[float] = []
    totals: list[float] = []
    tt = time.thread_time
    gc_was = gc.isenabled()
    gc.disable()  # as the server (tl_lsp/gc_policy.py)
    try:
        for k in range(edits // 10):
            i = 100 + 137 * k
            at = text.index(f"let z{i} =")
            for ch in TYPED.format(k=k, i=i)[:10]:
                text = text[:at] + ch + text[at:]
                at += 1
                marks: list[float] = []

                def mark(marks: list[float] = marks) -> None:
                    marks.append(tt())

                t0 = tt()
                if pauses:
                    host.analyze(text, mark, None, mark)
                else:
                    host.analyze(text, mark)
                t1 = tt()
                points = [t0, *marks, t1]
                gaps = [(b - a) * 1000 for a, b in zip(points, points[1:], strict=False)]
                firsts.append(gaps[0])
                longest.append(max(gaps))
                every += gaps
                totals.append((t1 - t0) * 1000)
    finally:
        if gc_was:
            gc.enable()
    return firsts, longest, every, totals


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profile", action="store_true",
                        help="cProfile the hover handler (thread CPU time)")
    parser.add_argument("-n", type=int, default=40, help="hovers (and analyses: 60)")
    args = parser.parse_args()
    print(load())
    cpu = asyncio.run(hover_cpu(args.n, args.profile))
    print(f"hover handler CPU, right after an edit      p50 {pct(cpu, 0.5):6.2f} ms  "
          f"p90 {pct(cpu, 0.9):6.2f} ms  (n={len(cpu)})")
    firsts, longest, every, totals = stretches(60)
    print(f"analysis after an edit, CPU                 p50 {pct(totals, 0.5):6.1f} ms")
    print(f"its first stretch without a checkpoint/pause  p50 {pct(firsts, 0.5):6.2f} ms  "
          f"p90 {pct(firsts, 0.9):6.2f} ms")
    print(f"its longest stretch                         p50 {pct(longest, 0.5):6.2f} ms  "
          f"p90 {pct(longest, 0.9):6.2f} ms")
    print(f"all stretches                               p50 {pct(every, 0.5):6.2f} ms  "
          f"p99 {pct(every, 0.99):6.2f} ms  (n={len(every)})")
    print(load())


if __name__ == "__main__":
    main()
