"""One re-analysis after a one-line edit in the middle of a 10,000-line file (issue 18).

Run: .venv/bin/python bench/check_edit.py [--edits N] [--profile]
The file is bench/lsp.py's (`program(10000)`: ~6,000 top-level items), opened in a
`DocumentHost` (tl_core/host.py) as the server does, both parsers made; then N edits, each
inserting one `let` line above block 500 of the original text, each analysed once. Prints
the CPU time of the analysing thread per re-analysis (min, p50), the part of it spent in
Python's cyclic GC (the objects the analysis allocated are traversed once by the next
young-generation pass), and the load average: on the shared machine only numbers of the
same run compare. `--profile` prints a cProfile (thread CPU time) of one more re-analysis.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.lsp import load, program  # noqa: E402
from tl_core.host import DocumentHost  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--edits", type=int, default=30)
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    text = program(10000)
    mid = text.index("// block 500:")
    host = DocumentHost(os.path.join(os.getcwd(), "check_edit.tl"))
    host.analyze(text)
    host.prepare(wait=True)

    def edited(i: int) -> str:
        return text[:mid] + f"let q{i} = {i}\n" + text[mid:]

    for i in range(3):  # warm: records of the edited texts' neighbours, both parsers used
        host.analyze(edited(i))
    in_gc = [0.0, 0.0]

    def on_gc(phase: str, _info: dict) -> None:
        if phase == "start":
            in_gc[1] = time.thread_time()
        else:
            in_gc[0] += time.thread_time() - in_gc[1]

    gc.callbacks.append(on_gc)
    cpu = []
    for i in range(args.edits):
        start = time.thread_time()
        host.analyze(edited(10 + i))
        cpu.append((time.thread_time() - start) * 1000)
    gc.callbacks.remove(on_gc)
    cpu.sort()
    print(f"re-analysis CPU: min {cpu[0]:.1f} ms, p50 {cpu[len(cpu) // 2]:.1f} ms; in cyclic "
          f"GC {in_gc[0] * 1000 / args.edits:.1f} ms per edit (n={args.edits}); {load()}")
    if args.profile:
        prof = cProfile.Profile(time.thread_time)
        prof.enable()
        host.analyze(edited(10 + args.edits))
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
